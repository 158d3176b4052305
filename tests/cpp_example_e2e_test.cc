// End to end: the real wrt binary runs examples/cpp-project's ci pipeline
// (cmake, ctest, gcovr coverage, clang-tidy, cppcheck, flawfinder, Google
// Benchmark) with the real tools on a copy of the project; a second run is
// all cached, and an edit re-runs exactly the stages whose declared inputs
// contain the edited file.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

const fs::path kExample = fs::path(WRT_SOURCE_DIR) / "examples" / "cpp-project";
const std::vector<std::string> kStages = {"build", "test", "coverage", "tidy", "cppcheck", "flawfinder", "bench"};

void copy_example(const fs::path& to) {
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(kExample)) {
    std::string name = entry.path().filename().string();
    // A developer's local build, coverage or cache must not leak in.
    if (name == "build" || name == "coverage" || name == ".wrt") continue;
    fs::copy(entry.path(), to / name, fs::copy_options::recursive);
  }
}

struct Run {
  CommandResult result;
  nlohmann::json report;
};

Run run_ci(const fs::path& project) {
  const fs::path report = project / "report.json";
  Run r;
  r.result = run_wrt({"run", "ci", "--report", report.string()}, project);
  r.report = nlohmann::json::parse(fs::exists(report) ? read_file(report) : "{}");
  fs::remove(report);
  return r;
}

std::map<std::string, std::string> statuses(const nlohmann::json& report) {
  std::map<std::string, std::string> m;
  for (const auto& s : report["stages"]) m[s["name"].get<std::string>()] = s["status"].get<std::string>();
  return m;
}

// Every stage `other`, those in `changed` `status`.
std::map<std::string, std::string> expect(const std::string& other, const std::set<std::string>& changed = {},
                                          const std::string& status = "passed") {
  std::map<std::string, std::string> m;
  for (const auto& s : kStages) m[s] = changed.count(s) ? status : other;
  return m;
}

nlohmann::json stage(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

std::set<std::string> test_names(const nlohmann::json& st) {
  std::set<std::string> names;
  for (const auto& t : st["tests"]) {
    CHECK(t["status"] == "passed");
    names.insert(t["name"].get<std::string>());
  }
  return names;
}

bool has_artifact(const nlohmann::json& st, const std::string& path) {
  for (const auto& a : st["artifacts"])
    if (a["path"] == path) return true;
  return false;
}

void append(const fs::path& file, const std::string& text) { write_file(file, read_file(file) + text); }

}  // namespace

