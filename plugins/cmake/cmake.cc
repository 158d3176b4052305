// The `cmake` plugin: configures a CMake project and builds it. Compiler
// diagnostics in the build output become findings; a failed configure or
// build fails the stage with the first error. compile_commands.json is
// always written so a clang-tidy stage can use it. When ccache is on PATH
// the build goes through it, with its cache in wrt's plugin data directory
// (so a CI job that keeps wrt's cache directory keeps ccache's too).
#include <wrt/plugin.hpp>

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/cmake/ccache_stats.h"
#include "plugins/cmake/cmake_messages.h"
#include "plugins/common/diagnostics.h"
#include "plugins/common/tool.h"

namespace {

namespace fs = std::filesystem;
using wrt::plugins::Diagnostic;
using wrt::plugins::FindingPolicy;

const std::set<std::string> kKnownKeys = {"source_dir",  "build_dir", "generator", "build_type", "targets",
                                          "definitions", "jobs",      "ccache",    "fail_on",    "max_warnings"};

struct Definition {
  std::string name;
  std::string value;
};

struct Options {
  std::string source_dir = ".";
  std::string build_dir = "build";
  std::string generator = "Ninja";
  std::string build_type = "Debug";
  std::vector<std::string> targets;
  std::vector<Definition> definitions;
  std::int64_t jobs = 0;  // 0: the generator's default
  bool ccache = true;
  FindingPolicy policy;
};

bool is_identifier(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

std::string non_empty(const wrt::sdk::Stage& s, const std::string& key, const std::string& fallback) {
  auto v = s.string(key);
  if (v && v->empty()) throw std::runtime_error("with." + key + " must not be empty");
  return v.value_or(fallback);
}

Options parse_options(const wrt::sdk::Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "cmake", kKnownKeys);
  Options o;
  o.source_dir = non_empty(s, "source_dir", o.source_dir);
  o.build_dir = non_empty(s, "build_dir", o.build_dir);
  o.generator = non_empty(s, "generator", o.generator);
  o.build_type = s.string("build_type").value_or(o.build_type);
  o.targets = s.strings("targets").value_or(std::vector<std::string>{});
  for (std::int64_t i = 0;; ++i) {
    const char* name = s.host()->config_key_at(s.handle(), "definitions", i);
    if (!name) break;
    std::string key = std::string("definitions.") + name;
    if (!is_identifier(name))
      throw std::runtime_error("with.definitions: \"" + std::string(name) + "\" is not a CMake variable name");
    Definition d{name, {}};
    // config_* return -1 for another type, so try each scalar type in turn.
    const char* str = nullptr;
    std::int64_t num = 0;
    int flag = 0;
    if (s.host()->config_string(s.handle(), key.c_str(), &str) > 0)
      d.value = str;
    else if (s.host()->config_bool(s.handle(), key.c_str(), &flag) > 0)
      d.value = flag ? "ON" : "OFF";
    else if (s.host()->config_int(s.handle(), key.c_str(), &num) > 0)
      d.value = std::to_string(num);
    else
      throw std::runtime_error("with." + key + " must be a string, an integer or a boolean");
    o.definitions.push_back(std::move(d));
  }
  auto with = nlohmann::json::parse(s.config_json(), nullptr, false);
  if (with.is_object() && with.contains("definitions") && !with["definitions"].is_object())
    throw std::runtime_error("with.definitions must be a table: definitions = { NAME = \"value\" }");
  o.jobs = s.integer("jobs").value_or(0);
  if (o.jobs < 0) throw std::runtime_error("with.jobs must be positive");
  o.ccache = s.boolean("ccache").value_or(true);
  o.policy = FindingPolicy::from_config(s);
  return o;
}

std::string definition_or(const Options& o, const std::string& name, const char* env, const char* fallback) {
  for (const auto& d : o.definitions)
    if (d.name == name) return d.value;
  if (const char* v = std::getenv(env); v && *v) return v;
  return fallback;
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Options o = parse_options(s);
    // The build tree is CMake's incremental state that later stages (ctest,
    // coverage, clang-tidy's compile_commands.json) read: wrt rebuilds it
    // for the current key before such a stage runs behind a cache hit.
    wrt::plugins::declare_build_state(s, o.build_dir);
    std::string cmake = wrt::plugins::require_tool("cmake", "cmake");
    s.fingerprint("cmake", wrt::plugins::tool_version(s, {cmake, "--version"}));
    // The compilers CMake will pick: what the project sets, else CC/CXX,
    // else the system's default cc/c++ (all of which CMake honours too).
    s.fingerprint("cc", wrt::plugins::tool_version(s, {definition_or(o, "CMAKE_C_COMPILER", "CC", "cc"), "--version"}));
    s.fingerprint("c++",
                  wrt::plugins::tool_version(s, {definition_or(o, "CMAKE_CXX_COMPILER", "CXX", "c++"), "--version"}));
    if (o.generator == "Ninja" || o.generator == "Ninja Multi-Config")
      wrt::plugins::require_tool("ninja", "ninja-build");
    return WRT_STATUS_PASSED;
  });
}

