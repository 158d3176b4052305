#include "core/exec/process_tree.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <string_view>
#include <thread>
#include <unordered_set>

#include <fmt/core.h>

namespace wrt {

namespace {

// --- /proc scanning with raw system calls and stack buffers only: the
// watchdog runs it in a forked child of a multi-threaded process, where
// malloc and locks are off limits.

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

template <typename F>
void for_each_pid(F&& f) {
  int dfd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  alignas(8) char buf[8192];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
      off += d->d_reclen;
      pid_t pid = 0;
      const char* p = d->d_name;
      if (*p < '1' || *p > '9') continue;
      for (; *p >= '0' && *p <= '9'; ++p) pid = pid * 10 + (*p - '0');
      if (*p == '\0') f(pid);
    }
  }
  ::close(dfd);
}

// Does process `pid` carry a tag equal to `tag` or below it (with
// `any_suffix`: any tag starting with `tag`)? Reads /proc/PID/environ (empty
// for zombies and kernel threads).
bool has_tag(pid_t pid, const char* tag, std::size_t tag_len, bool any_suffix = false) {
  char path[40];
  {
    // "/proc/<pid>/environ" without snprintf (not async-signal-safe).
    char digits[16];
    int nd = 0;
    for (pid_t v = pid; v > 0 && nd < 15; v /= 10) digits[nd++] = static_cast<char>('0' + v % 10);
    std::size_t i = 0;
    for (const char* s = "/proc/"; *s; ++s) path[i++] = *s;
    while (nd > 0) path[i++] = digits[--nd];
    for (const char* s = "/environ"; *s; ++s) path[i++] = *s;
    path[i] = '\0';
  }
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  static constexpr char kPrefix[] = "WRT_PROCESS_TAG=";
  constexpr std::size_t kPrefixLen = sizeof kPrefix - 1;
  // The first bytes of the current entry; enough to hold prefix + tag + '/'.
  char entry[512];
  std::size_t len = 0;
  bool overflow = false;
  bool found = false;
  char buf[4096];
  auto check = [&] {
    if (overflow || len < kPrefixLen + tag_len) return false;
    if (std::memcmp(entry, kPrefix, kPrefixLen) != 0) return false;
    if (std::memcmp(entry + kPrefixLen, tag, tag_len) != 0) return false;
    return any_suffix || len == kPrefixLen + tag_len || entry[kPrefixLen + tag_len] == '/';
  };
  while (!found) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && !found; ++i) {
      if (buf[i] == '\0') {
        found = check();
        len = 0;
        overflow = false;
      } else if (len < sizeof entry) {
        entry[len++] = buf[i];
      } else {
        overflow = true;
      }
    }
  }
  if (!found && len > 0) found = check();
  ::close(fd);
  return found;
}

void sleep_ms(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1'000'000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// --- the watchdog ---------------------------------------------------------

std::atomic<bool> g_exec_self{false};

[[noreturn]] void watchdog_main(int read_fd, const char* base, std::size_t base_len) {
  ::setsid();  // no terminal signals: Ctrl-C is wrt's to handle
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  ::prctl(PR_SET_NAME, "wrt-watchdog", 0, 0, 0);
  if (read_fd != 0) {
    ::dup2(read_fd, 0);
    ::close(read_fd);
  }
  // Hold nothing of wrt's: not its locks, not the write end of the pipe.
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 1u, ~0u, 0u) != 0)
#endif
    for (int fd = 1; fd < 4096; ++fd) ::close(fd);
  char c;
  for (;;) {
    ssize_t n = ::read(0, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 0 && n != -1) continue;
    break;
  }
  // wrt is gone. Kill everything carrying its tags; re-scan while something
  // was found (a dying parent's children re-appear under init), 3 s at most.
  // The base's children are tagged "<base>/<n>": match "<base>/" as prefix.
  char prefix[512];
  if (base_len + 1 >= sizeof prefix) ::_exit(1);
  std::memcpy(prefix, base, base_len);
  prefix[base_len] = '/';
  prefix[base_len + 1] = '\0';
  const pid_t self = ::getpid();
  for (int round = 0; round < 150; ++round) {
    bool any = false;
    for_each_pid([&](pid_t pid) {
      if (pid == self || pid == 1) return;
      if (has_tag(pid, prefix, base_len + 1, /*any_suffix=*/true)) {
        ::kill(pid, SIGKILL);
        any = true;
      }
    });
    if (!any) break;
    sleep_ms(20);
  }
  ::_exit(0);
}

// --- registry of children someone waits for ----------------------------------

std::mutex g_children_mu;
// Held shared from a spawn until its child is registered, exclusive while
// orphans are reaped: an orphan check must never reap a child that is not
// registered yet (its Runner would lose its exit status). Spawns run in
// parallel; the exclusive side is taken only when an unknown child exists.
std::shared_mutex g_spawn_gate;
std::unordered_set<pid_t>& children() {
  static auto* s = new std::unordered_set<pid_t>();  // never destroyed: used at exit by threads
  return *s;
}

