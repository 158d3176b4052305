// `wrt run --junit FILE --trace FILE`: the exports are observers of the run's
// event stream. Through the real binary: a passing stage, a plugin stage
// with a failing test case, a failing stage and one skipped behind it, then
// a cached re-run. The JUnit file is validated with xmllint against the Ant
// JUnit schema (tests/data/junit/), the trace parsed as JSON.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

const char* kPipeline = R"([stages.ok]
outputs = ["ok.txt"]
with = { run = "echo ok > ok.txt" }

[stages.probe]
plugin = "probe"
needs = ["ok"]
with = { mode = "report" }

[stages.broken]
with = { run = "echo 'it <broke> & \"badly\"'; exit 3" }

[stages.after]
needs = ["broken"]
with = { run = "true" }
)";

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("exports: --junit is valid Ant JUnit XML with every stage and test case, --trace a Chrome timeline",
          "[e2e][junit-export]") {
  TempDir ws;
  write_file(ws / "wrt.toml", kPipeline);
  const std::vector<std::string> env = {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR};
  auto r = run_wrt({"run", "-k", "--junit", (ws / "out/junit.xml").string(), "--trace", (ws / "out/trace.json").string()},
                   ws.path(), env);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  REQUIRE(fs::exists(ws / "out/junit.xml"));
  const std::string xml = read_file(ws / "out/junit.xml");
  INFO(xml);

  auto lint = run_command({"xmllint", "--noout", "--schema", std::string(WRT_TEST_DATA_DIR) + "/junit/JUnit.xsd",
                           (ws / "out/junit.xml").string()});
  INFO(lint.out << lint.err);
  CHECK(lint.exit_code == 0);

  // Stages: 4 test cases, broken failed, after skipped; probe's own suite:
  // its two test cases, one failed.
  CHECK(xml.find(R"(<testsuite package="wrt" id="0" name="stages")") != std::string::npos);
  CHECK(xml.find(R"(tests="4" failures="1" errors="0" skipped="1")") != std::string::npos);
  CHECK(xml.find(R"(<testcase name="broken" classname="wrt.stage")") != std::string::npos);
  CHECK(xml.find(R"(<testsuite package="wrt.tests" id="1" name="probe")") != std::string::npos);
  CHECK(xml.find(R"(tests="2" failures="1" errors="0" skipped="0")") != std::string::npos);
  CHECK(xml.find(R"(<testcase name="fails" classname="suite1")") != std::string::npos);
  CHECK(xml.find(R"(message="expected 1, got 2")") != std::string::npos);
  CHECK(count(xml, "<testcase ") == 6);

  auto trace = read_json(ws / "out/trace.json");
  int slices = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] != "X" || e["cat"] != "stage") continue;
    ++slices;
    CHECK(e["dur"].get<std::int64_t>() > 0);
    CHECK(e["tid"].get<int>() >= 1);
  }
  CHECK(slices == 3);  // ok, probe, broken ran; after was skipped (an instant event)

  // Cached: the stages pass from the cache, the test cases are replayed.
  auto again = run_wrt({"run", "--stage", "probe", "--junit", (ws / "out/junit2.xml").string(), "--trace",
                        (ws / "out/trace2.json").string()},
                       ws.path(), env);
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  const std::string xml2 = read_file(ws / "out/junit2.xml");
  CHECK(count(xml2, "<testcase ") == 4);  // ok, probe; probe's two test cases
  CHECK(xml2.find(R"(<testcase name="fails" classname="suite1")") != std::string::npos);
  int instants = 0;
  const auto trace2 = read_json(ws / "out/trace2.json");
  for (const auto& e : trace2["traceEvents"])
    if (e["ph"] == "i" && e["cat"] == "cached") ++instants;
  CHECK(instants == 2);
}

TEST_CASE("exports: --junit to a path that cannot be written warns and keeps the run's exit code", "[e2e][junit-export]") {
  TempDir ws;
  write_file(ws / "wrt.toml", "[stages.a]\nwith = { run = \"true\" }\n");
  write_file(ws / "blocker", "a file where a directory should be\n");
  auto r = run_wrt({"run", "--junit", (ws / "blocker/junit.xml").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("wrt: warning: --junit:"));
}

TEST_CASE("exports: --trace shows each attempt of a retried stage as a slice inside the stage's", "[e2e][junit-export]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"([stages.flaky]
max_attempts = 3
with = { run = "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; test $n -ge 2" }
)");
  auto r = run_wrt({"run", "--trace", (ws / "trace.json").string(), "--junit", (ws / "junit.xml").string()}, ws.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto trace = read_json(ws / "trace.json");
  std::vector<std::string> outcomes;
  std::int64_t stage_ts = -1, stage_end = -1;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] != "X") continue;
    if (e["cat"] == "stage") {
      stage_ts = e["ts"];
      stage_end = stage_ts + e["dur"].get<std::int64_t>();
      CHECK(e["args"]["status"] == "flaky");
    }
  }
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] != "X" || e["cat"] != "attempt") continue;
    outcomes.push_back(e["args"]["outcome"]);
    CHECK(e["ts"].get<std::int64_t>() >= stage_ts);
    CHECK(e["ts"].get<std::int64_t>() + e["dur"].get<std::int64_t>() <= stage_end + 1000);
  }
  CHECK(outcomes == std::vector<std::string>{"failed", "passed"});
  CHECK(read_file(ws / "junit.xml").find(R"(<testcase name="flaky" classname="wrt.stage")") != std::string::npos);
}
