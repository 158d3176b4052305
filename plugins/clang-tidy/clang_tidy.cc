// The `clang-tidy` plugin: runs clang-tidy over the files of a compilation
// database (or the `files` patterns among them), in `jobs` parallel
// batches, and reports its diagnostics as findings. The stage fails
// according to fail_on / max_warnings (default: on errors only).
#include <wrt/plugin.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "plugins/clang-tidy/compile_database.h"
#include "plugins/common/diagnostics.h"
#include "plugins/common/tool.h"

namespace {

namespace fs = std::filesystem;
using wrt::plugins::Diagnostic;
using wrt::plugins::FindingPolicy;

const std::set<std::string> kKnownKeys = {"build_dir", "files",   "checks",       "header_filter",
                                          "jobs",      "fail_on", "max_warnings", "extra_args"};

struct Options {
  std::string build_dir;
  std::vector<std::string> files;  // patterns; empty: every workspace file in the database
  std::string checks;
  std::optional<std::string> header_filter;
  std::int64_t jobs = 1;
  // Compiler arguments appended to every compile command (--extra-arg).
  std::vector<std::string> extra_args;
  FindingPolicy policy;
};

// A project configured for GCC hands clang-tidy GCC-only warning flags
// (-Wformat-overflow=2, -Wlogical-op, ...) that clang does not know; with
// -Werror in the flags that alone fails every file. clang-tidy is a
// linter, not the project's compiler, so unknown warning options are
// silenced by default (a user's extra_args come after and can override).
const char* const kIgnoreUnknownWarnings = "-Wno-unknown-warning-option";

Options parse_options(const wrt::sdk::Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "clang-tidy", kKnownKeys);
  Options o;
  auto dir = s.string("build_dir");
  if (!dir || dir->empty())
    throw std::runtime_error("clang-tidy needs with.build_dir (the directory holding compile_commands.json)");
  o.build_dir = *dir;
  o.files = s.strings("files").value_or(std::vector<std::string>{});
  if (s.strings("files") && o.files.empty()) throw std::runtime_error("with.files must not be empty");
  o.checks = s.string("checks").value_or("");
  o.header_filter = s.string("header_filter");
  o.jobs = s.integer("jobs").value_or(1);
  o.extra_args = s.strings("extra_args").value_or(std::vector<std::string>{});
  if (o.jobs < 1 || o.jobs > 256) throw std::runtime_error("with.jobs must be between 1 and 256");
  o.policy = FindingPolicy::from_config(s);
  return o;
}

bool is_pattern(const std::string& p) { return p.find_first_of("*?[") != std::string::npos; }

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Options o = parse_options(s);
    std::string tidy = wrt::plugins::require_tool("clang-tidy", "clang-tidy");
    s.fingerprint("clang-tidy", wrt::plugins::tool_version(s, {tidy, "--version"}));
    s.fingerprint("checks", o.checks);
    // extra_args is part of `with`, hence of the key; the default flag is not.
    s.fingerprint("default-extra-arg", kIgnoreUnknownWarnings);
    // clang-tidy reads .clang-tidy on its own, so its checks are an input
    // the stage's `inputs` might not name.
    fs::path config = fs::path(s.workspace()) / ".clang-tidy";
    std::error_code ec;
    if (fs::is_regular_file(config, ec)) s.fingerprint(".clang-tidy", wrt::plugins::read_text_file(config.string()));
    return WRT_STATUS_PASSED;
  });
}

std::vector<std::string> select_files(const wrt::sdk::Stage& s, const Options& o, const fs::path& database) {
  const std::string ws = s.workspace();
  std::error_code ec;
  if (!fs::exists(database, ec))
    throw std::runtime_error(wrt::plugins::workspace_relative(database.string(), ws) +
                             " not found: configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON (the cmake plugin does)");
  std::vector<std::string> known;
  wrt::plugins::ParseError error;
  if (!wrt::plugins::compile_database_files(wrt::plugins::read_text_file(database.string()),
                                            wrt::plugins::workspace_relative(database.string(), ws), ws, &known,
                                            &error))
    throw std::runtime_error(error.to_string());
  if (o.files.empty()) return known;
  std::set<std::string> chosen;
  for (const auto& pattern : o.files) {
    if (is_pattern(pattern)) {
      // A pattern selects among the compiled files: clang-tidy needs their
      // compile commands to check them with the right flags.
      for (const auto& f : known)
        if (wrt::plugins::path_matches(pattern, f)) chosen.insert(f);
    } else {
      std::string rel = wrt::plugins::workspace_relative(pattern, ws);
      if (!fs::exists(fs::path(ws) / rel, ec)) throw std::runtime_error("with.files: " + pattern + " does not exist");
      chosen.insert(rel);
    }
  }
  return {chosen.begin(), chosen.end()};
}

