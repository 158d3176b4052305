// Stage conditions (`when`) and gate-aware stages (`requires_gate`,
// `min_verified_asil`), end to end in temporary git repositories: decided
// from git or the CI environment on every run, never from the cache.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {


const char* kPipeline = R"toml(
[components.core]
paths = ["src/**"]
asil = "D"

[stages.build]
inputs = ["src/**"]
outputs = ["out/app"]
with = { run = "mkdir -p out && cat src/*.c > out/app" }

[stages.prove]
for_each = "component"
needs = ["build"]
inputs = ["src/**"]
with = { run = "! grep -q BUG src/*.c" }

[stages.staging]
needs = ["build"]
cache = false
when = { branch = "main" }
with = { run = "echo staging >> deployed.txt" }

[stages.production]
needs = ["prove"]
cache = false
when = { tag = "v*.*.*" }
requires_gate = "pass"
min_verified_asil = "C"
with = { run = "echo production >> deployed.txt" }

[stages.certify]
needs = ["prove"]
cache = false
when = { event = "manual" }
requires_gate = "pass"
with = { run = "echo certification >> deployed.txt" }
)toml";

struct Run {
  int exit_code;
  nlohmann::json report;
  std::string out;
};

Run run(const TempDir& ws, std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), "run");
  args.push_back("--report");
  args.push_back((ws / "report.json").string());
  // The tests' own CI environment must not decide the conditions.
  std::vector<std::string> e = env;
  for (const char* name : {"GITHUB_ACTIONS=", "GITLAB_CI=", "GITHUB_REF=", "GITHUB_EVENT_NAME="}) {
    bool given = false;
    for (const auto& kv : env) given |= kv.rfind(name, 0) == 0;
    if (!given) e.push_back(name);
  }
  auto r = run_wrt(args, ws.path(), e);
  INFO(r.out << r.err);
  return {r.exit_code, read_json(ws / "report.json"), r.out + r.err};
}

std::string status(const Run& r, const std::string& stage) { return report_stage(r.report, stage)["status"]; }
std::string reason(const Run& r, const std::string& stage) { return report_stage(r.report, stage)["reason"]; }

std::string deployed(const TempDir& ws) {
  std::error_code ec;
  if (!fs::exists(ws / "deployed.txt", ec)) return "";
  std::string s = read_file(ws / "deployed.txt");
  fs::remove(ws / "deployed.txt");
  // Stages that do not need each other run in either order: sorted lines.
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < s.size();) {
    std::size_t nl = s.find('\n', at);
    if (nl == std::string::npos) nl = s.size();
    lines.push_back(s.substr(at, nl - at));
    at = nl + 1;
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace

TEST_CASE("conditions: staging on main, production only on a tag with the ASIL D proof passed, certification only when named",
          "[e2e][conditions]") {
  TempDir ws;
  git(ws, {"init", "-q", "-b", "main"});
  write_file(ws / "wrt.toml", kPipeline);
  write_file(ws / "src/a.c", "int a;\n");
  write_file(ws / ".gitignore", ".wrt/\nout/\ndeployed.txt\nreport.json\n");
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "c1"});

  // main, no tag: staging only.
  Run r = run(ws, {});
  CHECK(r.exit_code == 0);
  CHECK(status(r, "staging") == "passed");
  CHECK(status(r, "production") == "skipped");
  CHECK(reason(r, "production") == "condition: no tag on this commit matches tag v*.*.* (git)");
  CHECK(status(r, "certify") == "skipped");
  CHECK(reason(r, "certify").find("condition: manual, runs only when named (wrt run --target certify)") == 0);
  CHECK(deployed(ws) == "staging\n");

  // The same commit, now tagged: production runs -- the earlier "no tag"
  // is not replayed -- and the verification stays cached.
  git(ws, {"tag", "-a", "v1.2.3", "-m", "release"});
  r = run(ws, {});
  CHECK(status(r, "prove:core") == "cached");
  CHECK(status(r, "production") == "passed");
  CHECK(deployed(ws) == "production\nstaging\n");

  // A tag that does not look like a release does not deploy.
  git(ws, {"tag", "-d", "v1.2.3"});
  git(ws, {"tag", "nightly"});
  r = run(ws, {});
  CHECK(reason(r, "production") == "condition: no tag of nightly matches tag v*.*.* (git)");
  CHECK(deployed(ws) == "staging\n");

  // Named: the manual stage runs (and what it needs).
  r = run(ws, {"--target", "certify"});
  CHECK(status(r, "certify") == "passed");
  CHECK(deployed(ws) == "certification\n");

  // Another branch: no staging.
  git(ws, {"checkout", "-q", "-b", "feature/x"});
  r = run(ws, {});
  CHECK(status(r, "staging") == "skipped");
  CHECK(reason(r, "staging") == "condition: branch 'feature/x' is not main (git)");
  CHECK(deployed(ws).empty());

  // A dry run and `wrt explain` say the same.
  auto e = run_wrt({"explain", "staging"}, ws.path(), {"GITHUB_ACTIONS="});
  CHECK(e.out.find("staging: skipped: condition: branch 'feature/x' is not main") != std::string::npos);
}

