// The `coverage` plugin: line/branch/function coverage from a gcc --coverage
// build (through gcovr) or from an LCOV / Cobertura file any tool wrote;
// writes the other format(s), reports the figures as metrics (overall and
// per path glob) and fails below the configured thresholds.
//
// In gcovr mode it measures the counters of the current build only: before
// gcovr runs, .gcda files without a .gcno (the object is gone) or older than
// their .gcno (counters of an earlier compile), and the .gcno/.gcda of
// objects that build_dir/compile_commands.json no longer lists (a target
// removed from the build) are deleted; when a test stage with
// reset_coverage left build_dir/wrt-coverage-counters.txt, the .gcda files
// must be exactly the ones it lists. No coverage data at all is an error,
// never "100% over 0 files".
#include <wrt/plugin.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/gcov_files.h"
#include "plugins/common/tool.h"
#include "plugins/coverage/cobertura.h"
#include "plugins/coverage/coverage_data.h"
#include "plugins/coverage/gcovr_json.h"
#include "plugins/coverage/lcov.h"
#include "plugins/common/workspace_glob.h"

namespace fs = std::filesystem;
namespace gcov = wrt::plugins::gcov;
using wrt::plugins::ParseError;
using wrt::sdk::Stage;

namespace wrt::plugins::coverage {
namespace {

enum class Source { kGcovr, kLcov, kCobertura };

struct Thresholds {
  std::optional<double> line, branch, function;
};

struct Config {
  Source source = Source::kGcovr;
  std::string root = ".";
  std::string build_dir;
  std::vector<std::string> filter, exclude, gcovr_args;
  std::string input;  // lcov or cobertura file
  std::string lcov_out = "coverage/lcov.info";
  std::string cobertura_out = "coverage/cobertura.xml";
  Thresholds min;
  std::vector<std::pair<std::string, std::string>> paths;  // name -> glob
  std::map<std::string, Thresholds> min_paths;
};

const std::set<std::string> kKeys = {"tool",       "root",       "build_dir",    "filter",       "exclude",
                                     "gcovr_args", "lcov",       "cobertura",    "lcov_out",     "cobertura_out",
                                     "min_line",   "min_branch", "min_function", "paths",        "min_line_paths",
                                     "min_branch_paths", "min_function_paths"};

std::vector<std::string> table_keys(const Stage& s, const std::string& key) {
  std::vector<std::string> out;
  for (std::int64_t i = 0;; ++i) {
    const char* k = s.host()->config_key_at(s.handle(), key.c_str(), i);
    if (!k) break;
    out.emplace_back(k);
  }
  return out;
}

std::optional<double> percent(const Stage& s, const std::string& key) {
  auto v = s.number(key);
  if (v && (*v < 0 || *v > 100)) throw std::runtime_error("with." + key + " must be a percentage between 0 and 100");
  return v;
}

Config parse_config(const Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "coverage", kKeys);
  Config c;
  auto tool = s.string("tool");
  auto lcov = s.string("lcov");
  auto cobertura = s.string("cobertura");
  if (tool && *tool != "gcovr") throw std::runtime_error("with.tool must be \"gcovr\" (or leave it out and set with.lcov / with.cobertura)");
  if (lcov && cobertura) throw std::runtime_error("set either with.lcov or with.cobertura as the input, not both");
  if (tool && (lcov || cobertura)) throw std::runtime_error("with.tool = \"gcovr\" cannot be combined with an existing with.lcov / with.cobertura input");
  if (lcov) {
    c.source = Source::kLcov;
    c.input = *lcov;
  } else if (cobertura) {
    c.source = Source::kCobertura;
    c.input = *cobertura;
  } else {
    auto build_dir = s.string("build_dir");
    if (!build_dir) throw std::runtime_error("coverage with gcovr needs with.build_dir (the object directory holding the .gcda files)");
    c.build_dir = *build_dir;
    c.root = s.string("root").value_or(".");
    c.filter = s.strings("filter").value_or(std::vector<std::string>{});
    c.exclude = s.strings("exclude").value_or(std::vector<std::string>{});
    c.gcovr_args = s.strings("gcovr_args").value_or(std::vector<std::string>{});
  }
  if (c.source != Source::kGcovr)
    for (const auto& k : table_keys(s, ""))
      if (k == "root" || k == "build_dir" || k == "filter" || k == "exclude" || k == "gcovr_args")
        throw std::runtime_error("with." + k + " only applies to gcovr mode, not to an existing report");
  c.lcov_out = s.string("lcov_out").value_or(c.lcov_out);
  c.cobertura_out = s.string("cobertura_out").value_or(c.cobertura_out);
  c.min = {percent(s, "min_line"), percent(s, "min_branch"), percent(s, "min_function")};
  // A stage judged at an ASIL level takes its profile's coverage target as
  // the line threshold unless min_line says otherwise.
  if (!c.min.line) c.min.line = percent(s, "profile.coverage_target");
  for (const auto& name : table_keys(s, "paths")) {
    auto glob = s.string("paths." + name);
    if (!glob) throw std::runtime_error("with.paths." + name + " must be a glob string");
    c.paths.emplace_back(name, *glob);
  }
  for (const char* figure : {"line", "branch", "function"}) {
    std::string key = std::string("min_") + figure + "_paths";
    for (const auto& name : table_keys(s, key)) {
      bool known = false;
      for (const auto& [n, g] : c.paths) known = known || n == name;
      if (!known) throw std::runtime_error("with." + key + "." + name + " names no entry of with.paths");
      auto v = percent(s, key + "." + name);
      if (!v) throw std::runtime_error("with." + key + "." + name + " must be a number");
      auto& t = c.min_paths[name];
      (figure[0] == 'l' ? t.line : figure[0] == 'b' ? t.branch : t.function) = v;
    }
  }
  return c;
}

std::string absolute(const Stage& s, const std::string& path) {
  return fs::path(path).is_absolute() ? path : (fs::path(s.workspace()) / path).string();
}

void write_atomically(const std::string& path, const std::string& content) { wrt::plugins::write_file_atomically(path, content); }

// Source paths as the workspace sees them, so per-path globs and reports
// read the same whichever tool wrote the data.
void make_workspace_relative(CoverageData& data, const std::string& workspace, const std::string& base_dir) {
  for (auto& f : data.files) {
    fs::path p(f.path);
    if (p.is_relative() && !base_dir.empty() && base_dir != ".") p = fs::path(base_dir) / p;
    f.path = workspace_relative(p.lexically_normal().string(), workspace);
  }
}

CoverageData unwrap(std::variant<CoverageData, ParseError> parsed) {
  if (auto* err = std::get_if<ParseError>(&parsed)) throw std::runtime_error(err->to_string());
  return std::move(std::get<CoverageData>(parsed));
}

std::string some(const std::vector<std::string>& items, std::size_t n = 3) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < n; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > n) out += " and " + std::to_string(items.size() - n) + " more";
  return out;
}

