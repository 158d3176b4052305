// One `wrt run` per checkout. Two runs in one workspace race on the same
// output files, logs and state files (a run can hash an output the other is
// rewriting and cache it under the wrong key), so a run holds an exclusive
// flock on <workspace>/.wrt/lock for its whole length; the holder's pid is
// written into the file so a waiting run can name it. Read-only commands
// (list, graph, explain, status, log, dry runs) do not take it. Runs in other
// checkouts that share one cache directory are not affected: the cache store
// has its own shared lock. The lock goes with the process (flock), so a
// killed run never leaves it held.
#pragma once

#include <filesystem>
#include <functional>

#include "core/util/result.h"

namespace wrt {

class WorkspaceLock {
 public:
  WorkspaceLock() = default;
  ~WorkspaceLock();
  WorkspaceLock(WorkspaceLock&& o) noexcept;
  WorkspaceLock& operator=(WorkspaceLock&& o) noexcept;
  WorkspaceLock(const WorkspaceLock&) = delete;
  WorkspaceLock& operator=(const WorkspaceLock&) = delete;

  // Takes the lock on `wrt_dir`/lock, creating the directory. When another
  // process holds it: with `wait`, calls `on_wait(holder_pid)` once (0 when
  // unknown) and blocks until it is free; without, fails with a message
  // naming the holder. Errors name the lock file.
  static Result<WorkspaceLock> acquire(const std::filesystem::path& wrt_dir, bool wait,
                                       const std::function<void(long holder_pid)>& on_wait);

  bool held() const { return fd_ >= 0; }

 private:
  explicit WorkspaceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace wrt
