// Fault isolation for plugins: a plugin's `fingerprint` and `run` execute in
// a worker process, so a crash, abort(), exit() or hang in plugin code ends
// that worker, never wrt. In the spirit of Bazel's persistent workers:
//
//   - A worker is the wrt executable started as "wrt-worker". It speaks over
//     a socket pair: wrt sends one request (JSON, length-prefixed), the
//     worker loads the plugin's library (once; it stays loaded), runs the
//     call with its own host table (config lookups, log, spawn under the
//     stage deadline, results), streams console lines back, and answers
//     with the status, results and fingerprints.
//   - Workers are kept between calls (one per concurrent caller, at most),
//     and replaced after any fault.
//   - A fault is a result, not an error of the run: the caller reports it as
//     the stage's failure ("plugin 'x' crashed: SIGSEGV in run()").
//   - A hang is bounded: past the stage deadline (plus a grace period) or
//     after an interruption, wrt kills the worker and everything it started
//     (its WRT_PROCESS_TAG tree, see process_tree.h).
//
// Every worker runs under a tag of its own, so the processes a killed
// worker's plugin spawned die with it.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/host/host_api.h"

namespace wrt {

// argv[0] of a worker process.
inline constexpr const char* kWorkerArgv0 = "wrt-worker";

struct WorkerCall {
  bool fingerprint = false;  // else run
  std::filesystem::path library;
  std::string plugin;
  std::string stage;
  std::string workspace;
  const nlohmann::json* with = nullptr;
  std::string data_dir;
  const std::vector<std::string>* inputs = nullptr;   // run: the files hashed for the key
  const std::vector<std::string>* outputs = nullptr;  // declared outputs
  const std::string* run_context = nullptr;           // run: run_context() (ABI 1.5); null: not offered
  std::string log_path;  // run: appended to; may be empty
  // Run: when the plugin's spawns are stopped; the worker itself is killed
  // `kill_grace` later if the plugin has still not returned.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)> console;  // log lines at WARNING and above
};

struct WorkerReply {
  wrt_status status = WRT_STATUS_ERROR;
  StageResults results;
  std::vector<std::pair<std::string, std::string>> fingerprints;
  std::vector<std::string> state;  // declare_state (fingerprint only)
  bool never_cache = false;        // never_cache (fingerprint only)
  bool timed_out = false;
  bool interrupted = false;
  int processes_killed = 0;
  // Non-empty when the worker failed instead of answering: "plugin 'x'
  // crashed: SIGSEGV in run()". The stage then fails with this message.
  std::string fault;
};

class WorkerPool {
 public:
  // `executable`: the wrt binary (re-executed as "wrt-worker").
  explicit WorkerPool(std::filesystem::path executable, std::chrono::milliseconds kill_grace = std::chrono::seconds(2));
  ~WorkerPool();  // ends every idle worker
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs one call in a worker (an idle one, or a new one). Blocks until the
  // reply, a fault, the deadline + grace, or cancellation + grace.
  // Thread-safe.
  WorkerReply call(const WorkerCall& c);

  // Workers started so far (for tests and WRT_PHASE_TIMES).
  int started() const { return started_.load(); }

 private:
  struct Worker;
  std::unique_ptr<Worker> take();
  void give_back(std::unique_ptr<Worker> w);
  std::filesystem::path exe_;
  std::chrono::milliseconds kill_grace_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> idle_;
  std::atomic<int> started_{0};
};

// main() of a worker process: serves requests on `fd` until it closes.
int run_plugin_worker(int fd);

}  // namespace wrt
