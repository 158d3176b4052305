// Header-only C++ conveniences over wrt/plugin.h. Optional: a plugin may use
// the C header alone. Nothing here is part of the ABI; it compiles into the
// plugin, so a plugin built with an older copy keeps working.
//
// A complete plugin (see sdk/README.md):
//
//   #include <wrt/plugin.hpp>
//   namespace {
//   wrt_status run(const wrt::sdk::Stage& s) {
//     s.metric("inputs", static_cast<double>(s.inputs().size()));
//     return WRT_STATUS_PASSED;
//   }
//   const wrt_plugin kCount = wrt::sdk::make_plugin<run>("count", "1.0.0", "Counts its inputs");
//   }  // namespace
//   WRT_SDK_PLUGIN_ENTRY(&kCount)
//
// Errors: every Stage accessor reports misuse by throwing ConfigError (a
// `with` value of the wrong type, an unknown key); the entry points made by
// make_plugin catch everything, so nothing crosses the C ABI.
#ifndef WRT_PLUGIN_HPP
#define WRT_PLUGIN_HPP

#include <wrt/plugin.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace wrt::sdk {

// A stage configuration error: `with.KEY must be a string`. Thrown by the
// accessors below; turned into WRT_STATUS_ERROR with its text as message.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when the host has already set the stage's message (check_keys):
// the entry point returns `status` and leaves the message alone.
struct MessageSet {
  wrt_status status = WRT_STATUS_ERROR;
};

struct SpawnOutcome {
  bool started = false;
  int exit_code = -1;
  int term_signal = 0;
  bool timed_out = false;
  bool interrupted = false;
  std::string output;  // with capture
  std::string error;
};

// Thin wrapper around (host, stage) for one plugin call. Same thread and
// lifetime rules as the C API: use only during the call that received it.
class Stage {
 public:
  Stage(const wrt_host* host, wrt_stage* stage) : host_(host), stage_(stage) {}

  std::string name() const { return host_->stage_name(stage_); }
  std::string workspace() const { return host_->workspace_dir(stage_); }
  std::string config_json() const { return host_->config_json(stage_); }

