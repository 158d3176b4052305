// Two test-stage plugins in one library, sharing the JUnit reader:
//  * `junit` runs an optional command (`run` / `argv`) and reads the JUnit
//    XML reports it wrote (`report` / `reports`);
//  * `ctest` runs `ctest --test-dir <build_dir> --output-junit ...` and
//    can rerun failing tests (`rerun_failed = N`): a test that fails and
//    then passes is reported flaky and does not fail the stage.
// Either stage fails when any test case failed. With `reset_coverage =
// "DIR"` either removes the gcc --coverage counters (*.gcda) below DIR
// before the tests run, so that they count this run only, and afterwards
// lists the counters the run left in DIR/wrt-coverage-counters.txt, which
// the stage must declare as an output (see plugins/common/gcov_files.h).
#include <wrt/plugin.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/gcov_files.h"
#include "plugins/common/tool.h"
#include "plugins/junit/junit_report.h"

namespace {

namespace fs = std::filesystem;
using wrt::plugins::JUnitCase;

constexpr std::size_t kNamesInMessage = 5;

fs::path absolute_in(const std::string& workspace, const std::string& path) {
  fs::path p(path);
  return (p.is_absolute() ? p : fs::path(workspace) / p).lexically_normal();
}

std::vector<JUnitCase> read_report(const fs::path& file, const std::string& workspace) {
  std::string label = wrt::plugins::workspace_relative(file.string(), workspace);
  std::error_code ec;
  if (!fs::exists(file, ec)) throw std::runtime_error("test report " + label + " was not written");
  std::string xml = wrt::plugins::read_text_file(file.string());
  std::vector<JUnitCase> cases;
  wrt::plugins::ParseError error;
  if (!wrt::plugins::parse_junit(xml, label, &cases, &error)) throw std::runtime_error(error.to_string());
  return cases;
}

std::string case_id(const JUnitCase& c) { return c.suite + '\0' + c.name; }

std::string display_name(const JUnitCase& c) { return c.suite.empty() ? c.name : c.suite + "." + c.name; }

// Reports the cases and metrics, sets the message; FAILED if any failed.
wrt_status report_cases(const wrt::sdk::Stage& s, const std::vector<JUnitCase>& cases) {
  std::int64_t passed = 0, failed = 0, skipped = 0, flaky = 0;
  std::vector<std::string> failed_names, flaky_names;
  for (const auto& c : cases) {
    s.test_case(c.suite, c.name, c.status, c.duration_s, c.message);
    switch (c.status) {
      case WRT_TEST_PASSED:
        ++passed;
        break;
      case WRT_TEST_SKIPPED:
        ++skipped;
        break;
      case WRT_TEST_FLAKY:
        ++flaky;
        flaky_names.push_back(display_name(c));
        break;
      case WRT_TEST_FAILED:
        ++failed;
        failed_names.push_back(display_name(c));
        break;
    }
  }
  s.metric("tests.total", static_cast<double>(cases.size()));
  s.metric("tests.passed", static_cast<double>(passed));
  s.metric("tests.failed", static_cast<double>(failed));
  s.metric("tests.skipped", static_cast<double>(skipped));
  s.metric("tests.flaky", static_cast<double>(flaky));

  auto list = [](const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < kNamesInMessage; ++i) out += (i ? ", " : "") + names[i];
    if (names.size() > kNamesInMessage) out += " and " + std::to_string(names.size() - kNamesInMessage) + " more";
    return out;
  };
  std::string msg;
  if (failed)
    msg = std::to_string(failed) + " of " + std::to_string(cases.size()) + " tests failed: " + list(failed_names);
  else
    msg = std::to_string(passed + flaky) + " of " + std::to_string(cases.size()) + " tests passed";
  if (flaky) msg += "; flaky (passed on rerun): " + list(flaky_names);
  if (skipped) msg += "; " + std::to_string(skipped) + " skipped";
  s.message(msg);
  return failed ? WRT_STATUS_FAILED : WRT_STATUS_PASSED;
}