// Leaves only this build's counters under build_dir (see the top of the
// file); throws "no coverage data: ..." when none remain, and when they are
// not the ones the test stage recorded. Returns how many .gcda files remain.
std::size_t prepare_counters(const Stage& s, const Config& c) {
  const std::string dir_label = workspace_relative(absolute(s, c.build_dir), s.workspace()) + "/";
  fs::path dir = fs::path(absolute(s, c.build_dir)).lexically_normal();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error("no coverage data: the build directory " + dir_label +
                             " does not exist (with.build_dir; was the project built?)");
  auto objects = gcov::current_object_stems(dir);
  gcov::Pruned pruned = gcov::prune(dir, objects);
  if (!pruned.dead.empty())
    s.log(WRT_LOG_INFO, "coverage: removed " + std::to_string(pruned.dead.size()) + " .gcno/.gcda file(s) of objects " +
                            dir_label + "compile_commands.json no longer lists: " + some(pruned.dead));
  if (pruned.objects_ignored)
    s.log(WRT_LOG_WARNING, "coverage: " + dir_label + "compile_commands.json names none of the .gcno files under " +
                               dir_label + "; objects removed from the build are not recognised");
  if (!pruned.orphans.empty())
    s.log(WRT_LOG_INFO, "coverage: removed " + std::to_string(pruned.orphans.size()) +
                            " .gcda file(s) without a .gcno (objects no longer built): " + some(pruned.orphans));
  if (!pruned.stale.empty())
    s.log(WRT_LOG_WARNING, "coverage: removed " + std::to_string(pruned.stale.size()) +
                               " .gcda file(s) older than their .gcno (counters of an earlier compile, not of this "
                               "build's tests): " + some(pruned.stale));
  // The list first: counters the test run left but build_dir lost are
  // named as such, not as "no data".
  fs::path list = dir / gcov::kManifestName;
  if (fs::exists(list, ec)) {
    std::string list_label = dir_label + gcov::kManifestName;
    auto recorded = gcov::parse_manifest(read_text_file(list.string()), list_label);
    auto diff = gcov::differences(recorded, gcov::list_counters(dir));
    if (!diff.empty())
      throw std::runtime_error(
          "the coverage counters under " + dir_label + " are not the ones the test stage recorded in " + list_label +
          " (" + some(diff) + "): " + dir_label +
          " changed after the tests ran, or the test stage was served from the cache while " + dir_label +
          " holds another build; run the tests again (wrt run --no-cache --stage " + s.name() + ")");
    s.log(WRT_LOG_INFO, "coverage: the " + std::to_string(recorded.size()) + " .gcda files under " + dir_label +
                            " are the ones the test stage recorded in " + list_label);
  } else {
    s.log(WRT_LOG_INFO, "coverage: no " + dir_label + gcov::kManifestName +
                            " (written by a ctest/junit stage with reset_coverage); the counters cannot be checked "
                            "against the test run");
  }
  if (pruned.gcda_left == 0) {
    std::string msg = "no coverage data: no .gcda files under " + dir_label +
                      " (were the tests built with --coverage and run?)";
    if (!pruned.stale.empty())
      msg += "; " + std::to_string(pruned.stale.size()) +
             " older than their .gcno were removed: the objects were recompiled after the tests ran";
    throw std::runtime_error(msg);
  }
  return pruned.gcda_left;
}

