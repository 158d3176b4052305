// The deploy plugin end to end in a temporary git repository: staging on
// main, production promoted on a tag (the exact staging release, by
// digest), idempotent re-deploys, never served from the cache, and the
// hash-chained ledger that `wrt deployments` checks.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {


std::string pipeline(const fs::path& registry) {
  return R"toml(
[components.core]
paths = ["src/**"]
asil = "D"

[stages.build]
inputs = ["src/**"]
outputs = ["out/app.tar"]
with = { run = "mkdir -p out && tar --mtime=@0 --owner=0 --group=0 --numeric-owner --sort=name -cf out/app.tar src" }

[stages.prove]
for_each = "component"
needs = ["build"]
inputs = ["src/**"]
with = { run = "! grep -q BUG src/*.c" }

[stages.staging]
plugin = "deploy"
needs = ["build"]
when = { branch = "main" }
with = { environment = "staging", artifacts = ["out/*.tar"], target = ")toml" +
         registry.string() + R"toml(" }

[stages.production]
plugin = "deploy"
needs = ["prove"]
when = { tag = "v*.*.*" }
requires_gate = "pass"
min_verified_asil = "C"
with = { environment = "production", promote_from = "staging", target = ")toml" +
         registry.string() + "\" }\n";
}

std::vector<nlohmann::json> ledger(const fs::path& registry) {
  std::vector<nlohmann::json> out;
  std::string text = read_file(registry / "deployments.jsonl");
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    out.push_back(nlohmann::json::parse(text.substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("deploy: staging on main, production promotes the same digest on a tag, re-deploys are no-ops, the ledger is chained",
          "[e2e][deploy]") {
  TempDir ws, reg;
  const fs::path registry = reg / "registry";
  git(ws, {"init", "-q", "-b", "main"});
  write_file(ws / "wrt.toml", pipeline(registry));
  write_file(ws / "src/a.c", "int a;\n");
  write_file(ws / ".gitignore", ".wrt/\nout/\nreport.json\n");
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "c1"});
  const std::vector<std::string> env = {"GITHUB_ACTIONS=", "GITLAB_CI="};
  auto run = [&] {
    auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), env);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    return read_json(ws / "report.json");
  };
  auto stage = [](const nlohmann::json& report, const std::string& name) { return report_stage(report, name); };

  auto report = run();
  CHECK(stage(report, "staging")["status"] == "passed");
  CHECK(stage(report, "staging")["message"].get<std::string>().find("deployed release sha256:") == 0);
  CHECK(stage(report, "production")["status"] == "skipped");
  CHECK(read_file(registry / "staging/app.tar") == read_file(ws / "out/app.tar"));
  REQUIRE(ledger(registry).size() == 1);

  // Nothing changed: the deploy runs again (never from the cache) and finds
  // the release in place.
  report = run();
  CHECK(stage(report, "build")["status"] == "cached");
  CHECK(stage(report, "staging")["status"] == "passed");
  CHECK(stage(report, "staging")["message"].get<std::string>().find("already deployed") == 0);
  CHECK(ledger(registry).size() == 1);

  // A release tag: production gets staging's exact release.
  git(ws, {"tag", "v1.2.3"});
  report = run();
  CHECK(stage(report, "production")["status"] == "passed");
  CHECK(stage(report, "production")["message"].get<std::string>().find("promoted staging's release") == 0);
  auto l = ledger(registry);
  REQUIRE(l.size() == 2);
  CHECK(l[1]["environment"] == "production");
  CHECK(l[1]["action"] == "promote");
  CHECK(l[1]["release"] == l[0]["release"]);
  CHECK(l[1]["artifacts"][0]["sha256"] == l[0]["artifacts"][0]["sha256"]);
  CHECK(l[1]["commit"].get<std::string>().size() == 40);
  CHECK(read_file(registry / "production/app.tar") == read_file(registry / "staging/app.tar"));

  // A new commit: a new staging release; production stays (no tag on it).
  write_file(ws / "src/a.c", "int a; int b;\n");
  git(ws, {"commit", "-q", "-am", "c2"});
  report = run();
  CHECK(stage(report, "staging")["message"].get<std::string>().find("deployed release") == 0);
  CHECK(stage(report, "production")["status"] == "skipped");
  l = ledger(registry);
  REQUIRE(l.size() == 3);
  CHECK(l[2]["release"] != l[0]["release"]);
  CHECK(read_file(registry / "production/app.tar") != read_file(registry / "staging/app.tar"));

  auto d = run_wrt({"deployments"}, ws.path());
  INFO(d.out << d.err);
  CHECK(d.exit_code == 0);
  CHECK(d.out.find("production") != std::string::npos);

  // The dashboard shows each environment's current release.
  auto dash = run_wrt({"dashboard", "--out", (reg / "site").string()}, ws.path());
  REQUIRE(dash.exit_code == 0);
  const std::string html = read_file(reg / "site/index.html");
  CHECK(html.find("data-environment=\"production\" data-release=\"" + l[1]["release"].get<std::string>() + "\"") !=
        std::string::npos);
  CHECK(html.find("data-environment=\"staging\" data-release=\"" + l[2]["release"].get<std::string>() + "\"") !=
        std::string::npos);

  // An edited line breaks the chain: listed as such, and no deploy goes on top of it.
  std::string text = read_file(registry / "deployments.jsonl");
  const auto at = text.find("\"who\":\"");
  REQUIRE(at != std::string::npos);
  text.insert(at + 7, "mallory-");
  write_file(registry / "deployments.jsonl", text);
  d = run_wrt({"deployments"}, ws.path());
  CHECK(d.exit_code == 1);
  CHECK(d.err.find("deployments.jsonl:2: the chain is broken") != std::string::npos);
  write_file(ws / "src/a.c", "int a; int c;\n");
  git(ws, {"commit", "-q", "-am", "c3"});
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), env);
  CHECK(r.exit_code == 1);
  CHECK(stage(read_json(ws / "report.json"), "staging")["message"].get<std::string>().find("line 2: the chain is broken") !=
        std::string::npos);
}

TEST_CASE("deploy: configuration errors stop the run before anything starts", "[e2e][deploy]") {
  TempDir ws;
  auto check = [&](const std::string& with, const std::string& message) {
    write_file(ws / "wrt.toml", "[stages.ship]\nplugin = \"deploy\"\nwith = " + with + "\n");
    auto r = run_wrt({"run"}, ws.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(message) != std::string::npos);
  };
  check(R"({ environment = "staging", artifacts = ["a"], promote_from = "x", target = "t" })", "set either with.artifacts");
  check(R"({ artifacts = ["a"], target = "t" })", "with.environment must name the environment");
  check(R"({ environment = "staging", artifacts = ["a"] })", "with.target must name the deployment directory");
  check(R"({ environment = "staging", artifacts = ["a"], target = "t", retries = 2 })", "retries");
}
