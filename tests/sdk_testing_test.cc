// The SDK's plugin test harness (sdk/include/wrt/testing.hpp) used as a
// plugin author would: load a built plugin, run stages in a temporary
// workspace, assert on status, results and log. The plugins are the guide's
// example (lines), one that spawns processes (tap), and the host probes.
#include <wrt/testing.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>

namespace wt = wrt::sdk::testing;

namespace {

std::string plugin_path(const std::string& name) {
  return std::string(WRT_TEST_PLUGIN_DIR) + "/wrt-plugin-" + name + ".so";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("testing: the guide's lines plugin passes, fails on a long file, rejects a typo", "[sdk][testing]") {
  wt::Plugin lib(plugin_path("lines"));
  REQUIRE(lib.names() == std::vector<std::string>{"lines"});
  wt::Workspace ws;
  ws.write("src/short.c", "int a;\nint b;\n");
  std::string lng;
  for (int i = 0; i < 12; ++i) lng += "int x" + std::to_string(i) + ";\n";
  ws.write("src/sub/long.c", lng);

  wt::StageSpec stage;
  stage.with = "{ max_lines = 10 }";
  stage.inputs = {"src/short.c"};
  wt::Result ok = wt::run_stage(lib, ws, stage);
  CHECK(ok.status == WRT_STATUS_PASSED);
  CHECK(ok.status_name() == "passed");
  CHECK(ok.metric("lines.total") == 2);
  CHECK(ok.metric("lines.files") == 1);
  CHECK(ok.findings.empty());
  CHECK_THROWS_WITH(ok.metric("lines.nope"), Catch::Contains("reported: lines.files, lines.total"));

  stage.inputs = {"src/sub/long.c", "src/short.c"};
  wt::Result bad = wt::run_stage(lib, ws, stage);
  CHECK(bad.status == WRT_STATUS_FAILED);
  CHECK_FALSE(bad.configuration_error);
  CHECK(bad.metric("lines.total") == 14);
  CHECK(bad.message == "1 file(s) too long");
  REQUIRE(bad.findings.size() == 1);
  CHECK(bad.findings[0].file == "src/sub/long.c");
  CHECK(bad.findings[0].severity == "error");
  CHECK(bad.findings[0].rule == "lines/max");
  CHECK(bad.findings[0].line == 11);
  CHECK(bad.findings[0].message == "12 lines, more than 10");

  // The same `with` as JSON; and lines' default limit (1000) without one.
  stage.with = R"({"max_lines": 12})";
  CHECK(wt::run_stage(lib, ws, stage).status == WRT_STATUS_PASSED);
  stage.with = "";
  CHECK(wt::run_stage(lib, ws, stage).status == WRT_STATUS_PASSED);

  // fingerprint() rejects the typo with the host's suggestion; run() is not called.
  stage.with = "{ max_line = 10 }";
  wt::Result typo = wt::run_stage(lib, ws, stage);
  CHECK(typo.configuration_error);
  CHECK(typo.status == WRT_STATUS_ERROR);
  CHECK(typo.message == "with.max_line: unknown key (did you mean 'max_lines'?)");
  CHECK(typo.metrics.empty());
  stage.with = "{ max_lines = 0 }";
  CHECK(wt::run_stage(lib, ws, stage).message == "with.max_lines must be at least 1");
  stage.with = "{ max_lines = \"ten\" }";
  CHECK(wt::run_stage(lib, ws, stage).message == "with.max_lines must be an integer");
}

TEST_CASE("testing: a plugin's processes really run, their output is in the log", "[sdk][testing]") {
  wt::Plugin lib(plugin_path("tap"));
  wt::Workspace ws;
  ws.write("t/run.sh", "#!/bin/sh\necho \"ok 1 adds\"\necho \"not ok 2 divides by $DIVISOR\"\necho \"ok 3 in $(basename \"$PWD\")\"\necho oops >&2\nexit 1\n",
           /*executable=*/true);
  wt::StageSpec stage;
  stage.with = R"(
argv = ["./run.sh"]    # relative to cwd, as exec does it
cwd = "t"
env = ["DIVISOR=zero"]
)";
  wt::Result r = wt::run_stage(lib, ws, stage);
  INFO(r.log);
  CHECK(r.status == WRT_STATUS_FAILED);
  CHECK(r.metric("exit_code") == 1);
  CHECK(r.metric("tests.passed") == 2);
  CHECK(r.metric("tests.failed") == 1);
  REQUIRE(r.tests.size() == 3);
  CHECK(r.count_tests("failed") == 1);
  CHECK(r.tests[1].name == "divides by zero");
  CHECK(r.tests[1].status == "failed");
  CHECK(r.tests[2].name == "in t");
  CHECK(r.message == "3 tests, 1 failed, exit 1");
  CHECK(r.log.find("not ok 2 divides by zero\n") != std::string::npos);
  CHECK(r.log.find("oops\n") != std::string::npos);

  ws.write("t/run.sh", "#!/bin/sh\necho 'ok 1 fine'\n", true);
  wt::Result good = wt::run_stage(lib, ws, stage);
  CHECK(good.status == WRT_STATUS_PASSED);
  CHECK(good.count_tests("passed") == 1);

  // A program that does not exist: spawn fails, the plugin reports an error.
  stage.with = R"({"argv": ["no-such-program-wrt-test"]})";
  wt::Result missing = wt::run_stage(lib, ws, stage);
  CHECK(missing.status == WRT_STATUS_ERROR);
  CHECK(missing.message == "cannot start no-such-program-wrt-test: no-such-program-wrt-test: No such file or directory");
  CHECK(missing.log.find("[wrt error] no-such-program-wrt-test: No such file or directory") != std::string::npos);
  stage.with = R"({"argv": ["true"], "cwd": "no/such/dir"})";
  CHECK(wt::run_stage(lib, ws, stage).message.find("cannot change directory to " + ws.path() + "/no/such/dir") !=
        std::string::npos);

  // Configuration checked before anything runs.
  stage.with = "{ args = [\"true\"] }";
  wt::Result typo = wt::run_stage(lib, ws, stage);
  CHECK(typo.configuration_error);
  CHECK(typo.message == "with.args: unknown key (did you mean 'argv'?)");
}

TEST_CASE("testing: spawn honours the stage deadline and kills what the child leaves behind", "[sdk][testing]") {
  wt::Plugin lib(plugin_path("tap"));
  wt::Workspace ws;
  wt::StageSpec stage;
  stage.with = R"({"argv": ["sh", "-c", "echo started; exec sleep 30"]})";
  stage.timeout_s = 0.5;
  auto t0 = std::chrono::steady_clock::now();
  wt::Result r = wt::run_stage(lib, ws, stage);
  double took = seconds_since(t0);
  CHECK(r.timed_out);
  CHECK(r.status_name() == "timeout");
  CHECK(r.message == "timed out");
  CHECK(r.log.find("started\n") != std::string::npos);
  CHECK(took >= 0.4);
  CHECK(took < 10);

  // A process that ignores TERM is killed after the grace period.
  stage.with = R"({"argv": ["sh", "-c", "trap '' TERM; echo ready; sleep 30; echo survived"]})";
  stage.kill_grace_s = 0.3;
  t0 = std::chrono::steady_clock::now();
  r = wt::run_stage(lib, ws, stage);
  CHECK(r.timed_out);
  CHECK(r.log.find("survived") == std::string::npos);
  CHECK(seconds_since(t0) < 10);

  // A background job the command leaves running does not hold the stage.
  stage.timeout_s = 600;
  stage.with = R"({"argv": ["sh", "-c", "sleep 30 & echo 'ok 1 left a job'"]})";
  t0 = std::chrono::steady_clock::now();
  r = wt::run_stage(lib, ws, stage);
  CHECK(r.status == WRT_STATUS_PASSED);
  CHECK_FALSE(r.timed_out);
  CHECK(seconds_since(t0) < 10);
}

TEST_CASE("testing: declared outputs, data_dir, artifacts and the cached tool version", "[sdk][testing]") {
  wt::Plugin lib(plugin_path("sdk12"));
  wt::Workspace ws;
  ws.write("src/a.c", "a\n");
  ws.write("src/b.c", "b\n");
  ws.write("bin/fake-tool", "#!/bin/sh\necho asked >> \"$(dirname \"$0\")/../asked.log\"\necho 'fake-tool 1.0'\n", true);
  wt::StageSpec stage;
  stage.name = "good";
  stage.with = "{ tool = \"bin/fake-tool\" }";
  stage.inputs = {"src/b.c", "src/a.c"};
  stage.outputs = {"out/made.txt"};
  wt::Result r = wt::run_stage(lib, ws, stage);
  CHECK(r.status == WRT_STATUS_PASSED);
  CHECK(r.metric("inputs") == 2);
  CHECK(r.message == "src/a.c;src/b.c;");  // sorted, as wrt gives them
  CHECK(r.metric("outputs") == 1);
  CHECK(ws.read("out/made.txt") == "made\n");
  CHECK(r.metric("has_data_dir") == 1);
  CHECK(ws.exists(".wrt/cache/plugin-data/sdk12"));
  REQUIRE(r.artifacts.size() == 1);
  CHECK(r.artifacts[0].path == "report.txt");
  REQUIRE(r.fingerprints.size() == 1);
  CHECK(r.fingerprints[0] == std::make_pair(std::string("tool"), std::string("fake-tool 1.0\n")));
  // Asked once: the second run is answered from the cache of versions.
  CHECK(wt::run_stage(lib, ws, stage).fingerprints.size() == 1);
  CHECK(ws.read("asked.log") == "asked\n");

  stage.with = "{ tool = \"bin/no-tool\" }";
  wt::Result none = wt::run_stage(lib, ws, stage);
  CHECK(none.configuration_error);
  CHECK(none.message == "with.tool: bin/no-tool cannot tell its version");
}

TEST_CASE("testing: a passing stage that did not make a declared output fails", "[sdk][testing]") {
  wt::Plugin lib(plugin_path("tap"));
  wt::Workspace ws;
  wt::StageSpec stage;
  stage.with = "{ argv = [\"sh\", \"-c\", \"mkdir -p out && echo x > out/one\"] }";
  stage.outputs = {"out/one", "out/two"};
  wt::Result r = wt::run_stage(lib, ws, stage);
  CHECK(r.status == WRT_STATUS_FAILED);
  CHECK(r.message == "declared output 'out/two' was not produced");
  stage.outputs = {"out/one"};
  CHECK(wt::run_stage(lib, ws, stage).status == WRT_STATUS_PASSED);
}

TEST_CASE("testing: the host's typed config lookups and reports reach the plugin", "[sdk][testing]") {
  wt::Plugin lib(plugin_path("probe"));
  wt::Workspace ws;
  wt::StageSpec stage;
  stage.with = R"({ mode = "config", n = 7, x = 2.5, b = true, list = ['a', "b\tc"], t = { inner = [1, 1_000] } })";
  wt::Result c = wt::run_stage(lib, ws, stage);
  CHECK(c.status == WRT_STATUS_PASSED);
  CHECK(c.metric("int") == 7);
  CHECK(c.metric("double") == 2.5);
  CHECK(c.metric("bool") == 1);
  CHECK(c.metric("list_size") == 2);
  CHECK(c.metric("nested") == 1000);

  stage.with = R"({"mode": "report"})";
  wt::Result r = wt::run_stage(lib, ws, stage);
  CHECK(r.status == WRT_STATUS_PASSED);
  CHECK(r.metric("coverage.line") == 87.5);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].severity == "warning");
  CHECK(r.findings[0].line == 3);
  CHECK(r.findings[0].column == 7);
  REQUIRE(r.tests.size() == 2);
  CHECK(r.tests[1].status == "failed");
  CHECK(r.tests[1].duration_s == 0.5);
  CHECK(r.tests[1].message == "expected 1, got 2");
  CHECK(r.log == "[wrt info] probe reported\n");

  stage.with = "{ mode = \"throw\" }";
  wt::Result t = wt::run_stage(lib, ws, stage);
  CHECK(t.status == WRT_STATUS_ERROR);
  CHECK(t.message == "probe threw on purpose");
  stage.with = "{ mode = \"fail\" }";
  CHECK(wt::run_stage(lib, ws, stage).status_name() == "failed");
}

