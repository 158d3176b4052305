// End-to-end tests: no process a stage starts outlives its stage or wrt
// (core/process_tree): background jobs, daemons that left the process group
// (setsid, double fork), timeouts, and kill -9 of wrt itself.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;


namespace {

bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  // A zombie is dead for our purposes.
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || stat.size() < close + 3 || stat[close + 2] != 'Z';
}

// Pids written by stage commands into `dir`/*.pid.
std::vector<pid_t> pids_in(const fs::path& dir) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".pid") {
      std::string t = read_file(e.path());
      if (!t.empty()) out.push_back(static_cast<pid_t>(std::stol(t)));
    }
  return out;
}

bool all_dead_within(const std::vector<pid_t>& pids, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    bool any = false;
    for (pid_t p : pids) any = any || alive(p);
    if (!any) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

TEST_CASE("processes: a daemon that left the process group dies with its stage's timeout", "[e2e][processes]") {
  TempDir ws;
  fs::create_directories(ws / "pids");
  write_file(ws / "wrt.toml", R"(
[stages.d]
timeout_minutes = 0.02
cache = false
with = { run = "setsid sh -c 'echo $$ > pids/daemon.pid; exec sleep 300' & echo $$ > pids/sh.pid; sleep 300" }
)");
  auto r = run_wrt({"run"}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("timed out after") != std::string::npos);
  CHECK(r.out.find("processes were killed") != std::string::npos);
  auto pids = pids_in(ws / "pids");
  REQUIRE(pids.size() == 2);
  CHECK(all_dead_within(pids, std::chrono::milliseconds(500)));
}

TEST_CASE("processes: background jobs a passing stage left running are killed and logged", "[e2e][processes]") {
  TempDir ws;
  fs::create_directories(ws / "pids");
  write_file(ws / "wrt.toml", R"(
[stages.bg]
cache = false
with = { run = "(setsid sh -c 'echo $$ > pids/escaped.pid; exec sleep 300' &); sh -c 'echo $$ > pids/job.pid; exec sleep 301' > /dev/null 2>&1 & sleep 0.2; echo done" }
)");
  auto r = run_wrt({"run"}, ws.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto pids = pids_in(ws / "pids");
  REQUIRE(pids.size() == 2);
  CHECK(all_dead_within(pids, std::chrono::milliseconds(500)));
  std::string log = read_file(ws / ".wrt/logs/bg.log");
  CHECK(log.find("[wrt] killed 2 processes that /bin/sh left running") != std::string::npos);
}

TEST_CASE("processes: kill -9 of wrt leaves no stage process alive", "[e2e][processes]") {
  TempDir ws;
  fs::create_directories(ws / "pids");
  std::string toml = "[settings]\nmax_parallel_jobs = 4\n";
  for (int i = 0; i < 4; ++i)
    toml += "[stages.s" + std::to_string(i) + "]\ncache = false\nwith = { run = \"" +
            (i == 3 ? std::string("setsid sh -c 'echo $$ > pids/d.pid; exec sleep 300' & ") : std::string()) +
            "sh -c 'echo $$ > pids/s" + std::to_string(i) + ".pid; exec sleep 300'\" }\n";
  write_file(ws / "wrt.toml", toml);
  const pid_t wrt = spawn_wrt({"run"}, ws.path());
  // Wait until all five processes have started.
  for (int i = 0; i < 500 && pids_in(ws / "pids").size() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto pids = pids_in(ws / "pids");
  REQUIRE(pids.size() == 5);
  ::kill(wrt, SIGKILL);
  ::waitpid(wrt, nullptr, 0);
  CHECK(all_dead_within(pids, std::chrono::milliseconds(2000)));
}