CoverageData run_gcovr(const Stage& s, const Config& c) {
  std::string gcovr = require_tool("gcovr", "gcovr");
  std::size_t counters = prepare_counters(s, c);
  std::string json_rel = ".wrt/tmp/coverage-" + s.name() + ".gcovr.json";
  std::string json_abs = absolute(s, json_rel);
  fs::create_directories(fs::path(json_abs).parent_path());
  fs::create_directories(fs::path(absolute(s, c.cobertura_out)).parent_path());
  std::vector<std::string> argv = {gcovr, "--root", c.root, "--object-directory", c.build_dir,
                                   "--json", json_abs, "--xml", absolute(s, c.cobertura_out)};
  for (const auto& f : c.filter) argv.insert(argv.end(), {"--filter", f});
  for (const auto& e : c.exclude) argv.insert(argv.end(), {"--exclude", e});
  argv.insert(argv.end(), c.gcovr_args.begin(), c.gcovr_args.end());
  // The data is searched for in build_dir only; gcovr's default also
  // searches --root, where another build directory's counters may lie.
  argv.push_back(c.build_dir);
  auto r = s.spawn(argv);
  if (!r.started) throw std::runtime_error("gcovr could not be started: " + r.error);
  if (r.timed_out || r.interrupted || r.exit_code != 0)
    throw std::runtime_error("gcovr failed (exit code " + std::to_string(r.exit_code) + "); see the stage log");
  std::string text = read_text_file(json_abs);
  fs::remove(json_abs);
  CoverageData data = unwrap(parse_gcovr_json(text, json_rel));
  // gcovr names files relative to --root.
  make_workspace_relative(data, s.workspace(), c.root);
  if (data.files.empty() || summarize(data).lines.total == 0) {
    std::string why = data.files.empty() ? "no source file" : "no instrumented line";
    std::string narrowed;
    for (const auto& f : c.filter) narrowed += (narrowed.empty() ? "" : ", ") + std::string("filter ") + f;
    for (const auto& e : c.exclude) narrowed += (narrowed.empty() ? "" : ", ") + std::string("exclude ") + e;
    throw std::runtime_error("no coverage data: gcovr found " + why + " in the " + std::to_string(counters) +
                             " .gcda files under " + workspace_relative(absolute(s, c.build_dir), s.workspace()) +
                             "/" + (narrowed.empty() ? "" : " (" + narrowed + ")"));
  }
  return data;
}

// An existing report with nothing in it is no evidence of coverage.
void require_data(const CoverageData& data, const std::string& input, const std::string& format) {
  if (data.files.empty())
    throw std::runtime_error("no coverage data: the " + format + " file " + input + " has no source file in it");
  if (summarize(data).lines.total == 0)
    throw std::runtime_error("no coverage data: the " + format + " file " + input + " lists " +
                             std::to_string(data.files.size()) + " file(s) but no instrumented line");
}

std::string format_percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", v);
  return buf;
}

