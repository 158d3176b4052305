// End-to-end tests: the real `wrt` binary on temporary workspaces, with the
// real built-in `command` plugin running real shell commands.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wrt/plugin.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

nlohmann::json report_of(const TempDir& ws) { return nlohmann::json::parse(read_file(ws / "report.json")); }

std::map<std::string, std::string> statuses(const nlohmann::json& report) {
  std::map<std::string, std::string> m;
  for (const auto& s : report["stages"]) m[s["name"].get<std::string>()] = s["status"].get<std::string>();
  return m;
}

nlohmann::json stage(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

CommandResult wrt_run(const TempDir& ws, std::vector<std::string> extra = {}, std::vector<std::string> env = {}) {
  std::vector<std::string> args{"run", "--report", (ws / "report.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_wrt(args, ws.path(), env);
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// A three-stage chain: gen -> build -> test, plus an independent lint.
void write_chain(const TempDir& ws) {
  write_file(ws / "src/a.txt", "alpha\n");
  write_file(ws / "src/b.txt", "beta\n");
  write_file(ws / "lint.txt", "lint me\n");
  write_file(ws / "wrt.toml", R"(
[project]
name = "chain"

[settings]
max_parallel_jobs = 2

[stages.gen]
inputs = ["src/*.txt"]
outputs = ["out/gen.txt"]
with = { run = "mkdir -p out && cat src/a.txt src/b.txt | wc -l > out/gen.txt" }

[stages.build]
needs = ["gen"]
outputs = ["out/build.txt"]
with = { run = "sed 's/^/lines: /' out/gen.txt > out/build.txt" }

[stages.test]
needs = ["build"]
with = { run = "grep -q 'lines: 2' out/build.txt" }

[stages.lint]
inputs = ["lint.txt"]
with = { run = "test -s lint.txt" }

[pipelines.ci]
stages = ["test", "lint"]
)");
}

}  // namespace

TEST_CASE("e2e: full run passes, second run is fully cached", "[e2e]") {
  TempDir ws;
  write_chain(ws);
  auto r1 = wrt_run(ws, {"ci"});
  INFO(r1.out << r1.err);
  REQUIRE(r1.exit_code == 0);
  auto rep1 = report_of(ws);
  CHECK(rep1["pipeline"] == "ci");
  CHECK(statuses(rep1) == std::map<std::string, std::string>{
                              {"gen", "passed"}, {"build", "passed"}, {"test", "passed"}, {"lint", "passed"}});
  CHECK(read_file(ws / "out/build.txt").find("lines: 2") != std::string::npos);
  CHECK(stage(rep1, "gen")["cache_key"].get<std::string>().size() == 64);

  auto r2 = wrt_run(ws, {"ci"});
  INFO(r2.out << r2.err);
  REQUIRE(r2.exit_code == 0);
  auto rep2 = report_of(ws);
  for (const auto& [name, st] : statuses(rep2)) CHECK(st == "cached");
  CHECK(stage(rep2, "gen")["cache_key"] == stage(rep1, "gen")["cache_key"]);
  CHECK(r2.out.find("4 cached") != std::string::npos);
}

TEST_CASE("e2e: one changed input re-runs exactly that stage and its dependents", "[e2e]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  write_file(ws / "src/b.txt", "beta\ngamma\n");  // 3 lines now: build output changes too
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  auto st = statuses(report_of(ws));
  CHECK(st["gen"] == "passed");
  CHECK(st["build"] == "passed");
  CHECK(st["test"] == "failed");  // 'lines: 3' now; the test really ran
  CHECK(st["lint"] == "cached");
  CHECK(r.exit_code == 1);
}

TEST_CASE("e2e: early cutoff - identical upstream output does not re-run dependents", "[e2e]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  write_file(ws / "src/a.txt", "ALPHA\n");  // still 2 lines: out/gen.txt unchanged
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto st = statuses(report_of(ws));
  CHECK(st["gen"] == "passed");
  CHECK(st["build"] == "cached");
  CHECK(st["test"] == "cached");
}

TEST_CASE("e2e: deleted outputs are restored from the cache", "[e2e]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  std::string before = read_file(ws / "out/build.txt");
  fs::remove_all(ws / "out");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& [name, st] : statuses(report_of(ws))) CHECK(st == "cached");
  CHECK(read_file(ws / "out/build.txt") == before);
  CHECK(fs::exists(ws / "out/gen.txt"));
}

TEST_CASE("e2e: a cache restored in another checkout hits", "[e2e]") {
  TempDir cache, a, b;
  write_chain(a);
  write_chain(b);
  std::string env = "WRT_CACHE_DIR=" + cache.path().string();
  REQUIRE(wrt_run(a, {}, {env}).exit_code == 0);
  auto r = wrt_run(b, {}, {env});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& [name, st] : statuses(report_of(b))) CHECK(st == "cached");
  CHECK(read_file(b / "out/build.txt") == read_file(a / "out/build.txt"));
}

TEST_CASE("e2e: touching a file without changing it re-runs nothing", "[e2e]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  fs::last_write_time(ws / "src/a.txt", fs::file_time_type::clock::now());
  auto r = wrt_run(ws);
  REQUIRE(r.exit_code == 0);
  for (const auto& [name, st] : statuses(report_of(ws))) CHECK(st == "cached");
}

TEST_CASE("e2e: declared env values are part of the key", "[e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.greet]
env = ["GREETING"]
outputs = ["greet.txt"]
with = { run = "echo \"$GREETING\" > greet.txt" }
)");
  REQUIRE(wrt_run(ws, {}, {"GREETING=hello"}).exit_code == 0);
  REQUIRE(wrt_run(ws, {}, {"GREETING=hello"}).exit_code == 0);
  CHECK(statuses(report_of(ws))["greet"] == "cached");
  REQUIRE(wrt_run(ws, {}, {"GREETING=bonjour"}).exit_code == 0);
  CHECK(statuses(report_of(ws))["greet"] == "passed");
  CHECK(read_file(ws / "greet.txt") == "bonjour\n");
  auto ex = run_wrt({"explain", "greet"}, ws.path(), {"GREETING=hi"});
  CHECK(ex.out.find("env GREETING changed: 'bonjour' -> 'hi'") != std::string::npos);
}

