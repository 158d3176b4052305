// wrt.toml -> Config. The schema (v1) is wrt's user interface: every key is
// checked, unknown ones are errors with a "did you mean" suggestion, and every
// error names the file, line and column.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/out_of_line.h"
#include "core/util/result.h"

namespace wrt {

struct SourcePos {
  std::uint32_t line = 0;    // 1-based, 0 = unknown
  std::uint32_t column = 0;  // 1-based, 0 = unknown
  bool operator==(const SourcePos&) const = default;
};

// Automotive Safety Integrity Level, ISO 26262; QM = no safety requirement.
enum class Asil { QM = 0, A = 1, B = 2, C = 3, D = 4 };
constexpr int kAsilLevels = 5;
const char* asil_name(Asil a);                      // "QM", "A", ... "D"
std::optional<Asil> parse_asil(const std::string&);  // case-insensitive

// What a stage carrying an ASIL level gets: its defaults and how the safety
// gate treats its failure. Defaults follow the WRT CI/CD guide's matrix.
struct AsilProfile {
  double timeout_minutes = 30;
  std::string priority = "low";       // low | normal | high | critical
  std::optional<double> coverage_target;  // percent
  std::string on_failure = "allow";   // allow | warn | block
  nlohmann::json verifier = nlohmann::json::object();  // verifier settings, passed to plugins as with.profile
  bool operator==(const AsilProfile&) const = default;
};
AsilProfile default_asil_profile(Asil a);
int priority_rank(const std::string& priority);  // low 0, normal 1, high 2, critical 3; -1 unknown

// [components.NAME]: a part of the code base with its own safety level.
struct ComponentConfig {
  std::string name;
  std::vector<std::string> paths;  // glob patterns, workspace-relative
  Asil asil = Asil::QM;
  std::vector<std::string> requirements;
  SourcePos pos;
  bool operator==(const ComponentConfig&) const = default;
};

// Where each key of a stage's table was written, for errors found later.
// A stage has a handful of keys: a flat vector costs one allocation where a
// map costs one per key, which matters at thousands of stages. The names
// are interned (intern_stage_key): 16 bytes per key instead of 40.
const std::string* intern_stage_key(std::string_view key);

class KeyPositions {
 public:
  struct Item {
    const std::string* key;  // interned: never freed, compared by value
    SourcePos pos;
    bool operator==(const Item& o) const { return *key == *o.key && pos == o.pos; }
  };
  using const_iterator = std::vector<Item>::const_iterator;
  const_iterator find(std::string_view key) const {
    for (auto it = items_.begin(); it != items_.end(); ++it)
      if (*it->key == key) return it;
    return items_.end();
  }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  std::size_t size() const { return items_.size(); }
  // The position of `key`, added (unknown) if absent.
  SourcePos& operator[](std::string_view key) {
    for (auto& item : items_)
      if (*item.key == key) return item.pos;
    items_.push_back(Item{intern_stage_key(key), SourcePos{}});
    return items_.back().pos;
  }
  bool operator==(const KeyPositions&) const = default;

 private:
  std::vector<Item> items_;
};

// `when = { branch = ..., tag = ..., event = ... }`: where a stage runs.
// Each key holds patterns (fnmatch: `v*.*.*`, `release/*`), any of which
// may match; every key given must match. Evaluated by wrt on every run
// (core/exec/stage_conditions.h), never taken from the cache.
struct StageCondition {
  std::vector<std::string> branch;
  std::vector<std::string> tag;
  std::vector<std::string> event;  // push, pull_request, schedule, ..., or manual (named on the command line)
  bool empty() const { return branch.empty() && tag.empty() && event.empty(); }
  bool operator==(const StageCondition&) const = default;
};

// The keys of a stage that few stages set, kept out of line (see
// OutOfLine): read them through StageConfig::extras(), write them through
// StageConfig::extras_mut().
struct StageExtras {
  std::string for_each;                       // "component" on a template stage, else ""
  std::vector<std::string> only_components;   // for_each filter: `components = [...]`
  std::optional<Asil> min_asil;               // for_each filter
  std::string group;                          // instance: its template's name
  std::optional<std::string> priority;        // overrides the ASIL profile's
  StageCondition when;
  // Gate-aware stages (deploys): start only if the safety gate over the
  // stages this one depends on (transitively) is "pass" (or also "warn"),
  // and, with min_verified_asil, every such stage at that level or above
  // passed (at least one must exist).
  std::string requires_gate;                  // "" | "pass" | "warn"
  std::optional<Asil> min_verified_asil;
  bool operator==(const StageExtras&) const = default;
};

struct StageConfig {
  std::string name;
  std::string plugin = "command";
  std::vector<std::string> needs;
  std::vector<std::string> inputs;   // glob patterns, workspace-relative
  std::vector<std::string> outputs;  // files or directories, workspace-relative, normalised
  // Incremental state directories the stage keeps between runs and later
  // stages read (CMake's build/, Cargo's target/): local, never cached.
  // Before a stage that needs this one runs, wrt makes sure they were
  // produced for this stage's current key (stage_runner.h).
  std::vector<std::string> state;
  std::vector<std::string> env;      // names of environment variables in the key
  std::optional<double> timeout_minutes;
  std::optional<int> max_attempts;
  bool cache = true;
  nlohmann::json with = nlohmann::json::object();  // plugin configuration, as written
  // Safety and resources.
  std::optional<Asil> asil;                   // the level the gate judges this stage at
  std::string component;                      // set on an expanded instance
  int cpus = 1;
  std::uint64_t memory = 0;                   // bytes; 0 = not declared
  SourcePos pos;                                   // of the [stages.NAME] table
  KeyPositions key_pos;                            // of each key, for later errors
  OutOfLine<StageExtras> extra;

