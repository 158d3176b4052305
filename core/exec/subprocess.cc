#include "core/exec/subprocess.h"

#include "core/exec/process_tree.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

extern char** environ;

namespace wrt {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The cancel flag cannot be polled, so this bounds how late Ctrl-C is noticed.
constexpr milliseconds kCancelCheck{50};
// After the leader exits normally, a backgrounded grandchild may still hold
// the pipe open: keep collecting late output while it keeps coming, but never
// let such a process hold wrt hostage.
constexpr milliseconds kDrainIdle{200};
constexpr milliseconds kDrainMax{1000};
// After SIGKILL the group normally vanishes within microseconds; a member we
// cannot reap (reparented to an init that never waits) must not hang us.
constexpr milliseconds kKillWaitMax{2000};
// Nothing to poll while waiting for killed, reparented members to die.
constexpr milliseconds kGroupTick{5};

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r: thread-safe, may return a static string instead of buf.
  return ::strerror_r(err, buf, sizeof buf);
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// The write end is dup2'ed onto 1 and 2 in the child; if pipe2 handed out
// fd 1 or 2 itself (wrt started with them closed), the file actions would
// clobber it before the second dup2. Move such fds out of the way.
bool lift_above_stdio(int& fd) {
  if (fd > 2) return true;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return false;
  ::close(fd);
  fd = moved;
  return true;
}

std::vector<std::string> build_env(const std::vector<std::string>& extra) {
  std::vector<std::string_view> names;
  names.reserve(extra.size());
  for (const auto& kv : extra) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) names.emplace_back(kv.data(), eq);
  }
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    std::string_view name = kv.substr(0, kv.find('='));
    if (std::find(names.begin(), names.end(), name) == names.end()) env.emplace_back(kv);
  }
  for (const auto& kv : extra)
    if (kv.find('=') != std::string::npos) env.push_back(kv);
  return env;
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // A broken log must not stop the stage; the output is still captured.
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  // The child is not reaped yet, so its pid cannot have been reused.
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

bool group_gone(pid_t pgid) { return ::kill(-pgid, 0) == -1 && errno == ESRCH; }

// Only members that are our children (the leader, or grandchildren reparented
// to us as subreaper) can be reaped; waiting on -pgid never takes another
// thread's child, unlike waitpid(-1).
void reap_group(pid_t pgid) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(-pgid, &status, WNOHANG);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    return;
  }
}

