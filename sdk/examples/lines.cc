// A complete wrt plugin: counts the lines of the stage's input files and
// reports a finding for every file longer than `with.max_lines`.
//   [stages.size]
//   plugin = "lines"
//   inputs = ["src/**/*.c"]
//   with = { max_lines = 500 }
#include <wrt/plugin.hpp>

#include <fstream>
#include <string>

namespace {

wrt_status fingerprint(const wrt::sdk::Stage& s) {
  s.check_keys({"max_lines"});  // unknown keys: a configuration error, with a "did you mean"
  if (s.integer("max_lines").value_or(1) < 1) throw wrt::sdk::ConfigError("with.max_lines must be at least 1");
  return WRT_STATUS_PASSED;
}

wrt_status run(const wrt::sdk::Stage& s) {
  const auto max_lines = s.integer("max_lines").value_or(1000);
  long total = 0, too_long = 0;
  for (const std::string& file : s.inputs()) {  // exactly the files wrt hashed for the key
    std::ifstream in(s.workspace() + "/" + file);
    long n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    total += n;
    if (n > max_lines) {
      ++too_long;
      s.finding(WRT_SEVERITY_ERROR, "lines/max", file, static_cast<unsigned>(max_lines + 1), 1,
                std::to_string(n) + " lines, more than " + std::to_string(max_lines));
    }
  }
  s.metric("lines.total", static_cast<double>(total));
  s.metric("lines.files", static_cast<double>(s.inputs().size()));
  if (too_long > 0) s.message(std::to_string(too_long) + " file(s) too long");
  return too_long > 0 ? WRT_STATUS_FAILED : WRT_STATUS_PASSED;
}

const wrt_plugin kLines = wrt::sdk::make_plugin<run, fingerprint>("lines", "1.0.0", "Line counts of the inputs");

}  // namespace

WRT_SDK_PLUGIN_ENTRY(&kLines)
