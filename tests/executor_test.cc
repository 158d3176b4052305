// The scheduler (executor.h) on its own: dependency order, skipping after a
// failure, --keep-going, interruption and the job limit, with the real
// `command` plugin running shell commands in a temporary workspace. No
// assertion depends on timing: concurrency is shown by stages that can only
// pass when others run at the same time.
#include "core/exec/executor.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "support.h"

using namespace wrt;
using wrt::test::read_file;
using wrt::test::TempDir;
using wrt::test::write_file;

namespace {

// The run's event stream as lines ("started a", "finished a passed").
class Recorder final : public RunObserver {
 public:
  void run_started(std::size_t n) override { add("run_started " + std::to_string(n)); }
  void stage_started(const std::string& s) override { add("started " + s); }
  void stage_finished(const StageRecord& r, const std::string&) override { add("finished " + r.name + " " + r.status); }
  void note(const std::string& t) override { add("note " + t); }
  void run_finished(const RunOutcome& o) override { add("run_finished " + std::to_string(o.records.size())); }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  void add(std::string l) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(l));
  }
  std::mutex mu_;
  std::vector<std::string> lines_;
};

struct Run {
  std::map<std::string, const StageRecord*> by_name;
  RunOutcome outcome;
  std::vector<std::string> events;
  const StageRecord& operator[](const std::string& n) const {
    auto it = by_name.find(n);
    REQUIRE(it != by_name.end());
    return *it->second;
  }
};

// Runs every stage of `toml` once with `opts`, as `wrt run` would (without
// the CLI: no lock, no report files).
Run run_all(const TempDir& ws, const std::string& toml, RunOptions opts) {
  write_file(ws / "wrt.toml", toml);
  auto c = parse_config(toml, ws / "wrt.toml");
  REQUIRE(c.ok());
  Config config = std::move(*c);
  config.workspace = ws.path();
  auto g = build_graph(config);
  REQUIRE(g.ok());
  PluginHost plugins({std::filesystem::path(WRT_BUILD_DIR) / "plugins"}, host_table());
  auto cmd = plugins.find("command");
  REQUIRE(cmd.ok());
  std::vector<const LoadedPlugin*> stage_plugins(g->stages.size(), *cmd);
  std::vector<int> order;
  for (int v = 0; v < static_cast<int>(g->stages.size()); ++v) order.push_back(v);
  CacheStore store(ws / ".cache", 0);
  REQUIRE(store.open().ok());
  FileDigester digester(ws.path(), ws / ".wrt/state/stat-cache");
  RunIndex index(ws / ".wrt/state/run-index");
  Recorder events;
  Run r;
  {
    Executor ex(config, *g, stage_plugins, &store, digester, index, events, opts);
    r.outcome = ex.run(order);
  }
  r.events = events.lines();
  for (const auto& rec : r.outcome.records) r.by_name[rec.name] = &rec;
  return r;
}

RunOptions jobs(int n) {
  RunOptions o;
  o.jobs = n;
  return o;
}

}  // namespace

TEST_CASE("executor: a stage runs after the stages it needs and sees their outputs", "[executor]") {
  TempDir ws;
  Run r = run_all(ws, R"(
[stages.a]
outputs = ["a.txt"]
with = { run = "sleep 0.1; echo a > a.txt" }
[stages.b]
needs = ["a"]
outputs = ["b.txt"]
with = { run = "cat a.txt > b.txt; echo b >> b.txt" }
[stages.c]
needs = ["b"]
outputs = ["c.txt"]
with = { run = "cat b.txt > c.txt; echo c >> c.txt" }
)",
                  jobs(4));
  CHECK(r["a"].status == "passed");
  CHECK(r["b"].status == "passed");
  CHECK(r["c"].status == "passed");
  CHECK(read_file(ws / "c.txt") == "a\nb\nc\n");
}

TEST_CASE("executor: a failure skips its dependents and, without --keep-going, what has not started", "[executor]") {
  const char* toml = R"(
[stages.bad]
with = { run = "exit 1" }
[stages.after_bad]
needs = ["bad"]
with = { run = "true" }
[stages.gate]
needs = ["bad"]
with = { run = "true" }
[stages.late]
needs = ["gate"]
with = { run = "true" }
[stages.slow_root]
priority = "low"
with = { run = "true" }
)";
  SECTION("fail-fast") {
    TempDir ws;
    Run r = run_all(ws, toml, jobs(1));
    CHECK(r["bad"].status == "failed");
    CHECK(r["after_bad"].status == "skipped");
    CHECK(r["after_bad"].reason == "needs 'bad', which failed");
    CHECK(r["late"].reason == "needs 'gate', which was skipped");
  }
  SECTION("keep going") {
    TempDir ws;
    RunOptions o = jobs(1);
    o.keep_going = true;
    Run r = run_all(ws, toml, o);
    CHECK(r["bad"].status == "failed");
    CHECK(r["after_bad"].status == "skipped");
    CHECK(r["slow_root"].status == "passed");  // independent of the failure
  }
}

