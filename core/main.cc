// The wrt executable. Exceptions stop here: anything that escapes the core is
// a bug, reported in one line with exit code 2 rather than a crash.
#include <cstdio>
#include <exception>

#include "core/cli.h"
#include "core/subprocess.h"

int main(int argc, char** argv) {
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