  const StageExtras& extras() const { return extra.get(); }
  StageExtras& extras_mut() { return extra.mut(); }
  bool operator==(const StageConfig&) const = default;
};

struct Settings {
  int max_parallel_jobs = 0;  // 0 = number of CPUs
  double timeout_minutes = 30;
  int max_attempts = 1;
  std::string cache_dir = ".wrt/cache";
  std::uint64_t cache_max_size = 5ull << 30;
  std::vector<std::string> plugin_path;
  std::uint64_t memory_limit = 0;  // bytes the running stages may declare together; 0 = physical memory
  std::uint64_t cached_log_limit = 16ull << 20;  // the end of a stage log kept in the cache
  // A shared cache speaking Bazel's HTTP cache protocol (remote_cache.h);
  // "" = none. WRT_REMOTE_CACHE / --remote-cache override it.
  std::string remote_cache;
  bool remote_upload = true;                          // false: read only (pull-request runners)
  std::vector<std::string> remote_cache_trusted_keys;  // Ed25519 public keys (PEM files) whose entries are read
  // "zstd": blobs go up zstd-compressed and are asked for so (bazel-remote's
  // Content-Encoding / Accept-Encoding); "none": as they are (any server).
  std::string remote_cache_compression = "none";
  bool operator==(const Settings&) const = default;
};

struct PipelineConfig {
  std::string name;
  std::vector<std::string> stages;
  SourcePos pos;
  bool operator==(const PipelineConfig&) const = default;
};

// [notify]: who hears about a run that failed, was blocked by the safety
// gate, or recovered. Delivery never changes the run's exit code.
struct NotifyConfig {
  // failure | gate-block | gate-warn | recovered; default failure, gate-block
  std::vector<std::string> on;
  double timeout_s = 10;               // per delivery attempt
  // [notify.webhook]: a POST of Slack-compatible JSON ({"text": ...}), or
  // the whole structured event with format = "json".
  std::string webhook_url;             // or, for a secret URL:
  std::string webhook_url_env;         // the environment variable holding it
  std::string webhook_format = "slack";
  // [notify.email]: a message piped to a sendmail-compatible command.
  std::vector<std::string> email_to;
  std::string email_from;
  std::vector<std::string> email_command;  // default sendmail -t -i
  // [notify.github]: an issue per distinct failure, comments on repeats.
  bool github = false;
  std::string github_repository;       // owner/name; default $GITHUB_REPOSITORY
  std::string github_token_env = "GITHUB_TOKEN";
  std::string github_api_url;          // default $GITHUB_API_URL, else https://api.github.com
  std::vector<std::string> github_labels;
  SourcePos pos;
  bool configured() const { return !webhook_url.empty() || !webhook_url_env.empty() || !email_to.empty() || github; }
  bool operator==(const NotifyConfig&) const = default;
};

struct Config {
  std::filesystem::path file;       // absolute path of wrt.toml
  std::filesystem::path workspace;  // its directory
  std::string project_name;
  Settings settings;
  std::vector<StageConfig> stages;  // in file order; for_each templates replaced by their instances
  std::vector<PipelineConfig> pipelines;
  std::vector<ComponentConfig> components;
  AsilProfile asil_profiles[kAsilLevels];
  NotifyConfig notify;
  // for_each template name -> its instances' names ("prove" -> "prove:memory", ...)
  std::map<std::string, std::vector<std::string>> groups;
  bool operator==(const Config&) const = default;

  const ComponentConfig* find_component(const std::string& name) const;
  const AsilProfile& profile(Asil a) const { return asil_profiles[static_cast<int>(a)]; }
  // A stage name or a for_each template name -> stage names; empty if unknown.
  std::vector<std::string> resolve_stage_name(const std::string& name) const;

  const StageConfig* find_stage(const std::string& name) const;
  const PipelineConfig* find_pipeline(const std::string& name) const;
  // "wrt.toml:12:3" style location for messages.
  std::string where(const SourcePos& pos) const;
};

// Parses and validates `file`. The error is one line:
// "<file>:<line>:<col>: <what is wrong>".
Result<Config> load_config(const std::filesystem::path& file);
// Same, from text (for tests); `file` is used in messages and as workspace root.
Result<Config> parse_config(std::string_view text, const std::filesystem::path& file);

// The [settings] of wrt.toml's `text` without parsing the rest, for what a
// run needs before the parse (the remote cache's address and trusted keys,
// to fetch a parsed model: remote_model.h). Only when the settings are one
// plain [settings] section (no [settings.x], no dotted `settings.` keys at
// the top, no second section) that converts without error; nullopt when
// they are anything else or the text's structure is broken: then only the
// full parse can say. Defaults when there is no section and no mention.
std::optional<Settings> peek_settings(std::string_view text);

// The closest of `candidates` to `word` within a small edit distance, or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// `text` with control characters (newlines above all) written as \u000A-style
// escapes: names taken from wrt.toml keep an error message on one line.
std::string escape_control(std::string_view text);

// Normalises a workspace-relative path ("./a//b/" -> "a/b"); Error if it is
// absolute or leaves the workspace ("../x", "a/../../x").
Result<std::string> normalize_relative(const std::string& path);
// Why a normalized workspace-relative path cannot be a state directory
// ("" when it can): the workspace itself, .wrt or .git.
std::string state_dir_refusal(const std::string& normalized);

// Starter wrt.toml for `wrt init`.
std::string starter_config(const std::string& project_name);

}  // namespace wrt
