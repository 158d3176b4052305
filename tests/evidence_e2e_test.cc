// `wrt evidence` and `wrt evidence verify`, end to end in a temporary git
// repository, with Ed25519 keys made by the real `openssl` and the DSSE
// signature checked by `openssl pkeyutl` as well as by wrt.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/dsse.h"
#include "core/util/hash.h"
#include "support.h"

using namespace wrt;
using namespace wrt::test;
namespace fs = std::filesystem;

namespace {


void keypair(const TempDir& dir, const std::string& name) { ed25519_keypair(dir.path(), name); }

const char* kPipeline = R"toml(
[project]
name = "evidence-demo"

[components.core]
paths = ["src/**"]
asil = "D"

[stages.prove]
for_each = "component"
inputs = ["src/**"]
outputs = ["out/proof-{component}.txt"]
with = { run = "mkdir -p out && { date +%s%N; echo 'VERIFICATION:- SUCCESSFUL'; } > out/proof-{component}.txt" }

[stages.package]
inputs = ["out/proof-*.txt"]
needs = ["prove"]
outputs = ["out/evidence.tar"]
with = { run = "tar cf out/evidence.tar out/proof-*.txt" }
)toml";

}  // namespace

TEST_CASE("evidence: a signed package of the current commit verifies, and any change to it is named", "[e2e][evidence]") {
  TempDir ws, keys;
  keypair(keys, "k1");
  keypair(keys, "k2");
  keypair(keys, "stranger");
  git(ws, {"init", "-q", "-b", "main"});
  write_file(ws / "wrt.toml", kPipeline);
  write_file(ws / "src/a.c", "int a;\n");
  write_file(ws / ".gitignore", ".wrt/\nout/\nev*/\n");
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "c1"});
  auto r = run_wrt({"run"}, ws.path());
  REQUIRE(r.exit_code == 0);

  // A proof that re-runs re-runs what packages its output (the stale-tarball case).
  write_file(ws / "src/a.c", "int a; int b;\n");
  git(ws, {"commit", "-q", "-am", "c2"});
  r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  REQUIRE(r.exit_code == 0);
  auto report = read_json(ws / "report.json");
  CHECK(report_stage(report, "prove:core")["status"] == "passed");
  CHECK(report_stage(report, "package")["status"] == "passed");  // not "cached"

  auto e = run_wrt({"evidence", "--out", "ev", "--key", (keys / "k1.pem").string(), "--key", (keys / "k2.pem").string()}, ws.path());
  INFO(e.out << e.err);
  REQUIRE(e.exit_code == 0);
  CHECK(e.out.find("2 stages, gate pass, 2 signatures") != std::string::npos);
  const fs::path ev = ws / "ev";
  for (const char* f : {"manifest.json", "provenance.dsse.json", "verification-summary.dsse.json", "run.json", "wrt.toml",
                        "last-results.json", "summary.md", "stages/prove:core/key.json", "stages/prove:core/log.txt",
                        "reports/findings.sarif", "junit.xml"})
    CHECK(fs::exists(ev / f));
  // The package's JUnit file is valid against the Ant JUnit schema and names the proof.
  auto lint = run_command({"xmllint", "--noout", "--schema", std::string(WRT_TEST_DATA_DIR) + "/junit/JUnit.xsd",
                           (ev / "junit.xml").string()});
  INFO(lint.out << lint.err);
  CHECK(lint.exit_code == 0);
  CHECK(read_file(ev / "junit.xml").find("name=\"prove:core\"") != std::string::npos);
  auto verify = [&](const std::string& key) { return run_wrt({"evidence", "verify", ev.string(), "--key", (keys / key).string()}, ws.path()); };
  auto v = verify("k1.pub");
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  CHECK(v.out.find("files intact, signed by 1 key") != std::string::npos);
  CHECK(verify("k2.pub").exit_code == 0);
  v = verify("stranger.pub");
  CHECK(v.exit_code == 1);
  CHECK(v.out.find("provenance.dsse.json: unsigned") != std::string::npos);

  // The statements: in-toto v1, SLSA provenance naming the commit, and the
  // verification summary carrying the gate.
  auto envelope = read_json(ev / "provenance.dsse.json");
  CHECK(envelope["payloadType"] == "application/vnd.in-toto+json");
  auto payload = base64_decode(envelope["payload"].get<std::string>());
  REQUIRE(payload);
  auto statement = nlohmann::json::parse(*payload);
  CHECK(statement["_type"] == "https://in-toto.io/Statement/v1");
  CHECK(statement["predicateType"] == "https://slsa.dev/provenance/v1");
  CHECK(statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"].get<std::string>().size() == 40);
  auto vsa = nlohmann::json::parse(*base64_decode(read_json(ev / "verification-summary.dsse.json")["payload"].get<std::string>()));
  CHECK(vsa["predicate"]["verificationResult"] == "PASSED");
  CHECK(vsa["predicate"]["verifiedLevels"] == nlohmann::json::array({"WRT_ASIL_D_VERIFIED"}));

  // OpenSSL agrees with the signature over DSSE's PAE.
  write_file(keys / "pae.bin", dsse_pae(envelope["payloadType"], *payload));
  write_file(keys / "sig.bin", *base64_decode(envelope["signatures"][0]["sig"].get<std::string>()));
  auto o = run_command({"openssl", "pkeyutl", "-verify", "-pubin", "-inkey", (keys / "k1.pub").string(), "-rawin", "-in",
                        (keys / "pae.bin").string(), "-sigfile", (keys / "sig.bin").string()});
  INFO(o.out << o.err);
  CHECK(o.exit_code == 0);

  SECTION("one byte of a log changed") {
    std::string log = read_file(ev / "stages/prove:core/log.txt");
    log += "x";
    write_file(ev / "stages/prove:core/log.txt", log);
    v = verify("k1.pub");
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("stages/prove:core/log.txt: altered") != std::string::npos);
  }
  SECTION("a file changed and the manifest rewritten to match: the signed statements do not cover it") {
    write_file(ev / "summary.md", "all good\n");
    auto m = read_json(ev / "manifest.json");
    for (auto& f : m["files"])
      if (f["path"] == "summary.md") f["sha256"] = to_hex(sha256("all good\n"));
    write_file(ev / "manifest.json", m.dump(2) + "\n");
    v = verify("k1.pub");
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("provenance.dsse.json: its subjects are not this manifest and its files") != std::string::npos);
  }
  SECTION("signatures removed") {
    auto env = read_json(ev / "provenance.dsse.json");
    env["signatures"] = nlohmann::json::array();
    write_file(ev / "provenance.dsse.json", env.dump());
    v = verify("k1.pub");
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("provenance.dsse.json: unsigned") != std::string::npos);
  }
  SECTION("a file removed, a file added") {
    fs::remove(ev / "run.json");
    write_file(ev / "extra.txt", "smuggled\n");
    v = verify("k1.pub");
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("run.json: missing") != std::string::npos);
    CHECK(v.out.find("extra.txt: not in the manifest") != std::string::npos);
  }
}

