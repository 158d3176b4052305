// A plugin that runs a process: spawns `with.argv` (with `with.cwd` and
// `with.env`) through the host and turns the TAP lines of its output
// ("ok 1 name", "not ok 2 name") into test cases. Fails when a test fails
// or the command exits non-zero; an error when the command cannot start.
// Used by tests/sdk_testing_test.cc through the SDK's test harness.
#include <wrt/plugin.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace {

wrt_status fingerprint(const wrt::sdk::Stage& s) {
  s.check_keys({"argv", "cwd", "env"});
  if (s.strings("argv").value_or(std::vector<std::string>{}).empty())
    throw wrt::sdk::ConfigError("with.argv must name a command");
  return WRT_STATUS_PASSED;
}

wrt_status run(const wrt::sdk::Stage& s) {
  const auto argv = *s.strings("argv");
  auto r = s.spawn(argv, s.string("cwd").value_or(""), s.strings("env").value_or(std::vector<std::string>{}),
                   /*capture=*/true);
  if (!r.started) {
    s.message("cannot start " + argv[0] + ": " + r.error);
    return WRT_STATUS_ERROR;
  }
  long passed = 0, failed = 0;
  std::istringstream out(r.output);
  for (std::string line; std::getline(out, line);) {
    const bool ok = line.rfind("ok ", 0) == 0;
    if (!ok && line.rfind("not ok ", 0) != 0) continue;
    std::string name = line.substr(line.find(' ', ok ? 3 : 7) + 1);  // after the number
    s.test_case("tap", name, ok ? WRT_TEST_PASSED : WRT_TEST_FAILED, -1, ok ? "" : line);
    ++(ok ? passed : failed);
  }
  s.metric("exit_code", r.exit_code);
  s.metric("tests.passed", static_cast<double>(passed));
  s.metric("tests.failed", static_cast<double>(failed));
  if (r.timed_out) {
    s.message("timed out");
    return WRT_STATUS_FAILED;
  }
  s.message(std::to_string(passed + failed) + " tests, " + std::to_string(failed) + " failed, exit " +
            std::to_string(r.exit_code));
  return failed > 0 || r.exit_code != 0 ? WRT_STATUS_FAILED : WRT_STATUS_PASSED;
}

const wrt_plugin kTap = wrt::sdk::make_plugin<run, fingerprint>("tap", "1.0.0", "Runs a command, reads TAP");

}  // namespace

WRT_SDK_PLUGIN_ENTRY(&kTap)