TEST_CASE("e2e: explain names the changed input", "[e2e]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  auto up = run_wrt({"explain", "gen"}, ws.path());
  CHECK(up.out.find("gen: up to date") != std::string::npos);
  write_file(ws / "src/b.txt", "changed\n");
  auto ex = run_wrt({"explain", "gen"}, ws.path());
  INFO(ex.out << ex.err);
  CHECK(ex.exit_code == 0);
  CHECK(ex.out.find("gen: would run") != std::string::npos);
  CHECK(ex.out.find("input src/b.txt changed") != std::string::npos);
  // explain runs nothing
  CHECK(read_file(ws / "out/gen.txt").find('2') != std::string::npos);
}

TEST_CASE("e2e: timeout kills the stage's whole process group", "[e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.slow]
timeout_minutes = 0.02
with = { run = "sleep 60 & echo $! > bg.pid; sleep 60" }
)");
  auto t0 = std::chrono::steady_clock::now();
  auto r = wrt_run(ws);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(secs < 20);
  CHECK(statuses(report_of(ws))["slow"] == "timeout");
  pid_t bg = std::stoi(read_file(ws / "bg.pid"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(process_alive(bg));
}

TEST_CASE("e2e: a stage that passes on retry is reported flaky", "[e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.shaky]
max_attempts = 3
cache = false
with = { run = "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; test $n -ge 2" }
)");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto s = stage(report_of(ws), "shaky");
  CHECK(s["status"] == "flaky");
  CHECK(s["attempts"] == 2);
}

TEST_CASE("e2e: fail fast skips the rest, --keep-going runs independent stages", "[e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[settings]
max_parallel_jobs = 1

[stages.bad]
with = { run = "echo broken-output; exit 3" }

[stages.after]
needs = ["bad"]
with = { run = "true" }

[stages.other]
with = { run = "true" }
)");
  auto r = wrt_run(ws);
  CHECK(r.exit_code == 1);
  auto st = statuses(report_of(ws));
  CHECK(st["bad"] == "failed");
  CHECK(st["after"] == "skipped");
  CHECK(st["other"] == "skipped");
  CHECK(stage(report_of(ws), "after")["reason"].get<std::string>().find("needs 'bad'") != std::string::npos);
  CHECK(r.out.find("broken-output") != std::string::npos);  // tail of the failing log
  CHECK(stage(report_of(ws), "bad")["message"] == "exit code 3");

  auto k = wrt_run(ws, {"--keep-going"});
  CHECK(k.exit_code == 1);
  auto st2 = statuses(report_of(ws));
  CHECK(st2["after"] == "skipped");
  CHECK(st2["other"] == "passed");
}

