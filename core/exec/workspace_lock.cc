#include "core/exec/workspace_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace wrt {

namespace {

long read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  return std::strtol(buf, nullptr, 10);
}

}  // namespace

WorkspaceLock::~WorkspaceLock() {
  if (fd_ >= 0) ::close(fd_);
}

WorkspaceLock::WorkspaceLock(WorkspaceLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

WorkspaceLock& WorkspaceLock::operator=(WorkspaceLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

Result<WorkspaceLock> WorkspaceLock::acquire(const std::filesystem::path& wrt_dir, bool wait,
                                             const std::function<void(long)>& on_wait) {
  std::error_code ec;
  std::filesystem::create_directories(wrt_dir, ec);
  const std::filesystem::path file = wrt_dir / "lock";
  if (ec) return Error{fmt::format("cannot create {}: {}", wrt_dir.string(), ec.message())};
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return Error{fmt::format("cannot open {}: {}", file.string(), std::strerror(errno))};
  WorkspaceLock lock(fd);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return Error{fmt::format("cannot lock {}: {}", file.string(), std::strerror(errno))};
    const long holder = read_pid(fd);
    if (!wait)
      return Error{holder > 0 ? fmt::format("another wrt run (pid {}) holds {}; not waiting (--no-wait)", holder,
                                            file.string())
                              : fmt::format("another wrt run holds {}; not waiting (--no-wait)", file.string())};
    if (on_wait) on_wait(holder);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) return Error{fmt::format("cannot lock {}: {}", file.string(), std::strerror(errno))};
    }
    break;
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return lock;
}

}  // namespace wrt
