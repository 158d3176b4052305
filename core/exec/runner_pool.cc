#include "core/exec/runner_pool.h"

#include <utility>

#include "core/util/thread_name.h"

namespace wrt {

RunnerPool::RunnerPool(int size, std::function<void(int)> work, const char* name)
    : size_(size < 1 ? 1 : size), work_(std::move(work)), name_(name) {}

RunnerPool::~RunnerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void RunnerPool::submit(int job, int priority) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push(Job{priority, seq_++, job});
    if (idle_ == 0 && static_cast<int>(threads_.size()) < size_) threads_.emplace_back([this] { loop(); });
  }
  cv_.notify_one();
}

int RunnerPool::threads_started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(threads_.size());
}

void RunnerPool::loop() {
  name_this_thread(name_);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // closing, nothing left
    Job j = queue_.top();
    queue_.pop();
    lock.unlock();
    work_(j.v);
    lock.lock();
  }
}

}  // namespace wrt
