// Command line: parses argv, runs the command, returns the process exit code.
// Exit codes: 0 success, 1 a stage failed, 2 usage or configuration error,
// 3 the safety gate blocks (a stage at a `block` ASIL level failed),
// 130 interrupted (Ctrl-C / SIGTERM).
#pragma once

namespace wrt {

constexpr int kExitOk = 0;
constexpr int kExitStageFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitGateBlocked = 3;
constexpr int kExitInterrupted = 130;

int run_cli(int argc, char** argv);

}  // namespace wrt
