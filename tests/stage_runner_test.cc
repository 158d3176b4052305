// The stage runner on its own, without the scheduler: one stage's cache
// protocol (prepare -> hit or run -> store) with the real built-in `command`
// plugin, a real cache store and real files in a temporary workspace.
#include "core/exec/stage_runner.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <thread>

#include "core/config/graph.h"
#include "support.h"

using namespace wrt;
using wrt::test::read_file;
using wrt::test::TempDir;
using wrt::test::write_file;

namespace {

// Everything a run shares, for one workspace; `fresh()` starts a new run
// (a new runner over the same store, index and state files, as a second
// `wrt run` would).
struct Bench {
  explicit Bench(const TempDir& ws, const std::string& toml, RunOptions opts = {})
      : dir(ws.path()), options(opts), plugins({std::filesystem::path(WRT_BUILD_DIR) / "plugins"}, host_table()) {
    write_file(dir / "wrt.toml", toml);
    auto c = parse_config(toml, dir / "wrt.toml");
    REQUIRE(c.ok());
    config = std::make_unique<Config>(std::move(*c));
    config->workspace = dir;
    auto g = build_graph(*config);
    REQUIRE(g.ok());
    graph = std::make_unique<Graph>(std::move(*g));
    auto cmd = plugins.find("command");
    REQUIRE(cmd.ok());
    command = *cmd;
    store = std::make_unique<CacheStore>(dir / ".cache", 0);
    REQUIRE(store->open().ok());
    fresh();
  }

  void fresh() {
    if (runner) runner->end_run();
    runner.reset();
    if (index) REQUIRE(index->save().ok());
    if (digester) REQUIRE(digester->save().ok());
    digester = std::make_unique<FileDigester>(dir, dir / ".wrt/state/stat-cache");
    index = std::make_unique<RunIndex>(dir / ".wrt/state/run-index");
    std::string warning;
    digester->load(&warning);
    index->load(&warning);
    ctx = std::make_unique<RunContext>(RunContext{*config, store.get(), *digester, *index, printer, options});
    runner = std::make_unique<StageRunner>(*ctx);
  }

  StageTask task(const std::string& stage, StageRecord& rec) {
    int v = graph->find(stage);
    REQUIRE(v >= 0);
    rec.name = stage;
    return {*graph->stages[v], *command, rec};
  }

  // fingerprint + prepare, as the scheduler does.
  Preparation prepare(const std::string& stage, StageRecord& rec, const Upstream& up = {}) {
    StageTask t = task(stage, rec);
    return runner->prepare(t, runner->fingerprint(t.config, t.plugin), up);
  }

  // prepare + (when it must) run, as the scheduler does; returns the status.
  std::string process(const std::string& stage, StageRecord& rec, const Upstream& up = {}) {
    Preparation p = prepare(stage, rec, up);
    if (!p.status.empty()) return p.status;
    return runner->run(task(stage, rec), p, std::chrono::steady_clock::now()).status;
  }

  std::filesystem::path dir;
  RunOptions options;
  PluginHost plugins;
  const LoadedPlugin* command = nullptr;
  std::unique_ptr<Config> config;
  std::unique_ptr<Graph> graph;
  std::unique_ptr<CacheStore> store;
  std::unique_ptr<FileDigester> digester;
  std::unique_ptr<RunIndex> index;
  RunObserver printer;  // events are not looked at here
  std::unique_ptr<RunContext> ctx;
  std::unique_ptr<StageRunner> runner;
};

const char* kCopy = R"(
[stages.copy]
inputs = ["in.txt"]
outputs = ["out/copy.txt"]
with = { run = "mkdir -p out && cat in.txt > out/copy.txt && echo ran >> runs.txt" }
)";

}  // namespace

TEST_CASE("stage_runner: a miss runs and stores, and the next run is a hit that replays it", "[stage_runner]") {
  TempDir ws;
  write_file(ws / "in.txt", "one\n");
  Bench b(ws, kCopy);

  StageRecord first;
  Preparation p = b.prepare("copy", first, {});
  CHECK(p.status.empty());  // must run
  CHECK(first.reason == "no earlier run recorded");
  CHECK(p.inputs == std::vector<std::string>{"in.txt"});
  StageEnd end = b.runner->run(b.task("copy", first), p, std::chrono::steady_clock::now());
  CHECK(end.status == "passed");
  CHECK(first.attempts == 1);
  REQUIRE(first.outputs.size() == 1);
  CHECK(first.outputs[0].path == "out/copy.txt");
  CHECK(first.extras().not_stored.empty());
  CHECK(read_file(ws / "out/copy.txt") == "one\n");

  b.fresh();
  StageRecord second;
  CHECK(b.process("copy", second) == "cached");
  CHECK(second.cache_key == first.cache_key);
  CHECK(second.reason == "inputs unchanged");
  CHECK(second.output_digest == first.output_digest);
  CHECK(read_file(ws / "runs.txt") == "ran\n");  // not run again
}