TEST_CASE("evidence: refused for a commit that was not run, and into a non-empty directory", "[e2e][evidence]") {
  TempDir ws;
  git(ws, {"init", "-q", "-b", "main"});
  write_file(ws / "wrt.toml", kPipeline);
  write_file(ws / "src/a.c", "int a;\n");
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "c1"});
  auto e = run_wrt({"evidence", "--out", "ev"}, ws.path());
  CHECK(e.exit_code == 2);
  CHECK(e.err.find("no run recorded") != std::string::npos);
  REQUIRE(run_wrt({"run"}, ws.path()).exit_code == 0);
  git(ws, {"commit", "-q", "--allow-empty", "-m", "c2"});
  e = run_wrt({"evidence", "--out", "ev"}, ws.path());
  CHECK(e.exit_code == 2);
  CHECK(e.err.find("the last run was for commit") != std::string::npos);
  REQUIRE(run_wrt({"run"}, ws.path()).exit_code == 0);
  write_file(ws / "ev/old.txt", "x");
  e = run_wrt({"evidence", "--out", "ev"}, ws.path());
  CHECK(e.exit_code == 2);
  CHECK(e.err.find("exists and is not empty") != std::string::npos);
  e = run_wrt({"evidence", "--out", "ev2"}, ws.path());
  CHECK(e.exit_code == 0);
  CHECK(e.err.find("unsigned: pass --key FILE") != std::string::npos);
}

