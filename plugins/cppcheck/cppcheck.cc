// The `cppcheck` plugin: runs cppcheck on `paths` (or a compilation
// database, `project`), reads its XML report and reports each issue as a
// finding. The stage fails according to fail_on / max_warnings.
#include <wrt/plugin.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "plugins/cppcheck/cppcheck_xml.h"

namespace {

namespace fs = std::filesystem;
using wrt::plugins::FindingPolicy;

const char* const kDefaultEnable = "warning,style,performance,portability";
const std::set<std::string> kKnownKeys = {"paths", "project", "enable", "std", "suppress",
                                          "inline_suppressions", "args", "fail_on", "max_warnings"};
const std::set<std::string> kEnableValues = {"all", "warning", "style", "performance", "portability",
                                             "information", "unusedFunction", "missingInclude"};

struct Options {
  std::vector<std::string> paths;
  std::string project;
  std::string enable = kDefaultEnable;
  std::string standard;
  std::vector<std::string> suppress;
  bool inline_suppressions = false;
  std::vector<std::string> args;
  FindingPolicy policy;
};

Options parse_options(const wrt::sdk::Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "cppcheck", kKnownKeys);
  Options o;
  auto paths = s.strings("paths");
  o.project = s.string("project").value_or("");
  if (paths && !o.project.empty())
    throw std::runtime_error("set either with.paths or with.project (cppcheck takes its files from the project)");
  if (paths && paths->empty()) throw std::runtime_error("with.paths must not be empty");
  if (o.project.empty()) o.paths = paths.value_or(std::vector<std::string>{"."});
  o.enable = s.string("enable").value_or(kDefaultEnable);
  std::size_t start = 0;
  while (start <= o.enable.size()) {
    std::size_t end = o.enable.find(',', start);
    if (end == std::string::npos) end = o.enable.size();
    std::string item = o.enable.substr(start, end - start);
    if (!kEnableValues.count(item))
      throw std::runtime_error("with.enable: \"" + item +
                               "\" is not a cppcheck check group (use a comma-separated list of all, warning, "
                               "style, performance, portability, information, unusedFunction, missingInclude)");
    start = end + 1;
  }
  o.standard = s.string("std").value_or("");
  if (s.string("std") && o.standard.empty()) throw std::runtime_error("with.std must not be empty");
  o.suppress = s.strings("suppress").value_or(std::vector<std::string>{});
  o.inline_suppressions = s.boolean("inline_suppressions").value_or(false);
  o.args = s.strings("args").value_or(std::vector<std::string>{});
  o.policy = FindingPolicy::from_config(s);
  return o;
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Options o = parse_options(s);
    wrt::plugins::require_tool("cppcheck", "cppcheck");
    std::string version = wrt::plugins::tool_version(s, {"cppcheck", "--version"});
    if (version.empty()) throw std::runtime_error("cppcheck --version printed nothing; is cppcheck installed correctly?");
    s.fingerprint("cppcheck.version", version);
    s.fingerprint("cppcheck.enable", o.enable);
    s.fingerprint("cppcheck.std", o.standard);
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Options o = parse_options(s);
    const std::string workspace = s.workspace();
    auto exists = [&](const std::string& p) { return fs::exists(fs::path(p).is_absolute() ? fs::path(p) : fs::path(workspace) / p); };
    for (const auto& p : o.paths)
      if (!exists(p)) throw std::runtime_error("with.paths: " + p + " does not exist in the workspace");
    if (!o.project.empty() && !exists(o.project))
      throw std::runtime_error("with.project: " + o.project + " does not exist in the workspace");

    wrt::plugins::TempReportFile report("cppcheck", ".xml");
    std::vector<std::string> argv = {"cppcheck", "--xml", "--xml-version=2", "--output-file=" + report.path(),
                                     "--enable=" + o.enable};
    if (!o.standard.empty()) argv.push_back("--std=" + o.standard);
    for (const auto& id : o.suppress) argv.push_back("--suppress=" + id);
    if (o.inline_suppressions) argv.push_back("--inline-suppr");
    if (!o.project.empty()) argv.push_back("--project=" + o.project);
    argv.insert(argv.end(), o.args.begin(), o.args.end());
    argv.insert(argv.end(), o.paths.begin(), o.paths.end());

    auto r = s.spawn(argv);
    if (!r.started) {
      s.message("cannot start cppcheck: " + r.error);
      return WRT_STATUS_ERROR;
    }
    if (r.timed_out || r.interrupted) return WRT_STATUS_FAILED;
    if (r.term_signal) {
      s.message("cppcheck was killed by signal " + std::to_string(r.term_signal));
      return WRT_STATUS_ERROR;
    }
    std::string xml = wrt::plugins::read_text_file(report.path());
    // A non-zero exit with a report is a user's --error-exitcode in `args`;
    // without one, cppcheck refused its arguments or crashed.
    if (r.exit_code != 0 && wrt::plugins::trim(xml).empty()) {
      s.message("cppcheck exited with code " + std::to_string(r.exit_code) +
                " without writing a report (see the stage log)");
      return WRT_STATUS_ERROR;
    }
    auto parsed = wrt::plugins::cppcheck::parse_cppcheck_xml(xml, "cppcheck XML report");
    if (parsed.error) {
      s.message(parsed.error->to_string());
      return WRT_STATUS_ERROR;
    }

    std::int64_t errors = 0, warnings = 0, notes = 0, noise = 0;
    for (const auto& issue : parsed.report.issues) {
      if (wrt::plugins::cppcheck::is_tool_noise(issue.id)) {
        ++noise;
        s.log(WRT_LOG_INFO, "cppcheck: " + issue.id + ": " + issue.message);
        continue;
      }
      wrt_severity sev = wrt::plugins::cppcheck::cppcheck_severity(issue.severity);
      if (sev == WRT_SEVERITY_ERROR) ++errors;
      else if (sev == WRT_SEVERITY_WARNING) ++warnings;
      else ++notes;
      s.finding(sev, issue.id, wrt::plugins::workspace_relative(issue.file, workspace), issue.line, issue.column,
                issue.message);
    }
    s.metric("errors", static_cast<double>(errors));
    s.metric("warnings", static_cast<double>(warnings));
    s.metric("notes", static_cast<double>(notes));
    if (noise)
      s.log(WRT_LOG_INFO, "not reported as findings: " + std::to_string(noise) +
                              " informational message(s) about cppcheck's own configuration");

    std::string reason;
    wrt_status status = o.policy.evaluate(errors, warnings, &reason);
    std::string counts = std::to_string(errors) + " error(s), " + std::to_string(warnings) + " warning(s), " +
                         std::to_string(notes) + " note(s)";
    s.message(status == WRT_STATUS_PASSED ? counts : "cppcheck: " + reason);
    return status;
  });
}

const wrt_plugin kCppcheck = {
    sizeof(wrt_plugin), "cppcheck", "1.0.0", "Static analysis of C/C++ with cppcheck", fingerprint, run, nullptr,
};
const wrt_plugin* const kPlugins[] = {&kCppcheck};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