bool defines(const Options& o, const std::string& name) {
  for (const auto& d : o.definitions)
    if (d.name == name) return true;
  return false;
}

std::string last_line(const std::string& output) {
  auto lines = wrt::plugins::split_lines(output);
  for (auto it = lines.rbegin(); it != lines.rend(); ++it)
    if (auto t = wrt::plugins::trim(*it); !t.empty()) return std::string(t);
  return {};
}

const Diagnostic* first_error(const std::vector<Diagnostic>& ds) {
  for (const auto& d : ds)
    if (d.severity == WRT_SEVERITY_ERROR) return &d;
  return nullptr;
}

void report(const wrt::sdk::Stage& s, const std::vector<Diagnostic>& ds) {
  for (const auto& d : ds) s.finding(d.severity, d.rule, d.file, d.line, d.column, d.message);
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [host](const wrt::sdk::Stage& s) {
    Options o = parse_options(s);
    // The build tree is CMake's incremental state that later stages (ctest,
    // coverage, clang-tidy's compile_commands.json) read: wrt rebuilds it
    // for the current key before such a stage runs behind a cache hit.
    wrt::plugins::declare_build_state(s, o.build_dir);
    std::string cmake = wrt::plugins::require_tool("cmake", "cmake");
    const std::string ws = s.workspace();
    const fs::path source = (fs::path(ws) / o.source_dir).lexically_normal();
    const fs::path build = (fs::path(ws) / o.build_dir).lexically_normal();
    const fs::path state = fs::path(ws) / ".wrt" / "cmake" / s.name();
    std::error_code ec;
    fs::create_directories(state, ec);

    std::vector<std::string> env;
    fs::path stats_log = state / "ccache-stats.log";
    const bool use_ccache = o.ccache && wrt::plugins::find_program("ccache").has_value();
    if (use_ccache) {
      // A stats log of our own counts this build's compilations only, even
      // while other builds use the same ccache directory.
      fs::remove(stats_log, ec);
      env.push_back("CCACHE_STATSLOG=" + stats_log.string());
      // Paths below the workspace are hashed relative to it, and the
      // compiler's working directory is not hashed, so another checkout of
      // the same sources hits. (Debug info then names the first checkout's
      // build directory: the price ccache documents for this.)
      env.push_back("CCACHE_BASEDIR=" + ws);
      env.push_back("CCACHE_NOHASHDIR=true");
      if (WRT_HAS_FIELD(host, wrt_host, data_dir) && host->data_dir) {
        std::string data = host->data_dir(s.handle());
        if (!data.empty()) env.push_back("CCACHE_DIR=" + (fs::path(data) / "ccache").string());
      }
    }

    std::vector<std::string> configure{cmake,          "-S", source.string(), "-B",
                                       build.string(), "-G", o.generator,     "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"};
    if (!o.build_type.empty()) configure.push_back("-DCMAKE_BUILD_TYPE=" + o.build_type);
    if (use_ccache) {
      if (!defines(o, "CMAKE_C_COMPILER_LAUNCHER")) configure.push_back("-DCMAKE_C_COMPILER_LAUNCHER=ccache");
      if (!defines(o, "CMAKE_CXX_COMPILER_LAUNCHER")) configure.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache");
    }
    for (const auto& d : o.definitions) configure.push_back("-D" + d.name + "=" + d.value);

    auto conf = s.spawn(configure, {}, env, true);
    if (!conf.started) throw std::runtime_error(conf.error);
    if (conf.timed_out || conf.interrupted) return WRT_STATUS_FAILED;
    auto messages = wrt::plugins::parse_cmake_messages(conf.output, ws, source.string());
    report(s, messages);
    if (conf.exit_code != 0) {
      const Diagnostic* e = first_error(messages);
      s.message("cmake configure failed: " + (e ? wrt::plugins::describe(*e) : last_line(conf.output)));
      return WRT_STATUS_FAILED;
    }

    std::vector<std::string> build_argv{cmake, "--build", build.string()};
    if (!o.build_type.empty()) build_argv.insert(build_argv.end(), {"--config", o.build_type});
    if (!o.targets.empty()) {
      build_argv.push_back("--target");
      build_argv.insert(build_argv.end(), o.targets.begin(), o.targets.end());
    }
    if (o.jobs > 0) build_argv.insert(build_argv.end(), {"--parallel", std::to_string(o.jobs)});
    auto b = s.spawn(build_argv, {}, env, true);
    if (!b.started) throw std::runtime_error(b.error);
    if (b.timed_out || b.interrupted) return WRT_STATUS_FAILED;

    // Ninja runs every compiler in the build directory; paths ccache made
    // relative (CCACHE_BASEDIR) are relative to it.
    auto diagnostics = wrt::plugins::parse_diagnostics(b.output, ws, build.string());
    report(s, diagnostics);
    auto all = messages;
    wrt::plugins::merge_diagnostics(all, diagnostics);
    auto counts = wrt::plugins::count_diagnostics(all);
    s.metric("warnings", static_cast<double>(counts.warnings));
    s.metric("errors", static_cast<double>(counts.errors));
    if (use_ccache) {
      std::string log;
      if (fs::exists(stats_log, ec)) log = wrt::plugins::read_text_file(stats_log.string());
      auto stats = wrt::plugins::parse_ccache_statslog(log);
      s.metric("ccache.hits", static_cast<double>(stats.hits));
      s.metric("ccache.misses", static_cast<double>(stats.misses));
    }
    fs::path compile_commands = build / "compile_commands.json";
    if (fs::exists(compile_commands, ec))
      host->report_artifact(s.handle(), wrt::plugins::workspace_relative(compile_commands.string(), ws).c_str(),
                            "compile_commands");

    if (b.term_signal || b.exit_code != 0) {
      const Diagnostic* e = first_error(diagnostics);
      s.message("build failed: " + (e ? wrt::plugins::describe(*e) : last_line(b.output)));
      return WRT_STATUS_FAILED;
    }
    std::string reason;
    wrt_status st = o.policy.evaluate(counts.errors, counts.warnings, &reason);
    if (st != WRT_STATUS_PASSED) {
      s.message(reason);
      return st;
    }
    s.message(std::to_string(counts.warnings) + " warning" + (counts.warnings == 1 ? "" : "s"));
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kCMake = {
    sizeof(wrt_plugin), "cmake", "1.0.0", "Configures and builds a CMake project; compiler diagnostics as findings",
    fingerprint,        run,     nullptr,
};
const wrt_plugin* const kPlugins[] = {&kCMake};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
