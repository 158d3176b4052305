// A test plugin that exercises every host service, so tests can assert on
// what crossed the ABI. Behaviour is chosen by `with.mode`:
//   report  - reports metrics, a finding, test cases, an artifact; passes
//   fail    - fails with a message
//   flaky   - fails until the file `with.counter` holds `with.pass_on` attempts
//   throw   - throws a C++ exception (the SDK helper must contain it)
//   sleep   - spawns `sleep with.seconds` (timeout / interrupt tests)
//   config  - echoes typed config lookups as metrics
// Faults (a plugin wrt does not control; each must cost only its stage):
//   segv, abort, exit0, exit3 - crash or end the process in run()
//   hang    - never returns (no spawn: only killing its process ends it)
//   daemon  - spawns a command that double-forks a daemon, then passes
//   biglog  - writes `with.mb` MB to the stage log through the host
// `with.fingerprint_fault = "segv"` crashes in fingerprint() instead.
// `with.state = "dir"` declares a state directory (declare_state, ABI 1.3);
// `with.write = "path"` makes run() write that file first;
// `with.context = "path"` writes what run_context() returned (ABI 1.5), or
// "null", there.
#include <wrt/plugin.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <string>

namespace {

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    if (auto fp = s.string("fingerprint")) s.fingerprint("probe-tool", *fp);
    if (s.string("fingerprint_fault").value_or("") == "segv") std::raise(SIGSEGV);
    if (auto dir = s.string("state"); dir && !s.declare_state(*dir)) return WRT_STATUS_ERROR;
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    std::string mode = s.string("mode").value_or("report");
    if (auto file = s.string("write")) {
      std::filesystem::path p = std::filesystem::path(s.workspace()) / *file;
      std::filesystem::create_directories(p.parent_path());
      std::ofstream(p) << "written by probe\n";
    }
    if (auto file = s.string("context")) {
      const std::string context = s.run_context();
      std::ofstream(std::filesystem::path(s.workspace()) / *file) << (context.empty() ? "null" : context);
    }
    if (mode == "report") {
      s.metric("answer", 42);
      s.metric("coverage.line", 87.5);
      s.finding(WRT_SEVERITY_WARNING, "probe-rule", "src/a.c", 3, 7, "something odd");
      s.test_case("suite1", "passes", WRT_TEST_PASSED, 0.25, "");
      s.test_case("suite1", "fails", WRT_TEST_FAILED, 0.5, "expected 1, got 2");
      s.host()->report_artifact(s.handle(), "out/report.txt", "report");
      s.log(WRT_LOG_INFO, "probe reported");
      return WRT_STATUS_PASSED;
    }
    if (mode == "metrics") {  // the figures a coverage / verifier / test stage reports, from `with`
      if (auto v = s.number("coverage")) s.metric("coverage.line", *v);
      if (auto v = s.integer("proved")) s.metric("verification.passed", static_cast<double>(*v));
      if (auto v = s.integer("refuted")) s.metric("verification.failed", static_cast<double>(*v));
      if (auto v = s.integer("tests_passed")) s.metric("tests.passed", static_cast<double>(*v));
      if (auto v = s.integer("tests_failed")) s.metric("tests.failed", static_cast<double>(*v));
      return s.boolean("fail").value_or(false) ? WRT_STATUS_FAILED : WRT_STATUS_PASSED;
    }
    if (mode == "fail") {
      s.message("probe failed on purpose");
      return WRT_STATUS_FAILED;
    }
    if (mode == "flaky") {
      std::string counter = s.workspace() + "/" + s.string("counter").value_or("counter.txt");
      int n = 0;
      {
        std::ifstream in(counter);
        in >> n;
      }
      ++n;
      std::ofstream(counter) << n;
      return n >= s.integer("pass_on").value_or(2) ? WRT_STATUS_PASSED : WRT_STATUS_RETRY;
    }
    if (mode == "throw") throw std::runtime_error("probe threw on purpose");
    if (mode == "segv") std::raise(SIGSEGV);
    if (mode == "abort") std::abort();
    if (mode == "exit0") std::exit(0);
    if (mode == "exit3") std::_Exit(3);
    if (mode == "hang") {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (mode == "daemon") {
      auto r = s.spawn({"sh", "-c", "(setsid sh -c 'echo $$ > " + s.string("pidfile").value_or("daemon.pid") +
                                        "; exec sleep 300' &) ; true"});
      return r.exit_code == 0 ? WRT_STATUS_PASSED : WRT_STATUS_FAILED;
    }
    if (mode == "biglog") {
      std::string line(1023, 'x');
      std::int64_t lines = s.integer("mb").value_or(200) * 1024;
      for (std::int64_t i = 0; i < lines; ++i) s.log(WRT_LOG_INFO, line);
      return WRT_STATUS_PASSED;
    }
    if (mode == "sleep") {
      auto r = s.spawn({"sh", "-c", "sleep " + std::to_string(s.integer("seconds").value_or(30))});
      return r.exit_code == 0 ? WRT_STATUS_PASSED : WRT_STATUS_FAILED;
    }
    if (mode == "config") {
      s.metric("int", static_cast<double>(s.integer("n").value_or(-1)));
      s.metric("double", s.number("x").value_or(-1));
      s.metric("bool", s.boolean("b").value_or(false) ? 1 : 0);
      s.metric("list_size", static_cast<double>(s.strings("list").value_or(std::vector<std::string>{}).size()));
      s.metric("nested", static_cast<double>(s.integer("t.inner[1]").value_or(-1)));
      return WRT_STATUS_PASSED;
    }
    s.message("unknown mode " + mode);
    return WRT_STATUS_ERROR;
  });
}

const wrt_plugin kProbe = {sizeof(wrt_plugin), "probe", "1.0.0", "Test plugin exercising the host API",
                           fingerprint, run, nullptr};
const wrt_plugin* const kPlugins[] = {&kProbe};
const wrt_entry kEntry = {sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1,
                          kPlugins};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
