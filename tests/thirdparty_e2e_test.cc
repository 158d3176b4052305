// End to end on a real third-party project: cJSON (tests/data/thirdparty/cjson,
// vendored unchanged but for removed files, see its README.md), driven by the
// real wrt binary with the wrt.toml a new user would write from wrt's README:
// cmake (a --coverage build kept as state), CTest, gcovr coverage,
// clang-tidy, cppcheck and flawfinder. The figures wrt reports are checked
// against the tools run directly on the same tree; a no-op run must start no
// tool; a broken function must fail the test stage naming the failing tests;
// a revert followed by a test-only config change must test a rebuilt, not the
// stale, build directory.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

const fs::path kVendored = fs::path(WRT_SOURCE_DIR) / "tests" / "data" / "thirdparty" / "cjson";
const std::vector<std::string> kStages = {"build", "test", "coverage", "tidy", "cppcheck", "flawfinder"};

// What the user writes. The vendored CMakeLists.txt is used as it is: the
// options its tests need go through the cmake plugin's `definitions`.
std::string wrt_toml(const std::string& test_with) {
  return R"([project]
name = "cjson"

[settings]
max_parallel_jobs = 2
timeout_minutes = 10

[stages.build]
plugin = "cmake"
inputs = ["CMakeLists.txt", "*.c", "*.h", "library_config/**", "fuzzing/**", "tests/**"]
state = ["build"]
with = { build_dir = "build", build_type = "Debug", fail_on = "warning", definitions = { ENABLE_CJSON_TEST = true, ENABLE_CJSON_UTILS = true, CMAKE_C_FLAGS = "--coverage" } }

[stages.test]
plugin = "ctest"
needs = ["build"]
inputs = ["CMakeLists.txt", "*.c", "*.h", "library_config/**", "fuzzing/**", "tests/**"]
with = )" + test_with + R"(

[stages.coverage]
plugin = "coverage"
needs = ["test"]
inputs = ["CMakeLists.txt", "*.c", "*.h", "library_config/**", "fuzzing/**", "tests/**"]
outputs = ["coverage/lcov.info", "coverage/cobertura.xml"]
with = { tool = "gcovr", build_dir = "build", filter = ["cJSON\\.c", "cJSON_Utils\\.c"], min_line = 80 }

[stages.tidy]
plugin = "clang-tidy"
needs = ["build"]
inputs = ["CMakeLists.txt", "cJSON.c", "cJSON.h", "cJSON_Utils.c", "cJSON_Utils.h"]
with = { build_dir = "build", files = ["cJSON.c", "cJSON_Utils.c"], checks = "-*,bugprone-*,-bugprone-easily-swappable-parameters", jobs = 2 }

[stages.cppcheck]
plugin = "cppcheck"
inputs = ["cJSON.c", "cJSON.h", "cJSON_Utils.c", "cJSON_Utils.h"]
with = { paths = ["cJSON.c", "cJSON_Utils.c"], args = ["--max-configs=1"] }

[stages.flawfinder]
plugin = "flawfinder"
inputs = ["cJSON.c", "cJSON.h", "cJSON_Utils.c", "cJSON_Utils.h"]
with = { paths = ["cJSON.c", "cJSON_Utils.c"], fail_level = 5 }

[pipelines.ci]
stages = ["build", "test", "coverage", "tidy", "cppcheck", "flawfinder"]
)";
}
const char* kTestWith = R"({ build_dir = "build" })";

struct Run {
  CommandResult result;
  nlohmann::json report;
};

Run run_ci(const fs::path& project) {
  const fs::path report = project / "report.json";
  fs::remove(report);
  Run r;
  r.result = run_wrt({"run", "ci", "--report", report.string()}, project);
  r.report = nlohmann::json::parse(fs::exists(report) ? read_file(report) : "{}");
  return r;
}

std::map<std::string, std::string> statuses(const nlohmann::json& report) {
  std::map<std::string, std::string> m;
  for (const auto& s : report["stages"]) m[s["name"].get<std::string>()] = s["status"].get<std::string>();
  return m;
}

