// The run history (.wrt/history/runs.jsonl, `wrt history`), the report's
// started_at/finished_at/commit/branch, and reading HEAD without git.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/results/run_history.h"
#include "core/util/git_head.h"
#include "support.h"

using namespace wrt;
using namespace wrt::test;
namespace fs = std::filesystem;

namespace {


}  // namespace

TEST_CASE("history: every run appends a record, wrt history shows a metric over runs and the report names the commit",
          "[e2e][history]") {
  TempDir ws;
  git(ws, {"init", "-q", "-b", "trunk"});
  git(ws, {"commit", "-q", "--allow-empty", "-m", "first"});
  const std::string head = git(ws, {"rev-parse", "HEAD"});
  const std::vector<std::string> env = {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR};
  for (int n : {3, 5, 8}) {
    write_file(ws / "wrt.toml", "[stages.measure]\nplugin = \"probe\"\nwith = { mode = \"config\", n = " +
                                    std::to_string(n) + " }\n[stages.fixed]\nwith = { run = \"true\" }\n");
    auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), env);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  auto report = read_json(ws / "report.json");
  CHECK(report["commit"] == head);
  CHECK(report["branch"] == "trunk");
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  CHECK(std::regex_match(report["started_at"].get<std::string>(), iso));
  CHECK(std::regex_match(report["finished_at"].get<std::string>(), iso));
  CHECK(report["started_at"].get<std::string>() <= report["finished_at"].get<std::string>());

  auto runs = RunHistory::read(ws / ".wrt/history");
  REQUIRE(runs.size() == 3);
  CHECK(runs[0]["counts"]["passed"] == 2);
  CHECK(runs[1]["counts"]["cached"] == 1);  // `fixed` did not change
  CHECK(runs[2]["metrics"]["measure"]["int"] == 8);
  CHECK(runs[2]["commit"] == head);
  for (const auto& r : runs) CHECK(r["status"] == "passed");

  auto table = run_wrt({"history", "--metric", "measure:int"}, ws.path());
  INFO(table.out << table.err);
  CHECK(table.exit_code == 0);
  std::vector<std::string> values;
  std::istringstream lines(table.out);
  for (std::string line; std::getline(lines, line);)
    if (line.find("passed") != std::string::npos) values.push_back(line.substr(line.rfind(' ') + 1));
  CHECK(values == std::vector<std::string>{"3", "5", "8"});

  auto json = run_wrt({"history", "--stage", "measure", "--format", "json", "-n", "2"}, ws.path());
  auto parsed = nlohmann::json::parse(json.out);
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[1]["stage"]["status"] == "passed");

  // A torn last line (a crash mid-write) is skipped with a warning.
  {
    std::ofstream f(ws / ".wrt/history/runs.jsonl", std::ios::app);
    f << "{\"v\": 1, \"run_id\": \"torn";
  }
  auto after = run_wrt({"history"}, ws.path());
  CHECK(after.exit_code == 0);
  CHECK_THAT(after.err, Catch::Contains("1 unreadable line(s)"));
  CHECK(RunHistory::read(ws / ".wrt/history").size() == 3);
}

TEST_CASE("history: the file stays under its bound, keeping the newest runs", "[history]") {
  TempDir dir;
  RunOutcome o;
  o.records.resize(3);
  for (auto& r : o.records) r.status = "passed";
  RunHistory h(dir.path(), 4096);
  for (int i = 0; i < 200; ++i) {
    o.started_at_ms = 1000 + i;
    REQUIRE(h.append(RunVerdict{o, "p" + std::to_string(i), "passed", nullptr}).ok());
    CHECK(fs::file_size(RunHistory::file(dir.path())) <= 4096);
  }
  auto runs = RunHistory::read(dir.path());
  REQUIRE(!runs.empty());
  CHECK(runs.back()["pipeline"] == "p199");
  CHECK(runs.size() < 200);
}

TEST_CASE("git head: branch, packed refs, detached HEAD and a linked worktree, without running git", "[history]") {
  TempDir ws;
  CHECK_FALSE(read_git_head(ws.path()));
  git(ws, {"init", "-q", "-b", "main"});
  CHECK_FALSE(read_git_head(ws.path()));  // unborn branch
  git(ws, {"commit", "-q", "--allow-empty", "-m", "one"});
  const std::string one = git(ws, {"rev-parse", "HEAD"});
  auto h = read_git_head(ws / "sub");  // from a subdirectory, too
  REQUIRE(h);
  CHECK(h->commit == one);
  CHECK(h->branch == "main");

  git(ws, {"pack-refs", "--all"});
  REQUIRE_FALSE(fs::exists(ws / ".git/refs/heads/main"));
  h = read_git_head(ws.path());
  REQUIRE(h);
  CHECK(h->commit == one);

  git(ws, {"commit", "-q", "--allow-empty", "-m", "two"});
  const std::string two = git(ws, {"rev-parse", "HEAD"});
  git(ws, {"checkout", "-q", "--detach", one});
  h = read_git_head(ws.path());
  REQUIRE(h);
  CHECK(h->commit == one);
  CHECK(h->branch.empty());

  TempDir other;
  git(ws, {"worktree", "add", "-q", (other / "wt").string(), "main"});
  h = read_git_head(other / "wt");
  REQUIRE(h);
  CHECK(h->commit == two);
  CHECK(h->branch == "main");
}
