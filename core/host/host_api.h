// The host side of sdk/wrt/plugin.h: the wrt_host function table and the
// per-stage context (`wrt_stage`) that collects what a plugin reports.
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <wrt/plugin.h>

#include "core/results/stage_results.h"


// The opaque handle of the C ABI, defined by the host. Lives for one
// fingerprint or run call.
struct wrt_stage {
  std::string name;
  std::string workspace;  // absolute
  const nlohmann::json* with = nullptr;  // the stage's `with` table; outlives the call
  std::string with_json;                 // its text, made on first request (under mu)
  int log_fd = -1;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* cancel = nullptr;
  bool in_fingerprint = false;
  std::string data_dir;  // absolute; created lazily by host data_dir()
  // Owned by the caller, outlive the call (pointers: a context is made for
  // every stage on every run, and copying would cost the no-op).
  const std::vector<std::string>* inputs = nullptr;   // run only: the files hashed for the key
  const std::vector<std::string>* outputs = nullptr;  // declared outputs
  const std::string* run_context = nullptr;           // run only, ABI 1.5 (null: not offered)
  // Called (from the plugin's thread) for log lines at WARNING and above.
  std::function<void(const std::string&)> console;

  std::mutex mu;  // plugins may report from helper threads
  std::vector<std::pair<std::string, std::string>> fingerprints;
  std::vector<std::string> state;  // declare_state, normalized, in call order
  bool never_cache = false;        // never_cache (ABI 1.4)
  wrt::StageResults results;
  bool timed_out = false;    // some spawn hit the deadline
  bool interrupted = false;  // some spawn was cancelled
  int processes_killed = 0;  // by timeouts and interruptions of its spawns
  // Host-owned strings returned to the plugin (stable addresses; a list, as
  // an empty deque allocates and a stage context is made twice per stage).
  std::list<std::string> buffers;
};

namespace wrt {
// The table handed to every plugin. Static lifetime.
const wrt_host* host_table();
}  // namespace wrt