TEST_CASE("testing: the with parser reads JSON, TOML inline tables and TOML lines", "[sdk][testing]") {
  const std::string json = R"({"b":[1,2.5,"x\n"],"a":{"z":true,"y":null}})";
  CHECK(wt::to_json(wt::parse_with(json)) == R"({"a":{"y":null,"z":true},"b":[1,2.5,"x\n"]})");
  CHECK(wt::to_json(wt::parse_with("{ b = [1, 2.0,], a = { z = true }, 'q k' = 'C:\\x' }")) ==
        R"({"a":{"z":true},"b":[1,2.0],"q k":"C:\\x"})");
  CHECK(wt::to_json(wt::parse_with("# comment\nn = -3\ns = \"\\u00e9\"\n\n")) == "{\"n\":-3,\"s\":\"\xc3\xa9\"}");
  CHECK(wt::parse_with("  ").keys.empty());
  const wt::Value v = wt::parse_with("{ t = { list = [10, 20] } }");
  REQUIRE(v.at("t.list[1]") != nullptr);
  CHECK(v.at("t.list[1]")->integer == 20);
  CHECK(v.at("t.list[2]") == nullptr);
  CHECK(v.at("t.nope") == nullptr);

  CHECK_THROWS_WITH(wt::parse_with("{ a = 1, a = 2 }"), "with: line 1, column 14: duplicate key 'a'");
  CHECK_THROWS_WITH(wt::parse_with("a = 1\nb = \"open"), Catch::Contains("line 2") && Catch::Contains("unterminated"));
  CHECK_THROWS_WITH(wt::parse_with("{ a = 1 } x"), Catch::Contains("unexpected text"));
  CHECK_THROWS_WITH(wt::parse_with("a = 1 b = 2"), Catch::Contains("expected a new line"));
  CHECK_THROWS_AS(wt::parse_with("{ a = 99999999999999999999 }"), std::invalid_argument);
}