std::map<std::string, std::string> all(const std::string& status) {
  std::map<std::string, std::string> m;
  for (const auto& s : kStages) m[s] = status;
  return m;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::set<std::string> tests_with_status(const nlohmann::json& stage, const std::string& status) {
  std::set<std::string> names;
  for (const auto& t : stage["tests"])
    if (t["status"] == status) names.insert(t["name"].get<std::string>());
  return names;
}

// The tests CTest itself lists in the build directory (`ctest -N`).
std::set<std::string> ctest_listed(const fs::path& build) {
  auto r = run_command({"ctest", "-N"}, build);
  REQUIRE(r.exit_code == 0);
  static const std::regex kTest(R"(^\s*Test\s+#\d+: (\S+)\s*$)");
  static const std::regex kTotal(R"(^Total Tests: (\d+)$)");
  std::set<std::string> names;
  long total = -1;
  for (const auto& line : lines_of(r.out)) {
    std::smatch m;
    if (std::regex_match(line, m, kTest)) names.insert(m[1]);
    if (std::regex_match(line, m, kTotal)) total = std::stol(m[1]);
  }
  CHECK(total == static_cast<long>(names.size()));
  return names;
}

// The tests that fail when CTest runs them directly in the build directory.
std::set<std::string> ctest_failing(const fs::path& build) {
  auto r = run_command({"ctest"}, build);
  static const std::regex kFailed(R"(^\s*\d+ - (\S+) \(Failed\)\s*$)");
  std::set<std::string> names;
  for (const auto& line : lines_of(r.out)) {
    std::smatch m;
    if (std::regex_match(line, m, kFailed)) names.insert(m[1]);
  }
  CHECK((r.exit_code == 0) == names.empty());
  return names;
}

long count_matches(const std::string& text, const std::regex& re) {
  long n = 0;
  for (const auto& line : lines_of(text))
    if (std::regex_search(line, re)) ++n;
  return n;
}

// Lines of the form "[wrt] $ command" in every stage log: one per process a
// stage started.
long logged_commands(const fs::path& project) {
  long n = 0;
  for (const auto& e : fs::directory_iterator(project / ".wrt" / "logs"))
    n += count_matches(read_file(e.path()), std::regex(R"(^\[wrt\] \$ )"));
  return n;
}

double metric(const nlohmann::json& stage, const std::string& name) { return stage["metrics"][name].get<double>(); }

}  // namespace