// Why a test process ended badly, or "" when it simply exited.
std::string abnormal_end(const wrt::sdk::SpawnOutcome& r) {
  if (!r.started) return r.error.empty() ? "could not start" : r.error;
  if (r.timed_out) return "timed out";
  if (r.interrupted) return "interrupted";
  if (r.term_signal) return "killed by signal " + std::to_string(r.term_signal);
  return {};
}

// ---------------------------------------------------------------- reset_coverage

// with.reset_coverage, workspace-relative and normalised ("" when unset).
// The counters list it writes must be a declared output: that is what makes
// a coverage stage that needs this one key on this run's counters.
std::string parse_reset_coverage(const wrt::sdk::Stage& s) {
  auto value = s.string("reset_coverage");
  if (!value) return {};
  fs::path dir = fs::path(*value).lexically_normal();
  if (value->empty() || dir.is_absolute() || (!dir.empty() && *dir.begin() == ".."))
    throw std::runtime_error("with.reset_coverage must be a directory inside the workspace (the build directory "
                             "holding the .gcda files), e.g. \"build\"");
  std::string list = (dir / wrt::plugins::gcov::kManifestName).lexically_normal().generic_string();
  bool declared = false;
  for (const auto& out : s.outputs()) declared = declared || fs::path(out).lexically_normal().generic_string() == list;
  if (!declared)
    throw std::runtime_error("with.reset_coverage = \"" + *value + "\": declare \"" + list +
                             "\" in the stage's outputs (it lists the counters this run left, so that the coverage "
                             "stage's cache key follows them)");
  return dir.generic_string();
}

// Before the tests: no counters of earlier runs (or of objects no longer
// built) survive, and no list of them either.
void reset_counters(const wrt::sdk::Stage& s, const std::string& dir) {
  fs::path abs = absolute_in(s.workspace(), dir);
  std::error_code ec;
  fs::remove(abs / wrt::plugins::gcov::kManifestName, ec);
  std::size_t n = wrt::plugins::gcov::remove_counters(abs);
  s.log(WRT_LOG_INFO, "reset_coverage: removed " + std::to_string(n) + " .gcda file" + (n == 1 ? "" : "s") +
                          " under " + dir + "/ (counters of earlier runs)");
}

// After the tests: the counters this run left.
void record_counters(const wrt::sdk::Stage& s, const std::string& dir) {
  fs::path abs = absolute_in(s.workspace(), dir);
  auto files = wrt::plugins::gcov::list_counters(abs);
  std::string text = wrt::plugins::gcov::write_manifest(
      files, "the .gcda files stage '" + s.name() + "' left under " + dir +
                 "/ (wrt reset_coverage); a coverage stage reading " + dir + "/ checks it against this list");
  fs::path list = abs / wrt::plugins::gcov::kManifestName;
  fs::path tmp = list;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error(tmp.string() + ": cannot write");
  }
  fs::rename(tmp, list);
  s.log(WRT_LOG_INFO, "reset_coverage: this run left " + std::to_string(files.size()) + " .gcda file" +
                          (files.size() == 1 ? "" : "s") + " under " + dir + "/");
  if (files.empty())
    s.log(WRT_LOG_WARNING, "reset_coverage: the tests left no .gcda file under " + dir +
                               "/ (were they built with --coverage?)");
}

// ---------------------------------------------------------------- junit

struct JUnitOptions {
  std::vector<std::string> argv;  // empty: only read the reports
  std::string cwd;
  std::vector<std::string> reports;
  std::string reset_coverage;
};

