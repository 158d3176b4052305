// The deploy plugin end to end in a temporary git repository: staging on
// main, production promoted on a tag (the exact staging release, by
// digest), idempotent re-deploys, never served from the cache, and the
// hash-chained ledger that `wrt deployments` checks.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/hash.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {


// A built artifact and an ASIL D proof of it: what every deploy here needs.
const std::string kBuildAndProve = R"toml(
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
)toml";

std::string pipeline(const fs::path& registry) {
  return kBuildAndProve + R"toml(
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

namespace {

// One git repository with a built artifact, a proof at ASIL D and the deploy
// stages `extra` adds; `run(args)` runs wrt there and returns the report.
struct DeployRepo {
  TempDir ws, reg;
  fs::path registry = reg / "registry";
  std::vector<std::string> env = {"GITHUB_ACTIONS=", "GITLAB_CI=", "GITHUB_ACTOR=", "GITLAB_USER_LOGIN=", "USER=ci"};

  explicit DeployRepo(const std::string& extra) {
    git(ws, {"init", "-q", "-b", "main"});
    write_file(ws / "wrt.toml", kBuildAndProve + extra);
    write_file(ws / "src/a.c", "int a;\n");
    write_file(ws / ".gitignore", ".wrt/\nout/\nreport.json\ndist/\n");
    git(ws, {"add", "-A"});
    git(ws, {"commit", "-q", "-m", "c1"});
  }
  CommandResult wrt(std::vector<std::string> args, const std::vector<std::string>& more_env = {}) const {
    std::vector<std::string> e;
    for (const auto& kv : env) {
      const std::string key = kv.substr(0, kv.find('=') + 1);
      bool overridden = false;
      for (const auto& m : more_env) overridden |= m.rfind(key, 0) == 0;
      if (!overridden) e.push_back(kv);
    }
    e.insert(e.end(), more_env.begin(), more_env.end());
    return run_wrt(args, ws.path(), e);
  }
  nlohmann::json run(const std::vector<std::string>& more_env = {}, int expect = 0) const {
    auto r = wrt({"run", "--report", (ws / "report.json").string()}, more_env);
    INFO(r.out << r.err);
    CHECK(r.exit_code == expect);
    return read_json(ws / "report.json");
  }
};

std::string message(const nlohmann::json& report, const std::string& stage) {
  return report_stage(report, stage)["message"].get<std::string>();
}

}  // namespace

TEST_CASE("deploy: an OCI image layout target that skopeo and umoci read, promotion re-tags the same manifest digest",
          "[e2e][deploy][oci]") {
  DeployRepo repo(R"toml(
[stages.staging]
plugin = "deploy"
needs = ["build"]
with = { environment = "staging", artifacts = ["out/*.tar"], target = "dist/oci", format = "oci" }

[stages.production]
plugin = "deploy"
needs = ["prove", "staging"]
requires_gate = "pass"
when = { tag = "v*" }
with = { environment = "production", promote_from = "staging", target = "dist/oci", format = "oci" }
)toml");
  const fs::path layout = repo.ws / "dist/oci";
  auto report = repo.run();
  CHECK(report_stage(report, "staging")["status"] == "passed");
  auto l = ledger(layout);
  REQUIRE(l.size() == 1);
  CHECK(l[0]["format"] == "oci");
  CHECK(l[0]["gate"]["verdict"] == "none");  // staging needs only the build, which carries no level
  const std::string manifest = l[0]["oci_manifest"].get<std::string>();
  REQUIRE(manifest.rfind("sha256:", 0) == 0);

  // skopeo reads the layout: the tag's manifest is the one recorded, with
  // the artifact as a layer of the digest deployed.
  auto raw = run_command({"skopeo", "inspect", "--raw", "oci:" + layout.string() + ":staging"});
  INFO(raw.out << raw.err);
  REQUIRE(raw.exit_code == 0);
  auto m = nlohmann::json::parse(raw.out);
  CHECK(m["artifactType"] == "application/vnd.wrt.release.v1");
  CHECK(m["layers"][0]["digest"] == "sha256:" + l[0]["artifacts"][0]["sha256"].get<std::string>());
  CHECK(m["layers"][0]["annotations"]["org.opencontainers.image.title"] == "app.tar");
  CHECK(m["annotations"]["org.opencontainers.image.revision"] == l[0]["commit"]);
  // skopeo copies it to another layout, checking every blob against its digest.
  TempDir copy;
  auto cp = run_command({"skopeo", "copy", "--quiet", "oci:" + layout.string() + ":staging", "oci:" + (copy / "oci").string() + ":staging"});
  INFO(cp.out << cp.err);
  CHECK(cp.exit_code == 0);
  CHECK(read_file(copy / "oci/blobs/sha256" / l[0]["artifacts"][0]["sha256"].get<std::string>()) == read_file(repo.ws / "out/app.tar"));

  // On a tag, production is the same manifest, re-tagged.
  git(repo.ws, {"tag", "v1.0.0"});
  report = repo.run();
  CHECK(report_stage(report, "production")["status"] == "passed");
  l = ledger(layout);
  REQUIRE(l.size() == 2);
  CHECK(l[1]["oci_manifest"] == manifest);
  CHECK(l[1]["gate"]["verdict"] == "pass");
  CHECK(l[1]["gate"]["levels"]["D"] == "pass");
  auto ls = run_command({"umoci", "ls", "--layout", layout.string()});
  INFO(ls.out << ls.err);
  CHECK(ls.exit_code == 0);
  CHECK(ls.out.find("staging") != std::string::npos);
  CHECK(ls.out.find("production") != std::string::npos);
  auto prod = run_command({"skopeo", "inspect", "--raw", "oci:" + layout.string() + ":production"});
  CHECK(prod.out == raw.out);

  // A damaged layer blob: skopeo refuses to copy it; the next deploy finds
  // it (not "already deployed") and puts the bytes back.
  const fs::path blob = layout / "blobs/sha256" / l[0]["artifacts"][0]["sha256"].get<std::string>();
  write_file(blob, "tampered\n");
  TempDir copy2;
  cp = run_command({"skopeo", "copy", "--quiet", "oci:" + layout.string() + ":staging", "oci:" + (copy2 / "oci").string() + ":x"});
  CHECK(cp.exit_code != 0);
  auto r = repo.wrt({"run"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK((r.out + r.err).find("app.tar is missing or damaged") != std::string::npos);
  CHECK(read_file(blob) == read_file(repo.ws / "out/app.tar"));
  TempDir copy3;
  cp = run_command({"skopeo", "copy", "--quiet", "oci:" + layout.string() + ":production", "oci:" + (copy3 / "oci").string() + ":x"});
  CHECK(cp.exit_code == 0);
}

TEST_CASE("deploy: a release the gate blocks is not deployed, and the verdict and run id are in the ledger", "[e2e][deploy]") {
  DeployRepo repo(R"toml(
[stages.production]
plugin = "deploy"
needs = ["prove"]
requires_gate = "pass"
with = { environment = "production", artifacts = ["out/*.tar"], target = "dist/reg" }
)toml");
  write_file(repo.ws / "src/a.c", "int a; // BUG\n");
  git(repo.ws, {"commit", "-q", "-am", "bug"});
  auto report = repo.run({}, 3);  // the gate blocks the run
  CHECK(report_stage(report, "production")["status"] == "skipped");
  CHECK(report_stage(report, "production")["reason"].get<std::string>().find("gate block (prove:core failed at ASIL D)") !=
        std::string::npos);
  CHECK(!fs::exists(repo.ws / "dist/reg/production"));
  write_file(repo.ws / "src/a.c", "int a;\n");
  git(repo.ws, {"commit", "-q", "-am", "fix"});
  report = repo.run();
  auto l = ledger(repo.ws / "dist/reg");
  REQUIRE(l.size() == 1);
  CHECK(l[0]["gate"]["verdict"] == "pass");
  CHECK(l[0]["gate"]["levels"]["D"] == "pass");
  CHECK(l[0]["run_id"] == report["run_id"]);
  auto d = repo.wrt({"deployments"});
  CHECK(d.out.find(" pass ") != std::string::npos);
}

TEST_CASE("deploy: production needs two signed approvals, not the requester's, of exactly this release", "[e2e][deploy][approvals]") {
  TempDir keys;
  for (const char* n : {"alice", "bob", "carol", "mallory"}) ed25519_keypair(keys.path(), n);
  DeployRepo repo(R"toml(
[stages.production]
plugin = "deploy"
needs = ["prove"]
requires_gate = "pass"
with = { environment = "production", artifacts = ["out/*.tar"], target = "dist/reg", approvals = 2, approvers = { alice = ")toml" +
                  (keys / "alice.pub").string() + "\", bob = \"" + (keys / "bob.pub").string() + "\", carol = \"" +
                  (keys / "carol.pub").string() + "\" } }\n");
  const std::vector<std::string> as_alice = {"USER=alice"};
  auto report = repo.run(as_alice, 1);
  CHECK(report_stage(report, "production")["status"] == "failed");
  CHECK(message(report, "production").find("waiting for approval: production needs 2 signed approvals") == 0);
  CHECK(!fs::exists(repo.ws / "dist/reg/production"));
  const std::string id = report.value("run_id", "");
  REQUIRE(fs::exists(repo.ws / "dist/reg/approvals/requests" / (id + ".json")));
  CHECK(message(report, "production").find("wrt approve " + id) != std::string::npos);

  // Alice asked: she cannot approve. Mallory's key is nobody's.
  auto a = repo.wrt({"approve", id, "--key", (keys / "alice.pem").string()});
  CHECK(a.exit_code == 2);
  CHECK(a.err.find("alice asked for this deployment") != std::string::npos);
  a = repo.wrt({"approve", id, "--key", (keys / "mallory.pem").string()});
  CHECK(a.exit_code == 2);
  CHECK(a.err.find("is not the key of an approver of stage 'production' (alice, bob, carol)") != std::string::npos);
  a = repo.wrt({"approve", "123-456", "--key", (keys / "bob.pem").string()});
  CHECK(a.exit_code == 2);
  CHECK(a.err.find("no deployment of run 123-456 waits for approval") != std::string::npos);

  // Bob approves: one of two.
  a = repo.wrt({"approve", id, "--key", (keys / "bob.pem").string()});
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(a.out.find("approved production: release sha256:") == 0);
  report = repo.run(as_alice, 1);
  CHECK(message(report, "production").find("has 1") != std::string::npos);

  // A forged approval in carol's name (signed by mallory) does not count.
  const fs::path bob_file = [&] {
    for (const auto& d : fs::directory_iterator(repo.ws / "dist/reg/approvals"))
      if (fs::exists(d.path() / "bob.dsse.json")) return d.path() / "bob.dsse.json";
    return fs::path();
  }();
  REQUIRE(!bob_file.empty());
  auto forged = read_json(bob_file);
  write_file(bob_file.parent_path() / "carol.dsse.json", forged.dump());  // bob's signature under carol's name
  report = repo.run(as_alice, 1);
  CHECK(message(report, "production").find("has 1 (approvals/") != std::string::npos);
  CHECK(message(report, "production").find("carol.dsse.json: the signature does not verify with carol's key") != std::string::npos);
  fs::remove(bob_file.parent_path() / "carol.dsse.json");

  // Carol approves (the request of the last run): deployed, and the ledger names both.
  a = repo.wrt({"approve", report.value("run_id", ""), "--key", (keys / "carol.pem").string()});
  REQUIRE(a.exit_code == 0);
  report = repo.run(as_alice);
  CHECK(report_stage(report, "production")["status"] == "passed");
  auto l = ledger(repo.ws / "dist/reg");
  REQUIRE(l.size() == 1);
  CHECK(l[0]["approved_by"] == nlohmann::json::array({"bob", "carol"}));
  CHECK(fs::exists(repo.ws / "dist/reg/production/app.tar"));

  // A new commit is a new release: the old approvals do not carry over.
  write_file(repo.ws / "src/a.c", "int a; int b;\n");
  git(repo.ws, {"commit", "-q", "-am", "c2"});
  report = repo.run(as_alice, 1);
  CHECK(message(report, "production").find("has 0") != std::string::npos);
}

TEST_CASE("deploy: the certification target deploys a signed evidence package written by `wrt deploy`", "[e2e][deploy][evidence]") {
  TempDir keys;
  ed25519_keypair(keys.path(), "ci");
  DeployRepo repo(R"toml(
[stages.certification]
plugin = "deploy"
needs = ["prove"]
requires_gate = "pass"
min_verified_asil = "D"
when = { event = "manual" }
with = { environment = "certification", evidence = "dist/evidence", evidence_keys = [")toml" +
                  (keys / "ci.pub").string() + R"toml("], artifacts = ["out/*.tar"], target = "dist/reg" }
)toml");
  // Not named: skipped.
  auto report = repo.run();
  CHECK(report_stage(report, "certification")["status"] == "skipped");

  auto d = repo.wrt({"deploy", "certification", "--key", (keys / "ci.pem").string(), "--report", (repo.ws / "report.json").string()});
  INFO(d.out << d.err);
  REQUIRE(d.exit_code == 0);
  report = read_json(repo.ws / "report.json");
  CHECK(report_stage(report, "certification")["status"] == "passed");
  auto l = ledger(repo.ws / "dist/reg");
  REQUIRE(l.size() == 1);
  CHECK(l[0]["environment"] == "certification");
  CHECK(l[0]["evidence"] == "sha256:" + wrt::to_hex(wrt::sha256(read_file(repo.ws / "dist/evidence/manifest.json"))));
  // What was deployed is the package itself, and it still verifies there.
  auto v = run_wrt({"evidence", "verify", (repo.ws / "dist/reg/certification/evidence").string(), "--key", (keys / "ci.pub").string()},
                   repo.ws.path());
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  CHECK(fs::exists(repo.ws / "dist/reg/certification/app.tar"));

  // One byte of the package changed before a deploy: refused, naming the file.
  write_file(repo.ws / "src/a.c", "int a; int b;\n");
  git(repo.ws, {"commit", "-q", "-am", "c2"});
  d = repo.wrt({"deploy", "certification", "--key", (keys / "ci.pem").string()});
  REQUIRE(d.exit_code == 0);
  std::string text = read_file(repo.ws / "dist/evidence/summary.md");
  text[0] = text[0] == '#' ? '%' : '#';
  write_file(repo.ws / "dist/evidence/summary.md", text);
  auto r = repo.wrt({"run", "--target", "certification", "--report", (repo.ws / "report.json").string()});
  CHECK(r.exit_code == 1);
  CHECK(message(read_json(repo.ws / "report.json"), "certification").find("summary.md: missing or altered") != std::string::npos);
  // Unsigned (no --key): refused, as evidence_keys asks for ci's signature.
  d = repo.wrt({"deploy", "certification", "--report", (repo.ws / "report.json").string()});
  CHECK(d.exit_code == 1);
  CHECK(message(read_json(repo.ws / "report.json"), "certification").find("provenance.dsse.json: not signed by") != std::string::npos);
}
