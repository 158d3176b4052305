// The `doxygen` plugin: API documentation for C/C++ with doxygen, each
// warning a finding (and so in the run's SARIF log).
//
//   with = { doxyfile = "Doxyfile",        # the project's configuration, or
//            input = ["include/"],         # a minimal one wrt writes for these paths
//            output_dir = "build/doxygen", # OUTPUT_DIRECTORY (default for `input`; declare it in `outputs`)
//            project_name = "foo",         # with `input`
//            fail_on_warnings = false }
//
// wrt runs doxygen on a configuration of its own that @INCLUDEs the
// Doxyfile and sets WARN_LOGFILE (a temporary file), the default
// WARN_FORMAT and WARN_AS_ERROR = NO, in the Doxyfile's directory. The
// warnings come from that log and from what doxygen prints while reading
// its configuration (an unknown tag, a missing INPUT). Errors fail the
// stage; warnings do with fail_on_warnings = true. The Doxyfile's text and
// doxygen's version are part of the cache key.
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <wrt/plugin.hpp>

#include "plugins/common/tool.h"
#include "plugins/doxygen/doxygen_warnings.h"

namespace fs = std::filesystem;
using wrt::sdk::Stage;

namespace {

struct Config {
  std::string doxyfile;
  std::vector<std::string> input;
  std::string output_dir;
  std::string project_name;
  bool fail_on_warnings = false;
};

fs::path in_workspace(const Stage& s, const std::string& p) {
  return fs::path(p).is_absolute() ? fs::path(p) : fs::path(s.workspace()) / p;
}

Config parse(const Stage& s) {
  s.check_keys({"doxyfile", "input", "output_dir", "project_name", "fail_on_warnings"});
  Config c;
  c.doxyfile = s.string("doxyfile").value_or("");
  if (auto one = [&]() -> std::optional<std::string> {
        // `input` may be one path or a list of paths.
        const char* v = nullptr;
        if (s.host()->config_string(s.handle(), "input", &v) == 1) return std::string(v);
        return std::nullopt;
      }()) {
    c.input = {*one};
  } else {
    c.input = s.strings("input").value_or(std::vector<std::string>{});
  }
  if (c.doxyfile.empty() == c.input.empty())
    throw std::runtime_error("set either with.doxyfile (the project's Doxyfile) or with.input (paths to document), not both");
  for (const auto& i : c.input)
    if (i.empty()) throw std::runtime_error("with.input must not contain an empty path");
  c.output_dir = s.string("output_dir").value_or(c.doxyfile.empty() ? "build/doxygen" : "");
  c.project_name = s.string("project_name").value_or("");
  if (!c.project_name.empty() && !c.doxyfile.empty())
    throw std::runtime_error("with.project_name applies to with.input; a Doxyfile sets PROJECT_NAME itself");
  c.fail_on_warnings = s.boolean("fail_on_warnings").value_or(false);
  return c;
}

wrt_status fingerprint(const Stage& s) {
  const Config c = parse(s);
  wrt::plugins::require_tool("doxygen", "doxygen");
  const std::string version = wrt::plugins::tool_version(s, {"doxygen", "--version"});
  if (version.empty()) throw std::runtime_error("doxygen --version printed nothing; is doxygen installed correctly?");
  s.fingerprint("doxygen.version", version);
  if (!c.doxyfile.empty()) {
    const fs::path p = in_workspace(s, c.doxyfile);
    if (!fs::is_regular_file(p)) throw std::runtime_error("with.doxyfile: " + c.doxyfile + " does not exist");
    s.fingerprint("doxyfile", wrt::plugins::read_text_file(p.string()));
  }
  return WRT_STATUS_PASSED;
}

bool covered_by_outputs(const Stage& s, const fs::path& dir) {
  const std::string rel = wrt::plugins::workspace_relative(dir.lexically_normal().string(), s.workspace());
  for (auto out : s.outputs()) {
    while (!out.empty() && out.back() == '/') out.pop_back();
    if (rel == out || rel.rfind(out + "/", 0) == 0) return true;
  }
  return false;
}

wrt_status run(const Stage& s) {
  const Config c = parse(s);
  const std::string workspace = s.workspace();
  std::string cwd = workspace;
  std::string doxyfile;
  if (!c.doxyfile.empty()) {
    const fs::path p = in_workspace(s, c.doxyfile);
    if (!fs::is_regular_file(p)) throw std::runtime_error("with.doxyfile: " + c.doxyfile + " does not exist");
    doxyfile = p.lexically_normal().string();
    cwd = p.lexically_normal().parent_path().string();
  } else {
    for (const auto& i : c.input)
      if (!fs::exists(in_workspace(s, i))) throw std::runtime_error("with.input: " + i + " does not exist in the workspace");
  }
  const std::string output_dir = c.output_dir.empty() ? std::string() : in_workspace(s, c.output_dir).lexically_normal().string();
  if (!output_dir.empty()) {
    fs::create_directories(output_dir);
    if (!covered_by_outputs(s, output_dir))
      s.log(WRT_LOG_WARNING, s.name() + ": " + c.output_dir +
                                 " is not among the stage's outputs, so a cache hit does not restore the documentation");
  }

  wrt::plugins::TempReportFile log("doxygen", ".log");
  wrt::plugins::TempReportFile cfg("doxygen", ".cfg");
  {
    std::ofstream out(cfg.path(), std::ios::trunc);
    out << wrt::plugins::doxygen::doxygen_config(doxyfile, c.input, output_dir, c.project_name, log.path());
    if (!out.flush()) throw std::runtime_error("cannot write " + cfg.path());
  }
  auto r = s.spawn({"doxygen", cfg.path()}, cwd, {}, true);
  if (!r.started) {
    s.message("cannot start doxygen: " + r.error);
    return WRT_STATUS_ERROR;
  }
  if (r.timed_out || r.interrupted) return WRT_STATUS_FAILED;
  if (r.term_signal || r.exit_code != 0) {
    std::string first;
    for (auto line : wrt::plugins::split_lines(r.output))
      if (line.find("error") != std::string_view::npos) {
        first = std::string(wrt::plugins::trim(line));
        break;
      }
    s.message("doxygen " + (r.term_signal ? "was killed by signal " + std::to_string(r.term_signal)
                                          : "exited with status " + std::to_string(r.exit_code)) +
              (first.empty() ? " (see the stage log)" : ": " + first));
    return WRT_STATUS_ERROR;
  }

  // Configuration warnings (printed) come before the documentation's (logged).
  std::string logged;
  if (fs::exists(log.path())) logged = wrt::plugins::read_text_file(log.path());
  const auto warnings = wrt::plugins::doxygen::parse_warnings(r.output + "\n" + logged, workspace, cwd);
  std::int64_t errors = 0, warns = 0;
  for (const auto& w : warnings) {
    (w.severity == WRT_SEVERITY_ERROR ? errors : warns) += 1;
    s.finding(w.severity, "doxygen", w.file, w.line, 0, w.message);
  }
  s.metric("warnings", static_cast<double>(warns));
  s.metric("errors", static_cast<double>(errors));
  if (!output_dir.empty() && fs::exists(fs::path(output_dir) / "html" / "index.html"))
    s.artifact(wrt::plugins::workspace_relative((fs::path(output_dir) / "html" / "index.html").string(), workspace),
               "documentation");

  const std::string counts = std::to_string(warns) + " warning(s), " + std::to_string(errors) + " error(s)";
  std::string first;
  if (!warnings.empty()) {
    const auto& w = warnings.front();
    first = (w.file.empty() ? std::string() : w.file + ":" + std::to_string(w.line) + ": ") + w.message;
  }
  const bool failed = errors > 0 || (c.fail_on_warnings && warns > 0);
  s.message(failed ? "doxygen: " + counts + "; first: " + first : counts);
  return failed ? WRT_STATUS_FAILED : WRT_STATUS_PASSED;
}

const wrt_plugin kDoxygen =
    wrt::sdk::make_plugin<run, fingerprint>("doxygen", "1.0.0", "C/C++ API documentation with doxygen; warnings as findings");

}  // namespace

WRT_SDK_PLUGIN_ENTRY(&kDoxygen)