  // nullopt when absent; throws ConfigError when present with another type.
  std::optional<std::string> string(const std::string& key) const {
    const char* v = nullptr;
    int r = host_->config_string(stage_, key.c_str(), &v);
    if (r < 0) throw_type(key, "a string");
    return r > 0 ? std::optional<std::string>(v) : std::nullopt;
  }
  std::optional<std::int64_t> integer(const std::string& key) const {
    std::int64_t v = 0;
    int r = host_->config_int(stage_, key.c_str(), &v);
    if (r < 0) throw_type(key, "an integer");
    return r > 0 ? std::optional<std::int64_t>(v) : std::nullopt;
  }
  std::optional<double> number(const std::string& key) const {
    double v = 0;
    int r = host_->config_double(stage_, key.c_str(), &v);
    if (r < 0) throw_type(key, "a number");
    return r > 0 ? std::optional<double>(v) : std::nullopt;
  }
  std::optional<bool> boolean(const std::string& key) const {
    int v = 0;
    int r = host_->config_bool(stage_, key.c_str(), &v);
    if (r < 0) throw_type(key, "true or false");
    return r > 0 ? std::optional<bool>(v != 0) : std::nullopt;
  }
  // nullopt when absent; throws when not an array of strings.
  std::optional<std::vector<std::string>> strings(const std::string& key) const {
    std::int64_t n = host_->config_array_size(stage_, key.c_str());
    if (n < 0) {
      if (host_->config_string(stage_, key.c_str(), nullptr) != 0 || integer_present(key))
        throw_type(key, "an array of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (std::int64_t i = 0; i < n; ++i) {
      auto v = string(key + "[" + std::to_string(i) + "]");
      if (!v) throw_type(key, "an array of strings");
      out.push_back(*v);
    }
    return out;
  }

  // Throws MessageSet (the stage fails with "with.KEY: unknown key (did you
  // mean 'x'?)") when the table at `table` ("" = with) has a key outside
  // `known`. The host's own keys (profile, component) are always accepted.
  // Call it first thing in fingerprint(): wrt then stops before any stage.
  void check_keys(std::initializer_list<const char*> known, const std::string& table = {}) const {
    std::vector<const char*> list(known);
    list.push_back(nullptr);
    if (host_has(&wrt_host::check_keys)) {
      if (host_->check_keys(stage_, table.c_str(), list.data()) == 0) throw MessageSet{};
      return;
    }
    for (const auto& k : keys(table)) {  // a host before ABI 1.2: no suggestion
      bool ok = (table.empty() && (k == "profile" || k == "component"));
      for (const char* n : known) ok = ok || k == n;
      if (!ok) throw ConfigError("with." + (table.empty() ? k : table + "." + k) + ": unknown key");
    }
  }
  // The keys of the table at `table` ("" = with), sorted.
  std::vector<std::string> keys(const std::string& table = {}) const {
    std::vector<std::string> out;
    for (std::int64_t i = 0;; ++i) {
      const char* k = host_->config_key_at(stage_, table.c_str(), i);
      if (!k) break;
      out.emplace_back(k);
    }
    return out;
  }

  // ABI 1.2: the files wrt hashed for the stage's key (run only; empty in
  // fingerprint or on an older host) and the declared outputs.
  std::vector<std::string> inputs() const {
    return list(&wrt_host::input_count, &wrt_host::input_at);
  }
  std::vector<std::string> outputs() const {
    return list(&wrt_host::output_count, &wrt_host::output_at);
  }
  // ABI 1.1: the plugin's state directory inside wrt's cache ("" before).
  std::string data_dir() const { return host_has(&wrt_host::data_dir) ? std::string(host_->data_dir(stage_)) : std::string(); }
  // ABI 1.2: a tool's version output, cached by the host per installed binary
  // (argv = {"gcc", "--version"}); nullopt when the tool is missing or fails.
  // On an older host it runs the tool through spawn.
  std::optional<std::string> tool_version(const std::vector<std::string>& argv) const {
    if (host_has(&wrt_host::tool_version)) {
      std::vector<const char*> a;
      for (const auto& x : argv) a.push_back(x.c_str());
      a.push_back(nullptr);
      const char* v = host_->tool_version(stage_, a.data(), nullptr);
      return v ? std::optional<std::string>(v) : std::nullopt;
    }
    auto r = spawn(argv, {}, {}, true);
    if (!r.started || r.exit_code != 0) return std::nullopt;
    return r.output;
  }
  // ABI 1.3, in fingerprint only: `dir` (workspace-relative) is a state
  // directory of the stage, like `state = [...]` in wrt.toml. False when the
  // host refused it (the stage message says why) or predates ABI 1.3.
  // ABI 1.4: never cached (deploys and other effects outside the workspace);
  // only in fingerprint. False on an older host -- then refuse to run
  // rather than be cached.
  bool never_cache() const { return host_has(&wrt_host::never_cache) && host_->never_cache(stage_) == 1; }
  // ABI 1.5, in run only: the run's id, the gate over the stages this one
  // depends on and their statuses, as JSON text (plugin.h); empty for a
  // cacheable stage, in fingerprint, or on an older host.
  std::string run_context() const {
    if (!host_has(&wrt_host::run_context)) return {};
    const char* j = host_->run_context(stage_);
    return j ? j : "";
  }
  bool declare_state(const std::string& dir) const {
    return host_has(&wrt_host::declare_state) && host_->declare_state(stage_, dir.c_str()) == 1;
  }
  void artifact(const std::string& path, const std::string& kind) const {
    host_->report_artifact(stage_, path.c_str(), kind.c_str());
  }

  void log(wrt_log_level level, const std::string& msg) const { host_->log(stage_, level, msg.c_str()); }
  void metric(const std::string& name, double value) const { host_->report_metric(stage_, name.c_str(), value); }
  void message(const std::string& msg) const { host_->set_message(stage_, msg.c_str()); }
  void fingerprint(const std::string& name, const std::string& value) const {
    host_->add_fingerprint(stage_, name.c_str(), value.c_str());
  }
  void finding(wrt_severity sev, const std::string& rule, const std::string& file, unsigned line, unsigned col,
               const std::string& msg) const {
    wrt_finding f{sizeof(wrt_finding), rule.c_str(), sev, file.c_str(), line, col, msg.c_str()};
    host_->report_finding(stage_, &f);
  }
  void test_case(const std::string& suite, const std::string& name, wrt_test_status st, double secs,
                 const std::string& msg) const {
    wrt_test_case t{sizeof(wrt_test_case), suite.c_str(), name.c_str(), st, secs, msg.c_str()};
    host_->report_test_case(stage_, &t);
  }

  SpawnOutcome spawn(const std::vector<std::string>& argv, const std::string& cwd = {},
                     const std::vector<std::string>& env = {}, bool capture = false) const {
    std::vector<const char*> a, e;
    for (const auto& s : argv) a.push_back(s.c_str());
    a.push_back(nullptr);
    for (const auto& s : env) e.push_back(s.c_str());
    e.push_back(nullptr);
    wrt_spawn_request req{sizeof(wrt_spawn_request), a.data(), cwd.empty() ? nullptr : cwd.c_str(), e.data(),
                          capture ? 1 : 0};
    wrt_spawn_result res{};
    res.struct_size = sizeof(res);
    SpawnOutcome o;
    o.started = host_->spawn(stage_, &req, &res) == 0;
    o.exit_code = res.exit_code;
    o.term_signal = res.term_signal;
    o.timed_out = res.timed_out != 0;
    o.interrupted = res.interrupted != 0;
    if (res.output) o.output.assign(res.output, res.output_size);
    if (res.error) o.error = res.error;
    return o;
  }

  // Does the host's table have this field (appended in a later ABI minor)?
  //   if (s.host_has(&wrt_host::tool_version)) ...
  template <typename F>
  bool host_has(F wrt_host::*field) const {
    // The field's offset, from its address in the host's table (taking the
    // address reads nothing; the field is read only once it is known to exist).
    const auto offset = static_cast<std::size_t>(reinterpret_cast<const char*>(&(host_->*field)) -
                                                 reinterpret_cast<const char*>(host_));
    return host_->struct_size >= offset + sizeof(F) && host_->*field != nullptr;
  }
  const wrt_host* host() const { return host_; }
  wrt_stage* handle() const { return stage_; }

 private:
  std::vector<std::string> list(std::int64_t (*wrt_host::*count)(wrt_stage*),
                                const char* (*wrt_host::*at)(wrt_stage*, std::int64_t)) const {
    std::vector<std::string> out;
    if (!host_has(count) || !host_has(at)) return out;
    std::int64_t n = (host_->*count)(stage_);
    for (std::int64_t i = 0; i < n; ++i)
      if (const char* p = (host_->*at)(stage_, i)) out.emplace_back(p);
    return out;
  }
  bool integer_present(const std::string& key) const {
    return host_->config_int(stage_, key.c_str(), nullptr) != 0;
  }
  [[noreturn]] void throw_type(const std::string& key, const char* want) const {
    throw ConfigError("with." + key + " must be " + want);
  }
  const wrt_host* host_;
  wrt_stage* stage_;
};

// Runs `body` and turns any exception into WRT_STATUS_ERROR with its message,
// so nothing is thrown across the C ABI.
template <typename Fn>
wrt_status guarded(const wrt_host* host, wrt_stage* stage, Fn&& body) noexcept {
  try {
    return body(Stage(host, stage));
  } catch (const MessageSet& m) {
    return m.status;
  } catch (const std::exception& e) {
    host->set_message(stage, e.what());
  } catch (...) {
    host->set_message(stage, "plugin threw an unknown exception");
  }
  return WRT_STATUS_ERROR;
}

namespace detail {
template <wrt_status (*Fn)(const Stage&)>
wrt_status entry_point(const wrt_host* host, wrt_stage* stage) noexcept {
  return guarded(host, stage, [](const Stage& s) { return Fn(s); });
}
template <wrt_status (*Fn)(const Stage&)>
constexpr wrt_status (*optional_entry_point())(const wrt_host*, wrt_stage*) {
  if constexpr (Fn == nullptr) {
    return nullptr;
  } else {
    return &entry_point<Fn>;
  }
}
}  // namespace detail

// A wrt_plugin with named fields and exception-safe entry points:
//   const wrt_plugin kMine = wrt::sdk::make_plugin<run, fingerprint>("mine", "1.0.0", "What it does");
// `Run` and `Fingerprint` take a `const Stage&` and return a wrt_status;
// `Fingerprint` may be left out.
template <wrt_status (*Run)(const Stage&), wrt_status (*Fingerprint)(const Stage&) = nullptr>
constexpr wrt_plugin make_plugin(const char* name, const char* version, const char* description) {
  wrt_plugin p{};
  p.struct_size = sizeof(wrt_plugin);
  p.name = name;
  p.version = version;
  p.description = description;
  p.fingerprint = detail::optional_entry_point<Fingerprint>();
  p.run = &detail::entry_point<Run>;
  p.get_extension = nullptr;
  return p;
}

// Logs from init/deinit, which have no stage (ABI 1.2; silent before).
inline void log_global(const wrt_host* host, wrt_log_level level, const std::string& msg) {
  if (host && host->struct_size >= offsetof(wrt_host, log_global) + sizeof(host->log_global) && host->log_global)
    host->log_global(level, msg.c_str());
}

}  // namespace wrt::sdk

