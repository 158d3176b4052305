// Exercises the ABI 1.2 host functions through plugin.hpp: check_keys,
// inputs/outputs, tool_version (cached by the host), log_global from init,
// data_dir and artifacts. `with.tool` names a program whose version enters
// the key.
#include <wrt/plugin.hpp>

#include <string>

namespace {

const wrt_host* g_host = nullptr;

int init(const wrt_host* host) {
  g_host = host;
  wrt::sdk::log_global(host, WRT_LOG_INFO, "sdk12 loaded");
  return 1;
}

wrt_status fingerprint(const wrt::sdk::Stage& s) {
  s.check_keys({"tool", "mode"});
  if (auto tool = s.string("tool")) {
    auto v = s.tool_version({*tool, "--version"});
    if (!v) throw wrt::sdk::ConfigError("with.tool: " + *tool + " cannot tell its version");
    s.fingerprint("tool", *v);
  }
  return WRT_STATUS_PASSED;
}

wrt_status run(const wrt::sdk::Stage& s) {
  s.metric("inputs", static_cast<double>(s.inputs().size()));
  s.metric("outputs", static_cast<double>(s.outputs().size()));
  std::string all;
  for (const auto& f : s.inputs()) all += f + ";";
  s.message(all);
  s.artifact("report.txt", "report");
  s.metric("has_data_dir", s.data_dir().empty() ? 0 : 1);
  for (const auto& o : s.outputs()) s.spawn({"sh", "-c", "mkdir -p \"$(dirname '" + o + "')\" && echo made > '" + o + "'"});
  return WRT_STATUS_PASSED;
}

const wrt_plugin kSdk12 = wrt::sdk::make_plugin<run, fingerprint>("sdk12", "1.0.0", "ABI 1.2 test plugin");

}  // namespace

WRT_SDK_PLUGIN_ENTRY_WITH_INIT(init, nullptr, &kSdk12)