TEST_CASE("testing: misuse of the harness throws with a reason", "[sdk][testing]") {
  CHECK_THROWS_WITH(wt::Plugin(plugin_path("nope")), Catch::Contains("cannot load plugin library"));
  CHECK_THROWS_WITH(wt::Plugin(std::string(WRT_TEST_PLUGIN_DIR) + "/wrt-plugin-noentry.so"),
                    Catch::Contains("not a wrt plugin"));
  CHECK_THROWS_WITH(wt::Plugin(plugin_path("abi-v2")), Catch::Contains("plugin built for ABI 2."));
  wt::Plugin lib(plugin_path("lines"));
  wt::Workspace ws;
  wt::StageSpec stage;
  stage.inputs = {"src/missing.c"};
  CHECK_THROWS_WITH(wt::run_stage(lib, ws, stage), "input 'src/missing.c' is not a file in the workspace");
  stage.inputs = {};
  stage.plugin = "other";
  CHECK_THROWS_WITH(wt::run_stage(lib, ws, stage), Catch::Contains("no plugin 'other' (the library has: lines)"));
  stage.plugin = "lines";
  stage.with = "[1, 2]";
  CHECK_THROWS_AS(wt::run_stage(lib, ws, stage), std::invalid_argument);
  std::string path;
  {
    wt::Workspace gone;
    path = gone.path();
    gone.write("a/b.txt", "x");
    CHECK(gone.exists("a/b.txt"));
  }
  CHECK_FALSE(std::filesystem::exists(path));  // removed with everything in it
}

TEST_CASE("testing: declare_state (ABI 1.3) is normalized and checked as wrt does", "[sdk][testing]") {
  wt::Plugin lib(plugin_path("probe"));
  wt::Workspace ws;
  wt::StageSpec stage;
  stage.with = "{ state = \"./gen/../gen/\", mode = \"config\" }";
  wt::Result ok = wt::run_stage(lib, ws, stage);
  INFO(ok.message << ok.log);
  CHECK(ok.status == WRT_STATUS_PASSED);
  CHECK(ok.state == std::vector<std::string>{"gen"});

  for (const char* bad : {"/tmp/x", "../x", ".", ".git/x", ".wrt"}) {
    stage.with = std::string("{ state = \"") + bad + "\" }";
    wt::Result r = wt::run_stage(lib, ws, stage);
    INFO(bad << ": " << r.message);
    CHECK(r.configuration_error);
    CHECK(r.message.rfind("state directory: ", 0) == 0);
    CHECK(r.state.empty());
  }
}