int ceil_ms(Clock::duration d) {
  if (d <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<milliseconds>(d).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, 60'000));
}

class Runner {
 public:
  Runner(const SpawnOptions& o, SpawnResult& r) : o_(o), r_(r) {}

  void run() {
    if (o_.argv.empty() || o_.argv[0].empty()) {
      r_.error = "empty command";
      return;
    }
    if (!spawn()) return;
    r_.started = true;
    pidfd_.reset(open_pidfd(pid_));
    try {
      loop();
    } catch (...) {
      // Only allocation can throw (capturing output); a child we stop
      // watching must not keep running unsupervised.
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      r_.term_signal = SIGKILL;
    }
    pipe_.reset();
    pidfd_.reset();
    reap_group(pid_);
    unregister_child(pid_);
    // Whatever the child started and left behind dies with it: background
    // members of its group, and processes that left the group.
    if (maybe_leftovers(pid_)) {
      int killed = kill_tagged(tag_, kKillWaitMax);
      r_.processes_killed = killing_ ? std::max(r_.processes_killed, killed) : killed;
    }
  }

 private:
  bool spawn() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      r_.error = o_.argv[0] + ": cannot create pipe: " + errno_text(errno);
      return false;
    }
    bool lifted = lift_above_stdio(fds[0]) && lift_above_stdio(fds[1]);
    int lift_errno = errno;
    Fd read_end(fds[0]);
    Fd write_end(fds[1]);
    if (!lifted) {
      r_.error = o_.argv[0] + ": cannot create pipe: " + errno_text(lift_errno);
      return false;
    }
    // Non-blocking so a read loop can stop at "no more data for now".
    ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);

    tag_ = new_process_tag();
    std::vector<std::string> extra = o_.extra_env;
    extra.push_back(std::string(kProcessTagVar) + "=" + tag_);
    std::vector<std::string> env = build_env(extra);
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = o_.argv;
    std::vector<char*> argp;
    argp.reserve(args.size() + 1);
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
    std::string cwd = o_.cwd.string();

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    const std::string stdin_path = o_.stdin_path.empty() ? std::string("/dev/null") : o_.stdin_path.string();
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, write_end.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, write_end.get(), 2);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    // wrt ignores SIGPIPE and may block signals in worker threads; tools
    // expect neither, and a group of its own lets us signal all it starts.
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);

    pid_t pid = -1;
    int rc = 0;
    ensure_watchdog();
    spawn_registered([&] {
      rc = ::posix_spawnp(&pid, argp[0], &fa, &attr, argp.data(), envp.data());
      return rc == 0 ? pid : -1;
    });
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      std::error_code ec;
      if (!cwd.empty() && !std::filesystem::is_directory(o_.cwd, ec))
        r_.error = "cannot change directory to " + cwd + ": " + errno_text(rc);
      else
        r_.error = o_.argv[0] + ": " + errno_text(rc);
      return false;
    }
    pid_ = pid;
    pipe_.reset(read_end.release());
    return true;
  }

  void consume(const char* data, size_t n) {
    if (o_.log_fd >= 0) write_all(o_.log_fd, data, n);
    if (o_.capture) r_.output.append(data, n);
  }

  // Returns true if any data arrived.
  bool read_pipe() {
    bool got = false;
    std::array<char, 65536> buf;
    // Bounded so a child that writes nonstop cannot starve deadline checks.
    for (int i = 0; i < 16; ++i) {
      ssize_t n = ::read(pipe_.get(), buf.data(), buf.size());
      if (n > 0) {
        consume(buf.data(), static_cast<size_t>(n));
        got = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      pipe_.reset();  // EOF, or an error we cannot recover from
      break;
    }
    return got;
  }

  void record_status(int status) {
    if (WIFEXITED(status)) {
      r_.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      r_.term_signal = WTERMSIG(status);
    }
  }

  void check_leader() {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid_) {
      record_status(status);
      leader_exited_ = true;
      exit_time_ = Clock::now();
      last_data_ = exit_time_;
      pidfd_.reset();
    } else if (r < 0) {
      // ECHILD: someone else reaped it (e.g. SIGCHLD set to SIG_IGN); treat
      // it as gone rather than waiting forever.
      leader_exited_ = true;
      exit_time_ = Clock::now();
      last_data_ = exit_time_;
      pidfd_.reset();
    }
  }

  void start_kill(Clock::time_point now) {
    killing_ = true;
    term_time_ = now;
    r_.processes_killed = count_tagged(tag_);
    // The leader is not reaped yet (we only get here while it runs), so the
    // pgid still belongs to this group.
    ::kill(-pid_, SIGTERM);
  }

  void loop() {
    milliseconds backoff{1};
    for (;;) {
      auto now = Clock::now();
      if (!killing_ && !leader_exited_) {
        if (o_.cancel && o_.cancel->load()) {
          r_.interrupted = true;
          start_kill(now);
        } else if (now >= o_.deadline) {
          r_.timed_out = true;
          start_kill(now);
        }
      }
      if (killing_ && !kill_sent_ && now >= term_time_ + o_.kill_grace) {
        // Once the leader is reaped the pgid could in theory be reused, so
        // only signal a group that still exists.
        if (!leader_exited_ || !group_gone(pid_)) ::kill(-pid_, SIGKILL);
        kill_sent_ = true;
        kill_time_ = now;
      }

      int timeout = 1000;
      auto bound = [&](Clock::time_point t) { timeout = std::min(timeout, ceil_ms(t - now)); };
      if (leader_exited_) {
        if (killing_) {
          reap_group(pid_);
          if (group_gone(pid_)) return;
          if (kill_sent_ && now >= kill_time_ + kKillWaitMax) return;
          bound(now + kGroupTick);
        } else {
          if (!pipe_.valid()) return;
          if (o_.cancel && o_.cancel->load()) return;
          auto end = std::min(last_data_ + kDrainIdle, exit_time_ + kDrainMax);
          if (now >= end) return;
          bound(end);
        }
      } else {
        if (o_.cancel) bound(now + kCancelCheck);
        if (!killing_) bound(o_.deadline);
        if (!pidfd_.valid()) bound(now + backoff);
      }
      if (killing_ && !kill_sent_) bound(term_time_ + o_.kill_grace);

      std::array<pollfd, 2> fds{};
      nfds_t nfds = 0;
      if (pipe_.valid()) fds[nfds++] = {pipe_.get(), POLLIN, 0};
      if (pidfd_.valid()) fds[nfds++] = {pidfd_.get(), POLLIN, 0};
      int pr = nfds ? ::poll(fds.data(), nfds, timeout) : ::poll(nullptr, 0, timeout);
      if (pr < 0 && errno != EINTR) {
        // Should not happen; avoid spinning if it does.
        ::poll(nullptr, 0, 1);
      }
      if (pr > 0 && pipe_.valid() && fds[0].revents) {
        if (read_pipe()) {
          last_data_ = Clock::now();
          backoff = milliseconds(1);
        }
      }
      if (!leader_exited_) {
        check_leader();
        if (!leader_exited_ && !pidfd_.valid()) backoff = std::min(backoff * 2, kCancelCheck);
      }
    }
  }

  const SpawnOptions& o_;
  SpawnResult& r_;
  pid_t pid_ = -1;
  std::string tag_;  // WRT_PROCESS_TAG of the child's tree
  Fd pipe_;
  Fd pidfd_;
  bool leader_exited_ = false;
  bool killing_ = false;
  bool kill_sent_ = false;
  Clock::time_point exit_time_{};
  Clock::time_point last_data_{};
  Clock::time_point term_time_{};
  Clock::time_point kill_time_{};
};

}  // namespace

SpawnResult run_process(const SpawnOptions& options) {
  SpawnResult result;
  try {
    Runner(options, result).run();
  } catch (const std::exception& e) {
    // Only allocation before the spawn can get here.
    result.error = std::string("cannot start: ") + e.what();
  }
  return result;
}

void init_process_control() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

}  // namespace wrt
