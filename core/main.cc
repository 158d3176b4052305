// The wrt executable. Exceptions stop here: anything that escapes the core is
// a bug, reported in one line with exit code 2 rather than a crash.
#include <cstdio>
#include <exception>

#include <cstdlib>
#include <cstring>

#include "core/cli.h"
#include "core/host/plugin_worker.h"
#include "core/exec/process_tree.h"
#include "core/exec/subprocess.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[0], wrt::kWatchdogArgv0) == 0) wrt::run_watchdog(argv[1]);
  if (argc == 2 && std::strcmp(argv[0], wrt::kWorkerArgv0) == 0) return wrt::run_plugin_worker(std::atoi(argv[1]));
  wrt::watchdog_may_exec_self();
  wrt::init_process_control();
  try {
    return wrt::run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wrt: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "wrt: internal error\n");
  }
  return wrt::kExitUsage;
}
