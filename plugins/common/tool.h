// Helpers the built-in plugins share: finding the external tool a stage
// drives (and saying which Debian package provides it when it is missing),
// its version as a cache-key fingerprint, workspace-relative paths, and the
// common "fail on findings" policy. Only sdk/ and the standard library.
#pragma once

#include <wrt/plugin.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wrt::plugins {

// Absolute path of `program` found in $PATH (or `program` itself when it
// contains a '/' and is executable); nullopt when there is none.
std::optional<std::string> find_program(const std::string& program);

// "clang-tidy was not found on PATH; it is in the Debian package clang-tidy
// (apt-get install clang-tidy)".
std::string missing_tool_message(const std::string& program, const std::string& debian_package);

// Throws std::runtime_error(missing_tool_message(...)) when absent; returns
// the absolute path otherwise.
std::string require_tool(const std::string& program, const std::string& debian_package);

// First line of `argv` output (e.g. {"gcc", "--version"}) run through the
// host, trimmed; memoised per resolved executable and its mtime, so a run
// over many stages asks each tool once. Thread-safe. Empty when the tool
// cannot be run.
std::string tool_version(const wrt::sdk::Stage& stage, const std::vector<std::string>& argv);

// `path` relative to `workspace` when it lies inside it ("/ws/src/a.c" ->
// "src/a.c"; "./src/a.c" -> "src/a.c"); otherwise unchanged.
std::string workspace_relative(const std::string& path, const std::string& workspace);

// Declares `dir` (absolute, or relative to the workspace) a state directory
// of the stage (ABI 1.3 declare_state) when it lies inside the workspace; a
// directory outside it cannot go stale behind wrt's cache of this workspace
// in a way wrt could repair, so it is left alone. Fingerprint only.
void declare_build_state(const wrt::sdk::Stage& stage, const std::string& dir);

// The root of the Cargo workspace that the package in `manifest_dir`
// (absolute) belongs to, as cargo finds it: the nearest directory from
// manifest_dir up to `top` (the wrt workspace) whose Cargo.toml has a
// [workspace] table; else manifest_dir itself. Cargo prints paths relative
// to this root and puts target/ there.
std::string cargo_workspace_root(const std::string& manifest_dir, const std::string& top);

// Throws "with.KEY is not a PLUGIN option (known: a, b)" for a key of the
// stage's `with` table outside `known`. The keys the host adds to stages it
// expands per component, `component` and `profile`, are always accepted.
void reject_unknown_keys(const wrt::sdk::Stage& stage, const std::string& plugin, const std::set<std::string>& known);

// A fresh private temporary file ("wrt-<tool>-XXXXXX<suffix>") for a tool's
// report, kept apart from its console output; removed on destruction.
class TempReportFile {
 public:
  TempReportFile(const std::string& tool, const std::string& suffix);  // throws when it cannot be created
  ~TempReportFile();
  TempReportFile(const TempReportFile&) = delete;
  TempReportFile& operator=(const TempReportFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Whole file; throws std::runtime_error("<path>: cannot read: <reason>").
std::string read_text_file(const std::string& path);

// Writes `content` through a temporary file beside `path` (named with the
// pid) and a rename, creating parent directories: readers -- concurrent wrt
// processes sharing a data directory, a later stage -- see the old file or
// the new one, never half of one. Throws std::runtime_error naming the file.
void write_file_atomically(const std::string& path, const std::string& content);

std::vector<std::string_view> split_lines(std::string_view text);
// 1-based line and column of byte `offset` in `text` (clamped to its end),
// for parse errors reported by byte position (nlohmann, pugixml).
std::pair<std::uint32_t, std::uint32_t> line_column_of(std::string_view text, std::size_t offset);
std::string_view trim(std::string_view s);

// A parse failure in a tool's output: "<file>:<line>:<column>: <message>".
struct ParseError {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;
  std::string to_string() const;
};

// `fail_on = "error" | "warning" | "never"` (default "error") and
// `max_warnings = N` (default unlimited) from the stage's `with`.
struct FindingPolicy {
  enum class FailOn { kError, kWarning, kNever };
  FailOn fail_on = FailOn::kError;
  std::optional<std::int64_t> max_warnings;

  static FindingPolicy from_config(const wrt::sdk::Stage& stage);  // throws on bad values
  // Passed or failed for these counts, with a one-line reason when failed.
  wrt_status evaluate(std::int64_t errors, std::int64_t warnings, std::string* reason) const;
};

}  // namespace wrt::plugins
