// `wrt dashboard`: three real runs make a history; the page is loaded in
// headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) and
// the figures it shows are read back from the DOM Chromium built and
// compared with the runs' JSON reports. A screenshot is kept as a test
// artifact (build/test-artifacts/dashboard.png).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/results/dashboard.h"
#include "support.h"

using namespace wrt;
using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

// The page as Chromium parsed it (--dump-dom prints the DOM after loading).
std::string chromium_dom(const fs::path& page) {
  auto r = run_command({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + page.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.out.find("</html>") != std::string::npos);
  return r.out;
}

// Attributes of every element carrying data-wrt="<kind>", in document order,
// plus its text up to the next tag as "text". Scanned by hand: the page has
// long data: URIs that libstdc++'s backtracking regex handles badly.
std::vector<std::map<std::string, std::string>> elements(const std::string& dom, const std::string& kind) {
  std::vector<std::map<std::string, std::string>> out;
  const std::string needle = "data-wrt=\"" + kind + "\"";
  for (std::size_t at = dom.find(needle); at != std::string::npos; at = dom.find(needle, at + 1)) {
    const std::size_t open = dom.rfind('<', at), close = dom.find('>', at);
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    std::map<std::string, std::string> a;
    std::size_t i = dom.find(' ', open);
    while (i < close) {
      while (i < close && dom[i] == ' ') ++i;
      const std::size_t eq = dom.find('=', i);
      if (eq == std::string::npos || eq > close || dom[eq + 1] != '"') break;
      const std::size_t end = dom.find('"', eq + 2);
      a[dom.substr(i, eq - i)] = dom.substr(eq + 2, end - eq - 2);
      i = end + 1;
    }
    a["text"] = dom.substr(close + 1, dom.find('<', close) - close - 1);
    out.push_back(std::move(a));
  }
  return out;
}

std::string text_of(const std::string& dom, const std::string& kind) {
  auto e = elements(dom, kind);
  INFO(kind);
  REQUIRE(e.size() == 1);
  return e[0]["text"];
}


std::string pipeline(double coverage, bool ui_fails) {
  return "[project]\nname = \"dash-demo\"\n"
         "[components.core]\npaths = [\"src/core/**\"]\nasil = \"D\"\n"
         "[components.ui]\npaths = [\"src/ui/**\"]\nasil = \"B\"\n"
         "[stages.coverage]\nplugin = \"probe\"\nwith = { mode = \"metrics\", coverage = " + std::to_string(coverage) +
         ", tests_passed = 12, tests_failed = 0 }\n"
         "[stages.prove]\nplugin = \"probe\"\nfor_each = \"component\"\n"
         "with = { mode = \"metrics\", proved = 4, refuted = 0, fail = false }\n"
         "[stages.check]\nplugin = \"probe\"\nfor_each = \"component\"\ncomponents = [\"ui\"]\n"
         "with = { mode = \"metrics\", fail = " + std::string(ui_fails ? "true" : "false") + " }\n";
}

}  // namespace