TEST_CASE("thirdparty: e2e cJSON ci pipeline - figures match the tools, a no-op starts no tool, a broken function fails "
          "named tests, a revert plus test-config change tests a rebuilt build",
          "[e2e][thirdparty]") {
  for (const char* tool : {"cmake", "ctest", "ninja", "cc", "gcovr", "clang-tidy", "cppcheck", "flawfinder", "strace"}) {
    INFO("required tool: " << tool);
    REQUIRE(wrt::plugins::find_program(tool));
  }
  REQUIRE(fs::exists(kVendored / "cJSON.c"));
  TempDir ws;
  const fs::path project = ws / "cjson";
  fs::copy(kVendored, project, fs::copy_options::recursive);
  write_file(project / "wrt.toml", wrt_toml(kTestWith));
  const fs::path build = project / "build";

  // ---- First run: everything runs and passes.
  Run first = run_ci(project);
  INFO(first.result.out << first.result.err);
  REQUIRE(first.result.exit_code == 0);
  CHECK(statuses(first.report) == all("passed"));

  auto build_stage = report_stage(first.report, "build");
  CHECK(metric(build_stage, "errors") == 0);
  CHECK(metric(build_stage, "warnings") == 0);  // cJSON builds with its own -Werror flags
  REQUIRE(fs::exists(build / "compile_commands.json"));

  // The tests wrt reports are exactly those CTest lists, all passed.
  const std::set<std::string> listed = ctest_listed(build);
  CHECK(listed.size() == 22);  // 18 Unity tests + cJSON_test + 3 cJSON_Utils tests
  CHECK(listed.count("misc_tests") == 1);
  CHECK(listed.count("json_patch_tests") == 1);
  auto test = report_stage(first.report, "test");
  CHECK(metric(test, "tests.total") == static_cast<double>(listed.size()));
  CHECK(metric(test, "tests.passed") == static_cast<double>(listed.size()));
  CHECK(metric(test, "tests.failed") == 0);
  CHECK(tests_with_status(test, "passed") == listed);
  CHECK(test["tests"].size() == listed.size());

  // Coverage: the same figures gcovr prints itself over the same .gcda files.
  auto coverage = report_stage(first.report, "coverage");
  INFO("coverage: " << coverage["message"]);
  // Never `-o /dev/null`: gcovr replaces its output file, and as root that
  // turns /dev/null into a regular file for the whole machine.
  auto gcovr = run_command({"gcovr", "--root", ".", "--object-directory", "build", "--filter", "cJSON\\.c", "--filter",
                            "cJSON_Utils\\.c", "--print-summary", "-o", (ws / "gcovr-report.txt").string()},
                           project);
  REQUIRE(gcovr.exit_code == 0);
  std::smatch m;
  const std::string gcovr_out = gcovr.out;
  REQUIRE(std::regex_search(gcovr_out, m, std::regex(R"(lines: [0-9.]+% \((\d+) out of (\d+)\))")));
  CHECK(metric(coverage, "lines.covered") == std::stod(m[1]));
  CHECK(metric(coverage, "lines.total") == std::stod(m[2]));
  CHECK(metric(coverage, "coverage.line") >= 80.0);
  CHECK(coverage["message"].get<std::string>().find("over 2 files") != std::string::npos);
  const std::string lcov = read_file(project / "coverage" / "lcov.info");
  CHECK(lcov.find("SF:cJSON.c\n") != std::string::npos);
  CHECK(lcov.find("SF:cJSON_Utils.c\n") != std::string::npos);
  CHECK(lcov.find("SF:tests/") == std::string::npos);

  // clang-tidy: as many findings as clang-tidy prints over the same database.
  auto tidy = report_stage(first.report, "tidy");
  auto tidy_direct = run_command({"clang-tidy", "-p", build.string(), "--quiet",
                                  "--checks=-*,bugprone-*,-bugprone-easily-swappable-parameters",
                                  "--extra-arg=-Wno-unknown-warning-option", "cJSON.c", "cJSON_Utils.c"},
                                 project);
  const long tidy_warnings = count_matches(tidy_direct.out, std::regex(R"(: warning: .* \[[a-z-]+\]$)"));
  CHECK(tidy_warnings > 0);
  CHECK(metric(tidy, "files") == 2);
  CHECK(metric(tidy, "warnings") == static_cast<double>(tidy_warnings));
  CHECK(tidy["findings"].size() == static_cast<std::size_t>(tidy_warnings));

  // cppcheck: errors and warnings as in cppcheck's own XML for the same files.
  auto cppcheck = report_stage(first.report, "cppcheck");
  auto cc_direct = run_command({"cppcheck", "--xml", "--xml-version=2", "--enable=warning,style,performance,portability",
                                "--max-configs=1", "cJSON.c", "cJSON_Utils.c"},
                               project);
  const long cc_errors = count_matches(cc_direct.err, std::regex(R"(<error id="[^"]+" severity="error")"));
  const long cc_warnings =
      count_matches(cc_direct.err, std::regex(R"re(<error id="[^"]+" severity="(warning|style|performance|portability)")re"));
  CHECK(cc_warnings > 0);
  CHECK(metric(cppcheck, "errors") == static_cast<double>(cc_errors));
  CHECK(metric(cppcheck, "warnings") == static_cast<double>(cc_warnings));
  CHECK(cppcheck["findings"].size() == static_cast<std::size_t>(cc_errors + cc_warnings));

  // flawfinder: the hits of flawfinder's CSV; level 4 counts, below fail_level 5.
  auto flawfinder = report_stage(first.report, "flawfinder");
  auto ff_direct = run_command({"flawfinder", "--csv", "--minlevel=1", "cJSON.c", "cJSON_Utils.c"}, project);
  REQUIRE(ff_direct.exit_code == 0);
  const long ff_hits = count_matches(ff_direct.out, std::regex(R"(^cJSON(_Utils)?\.c,)"));
  const long ff_level4 = count_matches(ff_direct.out, std::regex(R"(^cJSON(_Utils)?\.c,\d+,\d+,\d+,[45],)"));
  CHECK(ff_hits > 0);
  CHECK(ff_level4 > 0);
  CHECK(metric(flawfinder, "hits") == static_cast<double>(ff_hits));
  CHECK(metric(flawfinder, "hits.level4plus") == static_cast<double>(ff_level4));

  // ---- A no-op: every stage cached, and no process but wrt's own (its
  // workers and watchdog) is started: no cmake, ctest, gcovr, linter.
  const long commands_before = logged_commands(project);
  const fs::path trace = ws / "noop.strace";
  const fs::path noop_report = project / "noop.json";
  auto noop = run_command({"strace", "-f", "-qq", "-e", "trace=execve", "-o", trace.string(), WRT_BINARY, "run", "ci",
                           "--report", noop_report.string()},
                          // LeakSanitizer cannot run under ptrace (sanitizer builds).
                          project, {"CI=true", "ASAN_OPTIONS=detect_leaks=0"});
  INFO(noop.out << noop.err);
  REQUIRE(noop.exit_code == 0);
  CHECK(statuses(read_json(noop_report)) == all("cached"));
  CHECK(logged_commands(project) == commands_before);
  std::vector<std::string> execs, foreign;
  for (const auto& line : lines_of(read_file(trace))) {
    std::smatch e;
    if (!std::regex_search(line, e, std::regex(R"re(execve\("([^"]+)")re")) || line.find("= -1") != std::string::npos)
      continue;
    execs.push_back(e[1]);
    if (e[1] != WRT_BINARY && e[1] != "/proc/self/exe") foreign.push_back(line);
  }
  INFO("processes a no-op started: " << execs.size());
  CHECK(execs.size() >= 1);  // wrt itself: the trace is real
  CHECK(foreign.empty());
  // Only wrt itself: the bundled plugins' fingerprints run in wrt's process
  // and tool versions come from the cache, so no watchdog and no worker
  // start (before that: 1 watchdog + 2 wrt-worker processes per no-op).
  CHECK(execs.size() == 1);

  // ---- Break cJSON_IsTrue: it builds (no warning), two CTest tests fail and
  // are named; what depends on test is skipped.
  const std::string good = read_file(project / "cJSON.c");
  const std::string needle = "return (item->type & 0xff) == cJSON_True;";
  const auto at = good.find(needle);
  REQUIRE(at != std::string::npos);
  REQUIRE(good.find(needle, at + 1) == std::string::npos);
  std::string broken = good;
  broken.replace(at, needle.size(), "return (item->type & 0xff) == cJSON_False;");
  write_file(project / "cJSON.c", broken);

  Run bad = run_ci(project);
  INFO(bad.result.out << bad.result.err);
  CHECK(bad.result.exit_code == 1);
  CHECK(report_stage(bad.report, "build")["status"] == "passed");
  auto bad_test = report_stage(bad.report, "test");
  CHECK(bad_test["status"] == "failed");
  CHECK(report_stage(bad.report, "coverage")["status"] == "skipped");
  const std::set<std::string> failing = ctest_failing(build);  // CTest's own verdict on the same build
  CHECK(failing == std::set<std::string>{"misc_tests", "json_patch_tests"});
  CHECK(tests_with_status(bad_test, "failed") == failing);
  CHECK(metric(bad_test, "tests.failed") == static_cast<double>(failing.size()));
  CHECK(metric(bad_test, "tests.passed") == static_cast<double>(listed.size() - failing.size()));
  const std::string bad_msg = bad_test["message"].get<std::string>();
  for (const auto& name : failing) {
    CHECK(bad_msg.find(name) != std::string::npos);
    CHECK(bad.result.out.find("FAILED " + name) != std::string::npos);
  }
  // CTest leaves <failure message=""> empty: the message is taken from the
  // lines of the test's output that say what failed (Unity's ":FAIL:").
  CHECK(bad.result.out.find("FAILED misc_tests: ../tests/misc_tests.c:174:typecheck_functions_should_check_type:FAIL") !=
               std::string::npos);
  for (const auto& t : bad_test["tests"])
    if (t["status"] == "failed") {
      INFO("failure message of " << t["name"].get<std::string>() << ": " << t["message"].get<std::string>());
      CHECK(t["message"].get<std::string>().find(":FAIL") != std::string::npos);
    }

  // ---- Revert: build and test are cache hits again, and a hit forces
  // nothing, so build/ still holds the broken binaries (CTest run directly
  // there still fails).
  write_file(project / "cJSON.c", good);
  Run reverted = run_ci(project);
  INFO(reverted.result.out << reverted.result.err);
  REQUIRE(reverted.result.exit_code == 0);
  CHECK(statuses(reverted.report) == all("cached"));
  CHECK(ctest_failing(build) == failing);

  // ---- Only the test stage's configuration changes: test must run, and
  // against a build/ rebuilt from the current sources (state directory).
  write_file(project / "wrt.toml", wrt_toml(R"({ build_dir = "build", parallel = 2 })"));
  Run retest = run_ci(project);
  INFO(retest.result.out << retest.result.err);
  REQUIRE(retest.result.exit_code == 0);
  CHECK(retest.result.out.find("rebuilding build for test: its state directory was produced for another key") !=
        std::string::npos);
  auto rebuilt = report_stage(retest.report, "build");
  CHECK(rebuilt["status"] == "cached");
  CHECK(rebuilt["rebuilt_state"].get<std::string>().find("rebuilt") != std::string::npos);
  auto retest_test = report_stage(retest.report, "test");
  CHECK(retest_test["status"] == "passed");
  CHECK(retest_test["reason"].get<std::string>().find("config (with) changed") != std::string::npos);
  CHECK(metric(retest_test, "tests.passed") == static_cast<double>(listed.size()));
  CHECK(tests_with_status(retest_test, "passed") == listed);
  CHECK(ctest_failing(build).empty());
  for (const char* s : {"coverage", "tidy", "cppcheck", "flawfinder"}) CHECK(report_stage(retest.report, s)["status"] == "cached");
}
