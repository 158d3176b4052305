// Header-only C++ conveniences over wrt/plugin.h. Optional: a plugin may use
// the C header alone. Nothing here is part of the ABI; it compiles into the
// plugin, so a plugin built with an older copy keeps working.
#ifndef WRT_PLUGIN_HPP
#define WRT_PLUGIN_HPP

#include <wrt/plugin.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace wrt::sdk {

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

  // nullopt when absent; throws ConfigTypeError when present with another type.
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

  const wrt_host* host() const { return host_; }
  wrt_stage* handle() const { return stage_; }

 private:
  bool integer_present(const std::string& key) const {
    return host_->config_int(stage_, key.c_str(), nullptr) != 0;
  }
  [[noreturn]] void throw_type(const std::string& key, const char* want) const {
    throw std::runtime_error("with." + key + " must be " + want);
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
  } catch (const std::exception& e) {
    host->set_message(stage, e.what());
  } catch (...) {
    host->set_message(stage, "plugin threw an unknown exception");
  }
  return WRT_STATUS_ERROR;
}

}  // namespace wrt::sdk

#endif  // WRT_PLUGIN_HPP
