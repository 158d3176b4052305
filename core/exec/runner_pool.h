// The threads that run stages' blocking work (a plugin's run(), waiting on
// its processes), for the scheduler in executor.cc: the job limit is this
// pool's size, independent of the CPU count and of TBB's threads, which only
// do the cheap part of each stage.
//
// Threads start on first use (a run whose stages are all cached starts none),
// at most `size` of them. Among queued jobs the highest priority goes first,
// and jobs of equal priority in the order they were submitted. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace wrt {

class RunnerPool {
 public:
  // `work(job)` runs on a pool thread for each submitted job; the threads
  // are named `name` (thread_name.h).
  RunnerPool(int size, std::function<void(int)> work, const char* name = "wrt-runner");
  // Waits for queued and running jobs, then joins the threads.
  ~RunnerPool();
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
  const int size_;
  std::function<void(int)> work_;
  const char* name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Job> queue_;
  std::vector<std::thread> threads_;
  std::uint64_t seq_ = 0;
  int idle_ = 0;
  bool closing_ = false;
};

}  // namespace wrt
