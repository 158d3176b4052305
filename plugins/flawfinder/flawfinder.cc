// The `flawfinder` plugin: a security audit of C/C++ sources. Runs
// flawfinder on `paths`, reads its CSV report and reports every hit as a
// finding: an error at or above `fail_level`, a warning below it.
#include <wrt/plugin.hpp>

#include <unistd.h>

#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "plugins/flawfinder/flawfinder_csv.h"

namespace {

namespace fs = std::filesystem;
using wrt::plugins::FindingPolicy;

const std::set<std::string> kKnownKeys = {"paths", "min_level", "fail_level", "fail_on", "max_warnings"};

struct Options {
  std::vector<std::string> paths;
  int min_level = 1;
  int fail_level = 4;
  FindingPolicy policy;
};

int risk_level(const wrt::sdk::Stage& s, const std::string& key, int fallback) {
  auto v = s.integer(key);
  if (!v) return fallback;
  if (*v < 0 || *v > 5) throw std::runtime_error("with." + key + " must be a flawfinder risk level from 0 to 5");
  return static_cast<int>(*v);
}

Options parse_options(const wrt::sdk::Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "flawfinder", kKnownKeys);
  Options o;
  o.paths = s.strings("paths").value_or(std::vector<std::string>{"."});
  if (o.paths.empty()) throw std::runtime_error("with.paths must not be empty");
  o.min_level = risk_level(s, "min_level", 1);
  o.fail_level = risk_level(s, "fail_level", 4);
  o.policy = FindingPolicy::from_config(s);
  return o;
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse_options(s);
    wrt::plugins::require_tool("flawfinder", "flawfinder");
    std::string version = wrt::plugins::tool_version(s, {"flawfinder", "--version"});
    if (version.empty())
      throw std::runtime_error("flawfinder --version printed nothing; is flawfinder installed correctly?");
    s.fingerprint("flawfinder.version", version);
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Options o = parse_options(s);
    const std::string workspace = s.workspace();
    for (const auto& p : o.paths) {
      fs::path full = fs::path(p).is_absolute() ? fs::path(p) : fs::path(workspace) / p;
      // flawfinder silently reports nothing for a missing path; a typo
      // must not pass as "no hits".
      if (!fs::exists(full)) throw std::runtime_error("with.paths: " + p + " does not exist in the workspace");
    }

    wrt::plugins::TempReportFile report("flawfinder", ".csv");
    // flawfinder has no output-file option for CSV, so a shell redirects
    // its stdout. Paths travel as "$@", never through the shell's parser,
    // and the shell execs flawfinder inside the host's process group.
    std::vector<std::string> argv = {"/bin/sh", "-c", "out=$1; shift; exec \"$@\" > \"$out\"",
                                     "wrt-flawfinder", report.path(), "flawfinder", "--csv", "--quiet", "--dataonly",
                                     "--minlevel=" + std::to_string(o.min_level), "--"};
    argv.insert(argv.end(), o.paths.begin(), o.paths.end());

    auto r = s.spawn(argv);
    if (!r.started) {
      s.message("cannot start flawfinder: " + r.error);
      return WRT_STATUS_ERROR;
    }
    if (r.timed_out || r.interrupted) return WRT_STATUS_FAILED;
    if (r.term_signal || r.exit_code != 0) {
      s.message(r.term_signal ? "flawfinder was killed by signal " + std::to_string(r.term_signal)
                              : "flawfinder exited with code " + std::to_string(r.exit_code) + " (see the stage log)");
      return WRT_STATUS_ERROR;
    }
    auto parsed = wrt::plugins::flawfinder::parse_flawfinder_csv(wrt::plugins::read_text_file(report.path()),
                                                                 "flawfinder CSV report");
    if (parsed.error) {
      s.message(parsed.error->to_string());
      return WRT_STATUS_ERROR;
    }

    std::int64_t errors = 0, warnings = 0, level4plus = 0;
    for (const auto& hit : parsed.hits) {
      bool is_error = hit.level >= o.fail_level;
      if (is_error) ++errors;
      else ++warnings;
      if (hit.level >= 4) ++level4plus;
      s.finding(is_error ? WRT_SEVERITY_ERROR : WRT_SEVERITY_WARNING, wrt::plugins::flawfinder::hit_rule(hit),
                wrt::plugins::workspace_relative(hit.file, workspace), hit.line, hit.column,
                wrt::plugins::flawfinder::hit_message(hit));
    }
    s.metric("hits", static_cast<double>(parsed.hits.size()));
    s.metric("hits.level4plus", static_cast<double>(level4plus));
    s.metric("errors", static_cast<double>(errors));
    s.metric("warnings", static_cast<double>(warnings));

    std::string reason;
    wrt_status status = o.policy.evaluate(errors, warnings, &reason);
    s.message(status == WRT_STATUS_PASSED
                  ? std::to_string(parsed.hits.size()) + " hit(s), " + std::to_string(level4plus) + " at level 4+"
                  : "flawfinder: " + reason + " (fail_level = " + std::to_string(o.fail_level) + ")");
    return status;
  });
}

const wrt_plugin kFlawfinder = {
    sizeof(wrt_plugin), "flawfinder", "1.0.0", "Security audit of C/C++ sources with flawfinder", fingerprint, run,
    nullptr,
};
const wrt_plugin* const kPlugins[] = {&kFlawfinder};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