TEST_CASE("evidence: coverage reports that are declared outputs are in the package, also after a repeated run",
          "[e2e][evidence]") {
  TempDir ws;
  git(ws, {"init", "-q", "-b", "main"});
  write_file(ws / "wrt.toml", std::string(kPipeline) + R"toml(
[stages.coverage]
plugin = "coverage"
inputs = ["data/lcov.info"]
outputs = ["coverage/cobertura.xml"]
with = { lcov = "data/lcov.info", min_line = 0 }

[stages.notes]
plugin = "probe"
with = { mode = "report", write = "out/report.txt" }
)toml" + "[settings]\nplugin_path = [\"" + std::string(WRT_TEST_PLUGIN_DIR) + "\"]\n");
  write_file(ws / "src/a.c", "int a;\n");
  write_file(ws / "data/lcov.info", read_file(std::string(WRT_TEST_DATA_DIR) + "/coverage/lcov-1.16.info"));
  write_file(ws / ".gitignore", ".wrt/\nout/\nev*/\ncoverage/\n");
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "c1"});
  for (int round = 0; round < 3; ++round) {  // the later runs repeat the first: cached, same results
    auto r = run_wrt({"run"}, ws.path());
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  auto e = run_wrt({"evidence", "--out", "ev"}, ws.path());
  INFO(e.out << e.err);
  REQUIRE(e.exit_code == 0);
  CHECK(e.out.find("4 stages") != std::string::npos);  // prove:core, package, coverage, notes
  // The LCOV file is the stage's input (its digest in the key record), the Cobertura one its output.
  CHECK(read_file(ws / "ev/stages/coverage/artifacts/data/lcov.info") == read_file(ws / "data/lcov.info"));
  CHECK(read_file(ws / "ev/stages/coverage/artifacts/coverage/cobertura.xml") == read_file(ws / "coverage/cobertura.xml"));
  // The probe's report is no declared output: named as left out, not packaged.
  CHECK(e.out.find("notes: artifact out/report.txt is neither a declared output nor an input") != std::string::npos);
  CHECK(!fs::exists(ws / "ev/stages/notes/artifacts"));

  // A coverage report edited after the run is left out, named.
  write_file(ws / "coverage/cobertura.xml", "<coverage/>\n");
  e = run_wrt({"evidence", "--out", "ev2"}, ws.path());
  REQUIRE(e.exit_code == 0);
  CHECK(e.out.find("coverage: artifact coverage/cobertura.xml is missing or changed since the run") != std::string::npos);
  CHECK(!fs::exists(ws / "ev2/stages/coverage/artifacts/coverage/cobertura.xml"));
}

// A fresh checkout whose every stage came from a shared cache: nothing ran
// there, yet each stage's key record and its log (the one stored with the
// result, read and checked through the cache) are in the package.
TEST_CASE("evidence: a fresh checkout served from a shared cache packages each stage's key record and cached log",
          "[e2e][evidence]") {
  TempDir a, b, cache;
  for (const TempDir* ws : {&a, &b}) {
    git(*ws, {"init", "-q", "-b", "main"});
    write_file(*ws / "wrt.toml", kPipeline);
    write_file(*ws / "src/a.c", "int a;\n");
    write_file(*ws / ".gitignore", ".wrt/\nout/\nev*/\n");
    git(*ws, {"add", "-A"});
    git(*ws, {"commit", "-q", "-m", "c1"});
  }
  const std::string dir = cache.path().string();
  REQUIRE(run_wrt({"run", "--cache-dir", dir}, a.path()).exit_code == 0);
  auto r = run_wrt({"run", "--cache-dir", dir, "--report", (b / "report.json").string()}, b.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* s : {"prove:core", "package"}) CHECK(report_stage(read_json(b / "report.json"), s)["status"] == "cached");
  CHECK_FALSE(fs::exists(b / ".wrt/logs"));  // no log file per hit

  auto e = run_wrt({"evidence", "--out", "ev", "--cache-dir", dir}, b.path());
  INFO(e.out << e.err);
  REQUIRE(e.exit_code == 0);
  CHECK(e.out.find("2 stages") != std::string::npos);
  CHECK(e.out.find("left out") == std::string::npos);
  for (const char* s : {"prove:core", "package"}) {
    CHECK(read_file(b / "ev/stages" / s / "log.txt") == read_file(a / ".wrt/logs" / (std::string(s) + ".log")));
    auto key = nlohmann::json::parse(read_file(b / "ev/stages" / s / "key.json"));
    CHECK(key["key"] == report_stage(read_json(b / "report.json"), s)["cache_key"]);
    CHECK(key["stage"] == s);
  }

  // Without the cache the logs are left out, each named; the package is still written.
  e = run_wrt({"evidence", "--out", "ev2"}, b.path());
  INFO(e.out << e.err);
  REQUIRE(e.exit_code == 0);
  CHECK(e.out.find("left out: prove:core: the log of its cached result: no cache directory") != std::string::npos);
  CHECK_FALSE(fs::exists(b / "ev2/stages/prove:core/log.txt"));
  CHECK(fs::exists(b / "ev2/stages/prove:core/key.json"));

  // Without the key records, each stage says so instead of leaving key.json out silently.
  fs::remove(b / ".wrt/state/key-records");
  e = run_wrt({"evidence", "--out", "ev3", "--cache-dir", dir}, b.path());
  INFO(e.out << e.err);
  REQUIRE(e.exit_code == 0);
  CHECK(e.out.find("left out: prove:core: no key record in") != std::string::npos);
  CHECK(e.out.find("left out: package: no key record in") != std::string::npos);
  CHECK_FALSE(fs::exists(b / "ev3/stages/prove:core/key.json"));
  CHECK(fs::exists(b / "ev3/stages/prove:core/log.txt"));
}