void report_summary(const Stage& s, const std::string& suffix, const CoverageSummary& sum) {
  s.metric("coverage.line" + suffix, sum.lines.percent());
  s.metric("coverage.branch" + suffix, sum.branches.percent());
  s.metric("coverage.function" + suffix, sum.functions.percent());
  s.metric("lines.total" + suffix, static_cast<double>(sum.lines.total));
  s.metric("lines.covered" + suffix, static_cast<double>(sum.lines.covered));
  s.metric("branches.total" + suffix, static_cast<double>(sum.branches.total));
  s.metric("branches.covered" + suffix, static_cast<double>(sum.branches.covered));
  s.metric("functions.total" + suffix, static_cast<double>(sum.functions.total));
  s.metric("functions.covered" + suffix, static_cast<double>(sum.functions.covered));
}

// Appends "line coverage 78.57% is below min_line = 100%" for each figure under its threshold.
void check(const CoverageSummary& sum, const Thresholds& t, const std::string& what, const std::string& key_suffix,
           std::vector<std::string>& failures) {
  auto one = [&](const char* figure, const Ratio& r, const std::optional<double>& min) {
    if (min && r.percent() < *min)
      failures.push_back(std::string(figure) + " coverage" + what + " " + format_percent(r.percent()) + " (" +
                         std::to_string(r.covered) + "/" + std::to_string(r.total) + ") is below min_" + figure +
                         key_suffix + " = " + format_percent(*min));
  };
  one("line", sum.lines, t.line);
  one("branch", sum.branches, t.branch);
  one("function", sum.functions, t.function);
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const Stage& s) {
    Config c = parse_config(s);
    if (c.source == Source::kGcovr) {
      require_tool("gcovr", "gcovr");
      s.fingerprint("gcovr", tool_version(s, {"gcovr", "--version"}));
    }
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const Stage& s) {
    Config c = parse_config(s);
    CoverageData data;
    if (c.source == Source::kGcovr) {
      data = run_gcovr(s, c);
      write_atomically(absolute(s, c.lcov_out), write_lcov(data));
    } else if (c.source == Source::kLcov) {
      data = unwrap(parse_lcov(read_text_file(absolute(s, c.input)), c.input));
      make_workspace_relative(data, s.workspace(), "");
      require_data(data, c.input, "LCOV");
      write_atomically(absolute(s, c.cobertura_out), write_cobertura(data));
    } else {
      data = unwrap(parse_cobertura(read_text_file(absolute(s, c.input)), c.input));
      make_workspace_relative(data, s.workspace(), "");
      require_data(data, c.input, "Cobertura");
      write_atomically(absolute(s, c.lcov_out), write_lcov(data));
    }
    const std::string& lcov_path = c.source == Source::kLcov ? c.input : c.lcov_out;
    const std::string& cobertura_path = c.source == Source::kCobertura ? c.input : c.cobertura_out;
    s.host()->report_artifact(s.handle(), workspace_relative(lcov_path, s.workspace()).c_str(), "lcov");
    s.host()->report_artifact(s.handle(), workspace_relative(cobertura_path, s.workspace()).c_str(), "cobertura");

    CoverageSummary total = summarize(data);
    report_summary(s, "", total);
    std::vector<std::string> failures;
    check(total, c.min, "", "", failures);
    for (const auto& [name, glob] : c.paths) {
      CoverageSummary part;
      std::size_t matched = 0;
      for (const auto& f : data.files)
        if (wrt::plugins::glob_match(glob, f.path)) {
          add(part, summarize(f));
          ++matched;
        }
      if (matched == 0)
        s.log(WRT_LOG_WARNING, "coverage: with.paths." + name + " = \"" + glob + "\" matches no file in the coverage data");
      report_summary(s, "." + name, part);
      if (auto t = c.min_paths.find(name); t != c.min_paths.end())
        check(part, t->second, " of " + name, "_paths." + name, failures);
    }
    std::string summary = "line " + format_percent(total.lines.percent()) + ", branch " +
                          format_percent(total.branches.percent()) + ", function " +
                          format_percent(total.functions.percent()) + " over " + std::to_string(data.files.size()) +
                          " file" + (data.files.size() == 1 ? "" : "s");
    if (failures.empty()) {
      s.message(summary);
      return WRT_STATUS_PASSED;
    }
    std::string msg;
    for (const auto& f : failures) msg += (msg.empty() ? "" : "; ") + f;
    s.message(msg);
    return WRT_STATUS_FAILED;
  });
}

const wrt_plugin kCoverage = {
    sizeof(wrt_plugin), "coverage", "1.1.0",
    "Coverage figures and thresholds from gcovr, LCOV or Cobertura; writes LCOV and Cobertura",
    fingerprint, run, nullptr,
};
const wrt_plugin* const kPlugins[] = {&kCoverage};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace
}  // namespace wrt::plugins::coverage

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &wrt::plugins::coverage::kEntry; }
