#include "core/exec/runner_pool.h"

#include <utility>

#include "core/util/thread_name.h"

namespace wrt {

RunnerPool::RunnerPool(int size, std::function<void(int)> work, const char* name, int max_running)
    : size_(size < 1 ? 1 : size),
      max_running_(max_running < 1 || max_running > size_ ? size_ : max_running),
      work_(std::move(work)),
      name_(name) {}

RunnerPool::~RunnerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  // A job still running may start a thread (a submit, a wait): each is
  // taken out under the lock, so the vector may grow meanwhile.
  for (std::size_t joined = 0;; ++joined) {
    std::thread t;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (joined == threads_.size()) break;
      t = std::move(threads_[joined]);
    }
    t.join();
  }
}

bool RunnerPool::wake_one_locked() {
  if (queue_.empty() || running_ >= max_running_) return false;
  if (idle_ > handoffs_) {
    ++handoffs_;
    ++running_;
    return true;
  } else if (static_cast<int>(threads_.size()) < size_) {
    ++idle_;  // the new thread starts idle, with this turn to take
    ++handoffs_;
    ++running_;
    threads_.emplace_back([this] { loop(); });
  }
  // Else every thread is in a job (some waiting): one takes it when done.
  return false;
}

// Notified after the lock is released: a thread woken under it would at
// once block on it again.
void RunnerPool::submit(int job, int priority) {
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push(Job{priority, seq_++, job});
    notify = wake_one_locked();
  }
  if (notify) cv_.notify_one();
}

int RunnerPool::threads_started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(threads_.size());
}

void RunnerPool::blocking() {
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    notify = wake_one_locked();
  }
  if (notify) cv_.notify_one();
}

void RunnerPool::running() {
  std::lock_guard<std::mutex> lock(mu_);
  ++running_;  // may exceed max_running_ for a while: no new job starts until it is below
}

void RunnerPool::loop() {
  name_this_thread(name_);
  if (max_running_ < size_) BlockingRegion::set_thread_hooks(this);
  std::unique_lock<std::mutex> lock(mu_);
  // Counted idle by wake_one_locked(), which started this thread.
  for (;;) {
    // Idle, without a turn to run: wait to be handed one.
    cv_.wait(lock, [&] { return handoffs_ > 0 || (closing_ && queue_.empty()); });
    --idle_;
    if (handoffs_ == 0) break;  // closing, nothing left
    --handoffs_;                // this thread's turn (running_ counts it already)
    // Jobs, while there are any and no more threads run than may (one back
    // from a wait makes one too many); a job another thread took first
    // leaves this one nothing to do.
    while (!queue_.empty() && running_ <= max_running_) {
      Job j = queue_.top();
      queue_.pop();
      lock.unlock();
      work_(j.v);
      lock.lock();
    }
    --running_;
    ++idle_;
  }
  // The last thread out wakes the others, which may be waiting for a turn
  // that no longer comes.
  cv_.notify_all();
}

}  // namespace wrt