// Defines the library's one exported symbol for the given plugins:
//   WRT_SDK_PLUGIN_ENTRY(&kMine, &kOther)
// or, with `int init(const wrt_host*)` / `void deinit(void)` (either may be
// nullptr; init returns 0 to refuse loading, after log_global says why):
//   WRT_SDK_PLUGIN_ENTRY_WITH_INIT(init, nullptr, &kMine)
#define WRT_SDK_PLUGIN_ENTRY_WITH_INIT(INIT, DEINIT, ...)                                               \
  extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) {                                \
    static const wrt_plugin* const wrt_sdk_plugins_[] = {__VA_ARGS__};                                  \
    static const wrt_entry wrt_sdk_entry_ = {sizeof(wrt_entry),                                          \
                                             WRT_ABI_VERSION_MAJOR,                                      \
                                             WRT_ABI_VERSION_MINOR,                                      \
                                             INIT,                                                       \
                                             DEINIT,                                                     \
                                             static_cast<uint32_t>(sizeof(wrt_sdk_plugins_) /            \
                                                                   sizeof(wrt_sdk_plugins_[0])),         \
                                             wrt_sdk_plugins_};                                          \
    return &wrt_sdk_entry_;                                                                              \
  }
#define WRT_SDK_PLUGIN_ENTRY(...) WRT_SDK_PLUGIN_ENTRY_WITH_INIT(nullptr, nullptr, __VA_ARGS__)

#endif  // WRT_PLUGIN_HPP
