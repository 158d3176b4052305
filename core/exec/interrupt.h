// Ctrl-C / SIGTERM: the handler only sets a flag; the executor polls it,
// stops starting stages, and every running child group is killed by its
// spawn loop (see subprocess.h). wrt then writes its report and exits 130.
#pragma once

#include <atomic>

namespace wrt {

void install_interrupt_handlers();
std::atomic<bool>& interrupt_flag();
// The signal that set the flag (SIGINT or SIGTERM), 0 if none.
int interrupt_signal();

}  // namespace wrt