TEST_CASE("executor: an interrupted run starts no more stages", "[executor]") {
  TempDir ws;
  std::atomic<bool> cancel{true};
  RunOptions o = jobs(2);
  o.cancel = &cancel;
  Run r = run_all(ws, R"(
[stages.one]
with = { run = "touch one.ran" }
[stages.two]
needs = ["one"]
with = { run = "touch two.ran" }
)",
                  o);
  CHECK(r["one"].status == "skipped");
  CHECK(r["one"].reason == "not started: run interrupted");
  CHECK(r["two"].status == "skipped");
  CHECK_FALSE(std::filesystem::exists(ws / "one.ran"));
  CHECK(r.outcome.interrupted);
}

TEST_CASE("executor: the job limit is a count of running stages, not of CPUs", "[executor]") {
  // Each stage waits (up to 20 s) until all four have started: they pass
  // only when four run at once, which -j 4 must allow on any machine.
  std::string toml;
  for (int i = 0; i < 4; ++i)
    toml += "[stages.s" + std::to_string(i) + "]\ncache = false\nwith = { run = \"touch started." +
            std::to_string(i) +
            "; n=0; while [ $(ls started.* | wc -l) -lt 4 ]; do n=$((n+1)); [ $n -gt 400 ] && exit 1; "
            "sleep 0.05; done\" }\n";
  TempDir ws;
  Run r = run_all(ws, toml, jobs(4));
  for (int i = 0; i < 4; ++i) CHECK(r["s" + std::to_string(i)].status == "passed");
}

TEST_CASE("executor: declared cpus keep stages from running together beyond the job limit", "[executor]") {
  // Two stages declaring 2 cpus each under -j 2 must not overlap: each
  // fails if it sees the other's marker.
  TempDir ws;
  Run r = run_all(ws, R"(
[stages.x]
cpus = 2
cache = false
with = { run = "[ -e busy ] && exit 1; touch busy; sleep 0.3; rm busy" }
[stages.y]
cpus = 2
cache = false
with = { run = "[ -e busy ] && exit 1; touch busy; sleep 0.3; rm busy" }
)",
                  jobs(2));
  CHECK(r["x"].status == "passed");
  CHECK(r["y"].status == "passed");
}

TEST_CASE("executor: the run is an event stream: run, then each stage started before finished, cache hits not started",
          "[executor]") {
  TempDir ws;
  const char* toml = R"(
[stages.a]
outputs = ["a.txt"]
with = { run = "echo a > a.txt" }
[stages.b]
needs = ["a"]
with = { run = "cat a.txt" }
[stages.c]
needs = ["b"]
with = { run = "false" }
)";
  Run first = run_all(ws, toml, jobs(2));
  const std::vector<std::string> expected = {"run_started 3", "started a", "finished a passed", "started b",
                                             "finished b passed", "started c", "finished c failed", "run_finished 3"};
  CHECK(first.events == expected);

  Run again = run_all(ws, toml, jobs(2));
  const std::vector<std::string> cached = {"run_started 3", "finished a cached", "finished b cached", "started c",
                                           "finished c failed", "run_finished 3"};
  CHECK(again.events == cached);
}

TEST_CASE("executor: a stage that reports nothing holds no results allocation, run or cached", "[executor]") {
  // Issue 17: a record's results are kept out of line; a plain command's
  // record must not allocate them, fresh or from the cache, while a failure's
  // message still lands in them.
  TempDir ws;
  const char* toml = R"(
[stages.a]
outputs = ["a.txt"]
with = { run = "echo a > a.txt" }
[stages.f]
with = { run = "exit 3" }
)";
  const StageResults& nothing = OutOfLine<StageResults>().get();
  for (int round = 0; round < 2; ++round) {
    INFO(round);
    Run r = run_all(ws, toml, jobs(2));
    CHECK(r["a"].status == (round == 0 ? "passed" : "cached"));
    CHECK(&r["a"].results.get() == &nothing);
    CHECK(r["f"].status == "failed");
    CHECK(r["f"].results->message == "exit code 3");
    CHECK(&r["f"].results.get() != &nothing);
  }
}