TEST_CASE("e2e: configuration errors exit 2 with file:line:col", "[e2e]") {
  TempDir ws;
  SECTION("TOML syntax") {
    write_file(ws / "wrt.toml", "[stages.a]\nwith = { run = \"x\" \n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("wrt.toml:2:") != std::string::npos);
  }
  SECTION("unknown key with suggestion") {
    write_file(ws / "wrt.toml", "[stages.a]\nneeds = []\ninptus = [\"x\"]\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("wrt.toml:3:1: unknown key 'inptus' in [stages.a] (did you mean 'inputs'?)") != std::string::npos);
  }
  SECTION("cycle") {
    write_file(ws / "wrt.toml", "[stages.a]\nneeds = [\"b\"]\n[stages.b]\nneeds = [\"a\"]\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("dependency cycle: a -> b -> a") != std::string::npos);
  }
  SECTION("unknown need") {
    write_file(ws / "wrt.toml", "[stages.build]\n[stages.a]\nneeds = [\"biuld\"]\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("needs unknown stage 'biuld' (did you mean 'build'?)") != std::string::npos);
  }
  SECTION("output outside the workspace") {
    write_file(ws / "wrt.toml", "[stages.a]\noutputs = [\"../escape\"]\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("outside the workspace") != std::string::npos);
  }
  SECTION("overlapping outputs") {
    write_file(ws / "wrt.toml", "[stages.a]\noutputs = [\"out\"]\n[stages.b]\noutputs = [\"out/x\"]\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("lies inside output 'out' of stage 'a'") != std::string::npos);
  }
  SECTION("duplicate stage") {
    write_file(ws / "wrt.toml", "[stages.a]\n[stages.a]\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("wrt.toml:") != std::string::npos);
  }
  SECTION("bad plugin config is reported at the with table") {
    write_file(ws / "wrt.toml", "[stages.a]\nwith = { run = 5 }\n");
    auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("wrt.toml:2:8: stage 'a': with.run must be a string") != std::string::npos);
  }
  SECTION("missing wrt.toml") {
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("wrt.toml: cannot read") != std::string::npos);
  }
  SECTION("unknown pipeline") {
    write_file(ws / "wrt.toml", "[stages.a]\n[pipelines.ci]\nstages = [\"a\"]\n");
    auto r = run_wrt({"run", "cj"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("unknown pipeline 'cj' (did you mean 'ci'?)") != std::string::npos);
  }
  SECTION("usage error") {
    auto r = run_wrt({"run", "--no-such-flag"}, ws.path());
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("e2e: plugin loading errors name the library", "[e2e]") {
  TempDir ws;
  std::string plugin_dir = WRT_TEST_PLUGIN_DIR;
  SECTION("missing plugin") {
    write_file(ws / "wrt.toml", "[stages.a]\nplugin = \"nope\"\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("wrt.toml:2:10: stage 'a': plugin 'nope' not found") != std::string::npos);
  }
  SECTION("ABI major mismatch") {
    write_file(ws / "wrt.toml", "[settings]\nplugin_path = [\"" + plugin_dir + "\"]\n[stages.a]\nplugin = \"abi-v2\"\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("wrt-plugin-abi-v2.so: plugin built for wrt plugin ABI 2.0, but this wrt supports ABI 1." +
                     std::to_string(WRT_ABI_VERSION_MINOR)) !=
          std::string::npos);
  }
  SECTION("no entry symbol") {
    write_file(ws / "wrt.toml", "[settings]\nplugin_path = [\"" + plugin_dir + "\"]\n[stages.a]\nplugin = \"noentry\"\n");
    auto r = run_wrt({"run"}, ws.path());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("wrt-plugin-noentry.so: not a wrt plugin (no 'wrt_plugin_entry' symbol exported)") !=
          std::string::npos);
  }
}

TEST_CASE("e2e: plugin results cross the ABI into the report", "[e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", "[settings]\nplugin_path = [\"" + std::string(WRT_TEST_PLUGIN_DIR) + R"("]
[stages.probe]
plugin = "probe"
with = { mode = "report" }
[stages.cfg]
plugin = "probe"
with = { mode = "config", n = 7, x = 2.5, b = true, list = ["a", "b", "c"], t = { inner = [1, 9] } }
[stages.thrower]
plugin = "probe"
with = { mode = "throw" }
)");
  auto r = wrt_run(ws, {"--keep-going"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto rep = report_of(ws);
  const auto& p = stage(rep, "probe");
  CHECK(p["status"] == "passed");
  CHECK(p["metrics"]["answer"] == 42.0);
  CHECK(p["metrics"]["coverage.line"] == 87.5);
  REQUIRE(p["findings"].size() == 1);
  CHECK(p["findings"][0]["file"] == "src/a.c");
  CHECK(p["findings"][0]["line"] == 3);
  CHECK(p["findings"][0]["column"] == 7);
  CHECK(p["findings"][0]["severity"] == "warning");
  REQUIRE(p["tests"].size() == 2);
  CHECK(p["tests"][1]["status"] == "failed");
  CHECK(p["tests"][1]["message"] == "expected 1, got 2");
  CHECK(p["artifacts"][0]["path"] == "out/report.txt");
  const auto& c = stage(rep, "cfg");
  CHECK(c["metrics"]["int"] == 7.0);
  CHECK(c["metrics"]["double"] == 2.5);
  CHECK(c["metrics"]["bool"] == 1.0);
  CHECK(c["metrics"]["list_size"] == 3.0);
  CHECK(c["metrics"]["nested"] == 9.0);
  const auto& t = stage(rep, "thrower");
  CHECK(t["status"] == "failed");
  CHECK(t["message"] == "probe threw on purpose");

  // Every finding of the run also lands in one SARIF 2.1.0 log.
  auto sarif = nlohmann::json::parse(read_file(ws / ".wrt/reports/findings.sarif"));
  CHECK(sarif["version"] == "2.1.0");
  REQUIRE(sarif["runs"].size() == 1);
  CHECK(sarif["runs"][0]["tool"]["driver"]["name"] == "wrt/probe");
  const auto& res = sarif["runs"][0]["results"][0];
  CHECK(res["level"] == "warning");
  CHECK(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/a.c");
  CHECK(res["locations"][0]["physicalLocation"]["region"]["startLine"] == 3);

  // A cached result replays metrics, findings and tests.
  auto r2 = wrt_run(ws, {"--stage", "probe"});
  REQUIRE(r2.exit_code == 0);
  auto rep2 = report_of(ws);
  const auto& p2 = stage(rep2, "probe");
  CHECK(p2["status"] == "cached");
  CHECK(p2["metrics"]["answer"] == 42.0);
  CHECK(p2["tests"].size() == 2);
}

TEST_CASE("e2e: a plugin fingerprint enters the cache key", "[e2e]") {
  TempDir ws;
  auto cfg = [&](const std::string& fp) {
    write_file(ws / "wrt.toml", "[settings]\nplugin_path = [\"" + std::string(WRT_TEST_PLUGIN_DIR) +
                                    "\"]\n[stages.p]\nplugin = \"probe\"\nwith = { mode = \"report\", fingerprint = \"" +
                                    fp + "\" }\n");
  };
  cfg("tool 1.0");
  REQUIRE(wrt_run(ws).exit_code == 0);
  REQUIRE(wrt_run(ws).exit_code == 0);
  CHECK(statuses(report_of(ws))["p"] == "cached");
  cfg("tool 2.0");
  REQUIRE(wrt_run(ws).exit_code == 0);
  CHECK(statuses(report_of(ws))["p"] == "passed");
}

TEST_CASE("e2e: a corrupted cache blob is a miss, never a wrong result", "[e2e]") {
  TempDir ws;
  write_chain(ws);
  // An output too large to go inside its entry: stored as a blob.
  write_file(ws / "wrt.toml", read_file(ws / "wrt.toml") + R"(
[stages.big]
outputs = ["out/big.txt"]
with = { run = "mkdir -p out && seq 1 20000 > out/big.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  std::string good = read_file(ws / "out/big.txt");
  // Corrupt every blob in the store.
  int corrupted = 0;
  for (const auto& e : fs::recursive_directory_iterator(ws / ".wrt/cache/blobs"))
    if (e.is_regular_file()) {
      fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
      write_file(e.path(), "garbage");
      ++corrupted;
    }
  REQUIRE(corrupted > 0);
  fs::remove_all(ws / "out");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(ws / "out/big.txt") == good);
  CHECK(statuses(report_of(ws))["big"] == "passed");
  CHECK(statuses(report_of(ws))["gen"] == "cached");  // its output is inside its entry
  CHECK((r.out + r.err).find("corrupt") != std::string::npos);
}

TEST_CASE("e2e: an entry whose inlined output bytes were altered is a miss, never a wrong result", "[e2e][cache-trust]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  const std::string good = read_file(ws / "out/gen.txt");
  const std::string key = stage(report_of(ws), "gen")["cache_key"].get<std::string>();
  const fs::path file = ws / ".wrt/cache/entries" / key.substr(0, 2) / key;
  wrt::test::EntryFile entry = wrt::test::split_entry(read_file(file));
  REQUIRE(entry.inlined.size() >= 1);
  const std::string out_hex = entry.body["outputs"][0]["digest"].get<std::string>();
  REQUIRE(entry.inlined.count(out_hex) == 1);
  std::string damaged;
  SECTION("damaged on disk: the checksum no longer matches") {
    damaged = read_file(file);
    const std::size_t at = damaged.rfind(good);
    REQUIRE(at != std::string::npos);
    damaged[at] = static_cast<char>(damaged[at] ^ 0x01);
  }
  SECTION("rewritten by a hostile writer of the store, correctly sealed") {
    entry.inlined[out_hex] = std::string(good.size(), '9');
    damaged = wrt::test::seal_entry(entry);
  }
  fs::permissions(file, fs::perms::owner_write, fs::perm_options::add);
  write_file(file, damaged);
  fs::remove_all(ws / "out");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(ws / "out/gen.txt") == good);
  CHECK(statuses(report_of(ws))["gen"] == "passed");
  CHECK(r.out.find("is corrupt") != std::string::npos);
}

TEST_CASE("e2e: two concurrent runs share one cache without corrupting it", "[e2e]") {
  TempDir cache, a, b;
  for (const TempDir* ws : {&a, &b}) {
    std::string toml = "[settings]\nmax_parallel_jobs = 2\n";
    for (int i = 0; i < 20; ++i)
      toml += "[stages.s" + std::to_string(i) + "]\noutputs = [\"out/" + std::to_string(i) +
              ".txt\"]\nwith = { run = \"mkdir -p out && seq 1 " + std::to_string(1000 + i) + " > out/" +
              std::to_string(i) + ".txt\" }\n";
    write_file(*ws / "wrt.toml", toml);
  }
  std::string env = "WRT_CACHE_DIR=" + cache.path().string();
  CommandResult ra, rb;
  std::thread ta([&] { ra = wrt_run(a, {}, {env}); });
  std::thread tb([&] { rb = wrt_run(b, {}, {env}); });
  ta.join();
  tb.join();
  CHECK(ra.exit_code == 0);
  CHECK(rb.exit_code == 0);
  auto v = run_wrt({"cache", "verify", "--cache-dir", cache.path().string()}, a.path());
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  CHECK(v.out.find(": 0 problems") != std::string::npos);
  // A third checkout is served entirely from the shared cache.
  fs::remove_all(a / "out");
  auto rc = wrt_run(a, {}, {env});
  REQUIRE(rc.exit_code == 0);
  for (const auto& [name, st] : statuses(report_of(a))) CHECK(st == "cached");
  CHECK(read_file(a / "out/19.txt") == read_file(b / "out/19.txt"));
}

TEST_CASE("e2e: Ctrl-C stops every child, writes the report and exits 130", "[e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[settings]
max_parallel_jobs = 2
[stages.long]
with = { run = "echo $$ > long.pid; sleep 60 & echo $! > bg.pid; wait" }
[stages.later]
needs = ["long"]
with = { run = "touch later-ran" }
)");
  std::string bin = WRT_BINARY, report = (ws / "report.json").string();
  std::vector<char*> argv{bin.data(), const_cast<char*>("run"), const_cast<char*>("--report"), report.data(), nullptr};
  std::string ci = "CI=true";
  std::vector<char*> envp{ci.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addchdir_np(&fa, ws.path().c_str());
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  REQUIRE(posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&fa);
  for (int i = 0; i < 100 && !fs::exists(ws / "bg.pid"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(fs::exists(ws / "bg.pid"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(pid, SIGINT);
  int status = 0;
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  auto rep = report_of(ws);
  CHECK(rep["status"] == "interrupted");
  CHECK(statuses(rep)["long"] == "interrupted");
  CHECK(statuses(rep)["later"] == "skipped");
  CHECK_FALSE(fs::exists(ws / "later-ran"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(process_alive(std::stoi(read_file(ws / "bg.pid"))));
  CHECK_FALSE(process_alive(std::stoi(read_file(ws / "long.pid"))));
}

TEST_CASE("e2e: dry run runs nothing, list, graph, plugins, init, cache stats", "[e2e]") {
  TempDir ws;
  write_chain(ws);
  auto d = run_wrt({"run", "--dry-run"}, ws.path());
  CHECK(d.exit_code == 0);
  CHECK_FALSE(fs::exists(ws / "out/gen.txt"));
  CHECK(d.out.find("pending") != std::string::npos);

  auto l = run_wrt({"list"}, ws.path());
  CHECK(l.out.find("build") != std::string::npos);
  CHECK(l.out.find("ci") != std::string::npos);

  auto g = run_wrt({"graph", "ci", "--format", "dot"}, ws.path());
  CHECK(g.out.find("\"gen\" -> \"build\"") != std::string::npos);
  auto m = run_wrt({"graph", "--format", "mermaid"}, ws.path());
  CHECK(m.out.find("graph LR") != std::string::npos);

  auto p = run_wrt({"plugins"}, ws.path());
  CHECK(p.out.find("command") != std::string::npos);
  CHECK(p.out.find("ABI " + std::to_string(WRT_ABI_VERSION_MAJOR) + "." + std::to_string(WRT_ABI_VERSION_MINOR)) !=
        std::string::npos);

  TempDir fresh;
  auto i = run_wrt({"init"}, fresh.path());
  CHECK(i.exit_code == 0);
  auto ri = run_wrt({"run", "ci"}, fresh.path());
  INFO(ri.out << ri.err);
  CHECK(ri.exit_code == 0);
  CHECK(run_wrt({"init"}, fresh.path()).exit_code == 2);  // never overwrites

  REQUIRE(wrt_run(ws).exit_code == 0);
  auto s = run_wrt({"cache", "stats"}, ws.path());
  CHECK(s.out.find("entries: 4") != std::string::npos);
  auto v = run_wrt({"--version"}, ws.path());
  CHECK(v.out.find("wrt 0.1.0") != std::string::npos);
}

TEST_CASE("e2e: a no-op run is answered from the run index, never claiming outputs that are gone", "[e2e][run-index]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  REQUIRE(fs::exists(ws / ".wrt/state/run-index"));
  // With the store's entries gone, the outputs in place still make every
  // stage a hit: the index answered, the store was not read.
  fs::rename(ws / ".wrt/cache/entries", ws / "entries.saved");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& [name, st] : statuses(report_of(ws))) CHECK(st == "cached");
  // An output that is missing cannot come from the index; with no store
  // entry either, its stage really runs again.
  fs::remove(ws / "out/gen.txt");
  auto r2 = wrt_run(ws);
  INFO(r2.out << r2.err);
  REQUIRE(r2.exit_code == 0);
  auto st = statuses(report_of(ws));
  CHECK(st["gen"] == "passed");
  CHECK(st["lint"] == "cached");
  CHECK(fs::exists(ws / "out/gen.txt"));
}

TEST_CASE("e2e: an output edited by hand is restored although the key is unchanged", "[e2e][run-index]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  const std::string good = read_file(ws / "out/gen.txt");
  write_file(ws / "out/gen.txt", "tampered\n");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& [name, st] : statuses(report_of(ws))) CHECK(st == "cached");
  CHECK(read_file(ws / "out/gen.txt") == good);
}

// A cached stage's log is the one stored with its result: `wrt log` reads it
// from the cache, so a deleted .wrt/logs file neither re-runs the stage nor
// loses its log.
TEST_CASE("e2e: a cached stage's log is read from the cache, deleted log files or not", "[e2e][run-index]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.gen]
outputs = ["out.txt"]
with = { run = "echo generating the output; echo x > out.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  REQUIRE(read_file(ws / ".wrt/logs/gen.log").find("generating the output") != std::string::npos);
  fs::remove_all(ws / ".wrt/logs");
  for (int round = 0; round < 2; ++round) {  // a store hit (index discarded), then an indexed hit
    if (round == 0) fs::remove(ws / ".wrt/state/run-index");
    auto r = wrt_run(ws);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(statuses(report_of(ws))["gen"] == "cached");
    CHECK(stage(report_of(ws), "gen")["log"] == "");
    CHECK_FALSE(fs::exists(ws / ".wrt/logs/gen.log"));
    auto log = run_wrt({"log", "gen"}, ws.path());
    CHECK(log.exit_code == 0);
    CHECK(log.out.find("generating the output") != std::string::npos);
  }
  // Another cache directory (no such entry): a clear error naming it.
  auto other = run_wrt({"log", "gen", "--cache-dir", (ws / "elsewhere").string()}, ws.path());
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("stage 'gen' was served from the cache") != std::string::npos);
  CHECK(other.err.find("elsewhere") != std::string::npos);
}

// An edit, a run, then the edit reverted: the hit on the first key must
// bring that result's log back, not leave the edited run's log beside the
// first result's outputs (`wrt log` showed "from B" for output A).
TEST_CASE("e2e: a hit on an earlier key shows that result's log, not the last run's", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "in.txt", "A\n");
  write_file(ws / "wrt.toml", R"(
[stages.s]
with = { run = "echo building from $(cat in.txt); head -c 30000 /dev/urandom | base64; cp in.txt out.txt" }
inputs = ["in.txt"]
outputs = ["out.txt"]
)");
  // (The log is too large to go inside the entry: it is a blob, which the
  // end of this test damages.)
  auto log_of = [&] { return run_wrt({"log", "s"}, ws.path()); };
  REQUIRE(wrt_run(ws).exit_code == 0);
  write_file(ws / "in.txt", "B\n");
  REQUIRE(wrt_run(ws).exit_code == 0);
  REQUIRE(log_of().out.find("building from B") != std::string::npos);
  write_file(ws / "in.txt", "A\n");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(statuses(report_of(ws))["s"] == "cached");
  CHECK(read_file(ws / "out.txt") == "A\n");
  auto log = log_of();
  CHECK(log.out.find("building from A") != std::string::npos);
  CHECK(log.out.find("building from B") == std::string::npos);
  // B's entry with its log blob damaged: the hit on B restores B's output,
  // A's log file is removed, and `wrt log` says B's log cannot be read
  // (naming the blob) rather than show A's or the damaged bytes.
  const std::string key_a = stage(report_of(ws), "s")["cache_key"].get<std::string>();
  std::string log_b;
  int entries = 0;
  for (const auto& e : fs::recursive_directory_iterator(ws / ".wrt/cache/entries")) {
    if (!e.is_regular_file()) continue;
    ++entries;
    const nlohmann::json j = wrt::test::split_entry(read_file(e.path())).body;
    if (j["key"] != key_a) log_b = j["log"].get<std::string>();
    CHECK(j["inlined"].size() == 1);  // out.txt; the log is a blob
  }
  REQUIRE(entries == 2);
  REQUIRE(log_b.size() == 64);
  write_file(ws / "in.txt", "B\n");
  write_file(ws / ".wrt/cache/blobs" / log_b.substr(0, 2) / log_b, "not the log");
  auto rb = wrt_run(ws);
  INFO(rb.out << rb.err);
  REQUIRE(rb.exit_code == 0);
  CHECK(statuses(report_of(ws))["s"] == "cached");
  CHECK(read_file(ws / "out.txt") == "B\n");
  CHECK_FALSE(fs::exists(ws / ".wrt/logs/s.log"));
  auto damaged = log_of();
  CHECK(damaged.exit_code == 2);
  CHECK(damaged.out.find("building from A") == std::string::npos);
  CHECK(damaged.out.find("not the log") == std::string::npos);
  CHECK(damaged.err.find("its log cannot be read") != std::string::npos);
  CHECK(damaged.err.find(log_b) != std::string::npos);
}

TEST_CASE("e2e: a corrupt run index or config cache is discarded, the run stays right", "[e2e][run-index]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  REQUIRE(fs::exists(ws / ".wrt/state/config-cache"));
  write_file(ws / ".wrt/state/run-index", "garbage, not an index");
  write_file(ws / ".wrt/state/config-cache", "garbage, not a config model");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK((r.out + r.err).find("run index") != std::string::npos);
  for (const auto& [name, st] : statuses(report_of(ws))) CHECK(st == "cached");
  // Both were rebuilt: the next run has no warning.
  auto r2 = wrt_run(ws);
  CHECK((r2.out + r2.err).find("warning") == std::string::npos);
}

TEST_CASE("e2e: an edit of wrt.toml is seen by the next run despite the config cache", "[e2e][run-index]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  std::string toml = read_file(ws / "wrt.toml");
  toml.replace(toml.find("test -s lint.txt"), 16, "test -f lint.txt");  // same size
  write_file(ws / "wrt.toml", toml);
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto st = statuses(report_of(ws));
  CHECK(st["lint"] == "passed");
  CHECK(st["gen"] == "cached");
  write_file(ws / "wrt.toml", toml + "\n[stages.broken\n");
  auto bad = wrt_run(ws);
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("wrt.toml:"));
}

TEST_CASE("e2e: last results are rewritten only when a run changes them", "[e2e][run-index]") {
  TempDir ws;
  write_chain(ws);
  REQUIRE(wrt_run(ws).exit_code == 0);
  REQUIRE(wrt_run(ws).exit_code == 0);  // passed -> cached: rewritten
  const fs::path file = ws / ".wrt/state/last-results.json";
  struct stat before {}, after {};
  REQUIRE(::stat(file.c_str(), &before) == 0);
  REQUIRE(wrt_run(ws).exit_code == 0);  // cached -> cached: same content
  REQUIRE(::stat(file.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // a rewrite renames a new file into place
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  write_file(ws / "lint.txt", "");  // lint now fails
  CHECK(wrt_run(ws).exit_code == 1);
  auto last = nlohmann::json::parse(read_file(file));
  CHECK(last["stages"]["lint"]["status"] == "failed");
  CHECK(last["stages"]["gen"]["status"] == "cached");
  // A file edited by hand is replaced by the next run even if it adds nothing.
  write_file(file, "{}");
  CHECK(wrt_run(ws).exit_code == 1);
  CHECK(nlohmann::json::parse(read_file(file))["stages"]["lint"]["status"] == "failed");
}

// The wrt executable links jemalloc (core/allocator.cc) unless built with
// sanitizers or -DWRT_USE_JEMALLOC=OFF: a stage looks at its parent's
// (wrt's) memory map, so a link that silently dropped the library fails here.
TEST_CASE("e2e: wrt runs on jemalloc's heap exactly when built with it", "[e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.maps]
outputs = ["out/maps.txt"]
with = { run = "mkdir -p out && grep -c libjemalloc /proc/$PPID/maps > out/maps.txt || true" }
)");
  auto r = run_wrt({"run"}, ws.path());
  REQUIRE(r.exit_code == 0);
  const std::string count = read_file(ws / "out/maps.txt");
  if (WRT_LINKS_JEMALLOC) {
    CHECK(std::stoi(count) > 0);
  } else {
    CHECK(std::stoi(count) == 0);
  }
}

TEST_CASE("e2e: -j above the CPU count runs that many stages at once", "[e2e][scheduler]") {
  TempDir ws;
  // Each stage waits until all eight have started (a barrier): with fewer
  // than eight running at once they would time out and fail.
  std::string toml = "[settings]\nmax_parallel_jobs = 1\n";
  for (int i = 0; i < 8; ++i)
    toml += "[stages.s" + std::to_string(i) + "]\ncache = false\nwith = { run = \"touch started_" + std::to_string(i) +
            " && for k in $(seq 300); do [ $(ls started_* | wc -l) -ge 8 ] && exit 0; sleep 0.05; done; exit 1\" }\n";
  write_file(ws / "wrt.toml", toml);
  auto r = wrt_run(ws, {"-j", "8"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("TBB") == std::string::npos);
  for (const auto& [name, st] : statuses(report_of(ws))) CHECK(st == "passed");
}

TEST_CASE("e2e: a pipeline with --stage runs that stage and what it needs, a stage outside it is exit 2",
          "[e2e][cli]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.build]
outputs = ["b.txt"]
with = { run = "echo b > b.txt" }
[stages.tidy]
needs = ["build"]
with = { run = "touch tidy.ran" }
[stages.test]
needs = ["build"]
with = { run = "touch test.ran" }
[stages.deploy]
with = { run = "touch deploy.ran" }

[pipelines.ci]
stages = ["tidy", "test"]
)");
  auto r = run_wrt({"run", "ci", "--stage", "tidy", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto names = statuses(report_of(ws));
  CHECK(names.size() == 2);
  CHECK(names["build"] == "passed");
  CHECK(names["tidy"] == "passed");
  CHECK_FALSE(fs::exists(ws / "test.ran"));

  auto outside = run_wrt({"run", "ci", "--stage", "deploy"}, ws.path());
  CHECK(outside.exit_code == 2);
  CHECK_THAT(outside.err, Catch::Contains("stage 'deploy' is not part of pipeline 'ci'"));
  CHECK_FALSE(fs::exists(ws / "deploy.ran"));
}

namespace {

// The stages a dry run says would run: definitely, and only if a
// dependency changes its outputs.
struct Prediction {
  std::set<std::string> definite, conditional;
};

Prediction predict(const TempDir& ws) {
  auto r = run_wrt({"run", "--dry-run", "--report", (ws / "dry.json").string()}, ws.path());
  REQUIRE(r.exit_code == 0);
  const auto report = nlohmann::json::parse(read_file(ws / "dry.json"));
  Prediction p;
  for (const auto& s : report["stages"]) {
    if (s["status"] != "pending") continue;
    (s.value("conditional", false) ? p.conditional : p.definite).insert(s["name"].get<std::string>());
  }
  return p;
}

std::set<std::string> ran(const TempDir& ws) {
  REQUIRE(wrt_run(ws).exit_code == 0);
  std::set<std::string> out;
  for (const auto& [name, status] : statuses(report_of(ws)))
    if (status == "passed") out.insert(name);
  return out;
}

}  // namespace

TEST_CASE("e2e: --dry-run predicts the real run, early cutoff included", "[e2e][dry-run]") {
  // build strips comments, so a comment-only edit re-runs build but leaves
  // its output -- and so tidy and test -- unchanged.
  TempDir ws;
  write_file(ws / "src/lib.c", "int f(void) { return 1; }\n");
  write_file(ws / "tests/t.txt", "check f\n");
  write_file(ws / "wrt.toml", R"(
[stages.build]
inputs = ["src/*.c"]
outputs = ["out/lib.txt"]
with = { run = "mkdir -p out && grep -v '^//' src/lib.c > out/lib.txt" }
[stages.tidy]
needs = ["build"]
with = { run = "cat out/lib.txt > /dev/null" }
[stages.test]
needs = ["build"]
inputs = ["tests/*.txt"]
with = { run = "cat tests/t.txt out/lib.txt > /dev/null" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  auto check = [&](const char* what) {
    INFO(what);
    Prediction p = predict(ws);
    std::set<std::string> real = ran(ws);
    // definite ⊆ real ⊆ definite ∪ conditional
    for (const auto& s : p.definite) CHECK(real.count(s) == 1);
    for (const auto& s : real) CHECK((p.definite.count(s) + p.conditional.count(s)) == 1);
    return std::make_pair(p, real);
  };

  write_file(ws / "src/lib.c", "// a comment\nint f(void) { return 1; }\n");
  auto [comment, comment_ran] = check("comment-only edit");
  CHECK(comment.definite == std::set<std::string>{"build"});
  CHECK(comment.conditional == std::set<std::string>{"tidy", "test"});
  CHECK(comment_ran == std::set<std::string>{"build"});  // early cutoff kept tidy and test

  write_file(ws / "tests/t.txt", "check f twice\n");
  auto [test_only, test_ran] = check("test-only edit");
  CHECK(test_only.definite == std::set<std::string>{"test"});
  CHECK(test_only.conditional.empty());
  CHECK(test_ran == std::set<std::string>{"test"});

  write_file(ws / "src/lib.c", "int f(void) { return 2; }\n");
  auto [code, code_ran] = check("code edit");
  CHECK(code.definite == std::set<std::string>{"build"});
  CHECK(code_ran == std::set<std::string>{"build", "tidy", "test"});

  auto explain = run_wrt({"explain", "tidy"}, ws.path());
  CHECK_THAT(explain.out, Catch::Contains("tidy: up to date"));
  write_file(ws / "src/lib.c", "// again\nint f(void) { return 2; }\n");
  explain = run_wrt({"explain", "tidy"}, ws.path());
  CHECK_THAT(explain.out, Catch::Contains("tidy: would run only if 'build' changes its outputs (else cached)"));
}

TEST_CASE("e2e: a first run hashes 60 new inputs in parallel and keys them as -j 1 does",
          "[e2e]") {
  auto make = [](const TempDir& ws) {
    for (int i = 0; i < 60; ++i) write_file(ws / ("data/f" + std::to_string(100 + i) + ".txt"), std::string(100000 + i, 'a' + i % 26));
    write_file(ws / "wrt.toml", "[stages.consume]\ninputs = [\"data/*.txt\"]\nwith = { run = \"true\" }\n");
  };
  TempDir one, two;
  make(one);
  make(two);
  auto r1 = wrt_run(one, {"-j", "1"});
  auto r2 = wrt_run(two, {"-j", "2"});
  REQUIRE(r1.exit_code == 0);
  REQUIRE(r2.exit_code == 0);
  const auto k1 = stage(read_json(one / "report.json"), "consume")["cache_key"];
  CHECK(k1 == stage(read_json(two / "report.json"), "consume")["cache_key"]);
  // And after an edit of one input, a key another checkout agrees with.
  write_file(two / "data/f130.txt", "edited\n");
  write_file(one / "data/f130.txt", "edited\n");
  REQUIRE(wrt_run(two, {"-j", "2"}).exit_code == 0);
  REQUIRE(wrt_run(one, {"-j", "1"}).exit_code == 0);
  const auto k2 = stage(read_json(one / "report.json"), "consume")["cache_key"];
  CHECK(k2 != k1);
  CHECK(k2 == stage(read_json(two / "report.json"), "consume")["cache_key"]);
}

TEST_CASE("e2e: wrt run where there is no wrt.toml says so and leaves the directory as it was", "[e2e]") {
  TempDir dir;
  write_file(dir / "notes.txt", "not a workspace\n");
  auto r = run_wrt({"run", "-C", dir.path().string()}, dir.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find((dir / "wrt.toml").string() + ": cannot read") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / ".wrt"));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}
