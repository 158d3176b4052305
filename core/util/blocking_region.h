// A thread about to wait for something other than the CPU (the network)
// says so with a BlockingRegion around the wait. A thread pool that limits
// how many of its threads run at once (RunnerPool's `max_running`) installs
// hooks on its threads, so that while one waits another may run: the pool
// is sized for waiting, the CPU is not oversubscribed. On a thread without
// hooks a BlockingRegion does nothing.
//
// Why: remote cache hits are checked and restored on a pool of 16 threads
// (some wait for their blobs), on a 2-CPU machine. With all 16 runnable,
// every answer woke a sleeping thread -- a thread hand-off per hit, which
// cost a fifth of a remote restore's time (2026-12-02, bench/README.md).
#pragma once

namespace wrt {

class BlockingHooks {
 public:
  virtual ~BlockingHooks() = default;
  virtual void blocking() = 0;  // the thread is about to wait
  virtual void running() = 0;   // the wait is over
};

class BlockingRegion {
 public:
  BlockingRegion();
  ~BlockingRegion();
  BlockingRegion(const BlockingRegion&) = delete;
  BlockingRegion& operator=(const BlockingRegion&) = delete;
  // The calling thread's hooks (null: none); the pool's threads set them.
  static void set_thread_hooks(BlockingHooks* hooks);

 private:
  BlockingHooks* hooks_;
};

}  // namespace wrt