JUnitOptions parse_junit_options(const wrt::sdk::Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "junit", {"run", "argv", "shell", "cwd", "report", "reports", "reset_coverage"});
  JUnitOptions o;
  auto run = s.string("run");
  auto argv = s.strings("argv");
  if (run && argv) throw std::runtime_error("set either with.run or with.argv, not both");
  if (run) o.argv = {s.string("shell").value_or("/bin/sh"), "-c", *run};
  if (argv) {
    if (argv->empty()) throw std::runtime_error("with.argv must not be empty");
    o.argv = *argv;
  }
  o.cwd = s.string("cwd").value_or("");
  auto report = s.string("report");
  auto reports = s.strings("reports");
  if (report && reports) throw std::runtime_error("set either with.report or with.reports, not both");
  if (report) o.reports = {*report};
  if (reports) o.reports = *reports;
  if (o.reports.empty())
    throw std::runtime_error("junit needs with.report = \"path/to/junit.xml\" (or with.reports = [...])");
  for (const auto& r : o.reports)
    if (r.find_first_of("*?[") != std::string::npos)
      throw std::runtime_error("with.reports: \"" + r + "\" is a glob; list the report files by name");
  o.reset_coverage = parse_reset_coverage(s);
  if (!o.reset_coverage.empty() && o.argv.empty())
    throw std::runtime_error("with.reset_coverage needs the test command (with.run or with.argv) that produces the counters");
  return o;
}

wrt_status junit_fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse_junit_options(s);
    return WRT_STATUS_PASSED;
  });
}

wrt_status junit_run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    JUnitOptions o = parse_junit_options(s);
    std::string ws = s.workspace();
    int exit_code = 0;
    if (!o.argv.empty()) {
      // A stale report from an earlier run must not pass for this run's result.
      for (const auto& r : o.reports) {
        std::error_code ec;
        fs::remove(absolute_in(ws, r), ec);
      }
      if (!o.reset_coverage.empty()) reset_counters(s, o.reset_coverage);
      auto r = s.spawn(o.argv, o.cwd);
      if (std::string why = abnormal_end(r); !why.empty()) {
        s.message("test command " + why);
        return r.started ? WRT_STATUS_FAILED : WRT_STATUS_ERROR;
      }
      exit_code = r.exit_code;
      if (!o.reset_coverage.empty()) record_counters(s, o.reset_coverage);
    }
    std::vector<JUnitCase> cases;
    for (const auto& r : o.reports) {
      auto more = read_report(absolute_in(ws, r), ws);
      cases.insert(cases.end(), more.begin(), more.end());
      s.host()->report_artifact(s.handle(), r.c_str(), "junit");
    }
    wrt_status st = report_cases(s, cases);
    if (st == WRT_STATUS_PASSED && exit_code != 0) {
      s.message("test command exited with code " + std::to_string(exit_code) + " but its report shows no failed test");
      return WRT_STATUS_FAILED;
    }
    return st;
  });
}

// ---------------------------------------------------------------- ctest

struct CTestOptions {
  std::string build_dir;
  std::vector<std::string> args;
  std::int64_t rerun_failed = 0;
  std::int64_t parallel = 0;
  std::string reset_coverage;
};

CTestOptions parse_ctest_options(const wrt::sdk::Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "ctest", {"build_dir", "args", "rerun_failed", "parallel", "reset_coverage"});
  CTestOptions o;
  auto dir = s.string("build_dir");
  if (!dir || dir->empty()) throw std::runtime_error("ctest needs with.build_dir (the CMake build directory)");
  o.build_dir = *dir;
  o.args = s.strings("args").value_or(std::vector<std::string>{});
  o.rerun_failed = s.integer("rerun_failed").value_or(0);
  if (o.rerun_failed < 0 || o.rerun_failed > 10) throw std::runtime_error("with.rerun_failed must be 0 to 10");
  o.parallel = s.integer("parallel").value_or(0);
  if (o.parallel < 0) throw std::runtime_error("with.parallel must not be negative");
  o.reset_coverage = parse_reset_coverage(s);
  return o;
}

wrt_status ctest_fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse_ctest_options(s);
    std::string ctest = wrt::plugins::require_tool("ctest", "cmake");
    s.fingerprint("ctest", wrt::plugins::tool_version(s, {ctest, "--version"}));
    return WRT_STATUS_PASSED;
  });
}