// The children of this process that were re-parented to it (it is a child
// subreaper), with those someone waits for. Orphans go to the thread-group
// leader: the kernel (find_new_reaper) hands them to the first live thread
// of the subreaper, which is the main thread while wrt runs, so its
// /proc/self/task/<pid>/children is the only file to read -- one open and a
// read per finished stage instead of a walk of every thread's list.
// Children a runner thread spawned itself are listed under that thread and
// are registered anyway.
std::vector<pid_t> own_children() {
  std::vector<pid_t> out;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/children", static_cast<int>(::getpid()));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  std::string text;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  pid_t v = 0;
  bool in = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      v = v * 10 + (c - '0');
      in = true;
    } else if (in) {
      out.push_back(v);
      v = 0;
      in = false;
    }
  }
  if (in) out.push_back(v);
  return out;
}

}  // namespace

const std::string& process_tag_base() {
  static const std::string base = [] {
    const char* inherited = std::getenv(kProcessTagVar);
    if (inherited && *inherited && std::strlen(inherited) < 200) return std::string(inherited);
    std::random_device rd;
    return fmt::format("wrt-{}-{:08x}", ::getpid(), rd());
  }();
  return base;
}

std::string new_process_tag() {
  static std::atomic<std::uint64_t> counter{0};
  return fmt::format("{}/{}", process_tag_base(), counter.fetch_add(1) + 1);
}

void register_child(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_children_mu);
  children().insert(pid);
}

void unregister_child(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_children_mu);
  children().erase(pid);
}

pid_t spawn_registered(const std::function<pid_t()>& spawn) {
  std::shared_lock<std::shared_mutex> gate(g_spawn_gate);
  pid_t pid = spawn();
  if (pid > 0) {
    std::lock_guard<std::mutex> lock(g_children_mu);
    children().insert(pid);
  }
  return pid;
}

namespace {
std::vector<pid_t> unknown_children() {
  std::vector<pid_t> out;
  std::vector<pid_t> all = own_children();
  std::lock_guard<std::mutex> lock(g_children_mu);
  for (pid_t pid : all)
    if (!children().count(pid)) out.push_back(pid);
  return out;
}
}  // namespace

bool maybe_leftovers(pid_t pgid) {
  if (!(::kill(-pgid, 0) == -1 && errno == ESRCH)) return true;
  // The common case: no child but those someone waits for.
  if (unknown_children().empty()) return false;
  std::unique_lock<std::shared_mutex> gate(g_spawn_gate);
  bool found = false;
  for (pid_t pid : unknown_children()) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) continue;  // an orphan that had already exited: reaped now
    found = true;
  }
  return found;
}

int count_tagged(const std::string& tag) {
  int n = 0;
  const pid_t self = ::getpid();
  for_each_pid([&](pid_t pid) {
    if (pid != self && has_tag(pid, tag.data(), tag.size())) ++n;
  });
  return n;
}

int kill_tagged(const std::string& tag, std::chrono::milliseconds patience) {
  std::set<pid_t> killed;
  const pid_t self = ::getpid();
  const auto until = std::chrono::steady_clock::now() + patience;
  for (;;) {
    std::vector<pid_t> found;
    for_each_pid([&](pid_t pid) {
      if (pid != self && pid != 1 && has_tag(pid, tag.data(), tag.size())) found.push_back(pid);
    });
    for (pid_t pid : found) {
      ::kill(pid, SIGKILL);
      killed.insert(pid);
    }
    // Reap the ones that are our children (re-parented orphans); others are
    // reaped by their parents, which die with them, or re-parent to us.
    {
      std::lock_guard<std::mutex> lock(g_children_mu);
      for (pid_t pid : own_children()) {
        if (children().count(pid) || !killed.count(pid)) continue;
        ::waitpid(pid, nullptr, 0);
      }
    }
    if (found.empty() || std::chrono::steady_clock::now() >= until) break;
    sleep_ms(5);
  }
  return static_cast<int>(killed.size());
}

void watchdog_may_exec_self() { g_exec_self.store(true); }

void run_watchdog(const char* base) { watchdog_main(0, base, std::strlen(base)); }

void ensure_watchdog() {
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string& base = process_tag_base();
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    // Copied before fork: the child must not touch the heap.
    char base_copy[256];
    std::size_t base_len = std::min(base.size(), sizeof base_copy - 1);
    std::memcpy(base_copy, base.data(), base_len);
    base_copy[base_len] = '\0';
    char argv0[] = "wrt-watchdog";
    char* exec_argv[] = {argv0, base_copy, nullptr};
    char** envp = environ;
    const bool exec_self = g_exec_self.load();
    std::lock_guard<std::mutex> lock(g_children_mu);
    pid_t pid = ::fork();
    if (pid == 0) {
      if (exec_self) {
        ::dup2(fds[0], 0);  // the pipe becomes stdin (not close-on-exec)
        ::execve("/proc/self/exe", exec_argv, envp);
      }
      watchdog_main(fds[0], base_copy, base_len);
    }
    ::close(fds[0]);
    if (pid < 0) {
      ::close(fds[1]);
      return;
    }
    children().insert(pid);
    // fds[1] stays open for the life of this process: its closing (exit,
    // crash, SIGKILL) is the watchdog's signal. CLOEXEC keeps it out of
    // every child.
  });
}

}  // namespace wrt
