// The threads that run stages' blocking work (a plugin's run(), waiting on
// its processes), for the scheduler in executor.cc: the job limit is this
// pool's size, independent of the CPU count and of TBB's threads, which only
// do the cheap part of each stage.
//
// Threads start on first use (a run whose stages are all cached starts none),
// at most `size` of them. Among queued jobs the highest priority goes first,
// and jobs of equal priority in the order they were submitted. Thread-safe.
//
// `max_running` (below `size`) limits how many threads run at once, not
// counting those waiting in a BlockingRegion (blocking_region.h): a pool
// whose jobs mostly compute but sometimes wait for the network (remote
// cache hits) then has `size` threads for the waits and no more than
// `max_running` on the CPU. A thread that ends a job takes the next one
// itself, without waking another: on a busy pool no job costs a thread
// hand-off.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "core/util/blocking_region.h"

namespace wrt {

class RunnerPool : private BlockingHooks {
 public:
  // `work(job)` runs on a pool thread for each submitted job; the threads
  // are named `name` (thread_name.h). `max_running` 0: `size`.
  RunnerPool(int size, std::function<void(int)> work, const char* name = "wrt-runner", int max_running = 0);
  // Waits for queued and running jobs, then joins the threads.
  ~RunnerPool() override;
  RunnerPool(const RunnerPool&) = delete;
  RunnerPool& operator=(const RunnerPool&) = delete;

  void submit(int job, int priority);
  // Threads started so far (for tests).
  int threads_started() const;

 private:
  struct Job {
    int priority;
    std::uint64_t seq;
    int v;
    bool operator<(const Job& o) const { return priority != o.priority ? priority < o.priority : seq > o.seq; }
  };
  void loop();
  // Under mu_: when a thread may run, one more runs to take a queued job
  // (one is started, or true: the caller notifies cv_ once it has let go
  // of mu_).
  bool wake_one_locked();
  void blocking() override;
  void running() override;

  const int size_;
  const int max_running_;
  std::function<void(int)> work_;
  const char* name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Job> queue_;
  std::vector<std::thread> threads_;
  std::uint64_t seq_ = 0;
  int idle_ = 0;      // threads waiting for a job
  int running_ = 0;   // threads in a job, not in a BlockingRegion, plus handoffs_
  int handoffs_ = 0;  // idle threads woken (or started) to run: the first to wake takes one
  bool closing_ = false;
};

}  // namespace wrt