// One ctest invocation; returns its cases (suite dropped: CTest has none
// and names every report "(empty)").
std::vector<JUnitCase> run_ctest(const wrt::sdk::Stage& s, const CTestOptions& o, const fs::path& report, bool rerun,
                                 int* exit_code) {
  std::string ws = s.workspace();
  std::error_code ec;
  fs::create_directories(report.parent_path(), ec);
  fs::remove(report, ec);
  std::vector<std::string> argv{"ctest",          "--test-dir",    absolute_in(ws, o.build_dir).string(),
                                "--output-junit", report.string(), "--output-on-failure"};
  if (o.parallel > 0) argv.insert(argv.end(), {"--parallel", std::to_string(o.parallel)});
  if (rerun) argv.push_back("--rerun-failed");
  argv.insert(argv.end(), o.args.begin(), o.args.end());
  auto r = s.spawn(argv);
  if (std::string why = abnormal_end(r); !why.empty()) throw std::runtime_error("ctest " + why);
  *exit_code = r.exit_code;
  if (!fs::exists(report, ec))
    throw std::runtime_error("ctest exited with code " + std::to_string(r.exit_code) +
                             " without writing its JUnit report (see the stage log)");
  auto cases = read_report(report, ws);
  for (auto& c : cases) c.suite.clear();
  return cases;
}

wrt_status ctest_run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    CTestOptions o = parse_ctest_options(s);
    wrt::plugins::require_tool("ctest", "cmake");
    std::string ws = s.workspace();
    fs::path dir = fs::path(ws) / ".wrt" / "ctest" / s.name();
    int exit_code = 0;
    if (!o.reset_coverage.empty()) reset_counters(s, o.reset_coverage);
    auto cases = run_ctest(s, o, dir / "junit.xml", false, &exit_code);
    s.host()->report_artifact(s.handle(), wrt::plugins::workspace_relative((dir / "junit.xml").string(), ws).c_str(),
                              "junit");

    std::map<std::string, std::size_t> failing;  // case id -> index in `cases`
    for (std::size_t i = 0; i < cases.size(); ++i)
      if (cases[i].status == WRT_TEST_FAILED) failing[case_id(cases[i])] = i;
    for (std::int64_t attempt = 1; attempt <= o.rerun_failed && !failing.empty(); ++attempt) {
      s.log(WRT_LOG_INFO, "rerunning " + std::to_string(failing.size()) + " failed test(s), rerun " +
                              std::to_string(attempt) + " of " + std::to_string(o.rerun_failed));
      auto again = run_ctest(s, o, dir / ("rerun-" + std::to_string(attempt) + ".xml"), true, &exit_code);
      for (const auto& c : again) {
        auto it = failing.find(case_id(c));
        if (it == failing.end() || c.status != WRT_TEST_PASSED) continue;
        JUnitCase& original = cases[it->second];
        original.status = WRT_TEST_FLAKY;
        original.message = "passed on rerun " + std::to_string(attempt) +
                           (original.message.empty() ? "" : "; first failure: " + original.message);
        failing.erase(it);
      }
    }
    // Reruns add to the counters: coverage is that of every test process this stage ran.
    if (!o.reset_coverage.empty()) record_counters(s, o.reset_coverage);
    wrt_status st = report_cases(s, cases);
    // A test that crashed ctest itself, or a missing test executable, may
    // leave no failed case behind; ctest's exit code still tells.
    if (st == WRT_STATUS_PASSED && exit_code != 0) {
      s.message("ctest exited with code " + std::to_string(exit_code) + " but its report shows no failed test");
      return WRT_STATUS_FAILED;
    }
    return st;
  });
}

const wrt_plugin kJUnit = {
    sizeof(wrt_plugin), "junit",   "1.2.0", "Runs a test command and reads its JUnit XML reports",
    junit_fingerprint,  junit_run, nullptr,
};
const wrt_plugin kCTest = {
    sizeof(wrt_plugin), "ctest",   "1.2.0", "Runs CTest, reports its test cases, reruns failures to spot flaky tests",
    ctest_fingerprint,  ctest_run, nullptr,
};
const wrt_plugin* const kPlugins[] = {&kJUnit, &kCTest};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 2, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
