// The terminal: in a pseudo-terminal (util-linux `script`) the status line
// ticks while a stage runs and names every running stage; the end of the
// output names the failed stages; an interrupted run prints one line for
// the stages it did not start, not one per stage.
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "support.h"

using namespace wrt::test;

TEST_CASE("terminal: the status line ticks and names every running stage, the summary names failures", "[e2e][terminal]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"([stages.slow]
with = { run = "sleep 3.5" }
[stages.also]
with = { run = "sleep 3.5" }
[stages.bad]
needs = ["slow"]
with = { run = "echo 'bad.c:3:1: error: nope'; exit 1" }
)");
  const std::string typescript = (ws / "typescript").string();
  auto r = run_command({"script", "-qec", std::string(WRT_BINARY) + " run -j 2 -k", typescript}, ws.path(),
                       {"CI=", "TERM=xterm", "COLUMNS=120"});
  const std::string screen = read_file(typescript);
  INFO(screen);
  CHECK(r.exit_code == 1);
  // Ticks: the same stage shown with at least two different elapsed times
  // while it runs (the line is redrawn every second).
  std::set<std::string> seen;
  const std::regex elapsed(R"(slow (\d+)s)");
  for (auto it = std::sregex_iterator(screen.begin(), screen.end(), elapsed); it != std::sregex_iterator(); ++it)
    seen.insert((*it)[1]);
  CHECK(seen.size() >= 2);
  // Both running stages on one line.
  CHECK(std::regex_search(screen, std::regex(R"((slow \ds, also \ds|also \ds, slow \ds))")));
  CHECK_THAT(screen, Catch::Contains("wrt: failed bad: exit code 1"));
}

TEST_CASE("terminal: Ctrl-C prints one line for the stages not started", "[e2e][terminal]") {
  TempDir ws;
  std::string toml = "[stages.first]\nwith = { run = \"sleep 30\" }\n";
  for (int i = 0; i < 12; ++i) toml += "[stages.next" + std::to_string(i) + "]\nneeds = [\"first\"]\nwith = { run = \"true\" }\n";
  write_file(ws / "wrt.toml", toml);
  auto r = run_command({"sh", "-c", std::string(WRT_BINARY) + " run & pid=$!; sleep 1; kill -INT $pid; wait $pid"},
                       ws.path(), {"CI=true"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 130);
  CHECK_THAT(r.out, Catch::Contains("skipped 12 stages (run interrupted)"));
  CHECK(r.out.find("skipped  next") == std::string::npos);
  CHECK(r.out.find("next3") == std::string::npos);
}
