#include "core/exec/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using wrt::SpawnOptions;
using wrt::SpawnResult;
using wrt::run_process;
using wrt::test::TempDir;

SpawnOptions sh(const std::string& script) {
  SpawnOptions o;
  o.argv = {"sh", "-c", script};
  o.capture = true;
  // A bug must fail the test, not hang the suite.
  o.deadline = Clock::now() + 10s;
  o.kill_grace = 200ms;
  return o;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool group_gone(pid_t pgid) { return ::kill(-pgid, 0) == -1 && errno == ESRCH; }

pid_t first_line_pid(const std::string& output) {
  return static_cast<pid_t>(std::stol(output.substr(0, output.find('\n'))));
}

}  // namespace

TEST_CASE("subprocess: reports the exit code") {
  SpawnResult r = run_process(sh("exit 7"));
  CHECK(r.started);
  CHECK(r.exit_code == 7);
  CHECK(r.term_signal == 0);
  CHECK_FALSE(r.timed_out);
  CHECK_FALSE(r.interrupted);
  CHECK(r.error.empty());

  r = run_process(sh("exit 0"));
  CHECK(r.exit_code == 0);
}

TEST_CASE("subprocess: captures stdout and stderr and appends them to log_fd") {
  TempDir dir;
  auto log = dir / "stage.log";
  wrt::test::write_file(log, "previous\n");
  int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  REQUIRE(fd >= 0);

  SpawnOptions o = sh("echo out; echo err >&2; echo out2");
  o.log_fd = fd;
  SpawnResult r = run_process(o);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "out\nerr\nout2\n");

  o.capture = false;
  r = run_process(o);
  CHECK(r.exit_code == 0);
  CHECK(r.output.empty());
  ::close(fd);

  CHECK(wrt::test::read_file(log) == "previous\nout\nerr\nout2\nout\nerr\nout2\n");
}

TEST_CASE("subprocess: output larger than the pipe buffer is captured whole") {
  SpawnResult r = run_process(sh("head -c 1000000 /dev/zero"));
  CHECK(r.exit_code == 0);
  CHECK(r.output.size() == 1000000);
}

TEST_CASE("subprocess: stdin is /dev/null") {
  SpawnOptions o = sh("cat; echo end");
  o.deadline = Clock::now() + 3s;
  SpawnResult r = run_process(o);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "end\n");
}

TEST_CASE("subprocess: extra_env overrides the inherited environment") {
  ::setenv("WRT_SP_OVERRIDE", "parent", 1);
  ::setenv("WRT_SP_KEEP", "kept", 1);
  SpawnOptions o = sh("echo \"$WRT_SP_OVERRIDE $WRT_SP_KEEP $WRT_SP_NEW\"; env | grep -c '^WRT_SP_OVERRIDE='");
  o.extra_env = {"WRT_SP_OVERRIDE=child", "WRT_SP_NEW=new"};
  SpawnResult r = run_process(o);
  ::unsetenv("WRT_SP_OVERRIDE");
  ::unsetenv("WRT_SP_KEEP");
  CHECK(r.exit_code == 0);
  // One definition only: a duplicate would make the value depend on the tool.
  CHECK(r.output == "child kept new\n1\n");
}

TEST_CASE("subprocess: runs in cwd") {
  TempDir dir;
  wrt::test::write_file(dir / "marker.txt", "x");
  SpawnOptions o = sh("pwd; ls");
  o.cwd = dir.path();
  SpawnResult r = run_process(o);
  CHECK(r.exit_code == 0);
  CHECK(r.output == dir.path().string() + "\nmarker.txt\n");
}