TEST_CASE("cpp-example: e2e examples/cpp-project ci passes, is cached, and an edit re-runs the stages it is an input of",
          "[cpp-example][e2e]") {
  // Required tools of this test suite: a missing one fails here, by name.
  for (const char* tool : {"cmake", "ctest", "ninja", "gcovr", "clang-tidy", "cppcheck", "flawfinder"}) {
    INFO("required tool: " << tool);
    REQUIRE(wrt::plugins::find_program(tool));
  }
  TempDir ws;
  const fs::path project = ws / "cpp-project";
  copy_example(project);

  // A clean project passes every stage.
  Run first = run_ci(project);
  INFO(first.result.out << first.result.err);
  REQUIRE(first.result.exit_code == 0);
  CHECK(statuses(first.report) == expect("passed"));

  auto build = stage(first.report, "build");
  CHECK(build["metrics"]["warnings"] == 0);
  CHECK(build["metrics"]["errors"] == 0);
  CHECK(has_artifact(build, "build/compile_commands.json"));

  auto test = stage(first.report, "test");
  CHECK(test["metrics"]["tests.total"] == 12);
  CHECK(test["metrics"]["tests.passed"] == 12);
  CHECK(test["metrics"]["tests.failed"] == 0);
  const std::set<std::string> expected_tests = {
      "RingBuffer.StartsEmpty",         "RingBuffer.RejectsZeroCapacity",
      "RingBuffer.PopsInPushOrder",     "RingBuffer.OverwritesOldestWhenFull",
      "RingBuffer.WrapsAroundRepeatedly", "Split.KeepsEmptyFields",
      "Split.EmptyTextIsOneEmptyField", "Split.TrailingDelimiterEndsWithEmptyField",
      "Tokenizer.SplitsOnWhitespaceRuns", "Tokenizer.QuotedTokenKeepsSpaces",
      "Tokenizer.ReportsUnterminatedQuote", "Tokenizer.BlankTextHasNoTokens"};
  CHECK(test_names(test) == expected_tests);

  // wrt.toml sets min_line = 90 and min_function = 90; the filter keeps the
  // library's own files (the tests are instrumented too, but not counted).
  auto coverage = stage(first.report, "coverage");
  INFO("coverage: " << coverage["message"]);
  CHECK(coverage["metrics"]["coverage.line"].get<double>() >= 90.0);
  CHECK(coverage["metrics"]["coverage.function"].get<double>() >= 90.0);
  CHECK(coverage["metrics"]["lines.total"].get<double>() > 0);
  CHECK(coverage["message"].get<std::string>().find("over 4 files") != std::string::npos);
  CHECK(has_artifact(coverage, "coverage/lcov.info"));
  CHECK(has_artifact(coverage, "coverage/cobertura.xml"));
  const std::string lcov = read_file(project / "coverage" / "lcov.info");
  for (const char* file : {"SF:src/ring_buffer.cc", "SF:src/tokenizer.cc", "SF:include/textkit/ring_buffer.h"})
    CHECK(lcov.find(file) != std::string::npos);
  CHECK(lcov.find("SF:tests/") == std::string::npos);
  CHECK(fs::exists(project / "coverage" / "cobertura.xml"));

  auto tidy = stage(first.report, "tidy");
  CHECK(tidy["metrics"]["files"] == 2);
  CHECK(tidy["findings"].empty());
  auto cppcheck = stage(first.report, "cppcheck");
  CHECK(cppcheck["metrics"]["errors"] == 0);
  CHECK(cppcheck["findings"].empty());
  auto flawfinder = stage(first.report, "flawfinder");
  CHECK(flawfinder["metrics"]["hits"] == 0);
  CHECK(flawfinder["findings"].empty());

  auto bench = stage(first.report, "bench");
  CHECK(bench["metrics"]["bench.count"] == 2);
  CHECK(bench["metrics"]["bench.regressions"] == 0);
  CHECK(bench["metrics"]["bench.BM_RingBufferPush.ns"].get<double>() > 0);
  CHECK(bench["metrics"]["bench.BM_Tokenize.ns"].get<double>() > 0);
  CHECK(bench["message"].get<std::string>().find("recorded this run as the baseline") != std::string::npos);

  // Nothing changed: everything comes from the cache, and a deleted declared
  // output (coverage/lcov.info) is restored from it.
  fs::remove(project / "coverage" / "lcov.info");
  Run second = run_ci(project);
  INFO(second.result.out << second.result.err);
  REQUIRE(second.result.exit_code == 0);
  CHECK(statuses(second.report) == expect("cached"));
  CHECK(read_file(project / "coverage" / "lcov.info") == lcov);
  CHECK(stage(second.report, "coverage")["metrics"]["coverage.line"] == coverage["metrics"]["coverage.line"]);
  CHECK(test_names(stage(second.report, "test")) == expected_tests);

  // A library source is an input of every stage: all re-run and pass, and
  // bench now compares with the baseline the first run recorded.
  append(project / "src" / "tokenizer.cc", "\n// Edited by the cpp-example e2e test.\n");
  Run third = run_ci(project);
  INFO(third.result.out << third.result.err);
  REQUIRE(third.result.exit_code == 0);
  CHECK(statuses(third.report) == expect("passed"));
  CHECK(stage(third.report, "test")["metrics"]["tests.passed"] == 12);
  auto bench3 = stage(third.report, "bench");
  CHECK(bench3["metrics"]["bench.count"] == 2);
  // Compared with the baseline: "... compared with the baseline, no
  // regression", or on a loaded machine (e.g. the sanitizer run, tests in
  // parallel) "... regressed (on_regression = "warn")" — both need it.
  const std::string msg3 = bench3["message"].get<std::string>();
  INFO(msg3);
  CHECK((msg3.find("compared with the baseline") != std::string::npos ||
         msg3.find("of 2 benchmarks regressed") != std::string::npos));
  CHECK(msg3.find("no baseline yet") == std::string::npos);

  // A unit-test file is an input of build, test, coverage and flawfinder, not
  // of tidy (library sources only), cppcheck (src/ and include/) or bench.
  append(project / "tests" / "ring_buffer_test.cc", "\n// Edited by the cpp-example e2e test.\n");
  Run fourth = run_ci(project);
  INFO(fourth.result.out << fourth.result.err);
  REQUIRE(fourth.result.exit_code == 0);
  CHECK(statuses(fourth.report) == expect("cached", {"build", "test", "coverage", "flawfinder"}));
  CHECK(test_names(stage(fourth.report, "test")) == expected_tests);
  CHECK(stage(fourth.report, "coverage")["metrics"]["coverage.line"].get<double>() >= 90.0);
}
