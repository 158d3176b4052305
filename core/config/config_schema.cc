#include "core/config/config_schema.h"

#include <algorithm>

namespace wrt::schema {

namespace {

// Names of stages, pipelines and components (config.cc's valid_name).
constexpr const char* kNamePattern = "^[A-Za-z0-9_.-]+$";

const std::vector<std::string> kPriorities = {"low", "normal", "high", "critical"};

Table make_project() {
  return {"[project]",
          "The project this pipeline belongs to.",
          {
              {"name", Type::kString, "Project name, shown in reports.", {}, nullptr, 1, false},
              {"description", Type::kString, "Free text.", {}, nullptr, 1, false},
              {"version", Type::kString, "Free text.", {}, nullptr, 1, false},
          }};
}

Table make_settings() {
  return {"[settings]",
          "Settings for every run.",
          {
              {"max_parallel_jobs", Type::kInteger, "Stages run at once (default: the number of CPUs).", {}, nullptr, 1,
               false},
              {"timeout_minutes", Type::kPositiveNumber, "Default stage timeout in minutes (default 30).", {}, nullptr,
               1, false},
              {"max_attempts", Type::kInteger, "Default attempts per stage, retries included (default 1).", {},
               nullptr, 1, false},
              {"cache_dir", Type::kPath, "Cache directory, relative to the workspace (default .wrt/cache).", {},
               nullptr, 1, false},
              {"cache_max_size", Type::kSize, "Cache size cap: bytes or \"5GiB\" (default 5GiB).", {}, nullptr, 1,
               false},
              {"plugin_path", Type::kStringList, "Extra directories searched for plugins, before the built-in ones.",
               {}, nullptr, 1, false},
              {"memory_limit", Type::kSize,
               "Memory the running stages may declare together (default: physical memory).", {}, nullptr, 1, false},
              {"cached_log_limit", Type::kSize, "How much of the end of a stage log the cache keeps (default 16MiB).",
               {}, nullptr, 1, false},
              {"remote_cache", Type::kString,
               "Remote cache base URL (Bazel HTTP cache protocol: /ac/ and /cas/), e.g. \"http://cache:8080/wrt\".", {},
               nullptr, 1, false},
              {"remote_upload", Type::kBoolean,
               "Upload results to the remote cache (default true; false for untrusted runners).", {}, nullptr, 1, false},
              {"remote_cache_trusted_keys", Type::kStringList,
               "Ed25519 public keys (PEM files) whose signed remote entries are trusted; unsigned ones are never read.",
               {}, nullptr, 1, false},
              {"remote_cache_compression", Type::kString,
               "Blob transfers zstd-compressed (bazel-remote; not plain WebDAV servers such as nginx). Default none.",
               {"none", "zstd"}, nullptr, 1, false},
          }};
}

Table make_stage() {
  return {"[stages.NAME]",
          "A stage: one plugin run, cached by the content of its inputs and configuration.",
          {
              {"plugin", Type::kString, "The plugin that runs this stage (default \"command\").", {}, nullptr, 1,
               false},
              {"needs", Type::kStringList, "Stages that must succeed before this one.", {}, nullptr, 1, false},
              {"inputs", Type::kStringList, "Glob patterns of the workspace files in the cache key.", {}, nullptr, 1,
               false},
              {"outputs", Type::kStringList, "Files or directories the stage produces; restored from the cache.", {},
               nullptr, 1, false},
              {"state", Type::kStringList,
               "Incremental state directories kept between runs (build/, target/); never cached.", {}, nullptr, 1,
               false},
              {"env", Type::kStringList, "Environment variables whose values are in the cache key.", {}, nullptr, 1,
               false},
              {"timeout_minutes", Type::kPositiveNumber, "Timeout in minutes (default: settings or ASIL profile).", {},
               nullptr, 1, false},
              {"max_attempts", Type::kInteger, "Attempts, retries included (default: settings.max_attempts).", {},
               nullptr, 1, false},
              {"cache", Type::kBoolean, "false: always run this stage.", {}, nullptr, 1, false},
              {"with", Type::kAnyTable, "The plugin's configuration (see the plugin's documentation).", {}, nullptr, 1,
               false},
              {"description", Type::kString, "Free text.", {}, nullptr, 1, false},
              {"for_each", Type::kString, "\"component\": one instance of this stage per component.", {"component"},
               nullptr, 1, false},
              {"components", Type::kStringList, "With for_each: only these components.", {}, nullptr, 1, false},
              {"min_asil", Type::kAsil, "With for_each: only components at this ASIL level or above.", {}, nullptr, 1,
               false},
              {"asil", Type::kAsil, "The ASIL level the safety gate judges this stage at.", {}, nullptr, 1, false},
              {"priority", Type::kString, "Scheduling priority (default: the ASIL profile's).", kPriorities, nullptr,
               1, false},
              {"cpus", Type::kInteger, "CPUs the stage uses (default 1).", {}, nullptr, 1, false},
              {"memory", Type::kSize, "Memory the stage needs: bytes or \"2GiB\".", {}, nullptr, 1, false},
              {"when", Type::kTable, "Where the stage runs: branch, tag and event patterns, decided on every run.", {},
               &stage_when(), 1, false},
              {"requires_gate", Type::kString,
               "Start only if the safety gate over what this stage depends on is pass (or also warn).",
               {"pass", "warn"}, nullptr, 1, false},
              {"min_verified_asil", Type::kAsil,
               "Start only if every dependency at this ASIL level or above passed (and one exists).", {}, nullptr, 1,
               false},
          }};
}

Table make_stage_when() {
  return {"stages.NAME.when",
          "Conditions (fnmatch patterns; a list means any of them; all keys given must match).",
          {
              {"branch", Type::kStringOrList, "Branch name pattern(s), e.g. \"main\", \"release/*\".", {}, nullptr, 1,
               false},
              {"tag", Type::kStringOrList, "Tag pattern(s) on the commit, e.g. \"v*.*.*\".", {}, nullptr, 1, false},
              {"event", Type::kStringOrList,
               "CI event(s) (push, pull_request, schedule, ...) or \"manual\" (named with wrt run --target).", {},
               nullptr, 1, false},
          }};
}

Table make_notify_webhook() {
  return {"[notify.webhook]",
          "A POST of Slack-compatible JSON ({\"text\": ...}), or the whole event with format = \"json\".",
          {
              {"url", Type::kString, "http:// or https:// URL.", {}, nullptr, 1, false},
              {"url_env", Type::kString, "The environment variable holding a secret URL.", {}, nullptr, 1, false},
              {"format", Type::kString, "Payload shape (default slack).", {"slack", "json"}, nullptr, 1, false},
          }};
}

Table make_notify_email() {
  return {"[notify.email]",
          "A message piped to a sendmail-compatible command.",
          {
              {"to", Type::kStringList, "Recipient addresses.", {}, nullptr, 1, true},
              {"from", Type::kString, "Sender address (default wrt@HOST).", {}, nullptr, 1, false},
              {"command", Type::kStringList, "The sendmail command (default sendmail -t -i).", {}, nullptr, 1, false},
          }};
}

Table make_notify_github() {
  return {"[notify.github]",
          "An issue per distinct failure; repeats comment on it, a recovery closes it.",
          {
              {"repository", Type::kString, "OWNER/NAME (default $GITHUB_REPOSITORY).", {}, nullptr, 1, false},
              {"token_env", Type::kString, "The environment variable holding the token (default GITHUB_TOKEN).", {},
               nullptr, 1, false},
              {"api_url", Type::kString, "API base URL (default $GITHUB_API_URL, else https://api.github.com).", {},
               nullptr, 1, false},
              {"labels", Type::kStringList, "Labels of the issues wrt opens.", {}, nullptr, 1, false},
          }};
}

Table make_notify() {
  return {"[notify]",
          "Who hears about a failed, blocked or recovered run. Delivery never changes the exit code.",
          {
              {"on", Type::kStringList, "Events: failure, gate-block, gate-warn, recovered (default failure, gate-block).",
               {}, nullptr, 1, false},
              {"timeout_s", Type::kPositiveNumber, "Per delivery attempt (default 10).", {}, nullptr, 1, false},
              {"webhook", Type::kTable, "A webhook.", {}, &notify_webhook(), 1, false},
              {"email", Type::kTable, "Email.", {}, &notify_email(), 1, false},
              {"github", Type::kTable, "GitHub issues.", {}, &notify_github(), 1, false},
          }};
}

Table make_pipeline() {
  return {"[pipelines.NAME]",
          "A named set of stages: `wrt run NAME`.",
          {
              {"stages", Type::kStringList, "The stages it runs (with what they need).", {}, nullptr, 1, true},
              {"description", Type::kString, "Free text.", {}, nullptr, 1, false},
          }};
}

Table make_component() {
  return {"[components.NAME]",
          "A part of the code base with its own safety level.",
          {
              {"paths", Type::kStringList, "Glob patterns of the files the component is made of.", {}, nullptr, 1,
               true},
              {"asil", Type::kAsil, "ISO 26262 ASIL level: QM, A, B, C or D (default QM).", {}, nullptr, 1, false},
              {"requirements", Type::kStringList, "Requirement ids this component implements.", {}, nullptr, 1,
               false},
              {"description", Type::kString, "Free text.", {}, nullptr, 1, false},
          }};
}

Table make_asil_profile() {
  return {"[asil.LEVEL]",
          "Overrides of an ASIL level's profile.",
          {
              {"timeout_minutes", Type::kPositiveNumber, "Default timeout of stages at this level.", {}, nullptr, 1,
               false},
              {"priority", Type::kString, "Default priority of stages at this level.", kPriorities, nullptr, 1, false},
              {"coverage_target", Type::kPositiveNumber, "Line coverage target in percent.", {}, nullptr, 1, false},
              {"on_failure", Type::kString, "What a failed stage at this level does to the safety gate.",
               {"allow", "warn", "block"}, nullptr, 1, false},
              {"verifier", Type::kAnyTable, "Verifier settings, passed to plugins as with.profile.", {}, nullptr, 1,
               false},
          }};
}

Table make_asil_levels() {
  Table t{"[asil]", "Per-level profiles (ISO 26262 ASIL).", {}};
  for (const char* level : {"QM", "A", "B", "C", "D"})
    t.keys.push_back({level, Type::kTable, std::string("Profile of ASIL ") + level + ".", {}, &asil_profile(), 1,
                      false});
  return t;
}

Table make_root() {
  return {"wrt.toml",
          "wrt pipeline configuration (schema v1).",
          {
              {"project", Type::kTable, "The project.", {}, &project(), 1, false},
              {"settings", Type::kTable, "Settings for every run.", {}, &settings(), 1, false},
              {"stages", Type::kNamedTables, "The stages, by name.", {}, &stage(), 1, false},
              {"pipelines", Type::kNamedTables, "Named sets of stages.", {}, &pipeline(), 1, false},
              {"components", Type::kNamedTables, "Components with their own ASIL level.", {}, &component(), 1, false},
              {"asil", Type::kTable, "ASIL profiles.", {}, &asil_levels(), 1, false},
              {"notify", Type::kTable, "Failure notifications.", {}, &notify(), 1, false},
          }};
}

// Taplo (behind Even Better TOML) documents full support of JSON Schema
// draft 4 only; its validator also reads draft-07, and Python's jsonschema
// (the tests) validates it, but 2020-12 is not supported. So the schema says
// draft-07 and uses only keywords that mean the same in draft 4 and draft 7
// (no numeric exclusiveMinimum, no propertyNames, no $defs).
constexpr const char* kDraft = "http://json-schema.org/draft-07/schema#";

nlohmann::json value_schema(const Key& k);

nlohmann::json table_schema(const Table& t) {
  nlohmann::json props = nlohmann::json::object();
  nlohmann::json required = nlohmann::json::array();
  for (const auto& k : t.keys) {
    props[k.name] = value_schema(k);
    if (k.required) required.push_back(k.name);
  }
  // The title is the table as wrt's messages name it ("[stages.NAME]").
  nlohmann::json s = {{"type", "object"}, {"title", t.where}, {"description", t.description}, {"properties", props},
                      {"additionalProperties", false}};
  if (!required.empty()) s["required"] = required;
  return s;
}

nlohmann::json value_schema(const Key& k) {
  nlohmann::json s;
  switch (k.type) {
    case Type::kString:
    case Type::kPath:
      s = {{"type", "string"}};
      if (!k.values.empty()) s["enum"] = k.values;
      break;
    case Type::kInteger:
      s = {{"type", "integer"}, {"minimum", k.minimum}};
      break;
    case Type::kPositiveNumber:
      // draft 4's exclusiveMinimum is a boolean, draft 7's a number: a tiny
      // minimum says "> 0" the same way in both.
      s = {{"type", "number"}, {"minimum", 1e-9}};
      break;
    case Type::kBoolean:
      s = {{"type", "boolean"}};
      break;
    case Type::kStringList:
      s = {{"type", "array"}, {"items", {{"type", "string"}}}};
      break;
    case Type::kStringOrList:
      s["anyOf"] = nlohmann::json::array({nlohmann::json{{"type", "string"}},
                                          nlohmann::json{{"type", "array"}, {"items", {{"type", "string"}}}}});
      break;
    case Type::kSize:
      s["anyOf"] = nlohmann::json::array(
          {nlohmann::json{{"type", "integer"}, {"minimum", 1}},
           nlohmann::json{{"type", "string"}, {"pattern", "^\\s*[0-9]+(\\.[0-9]+)?\\s*[A-Za-z]*\\s*$"}}});
      break;
    case Type::kAsil:
      // The enum is what an editor offers; the pattern what the loader also
      // accepts ("asil-d", "b").
      s["anyOf"] = nlohmann::json::array(
          {nlohmann::json{{"enum", nlohmann::json::array({"QM", "A", "B", "C", "D"})}},
           nlohmann::json{{"type", "string"}, {"pattern", "^([Aa][Ss][Ii][Ll]-)?([Qq][Mm]|[AaBbCcDd])$"}}});
      break;
    case Type::kAnyTable:
      s = {{"type", "object"}};
      break;
    case Type::kTable:
      s = table_schema(*k.table);
      break;
    case Type::kNamedTables:
      s = {{"type", "object"},
           {"patternProperties", {{kNamePattern, table_schema(*k.table)}}},
           {"additionalProperties", false}};
      break;
  }
  s["description"] = k.description;
  return s;
}

}  // namespace

std::vector<std::string> Table::key_names() const {
  std::vector<std::string> out;
  for (const auto& k : keys) out.push_back(k.name);
  return out;
}

const Key* Table::find(const std::string& name) const {
  auto it = std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.name == name; });
  return it == keys.end() ? nullptr : &*it;
}

// Function-local statics: built on first use, in dependency order.
const Table& root() { static const Table t = make_root(); return t; }
const Table& project() { static const Table t = make_project(); return t; }
const Table& settings() { static const Table t = make_settings(); return t; }
const Table& stage() { static const Table t = make_stage(); return t; }
const Table& pipeline() { static const Table t = make_pipeline(); return t; }
const Table& component() { static const Table t = make_component(); return t; }
const Table& asil_levels() { static const Table t = make_asil_levels(); return t; }
const Table& asil_profile() { static const Table t = make_asil_profile(); return t; }
const Table& stage_when() { static const Table t = make_stage_when(); return t; }
const Table& notify() { static const Table t = make_notify(); return t; }
const Table& notify_webhook() { static const Table t = make_notify_webhook(); return t; }
const Table& notify_email() { static const Table t = make_notify_email(); return t; }
const Table& notify_github() { static const Table t = make_notify_github(); return t; }

nlohmann::json json_schema() {
  nlohmann::json s = table_schema(root());
  s["$schema"] = kDraft;
  s["title"] = "wrt.toml";
  return s;
}

}  // namespace wrt::schema