TEST_CASE("stage_runner: a hit restores a deleted output from the store", "[stage_runner]") {
  TempDir ws;
  write_file(ws / "in.txt", "content\n");
  Bench b(ws, kCopy);
  StageRecord rec;
  REQUIRE(b.process("copy", rec) == "passed");
  std::filesystem::remove(ws / "out/copy.txt");

  b.fresh();
  StageRecord again;
  CHECK(b.process("copy", again) == "cached");
  CHECK(read_file(ws / "out/copy.txt") == "content\n");
  CHECK(read_file(ws / "runs.txt") == "ran\n");
}

TEST_CASE("stage_runner: the key follows inputs and upstream outputs", "[stage_runner]") {
  TempDir ws;
  write_file(ws / "in.txt", "a\n");
  Bench b(ws, kCopy);
  Digest up1{}, up2{};
  up2[0] = 1;
  StageRecord r1;
  REQUIRE(b.process("copy", r1, {{"gen", up1}}) == "passed");

  b.fresh();
  StageRecord r2;
  CHECK(b.process("copy", r2, {{"gen", up2}}) == "passed");  // a dependency's output changed
  CHECK(r2.cache_key != r1.cache_key);

  b.fresh();
  StageRecord r3;
  CHECK(b.process("copy", r3, {{"gen", up1}}) == "cached");  // back to the first: its entry
  CHECK(r3.cache_key == r1.cache_key);

  write_file(ws / "in.txt", "b\n");
  b.fresh();
  StageRecord r4;
  Preparation p = b.prepare("copy", r4, {{"gen", up1}});
  CHECK(p.status.empty());
  CHECK(r4.reason.find("in.txt") != std::string::npos);
}

TEST_CASE("stage_runner: a dry run says what would run and writes nothing", "[stage_runner]") {
  TempDir ws;
  write_file(ws / "in.txt", "a\n");
  RunOptions dry;
  dry.dry_run = true;
  Bench b(ws, kCopy, dry);
  StageRecord rec;
  Preparation p = b.prepare("copy", rec, {});
  CHECK(p.status == "pending");
  CHECK(p.detail == "no earlier run recorded");
  CHECK_FALSE(std::filesystem::exists(ws / "out"));
  b.fresh();  // ends the run: what it would write is written now
  CHECK_FALSE(std::filesystem::exists(ws / ".wrt/state/key-records"));
}

TEST_CASE("stage_runner: an input edited while the stage runs is not cached", "[stage_runner]") {
  TempDir ws;
  write_file(ws / "in.txt", "before\n");
  Bench b(ws, R"(
[stages.copy]
inputs = ["in.txt"]
outputs = ["out.txt"]
with = { run = "cat in.txt > out.txt && sleep 0.05 && echo after > in.txt" }
)");
  StageRecord rec;
  CHECK(b.process("copy", rec) == "passed");
  CHECK(rec.extras().not_stored == "input in.txt changed while the stage ran");
  CHECK(b.store->get_entry(rec.cache_key, nullptr) == std::nullopt);
}

TEST_CASE("stage_runner: a failed run stores nothing, and a stage that passes on a retry is flaky", "[stage_runner]") {
  TempDir ws;
  write_file(ws / "in.txt", "x\n");
  Bench b(ws, R"(
[stages.fail]
inputs = ["in.txt"]
with = { run = "echo broken; exit 3" }

[stages.retry]
inputs = ["in.txt"]
max_attempts = 2
with = { run = "if [ -e tried ]; then exit 0; fi; touch tried; exit 1" }
)");
  StageRecord fail;
  CHECK(b.process("fail", fail) == "failed");
  CHECK(b.store->get_entry(fail.cache_key, nullptr) == std::nullopt);
  CHECK(read_file(ws / ".wrt/logs/fail.log").find("broken") != std::string::npos);
  b.fresh();
  StageRecord again;
  CHECK(b.process("fail", again) == "failed");  // a failure is never a hit

  StageRecord retry;
  Preparation p = b.prepare("retry", retry, {});
  REQUIRE(p.status.empty());
  StageEnd end = b.runner->run(b.task("retry", retry), p, std::chrono::steady_clock::now());
  CHECK(end.status == "flaky");
  CHECK(end.detail == "passed on attempt 2");
  CHECK(retry.attempts == 2);
}
