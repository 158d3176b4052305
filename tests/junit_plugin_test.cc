// The JUnit reader on reports written by the real CTest, Catch2 and
// GoogleTest on this machine (tests/data/junit), malformed reports, and the
// `junit` and `ctest` plugins end to end through the real wrt binary.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugins/junit/junit_report.h"
#include "support.h"

using namespace wrt::test;
using wrt::plugins::JUnitCase;

namespace {

std::string data(const std::string& rel) { return read_file(std::string(WRT_TEST_DATA_DIR) + "/junit/" + rel); }

std::vector<JUnitCase> parse_ok(const std::string& file) {
  std::vector<JUnitCase> cases;
  wrt::plugins::ParseError error;
  bool ok = wrt::plugins::parse_junit(data(file), file, &cases, &error);
  INFO(error.to_string());
  REQUIRE(ok);
  return cases;
}

const JUnitCase& named(const std::vector<JUnitCase>& cases, const std::string& name) {
  for (const auto& c : cases)
    if (c.name == name) return c;
  FAIL("no test case " << name);
  throw 0;
}

nlohmann::json stage_of(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

nlohmann::json test_named(const nlohmann::json& stage, const std::string& name) {
  for (const auto& t : stage["tests"])
    if (t["name"] == name) return t;
  FAIL("test " << name << " not in stage " << stage["name"]);
  throw 0;
}

CommandResult wrt_run(const TempDir& ws) {
  return run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
}

nlohmann::json report_of(const TempDir& ws) { return nlohmann::json::parse(read_file(ws / "report.json")); }

// A CMake project without languages (nothing to compile, so configuring
// is quick) whose tests are shell commands, tested by a `ctest` stage.
void write_ctest_project(const TempDir& ws, const std::string& tests, const std::string& ctest_with) {
  write_file(ws / "CMakeLists.txt",
             "cmake_minimum_required(VERSION 3.20)\nproject(t LANGUAGES NONE)\nenable_testing()\n" + tests);
  write_file(ws / "wrt.toml", R"(
[project]
name = "t"

[stages.build]
plugin = "cmake"
inputs = ["CMakeLists.txt"]
outputs = ["build"]
with = { build_dir = "build" }

[stages.test]
plugin = "ctest"
needs = ["build"]
with = )" + ctest_with + "\n");
}

}  // namespace

TEST_CASE("junit: CTest --output-junit report", "[junit]") {
  auto cases = parse_ok("ctest.xml");
  REQUIRE(cases.size() == 3);
  CHECK(named(cases, "app_runs").status == WRT_TEST_FAILED);
  const auto& fails = named(cases, "always_fails");
  CHECK(fails.status == WRT_TEST_FAILED);
  CHECK(fails.message == "boom");  // CTest leaves message="" and puts the output in <system-out>
  CHECK(fails.duration_s == Approx(0.133797));
  const auto& skipped = named(cases, "skipped_one");
  CHECK(skipped.status == WRT_TEST_SKIPPED);
  CHECK(skipped.message == "SKIP_RETURN_CODE=77");
}

TEST_CASE("junit: Catch2 -r junit report, escaped names and sections", "[junit]") {
  auto cases = parse_ok("catch2.xml");
  REQUIRE(cases.size() == 4);
  CHECK(named(cases, "adds numbers").status == WRT_TEST_PASSED);
  CHECK(named(cases, "adds numbers").suite == "t.global");
  const auto& quoted = named(cases, "compares <strings> & \"quotes\"");
  CHECK(quoted.status == WRT_TEST_FAILED);
  CHECK(quoted.message == "a == \"y\"");
  CHECK(named(cases, "sections/second").status == WRT_TEST_FAILED);
  CHECK(named(cases, "sections/first").status == WRT_TEST_PASSED);
}

TEST_CASE("junit: GoogleTest --gtest_output=xml report, skipped and disabled tests", "[junit]") {
  auto cases = parse_ok("gtest.xml");
  REQUIRE(cases.size() == 4);
  CHECK(named(cases, "Adds").suite == "MathTest");
  CHECK(named(cases, "Adds").status == WRT_TEST_PASSED);
  const auto& fails = named(cases, "Fails");
  CHECK(fails.status == WRT_TEST_FAILED);
  CHECK(fails.message.find("custom <msg> & stuff") != std::string::npos);
  CHECK(named(cases, "Skipped").status == WRT_TEST_SKIPPED);
  CHECK(named(cases, "Skipped").message == "g.cc:4\nnot today");
  CHECK(named(cases, "DISABLED_Off").status == WRT_TEST_SKIPPED);  // status="notrun", no <skipped> child
}

TEST_CASE("junit: nested suites, <error>, failure text without message (hand-written cargo2junit shape)", "[junit]") {
  auto cases = parse_ok("nested_handwritten.xml");
  REQUIRE(cases.size() == 4);
  CHECK(named(cases, "parses_empty").status == WRT_TEST_PASSED);
  CHECK(named(cases, "parses_empty").suite == "crate::parser");
  CHECK(named(cases, "parses_garbage").message.rfind("assertion failed: left == right", 0) == 0);
  CHECK(named(cases, "parses_garbage").duration_s < 0);
  CHECK(named(cases, "panics").status == WRT_TEST_FAILED);
  CHECK(named(cases, "panics").suite == "outer");  // no classname: the enclosing suite
  CHECK(named(cases, "panics").message == "thread panicked at 'boom'");
  CHECK(named(cases, "ignored").status == WRT_TEST_SKIPPED);
}

TEST_CASE("junit: malformed XML names file, line and column", "[junit]") {
  std::vector<JUnitCase> cases;
  wrt::plugins::ParseError error;
  REQUIRE_FALSE(wrt::plugins::parse_junit(data("malformed_mismatch.xml"), "out/junit.xml", &cases, &error));
  CHECK(error.file == "out/junit.xml");
  CHECK(error.line == 5);
  CHECK(error.column > 0);
  CHECK(error.to_string().rfind("out/junit.xml:5:", 0) == 0);
  CHECK(error.message.find("malformed XML") != std::string::npos);

  REQUIRE_FALSE(wrt::plugins::parse_junit(data("not_junit.xml"), "cov.xml", &cases, &error));
  CHECK(error.line == 2);
  CHECK(error.message.find("<coverage>") != std::string::npos);

  REQUIRE_FALSE(wrt::plugins::parse_junit("", "empty.xml", &cases, &error));
  CHECK(error.to_string().rfind("empty.xml:1:1:", 0) == 0);

  std::string truncated = "<testsuite>\n  <testcase name=\"a\"";
  REQUIRE_FALSE(wrt::plugins::parse_junit(truncated, "t.xml", &cases, &error));
  CHECK(error.line == 2);
}

TEST_CASE("junit: e2e junit plugin reads a Catch2 report written by its command", "[junit][e2e]") {
  TempDir ws;
  write_file(ws / "catch2.xml", data("catch2.xml"));
  write_file(ws / "wrt.toml", R"(
[project]
name = "j"

[stages.unit]
plugin = "junit"
inputs = ["catch2.xml"]
with = { run = "mkdir -p out && cp catch2.xml out/report.xml", report = "out/report.xml" }
)");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto st = stage_of(report_of(ws), "unit");
  CHECK(st["status"] == "failed");
  CHECK(st["metrics"]["tests.total"] == 4);
  CHECK(st["metrics"]["tests.failed"] == 2);
  CHECK(st["metrics"]["tests.passed"] == 2);
  CHECK(st["message"].get<std::string>().find("2 of 4 tests failed: t.global.compares <strings>") == 0);
  CHECK(test_named(st, "sections/second")["status"] == "failed");
  CHECK(test_named(st, "adds numbers")["status"] == "passed");
}

TEST_CASE("junit: e2e malformed report is a stage error naming file:line:col, missing report named", "[junit][e2e]") {
  TempDir ws;
  write_file(ws / "bad.xml", data("malformed_mismatch.xml"));
  write_file(ws / "wrt.toml", R"(
[project]
name = "j"

[stages.bad]
plugin = "junit"
inputs = ["bad.xml"]
with = { report = "bad.xml" }

[stages.missing]
plugin = "junit"
with = { run = "true", reports = ["nothing-here.xml"] }
)");
  auto r = run_wrt({"run", "-k", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto rep = report_of(ws);
  auto bad = stage_of(rep, "bad");
  CHECK(bad["status"] == "failed");
  CHECK(bad["message"].get<std::string>().find("bad.xml:5:") != std::string::npos);
  CHECK(stage_of(rep, "missing")["message"].get<std::string>().find("nothing-here.xml was not written") !=
        std::string::npos);
  // A configuration error is the run's: exit 2 before any stage starts.
  write_file(ws / "wrt.toml", "[stages.config]\nplugin = \"junit\"\nwith = { run = \"true\" }\n");
  auto config = run_wrt({"run"}, ws.path());
  CHECK(config.exit_code == 2);
  CHECK_THAT(config.err, Catch::Contains("stage 'config': ") && Catch::Contains("with.report"));
}

TEST_CASE("junit: e2e ctest passing tests, then cached", "[junit][e2e]") {
  TempDir ws;
  write_ctest_project(ws,
                      "add_test(NAME ok COMMAND sh -c \"exit 0\")\nadd_test(NAME skip COMMAND sh -c \"exit 77\")\n"
                      "set_tests_properties(skip PROPERTIES SKIP_RETURN_CODE 77)\n",
                      "{ build_dir = \"build\" }");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto st = stage_of(report_of(ws), "test");
  CHECK(st["status"] == "passed");
  CHECK(st["metrics"]["tests.total"] == 2);
  CHECK(st["metrics"]["tests.passed"] == 1);
  CHECK(st["metrics"]["tests.skipped"] == 1);
  CHECK(test_named(st, "ok")["status"] == "passed");
  CHECK(test_named(st, "skip")["status"] == "skipped");
  auto r2 = wrt_run(ws);
  REQUIRE(r2.exit_code == 0);
  auto cached_report = report_of(ws);
  for (const auto& s : cached_report["stages"]) CHECK(s["status"] == "cached");
}

TEST_CASE("junit: e2e ctest failing test fails the stage and is named in the message", "[junit][e2e]") {
  TempDir ws;
  write_ctest_project(
      ws,
      "add_test(NAME good COMMAND sh -c \"exit 0\")\nadd_test(NAME broken COMMAND sh -c \"echo it broke; exit 1\")\n",
      "{ build_dir = \"build\", rerun_failed = 1 }");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto st = stage_of(report_of(ws), "test");
  CHECK(st["status"] == "failed");
  CHECK(st["message"] == "1 of 2 tests failed: broken");
  auto broken = test_named(st, "broken");
  CHECK(broken["status"] == "failed");  // failed again on the rerun
  CHECK(broken["message"] == "it broke");
  CHECK(test_named(st, "good")["status"] == "passed");
  CHECK(st["metrics"]["tests.failed"] == 1);
  CHECK(st["metrics"]["tests.flaky"] == 0);
}

TEST_CASE("junit: e2e ctest rerun_failed turns a fail-then-pass test into flaky and the stage passes", "[junit][e2e]") {
  TempDir ws;
  // Fails the first time (no marker yet), passes once the marker exists.
  write_ctest_project(
      ws,
      "add_test(NAME steady COMMAND sh -c \"exit 0\")\n"
      "add_test(NAME wobbly COMMAND sh -c \"if [ -e flaky.marker ]; then exit 0; fi; touch flaky.marker; exit 1\")\n",
      "{ build_dir = \"build\", rerun_failed = 1 }");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto st = stage_of(report_of(ws), "test");
  CHECK(st["status"] == "passed");
  CHECK(test_named(st, "wobbly")["status"] == "flaky");
  CHECK(test_named(st, "steady")["status"] == "passed");
  CHECK(st["metrics"]["tests.flaky"] == 1);
  CHECK(st["metrics"]["tests.failed"] == 0);
  CHECK(st["message"].get<std::string>().find("flaky (passed on rerun): wobbly") != std::string::npos);
}
