#include "core/exec/interrupt.h"

#include <csignal>

namespace wrt {

namespace {
std::atomic<bool> g_flag{false};
std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  g_flag.store(true);
}
}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  // A closed stdout (e.g. `wrt run | head`) must not kill wrt mid-write of
  // its cache; writes then fail with EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
}

std::atomic<bool>& interrupt_flag() { return g_flag; }
int interrupt_signal() { return g_signal.load(); }

}  // namespace wrt