// clang-tidy states its own failures ("Error: no checks enabled.") at the
// top and may follow them with the whole --help text.
std::string failure_line(const std::string& output) {
  auto lines = wrt::plugins::split_lines(output);
  for (auto line : lines)
    if (auto t = wrt::plugins::trim(line); t.rfind("Error", 0) == 0 || t.rfind("error", 0) == 0) return std::string(t);
  for (auto it = lines.rbegin(); it != lines.rend(); ++it)
    if (auto t = wrt::plugins::trim(*it); !t.empty()) return std::string(t);
  return "(no output)";
}

struct Batch {
  std::vector<std::string> files;
  wrt::sdk::SpawnOutcome outcome;
};

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Options o = parse_options(s);
    std::string tidy = wrt::plugins::require_tool("clang-tidy", "clang-tidy");
    const std::string ws = s.workspace();
    const fs::path build = (fs::path(ws) / o.build_dir).lexically_normal();
    std::vector<std::string> files = select_files(s, o, build / "compile_commands.json");
    s.metric("files", static_cast<double>(files.size()));
    if (files.empty()) {
      s.metric("warnings", 0);
      s.metric("errors", 0);
      s.message("no files to check");
      return WRT_STATUS_PASSED;
    }

    std::vector<Batch> batches(std::min<std::size_t>(static_cast<std::size_t>(o.jobs), files.size()));
    for (std::size_t i = 0; i < files.size(); ++i) batches[i % batches.size()].files.push_back(files[i]);
    auto run_batch = [&](Batch& b) {
      std::vector<std::string> argv{tidy, "-p", build.string(), "--quiet"};
      if (!o.checks.empty()) argv.push_back("--checks=" + o.checks);
      if (o.header_filter) argv.push_back("--header-filter=" + *o.header_filter);
      argv.push_back(std::string("--extra-arg=") + kIgnoreUnknownWarnings);
      for (const auto& a : o.extra_args) argv.push_back("--extra-arg=" + a);
      argv.insert(argv.end(), b.files.begin(), b.files.end());
      b.outcome = s.spawn(argv, {}, {}, true);
    };
    if (batches.size() == 1) {
      run_batch(batches[0]);
    } else {
      // The host's spawn may be called from any thread during run().
      std::vector<std::thread> threads;
      for (auto& b : batches) threads.emplace_back([&run_batch, &b] { run_batch(b); });
      for (auto& t : threads) t.join();
    }

    std::vector<Diagnostic> all;
    std::string failure;
    for (const auto& b : batches) {
      const auto& r = b.outcome;
      if (!r.started) throw std::runtime_error(r.error);
      if (r.timed_out || r.interrupted) return WRT_STATUS_FAILED;
      if (r.term_signal && failure.empty()) failure = "clang-tidy killed by signal " + std::to_string(r.term_signal);
      auto found = wrt::plugins::parse_diagnostics(r.output, ws, ws);
      // clang-tidy exits non-zero for compile errors (which it prints as
      // diagnostics) and for its own failures (which it does not).
      if (r.exit_code != 0 && wrt::plugins::count_diagnostics(found).errors == 0 && failure.empty())
        failure = "clang-tidy exited with code " + std::to_string(r.exit_code) + ": " + failure_line(r.output);
      // Batches overlap in the headers they include: merging drops repeats.
      wrt::plugins::merge_diagnostics(all, std::move(found));
    }
    for (const auto& d : all) s.finding(d.severity, d.rule, d.file, d.line, d.column, d.message);
    auto counts = wrt::plugins::count_diagnostics(all);
    s.metric("warnings", static_cast<double>(counts.warnings));
    s.metric("errors", static_cast<double>(counts.errors));
    if (!failure.empty()) {
      s.message(failure);
      return WRT_STATUS_FAILED;
    }
    std::string reason;
    wrt_status st = o.policy.evaluate(counts.errors, counts.warnings, &reason);
    if (st != WRT_STATUS_PASSED) {
      for (const auto& d : all)
        if (d.severity == WRT_SEVERITY_ERROR) {
          reason += "; first: " + wrt::plugins::describe(d);
          break;
        }
      s.message(reason);
      return st;
    }
    s.message(std::to_string(counts.warnings) + " warning" + (counts.warnings == 1 ? "" : "s") + " in " +
              std::to_string(files.size()) + " file" + (files.size() == 1 ? "" : "s"));
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kClangTidy = {
    sizeof(wrt_plugin), "clang-tidy", "1.0.0", "Runs clang-tidy over a compilation database; diagnostics as findings",
    fingerprint,        run,          nullptr,
};
const wrt_plugin* const kPlugins[] = {&kClangTidy};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
