// wrt.toml -> Config. The schema (v1) is wrt's user interface: every key is
// checked, unknown ones are errors with a "did you mean" suggestion, and every
// error names the file, line and column.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace wrt {

struct SourcePos {
  std::uint32_t line = 0;    // 1-based, 0 = unknown
  std::uint32_t column = 0;  // 1-based, 0 = unknown
};

struct StageConfig {
  std::string name;
  std::string plugin = "command";
  std::vector<std::string> needs;
  std::vector<std::string> inputs;   // glob patterns, workspace-relative
  std::vector<std::string> outputs;  // files or directories, workspace-relative, normalised
  std::vector<std::string> env;      // names of environment variables in the key
  std::optional<double> timeout_minutes;
  std::optional<int> max_attempts;
  bool cache = true;
  nlohmann::json with = nlohmann::json::object();  // plugin configuration, as written
  SourcePos pos;                                   // of the [stages.NAME] table
  std::map<std::string, SourcePos> key_pos;        // of each key, for later errors
};

struct Settings {
  int max_parallel_jobs = 0;  // 0 = number of CPUs
  double timeout_minutes = 30;
  int max_attempts = 1;
  std::string cache_dir = ".wrt/cache";
  std::uint64_t cache_max_size = 5ull << 30;
  std::vector<std::string> plugin_path;
};

struct PipelineConfig {
  std::string name;
  std::vector<std::string> stages;
  SourcePos pos;
};

struct Config {
  std::filesystem::path file;       // absolute path of wrt.toml
  std::filesystem::path workspace;  // its directory
  std::string project_name;
  Settings settings;
  std::vector<StageConfig> stages;  // in file order
  std::vector<PipelineConfig> pipelines;

  const StageConfig* find_stage(const std::string& name) const;
  const PipelineConfig* find_pipeline(const std::string& name) const;
  // "wrt.toml:12:3" style location for messages.
  std::string where(const SourcePos& pos) const;
};

// Parses and validates `file`. The error is one line:
// "<file>:<line>:<col>: <what is wrong>".
Result<Config> load_config(const std::filesystem::path& file);
// Same, from text (for tests); `file` is used in messages and as workspace root.
Result<Config> parse_config(const std::string& text, const std::filesystem::path& file);

// The closest of `candidates` to `word` within a small edit distance, or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// Normalises a workspace-relative path ("./a//b/" -> "a/b"); Error if it is
// absolute or leaves the workspace ("../x", "a/../../x").
Result<std::string> normalize_relative(const std::string& path);

// Starter wrt.toml for `wrt init`.
std::string starter_config(const std::string& project_name);

}  // namespace wrt
