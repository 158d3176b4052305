// The `command` plugin: runs a shell command (`run = "..."`, through
// /bin/sh -c) or an argv vector (`argv = [...]`), in `cwd`, with extra `env`.
// Exit status 0 passes; anything else fails the stage.
#include <wrt/plugin.hpp>

#include <string>
#include <vector>

namespace {

struct Invocation {
  std::vector<std::string> argv;
  std::string cwd;
  std::vector<std::string> env;
};

Invocation parse(const wrt::sdk::Stage& s) {
  auto run = s.string("run");
  auto argv = s.strings("argv");
  if (run && argv) throw std::runtime_error("set either with.run or with.argv, not both");
  if (!run && !argv) throw std::runtime_error("command plugin needs with.run = \"...\" or with.argv = [...]");
  Invocation inv;
  if (run) {
    std::string shell = s.string("shell").value_or("/bin/sh");
    inv.argv = {shell, "-c", *run};
  } else {
    if (argv->empty()) throw std::runtime_error("with.argv must not be empty");
    inv.argv = *argv;
  }
  inv.cwd = s.string("cwd").value_or("");
  for (std::int64_t i = 0;; ++i) {
    const char* name = s.host()->config_key_at(s.handle(), "env", i);
    if (!name) break;
    auto value = s.string(std::string("env.") + name);
    if (!value) throw std::runtime_error(std::string("with.env.") + name + " must be a string");
    inv.env.push_back(std::string(name) + "=" + *value);
  }
  return inv;
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse(s);  // reject bad config before anything runs
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Invocation inv = parse(s);
    auto r = s.spawn(inv.argv, inv.cwd, inv.env);
    if (!r.started) {
      s.message(r.error);
      return WRT_STATUS_ERROR;
    }
    if (r.timed_out || r.interrupted) return WRT_STATUS_FAILED;
    if (r.term_signal) {
      s.message("killed by signal " + std::to_string(r.term_signal));
      return WRT_STATUS_FAILED;
    }
    if (r.exit_code != 0) {
      s.message("exit code " + std::to_string(r.exit_code));
      return WRT_STATUS_FAILED;
    }
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kCommand = {
    sizeof(wrt_plugin), "command", "1.0.0", "Runs a shell command or an argv vector", fingerprint, run, nullptr,
};
const wrt_plugin* const kPlugins[] = {&kCommand};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
