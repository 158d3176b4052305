// End-to-end: what a stage interrupted mid-way left in its outputs never
// becomes part of a result (core/exec/stage_journal.h). Found by
// tests/reliability (kill scenario, seed 186366556): GNU `ln -sf` killed
// between creating its temp link and renaming it left `out/dir24/CuiV412A`
// in a directory output, and the next run reported the stage `cached` with
// the stray link kept beside the restored files.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The stage writes its output; while the file `slow` exists it also writes a
// file it never writes otherwise, says so in `started` (its pid, renamed into
// place: the test reads it as soon as it appears), and sleeps.
const char* kToml = R"(
[settings]
max_attempts = 1
[stages.s]
inputs = ["src.txt"]
outputs = ["out/d"]
with = { run = "mkdir -p out/d && cat src.txt > out/d/a.txt && ln -sf a.txt out/d/link && if [ -e slow ]; then echo junk > out/d/junk && echo $$ > started.tmp && mv started.tmp started && exec sleep 300; fi" }
)";

CommandResult wrt_run(const TempDir& ws, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run", "--report", (ws / "report.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_wrt(args, ws.path());
}

std::string status_of(const TempDir& ws) { return report_stage(read_json(ws / "report.json"), "s")["status"]; }

// Starts `wrt run EXTRA...`, waits for the stage to say it started, and
// kills wrt with SIGKILL; returns once the stage's own process is gone.
void run_and_kill(const TempDir& ws, std::vector<std::string> extra) {
  std::vector<std::string> args{"run"};
  args.insert(args.end(), extra.begin(), extra.end());
  const pid_t wrt = spawn_wrt(args, ws.path());
  std::string pid_text = wait_for_file(ws / "started", 30);
  ::kill(wrt, SIGKILL);
  ::waitpid(wrt, nullptr, 0);
  const pid_t stage = static_cast<pid_t>(std::stol(pid_text));
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    gone = ::kill(stage, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(gone);
  fs::remove(ws / "started");
  fs::remove(ws / "slow");
  REQUIRE(read_file(ws / ".wrt/state/running-stages").find("+s\n") != std::string::npos);
}

}  // namespace

TEST_CASE("interrupted stage: a cache hit after a kill -9 restores the outputs whole, without the leftovers",
          "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", kToml);
  write_file(ws / "src.txt", "v1\n");
  REQUIRE(wrt_run(ws).exit_code == 0);
  REQUIRE(status_of(ws) == "passed");
  // Same key, run again (--no-cache) and killed: the entry stored above is
  // still the result for this key.
  write_file(ws / "slow", "");
  run_and_kill(ws, {"--no-cache"});
  REQUIRE(fs::exists(ws / "out/d/junk"));

  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(status_of(ws) == "cached");
  CHECK(!fs::exists(ws / "out/d/junk"));
  CHECK(read_file(ws / "out/d/a.txt") == "v1\n");
  CHECK(fs::read_symlink(ws / "out/d/link") == "a.txt");
  CHECK(!fs::exists(ws / ".wrt/state/running-stages"));
  // The next run trusts the run index again.
  REQUIRE(wrt_run(ws).exit_code == 0);
  CHECK(status_of(ws) == "cached");
}

TEST_CASE("interrupted stage: a stage run again after a kill -9 starts from empty outputs, and that is what is cached",
          "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", kToml);
  write_file(ws / "src.txt", "v1\n");
  write_file(ws / "slow", "");
  run_and_kill(ws, {});
  REQUIRE(fs::exists(ws / "out/d/junk"));

  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(status_of(ws) == "passed");
  CHECK(!fs::exists(ws / "out/d/junk"));
  CHECK(!fs::exists(ws / ".wrt/state/running-stages"));
  // What was cached is what the stage made from empty outputs.
  fs::remove_all(ws / "out");
  REQUIRE(wrt_run(ws).exit_code == 0);
  CHECK(status_of(ws) == "cached");
  CHECK(!fs::exists(ws / "out/d/junk"));
  CHECK(read_file(ws / "out/d/a.txt") == "v1\n");
}

TEST_CASE("interrupted stage: an attempt that timed out leaves nothing for the next attempt", "[e2e][cache-trust]") {
  TempDir ws;
  // 0.02 min = 1.2 s: the first attempt writes junk and sleeps past it.
  write_file(ws / "wrt.toml", R"(
[stages.s]
outputs = ["out/d"]
max_attempts = 2
timeout_minutes = 0.02
with = { run = "mkdir -p out/d && echo a > out/d/a.txt && if [ ! -e attempt1 ]; then touch attempt1 && echo junk > out/d/junk && exec sleep 300; fi" }
)");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(status_of(ws) == "flaky");
  CHECK(!fs::exists(ws / "out/d/junk"));
  fs::remove_all(ws / "out");
  REQUIRE(wrt_run(ws).exit_code == 0);
  CHECK(status_of(ws) == "cached");
  CHECK(!fs::exists(ws / "out/d/junk"));
}

TEST_CASE("interrupted stage: a stage removed from wrt.toml is forgotten", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", kToml);
  write_file(ws / "src.txt", "v1\n");
  write_file(ws / "slow", "");
  run_and_kill(ws, {});
  write_file(ws / "wrt.toml", R"(
[stages.t]
with = { run = "true" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  CHECK(!fs::exists(ws / ".wrt/state/running-stages"));
  CHECK(fs::exists(ws / "out/d/junk"));  // no longer a declared output: not wrt's to remove
}
