// Runs child processes for stages under wrt's control: each child leads a
// process group of its own, so a timeout or Ctrl-C can stop everything it
// started (TERM to the group, then KILL after a grace period), and every
// process of the group is reaped, leaving no zombie behind.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace wrt {

struct SpawnOptions {
  std::vector<std::string> argv;          // argv[0] searched in PATH
  std::filesystem::path cwd;              // empty = current directory
  std::vector<std::string> extra_env;     // "NAME=VALUE", override the inherited environment
  std::filesystem::path stdin_path;       // the child's standard input; empty = /dev/null
  int log_fd = -1;                        // stdout+stderr are appended here (if >= 0)
  bool capture = false;                   // also keep stdout+stderr in SpawnResult::output
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* cancel = nullptr;  // set => stop the group, result.interrupted
  std::chrono::milliseconds kill_grace{2000}; // TERM -> KILL delay
};

struct SpawnResult {
  bool started = false;
  int exit_code = -1;     // valid when the child exited normally
  int term_signal = 0;    // signal that ended it
  bool timed_out = false;
  bool interrupted = false;
  // Processes killed: on a timeout or interruption, every process of the
  // child's tree alive when the kill began; otherwise those the child left
  // running when it exited (background jobs, daemons).
  int processes_killed = 0;
  std::string output;     // with capture
  std::string error;      // why it could not start (e.g. "sh: No such file or directory")
};

// Blocks until the child has exited and nothing it started is left: members
// of its process group and processes that left the group (setsid, double
// fork) are killed when the child exits, times out or is interrupted (see
// process_tree.h). Thread-safe: many may run at once from different threads.
SpawnResult run_process(const SpawnOptions& options);

// Call once at start-up, before any thread: makes wrt the reaper of orphaned
// grandchildren (PR_SET_CHILD_SUBREAPER) so none outlive it as zombies.
void init_process_control();

}  // namespace wrt