TEST_CASE("conditions: a failed ASIL D proof blocks the tagged production deploy, naming the proof", "[e2e][conditions]") {
  TempDir ws;
  git(ws, {"init", "-q", "-b", "main"});
  write_file(ws / "wrt.toml", kPipeline);
  write_file(ws / "src/a.c", "int a; /* BUG */\n");
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "c1"});
  git(ws, {"tag", "v2.0.0"});
  Run r = run(ws, {"-k"});
  CHECK(r.exit_code == 3);  // the gate blocks the run
  CHECK(status(r, "prove:core") == "failed");
  CHECK(status(r, "production") == "skipped");
  CHECK(reason(r, "production") == "gate block (prove:core failed at ASIL D); requires_gate = \"pass\"");
  CHECK(deployed(ws) == "staging\n");
}

TEST_CASE("conditions: GitHub Actions and GitLab CI refs decide, not the checkout", "[e2e][conditions]") {
  TempDir ws;
  git(ws, {"init", "-q", "-b", "work"});
  write_file(ws / "wrt.toml", kPipeline);
  write_file(ws / "src/a.c", "int a;\n");
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "c1"});
  Run r = run(ws, {}, {"GITHUB_ACTIONS=true", "GITHUB_REF=refs/tags/v3.1.0", "GITHUB_EVENT_NAME=push"});
  CHECK(status(r, "production") == "passed");
  CHECK(status(r, "staging") == "skipped");
  CHECK(reason(r, "staging") == "condition: branch (none: detached or a tag) is not main (GitHub Actions)");
  r = run(ws, {}, {"GITHUB_ACTIONS=true", "GITHUB_REF=refs/heads/main", "GITHUB_EVENT_NAME=push"});
  CHECK(status(r, "staging") == "passed");
  CHECK(status(r, "production") == "skipped");
  r = run(ws, {}, {"GITLAB_CI=true", "CI_COMMIT_TAG=v4.0.0", "CI_PIPELINE_SOURCE=push"});
  CHECK(status(r, "production") == "passed");
}

TEST_CASE("conditions: requires_gate warn lets an ASIL B warning through, pass does not, min_verified_asil needs evidence",
          "[e2e][conditions]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"toml(
[components.ui]
paths = ["ui/**"]
asil = "B"

[stages.check]
for_each = "component"
with = { run = "false" }

[stages.lenient]
needs = ["check"]
cache = false
requires_gate = "warn"
with = { run = "true" }

[stages.strict]
needs = ["check"]
cache = false
requires_gate = "pass"
with = { run = "true" }

[stages.plain]
needs = ["check"]
cache = false
with = { run = "true" }

[stages.needs-c]
needs = ["check"]
cache = false
min_verified_asil = "C"
with = { run = "true" }
)toml");
  Run r = run(ws, {"-k"});
  CHECK(status(r, "check:ui") == "failed");
  // requires_gate judges an ASIL dependency's failure by the gate: at
  // ASIL B it only warns, which "warn" accepts.
  CHECK(status(r, "lenient") == "passed");
  CHECK(status(r, "strict") == "skipped");
  CHECK(reason(r, "strict") == "gate warn (check:ui failed at ASIL B); requires_gate = \"pass\"");
  // Without requires_gate a failed dependency skips it as always.
  CHECK(reason(r, "plain") == "needs 'check:ui', which failed");
  CHECK(reason(r, "needs-c") == "not verified: no stage it depends on carries ASIL C or above; min_verified_asil = \"C\"");
}

TEST_CASE("conditions: configuration errors name the file, line and column", "[e2e][conditions]") {
  TempDir ws;
  auto check = [&](const std::string& stage_keys, const std::string& message) {
    write_file(ws / "wrt.toml", "[stages.a]\nwith = { run = \"true\" }\n" + stage_keys);
    auto r = run_wrt({"list"}, ws.path());
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(message) != std::string::npos);
  };
  check("when = { brnch = \"main\" }\n", "wrt.toml:3:10: unknown key 'brnch' in stages.a.when (did you mean 'branch'?)");
  check("when = { tag = [] }\n", "stages.a.when.tag needs at least one pattern");
  check("requires_gate = \"maybe\"\n", "wrt.toml:3:17: stages.a.requires_gate must be \"pass\" or \"warn\", not \"maybe\"");
  check("min_verified_asil = \"E\"\n", "wrt.toml:3:21:");
}