TEST_CASE("dashboard: three runs, the page in headless Chromium shows the reports' figures and the trend",
          "[e2e][dashboard]") {
  TempDir ws;
  git(ws.path(), {"init", "-q", "-b", "main"});
  git(ws.path(), {"commit", "-q", "--allow-empty", "-m", "c1"});
  const std::vector<std::string> env = {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR};
  const double coverage[] = {61.5, 70.25, 80};
  for (int i = 0; i < 3; ++i) {
    write_file(ws / "wrt.toml", pipeline(coverage[i], i == 2));
    // -k: the failing check must not stop the coverage stage before it starts.
    auto r = run_wrt({"run", "-k", "--report", (ws / ("report" + std::to_string(i) + ".json")).string()}, ws.path(), env);
    INFO(r.out << r.err);
    // The third run fails ui's ASIL B check: the gate warns, the run passes.
    REQUIRE(r.exit_code == 0);
  }
  auto report = read_json(ws / "report2.json");
  REQUIRE(report["gate"]["verdict"] == "warn");

  auto d = run_wrt({"dashboard", "--out", "site"}, ws.path());
  INFO(d.out << d.err);
  REQUIRE(d.exit_code == 0);
  const fs::path page = ws / "site/index.html";
  REQUIRE(fs::exists(page));
  const std::string html = read_file(page);
  // Self-contained: nothing is fetched from anywhere, no script.
  CHECK_FALSE(std::regex_search(html, std::regex(R"((src|href)="(https?:)?//)")));
  CHECK(html.find("<script") == std::string::npos);

  const std::string dom = chromium_dom(page);
  CHECK(text_of(dom, "run-status") == report["status"].get<std::string>());
  CHECK(text_of(dom, "run-pipeline") == report["pipeline"].get<std::string>());
  CHECK(text_of(dom, "run-commit") == report["commit"].get<std::string>().substr(0, 12));
  CHECK(text_of(dom, "run-branch") == "main");

  // Counts and the cache hit rate.
  std::map<std::string, int> counts;
  for (const auto& s : report["stages"]) counts[s["status"].get<std::string>()]++;
  CHECK(text_of(dom, "stages") == std::to_string(report["stages"].size()));
  for (const auto& [status, n] : counts) CHECK(text_of(dom, "count-" + status) == std::to_string(n));
  const double rate = 100.0 * counts["cached"] / static_cast<double>(report["stages"].size());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", std::round(rate * 10) / 10);
  CHECK(text_of(dom, "cache-hit-rate") == buf);

  // Every stage's status and, for the ones that ran, its duration.
  auto stages = elements(dom, "stage-status");
  CHECK(stages.size() == report["stages"].size());
  std::map<std::string, std::string> shown_status;
  for (auto& e : stages) shown_status[e["data-stage"]] = e["text"];
  std::map<std::string, double> shown_duration;
  for (auto& e : elements(dom, "stage-duration"))
    if (!e["data-value"].empty()) shown_duration[e["data-stage"]] = std::stod(e["data-value"]);
  for (const auto& s : report["stages"]) {
    const std::string name = s["name"];
    INFO(name);
    CHECK(shown_status[name] == s["status"].get<std::string>());
    if (s["status"] != "cached") CHECK(std::fabs(shown_duration[name] - s["duration_s"].get<double>()) < 0.001);
  }
  CHECK(shown_status["check:ui"] == "failed");

  // Coverage, verification and test figures.
  auto cov = elements(dom, "coverage");
  REQUIRE(cov.size() == 1);
  CHECK(cov[0]["data-stage"] == "coverage");
  CHECK(std::stod(cov[0]["data-value"]) == report_stage(report, "coverage")["metrics"]["coverage.line"].get<double>());
  CHECK(text_of(dom, "verification-passed") == "8/8");  // 4 per component, both passed (cached or not)
  CHECK(text_of(dom, "tests-passed") == "12/12");

  // The gate, per level, as the report judged it.
  CHECK(text_of(dom, "gate-verdict") == "warn");
  auto levels = elements(dom, "gate-level-verdict");
  int judged = 0;
  for (const auto& [level, l] : report["gate"]["levels"].items()) {
    if (l["stages"].empty()) continue;
    ++judged;
    bool found = false;
    for (auto& e : levels)
      if (e["data-level"] == level) {
        found = true;
        CHECK(e["text"] == l["verdict"].get<std::string>());
      }
    CHECK(found);
  }
  CHECK(levels.size() == static_cast<std::size_t>(judged));

  // The ASIL matrix: core verified at D, ui failed at B.
  std::map<std::string, std::string> matrix;
  for (auto& e : elements(dom, "matrix")) matrix[e["data-component"] + "@" + e["data-level"]] = e["data-verdict"];
  CHECK(matrix["core@D"] == "verified");
  CHECK(matrix["ui@B"] == "failed");
  CHECK(matrix.size() == 2);

  // The coverage trend: one point per run, in order, with the runs' values.
  std::vector<double> trend;
  for (auto& e : elements(dom, "point"))
    if (e["data-series"] == "coverage") trend.push_back(std::stod(e["data-value"]));
  REQUIRE(trend.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(trend[i] == coverage[i]);
  // The cache hit rate over time: the first run had nothing cached.
  std::vector<double> hits;
  for (auto& e : elements(dom, "point"))
    if (e["data-series"] == "cache hit rate") hits.push_back(std::stod(e["data-value"]));
  REQUIRE(hits.size() == 3);
  CHECK(hits[0] == 0);
  CHECK(hits[2] > 0);

  // Badges from the same results.
  std::map<std::string, std::string> badges;
  for (auto& e : elements(dom, "badge")) badges[e["data-badge"]] = e["data-message"];
  CHECK(badges["coverage"] == "80.0%");
  CHECK(badges["safety-gate"] == "warn");
  CHECK(badges["components"] == "1/2");

  // A screenshot, as a person would see the page.
  const fs::path artifacts = fs::path(WRT_BUILD_DIR) / "test-artifacts";
  fs::create_directories(artifacts);
  const fs::path png = artifacts / "dashboard.png";
  fs::remove(png);
  auto shot = run_command({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1200,2600", "--screenshot=" + png.string(), "file://" + page.string()});
  INFO(shot.err);
  REQUIRE(shot.exit_code == 0);
  const std::string bytes = read_file(png);
  REQUIRE(bytes.size() > 10000);
  CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
}

TEST_CASE("dashboard: names are escaped and a workspace without runs still gets a page", "[dashboard]") {
  DashboardInput in;
  in.project = "<script>alert(1)</script>";
  in.last["a<b>"] = LastResult{"failed", "", "c\"d", "D", "2026-11-30T00:00:00Z", {}, {}, ""};
  const std::string html = dashboard_html(in);
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("a&lt;b&gt;") != std::string::npos);
  CHECK(html.find("data-wrt=\"no-runs\"") != std::string::npos);
  CHECK(html.find("data-component=\"c&quot;d\"") != std::string::npos);
}

TEST_CASE("dashboard: run figures come from the record's counts and metrics", "[dashboard]") {
  auto rec = nlohmann::json::parse(R"({"counts": {"passed": 3, "cached": 1},
    "metrics": {"a": {"verification.passed": 2, "tests.passed": 5}, "b": {"verification.passed": 3, "verification.failed": 1}}})");
  RunFigures f = run_figures(rec);
  CHECK(f.stages == 4);
  CHECK(f.cache_hit_rate == 25);
  CHECK(f.verification_passed == 5);
  CHECK(f.verification_failed == 1);
  CHECK(f.verification_inconclusive < 0);  // no stage reported one
  CHECK(f.tests_passed == 5);
}

TEST_CASE("dashboard: damaged history lines are skipped with a warning, never a crash", "[e2e][dashboard]") {
  TempDir ws;
  const std::vector<std::string> env = {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR};
  write_file(ws / "wrt.toml", "[stages.cov]\nplugin = \"probe\"\nwith = { mode = \"metrics\", coverage = 55.5 }\n");
  auto r = run_wrt({"run"}, ws.path(), env);
  REQUIRE(r.exit_code == 0);
  const fs::path runs = ws / ".wrt/history/runs.jsonl";
  const std::string good = read_file(runs);
  // Members of the wrong type, a foreign version, not an object, a torn line.
  write_file(runs, good +
                       R"({"v":1,"status":5,"started_at":"x","counts":{},"stages":[]})" "\n"
                       R"({"v":1,"status":"passed","started_at":"x","counts":{"passed":"3"},"stages":[]})" "\n"
                       R"({"v":1,"status":"passed","started_at":"x","counts":{},"stages":[{"name":7}]})" "\n"
                       R"({"v":1,"status":"passed","started_at":"x","counts":{},"stages":[],"metrics":{"a":{"coverage.line":"high"}}})" "\n"
                       R"({"v":"1"})" "\n"
                       "[1,2]\n" +
                       good.substr(0, good.size() / 2) + "\n");
  auto d = run_wrt({"dashboard"}, ws.path());
  INFO(d.out << d.err);
  CHECK(d.exit_code == 0);
  CHECK(d.err.find("7 unreadable line(s) in the run history skipped") != std::string::npos);
  CHECK(d.out.find("(1 run, 1 stage)") != std::string::npos);
  const std::string html = read_file(ws / ".wrt/dashboard/index.html");
  CHECK(html.find("data-value=\"55.5\"") != std::string::npos);
  auto h = run_wrt({"history"}, ws.path());
  CHECK(h.exit_code == 0);
  auto b = run_wrt({"badge"}, ws.path());
  CHECK(b.exit_code == 0);
}