TEST_CASE("subprocess: a missing program is reported, not started") {
  TempDir dir;
  int fd = ::open((dir / "log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  SpawnOptions o;
  o.argv = {"wrt-no-such-program-xyz", "arg"};
  o.log_fd = fd;
  SpawnResult r = run_process(o);
  ::close(fd);
  CHECK_FALSE(r.started);
  CHECK(r.error == "wrt-no-such-program-xyz: No such file or directory");
  CHECK(r.exit_code == -1);

  o.argv.clear();
  r = run_process(o);
  CHECK_FALSE(r.started);
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("subprocess: a missing cwd is reported, not started") {
  TempDir dir;
  SpawnOptions o = sh("true");
  o.cwd = dir / "missing";
  SpawnResult r = run_process(o);
  CHECK_FALSE(r.started);
  CHECK(r.error.find("missing") != std::string::npos);
}

TEST_CASE("subprocess: timeout kills the whole process group") {
  wrt::init_process_control();
  SpawnOptions o = sh("echo $$; sleep 30 & sleep 30");
  o.deadline = Clock::now() + 300ms;
  auto start = Clock::now();
  SpawnResult r = run_process(o);
  double took = seconds_since(start);
  CHECK(r.started);
  CHECK(r.timed_out);
  CHECK_FALSE(r.interrupted);
  CHECK(r.term_signal == SIGTERM);
  CHECK(took >= 0.25);
  CHECK(took < 3.0);
  REQUIRE_FALSE(r.output.empty());
  pid_t pgid = first_line_pid(r.output);
  // Neither the leader, the backgrounded sleep, nor a zombie of either.
  CHECK(group_gone(pgid));
}

TEST_CASE("subprocess: a group ignoring SIGTERM is killed after kill_grace") {
  wrt::init_process_control();
  SpawnOptions o = sh("trap '' TERM; echo $$; sleep 30 & sleep 30");
  o.deadline = Clock::now() + 200ms;
  o.kill_grace = 300ms;
  auto start = Clock::now();
  SpawnResult r = run_process(o);
  double took = seconds_since(start);
  CHECK(r.timed_out);
  CHECK(r.term_signal == SIGKILL);
  CHECK(took >= 0.45);
  CHECK(took < 3.0);
  REQUIRE_FALSE(r.output.empty());
  CHECK(group_gone(first_line_pid(r.output)));
}

TEST_CASE("subprocess: the cancel flag interrupts the group") {
  wrt::init_process_control();
  std::atomic<bool> cancel{false};
  SpawnOptions o = sh("echo $$; sleep 30 & sleep 30");
  o.cancel = &cancel;
  auto start = Clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    cancel.store(true);
  });
  SpawnResult r = run_process(o);
  canceller.join();
  double took = seconds_since(start);
  CHECK(r.interrupted);
  CHECK_FALSE(r.timed_out);
  CHECK(r.term_signal == SIGTERM);
  CHECK(took >= 0.15);
  CHECK(took < 3.0);
  REQUIRE_FALSE(r.output.empty());
  CHECK(group_gone(first_line_pid(r.output)));
}

TEST_CASE("subprocess: death by signal is reported in term_signal") {
  // Ignored in wrt, so this also checks the child gets default dispositions.
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGUSR1, &ignore, &old);
  SpawnResult r = run_process(sh("kill -USR1 $$; sleep 5"));
  ::sigaction(SIGUSR1, &old, nullptr);
  CHECK(r.started);
  CHECK(r.term_signal == SIGUSR1);
  CHECK(r.exit_code == -1);
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("subprocess: the child starts with an empty signal mask") {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  SpawnResult r = run_process(sh("grep '^SigBlk' /proc/self/status"));
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "SigBlk:\t0000000000000000\n");
}

TEST_CASE("subprocess: a backgrounded grandchild holding stdout does not hang") {
  wrt::init_process_control();
  auto start = Clock::now();
  SpawnResult r = run_process(sh("sleep 5 & echo $!; (sleep 0.05; echo late) &"));
  double took = seconds_since(start);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(r.timed_out);
  CHECK(took < 1.5);
  // Output written shortly after the leader exited is still collected.
  CHECK(r.output.find("late\n") != std::string::npos);
  REQUIRE_FALSE(r.output.empty());
  pid_t grandchild = first_line_pid(r.output);
  // Nothing outlives the command: the background sleep was killed (and, as
  // our re-parented child, reaped: no zombie either).
  CHECK(r.processes_killed >= 1);
  CHECK(::kill(grandchild, 0) != 0);
}

TEST_CASE("subprocess: a daemon that left the process group is killed when the command exits") {
  wrt::init_process_control();
  SpawnResult r = run_process(sh("(setsid sh -c 'echo $$; exec sleep 30' &); sleep 0.1"));
  CHECK(r.exit_code == 0);
  REQUIRE_FALSE(r.output.empty());
  pid_t daemon = first_line_pid(r.output);
  CHECK(r.processes_killed == 1);
  CHECK(::kill(daemon, 0) != 0);
}

TEST_CASE("subprocess: concurrent runs each get their own output") {
  TempDir dir;
  constexpr int kThreads = 8;
  constexpr int kRuns = 10;
  std::vector<std::string> outputs(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string id = std::to_string(t);
      int fd = ::open((dir / ("log" + id)).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      for (int i = 0; i < kRuns; ++i) {
        SpawnOptions o = sh("for i in 1 2 3; do echo \"t$T\"; done");
        o.extra_env = {"T=" + id};
        o.log_fd = fd;
        SpawnResult r = run_process(o);
        if (r.exit_code != 0 || r.output != "t" + id + "\nt" + id + "\nt" + id + "\n") ++failures[t];
        outputs[t] += r.output;
      }
      ::close(fd);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    std::string line = "t" + std::to_string(t) + "\n";
    std::string expected;
    for (int i = 0; i < 3 * kRuns; ++i) expected += line;
    CHECK(failures[t] == 0);
    CHECK(outputs[t] == expected);
    CHECK(wrt::test::read_file(dir / ("log" + std::to_string(t))) == expected);
  }
}

TEST_CASE("subprocess: a concurrent long run does not delay short runs") {
  // A pipe end leaked into the long child would keep short runs' pipes open
  // and make each one wait out the drain period.
  std::atomic<bool> stop{false};
  std::vector<std::thread> long_runs;
  for (int t = 0; t < 2; ++t) {
    long_runs.emplace_back([&] {
      while (!stop.load()) {
        SpawnOptions o = sh("sleep 3");
        o.cancel = &stop;
        o.kill_grace = 100ms;
        (void)run_process(o);
      }
    });
  }
  std::vector<std::thread> threads;
  std::atomic<int> slow{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto start = Clock::now();
        SpawnResult r = run_process(sh("true"));
        // Far below the long child's 3 s: a short run waited for it only if
        // its pipe leaked there. Generous for loaded and sanitizer builds.
        if (r.exit_code != 0 || seconds_since(start) > 1.5) ++slow;
      }
    });
  }
  for (auto& th : threads) th.join();
  stop.store(true);
  for (auto& th : long_runs) th.join();
  CHECK(slow.load() == 0);
}
