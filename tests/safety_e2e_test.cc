// End-to-end tests of components, ASIL profiles and the safety gate through
// the real `wrt` binary, with the real `command` plugin running real shell
// checks as the "verifier" of each component.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "support.h"

namespace fs = std::filesystem;
using wrt::test::read_file;
using wrt::test::run_command;
using wrt::test::run_wrt;
using wrt::test::TempDir;
using wrt::test::write_file;

namespace {

nlohmann::json report_of(const TempDir& ws) { return nlohmann::json::parse(read_file(ws / "report.json")); }

std::map<std::string, std::string> statuses(const nlohmann::json& report) {
  std::map<std::string, std::string> m;
  for (const auto& s : report["stages"]) m[s["name"].get<std::string>()] = s["status"].get<std::string>();
  return m;
}

// Three components at D, B and QM. Each one's "proof" passes while its
// src/<component>/state file says "ok".
void write_safety_workspace(const TempDir& ws) {
  for (const char* c : {"memory", "parser", "ui"}) write_file(ws / (std::string("src/") + c + "/state"), "ok\n");
  write_file(ws / "wrt.toml", R"(
[components.memory]
paths = ["src/memory/**"]
asil = "D"
requirements = ["REQ-MEM-001"]

[components.parser]
paths = ["src/parser/**"]
asil = "B"

[components.ui]
paths = ["src/ui/**"]
asil = "QM"

[stages.prove]
for_each = "component"
with = { run = "echo level=$WRT_LEVEL; grep -qx ok src/{component}/state", env = { WRT_LEVEL = "{component}" } }

[pipelines.verify]
stages = ["prove"]
)");
  write_file(ws / "requirements.toml", R"(
[[requirement]]
id = "REQ-MEM-001"
title = "Allocations never overlap"
asil = "D"

[[requirement]]
id = "REQ-PAR-001"
title = "The parser rejects malformed input"
asil = "B"
verified_by = ["prove:parser"]

[[requirement]]
id = "REQ-UI-001"
title = "Nobody checked this yet"
asil = "QM"
)");
}

wrt::test::CommandResult run(const TempDir& ws, std::vector<std::string> args) {
  args.insert(args.begin() + 1, {"--report", (ws / "report.json").string()});
  return run_wrt(args, ws.path());
}

}  // namespace

TEST_CASE("safety e2e: the gate passes, warns on ASIL B, blocks on ASIL D", "[safety]") {
  TempDir ws;
  write_safety_workspace(ws);
  auto r = run(ws, {"run", "verify"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto rep = report_of(ws);
  CHECK(rep["gate"]["verdict"] == "pass");
  CHECK(statuses(rep) == std::map<std::string, std::string>{
                             {"prove:memory", "passed"}, {"prove:parser", "passed"}, {"prove:ui", "passed"}});

  // QM failure: allowed, exit 0.
  write_file(ws / "src/ui/state", "broken\n");
  r = run(ws, {"run", "verify"});
  CHECK(r.exit_code == 0);
  CHECK(report_of(ws)["gate"]["levels"]["QM"]["verdict"] == "allow");
  CHECK(report_of(ws)["gate"]["verdict"] == "pass");

  // ASIL B failure: a prominent warning, exit 0; --strict fails.
  write_file(ws / "src/parser/state", "broken\n");
  r = run(ws, {"run", "verify"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(report_of(ws)["gate"]["verdict"] == "warn");
  CHECK(r.out.find("safety gate: ASIL B (warn) WARNS") != std::string::npos);
  r = run(ws, {"run", "verify", "--strict"});
  CHECK(r.exit_code == 1);

  // ASIL D failure: blocked, exit 3, the stage named.
  write_file(ws / "src/memory/state", "broken\n");
  r = run(ws, {"run", "verify", "--keep-going"});
  CHECK(r.exit_code == 3);
  auto gate = report_of(ws)["gate"];
  CHECK(gate["verdict"] == "block");
  CHECK(gate["levels"]["D"]["failed"] == nlohmann::json::array({"prove:memory"}));
  CHECK(r.out.find("safety gate verdict: block") != std::string::npos);
}

TEST_CASE("safety e2e: a one-file change re-verifies only its component", "[safety]") {
  TempDir ws;
  write_safety_workspace(ws);
  REQUIRE(run(ws, {"run", "verify"}).exit_code == 0);
  write_file(ws / "src/ui/extra.txt", "new file\n");
  auto r = run(ws, {"run", "verify"});
  REQUIRE(r.exit_code == 0);
  CHECK(statuses(report_of(ws)) == std::map<std::string, std::string>{
                                       {"prove:memory", "cached"}, {"prove:parser", "cached"}, {"prove:ui", "passed"}});
  // The instance's `with` carries its component and profile into the key and the plugin.
  CHECK(read_file(ws / ".wrt/logs/prove:ui.log").find("level=ui") != std::string::npos);

  // `wrt status`: all verified now; after a change, the memory component needs verification.
  write_file(ws / "src/memory/more.txt", "x\n");
  auto st = run_wrt({"status"}, ws.path());
  INFO(st.out << st.err);
  REQUIRE(st.exit_code == 0);
  auto line_of = [&](const std::string& comp) {
    auto at = st.out.find("\n" + comp + " ");
    REQUIRE(at != std::string::npos);
    return st.out.substr(at + 1, st.out.find('\n', at + 1) - at - 1);
  };
  CHECK(line_of("memory").find("needs verification") != std::string::npos);
  CHECK(line_of("memory").find(" D ") != std::string::npos);
  CHECK(line_of("parser").find("verified (cached)") != std::string::npos);
  CHECK(line_of("parser").find("passed") != std::string::npos);
}

TEST_CASE("safety e2e: --changed-since limits the run to changed components", "[safety]") {
  TempDir ws;
  write_safety_workspace(ws);
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"});
    auto r = run_command(args, ws.path());
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  };
  git({"init", "-q"});
  git({"add", "-A"});
  git({"commit", "-qm", "base"});
  write_file(ws / "src/parser/state", "ok\n\n");  // changed, still passing
  auto r = run(ws, {"run", "verify", "--changed-since", "HEAD"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("components: parser (ASIL B)") != std::string::npos);
  CHECK(statuses(report_of(ws)) == std::map<std::string, std::string>{{"prove:parser", "passed"}});

  auto bad = run(ws, {"run", "--changed-since", "no-such-ref"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("no-such-ref") != std::string::npos);
}

TEST_CASE("safety e2e: wrt verify runs components at a level and below with its profile", "[safety]") {
  TempDir ws;
  write_safety_workspace(ws);
  auto r = run(ws, {"verify", "--asil-profile", "b"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto rep = report_of(ws);
  CHECK(statuses(rep) == std::map<std::string, std::string>{{"prove:parser", "passed"}, {"prove:ui", "passed"}});
  CHECK(rep["pipeline"] == "verify --asil-profile B");
  r = run(ws, {"verify", "--asil-profile", "D", "--component", "memory"});
  REQUIRE(r.exit_code == 0);
  CHECK(statuses(report_of(ws)) == std::map<std::string, std::string>{{"prove:memory", "passed"}});
  CHECK(run_wrt({"verify", "--asil-profile", "E"}, ws.path()).exit_code == 2);
  CHECK(run_wrt({"verify", "--asil-profile", "A", "--component", "memory"}, ws.path()).exit_code == 2);
}

TEST_CASE("safety e2e: wrt trace maps requirements to evidence with real coverage", "[safety]") {
  TempDir ws;
  write_safety_workspace(ws);
  write_file(ws / "src/parser/state", "broken\n");
  REQUIRE(run(ws, {"run", "verify", "--keep-going"}).exit_code == 0);  // B fails: warn only
  auto t = run_wrt({"trace", "--format", "json"}, ws.path());
  INFO(t.out << t.err);
  REQUIRE(t.exit_code == 0);
  auto j = nlohmann::json::parse(t.out);
  std::map<std::string, std::string> st;
  for (const auto& r : j["requirements"]) st[r["id"]] = r["status"];
  CHECK(st == std::map<std::string, std::string>{
                  {"REQ-MEM-001", "verified"}, {"REQ-PAR-001", "failing"}, {"REQ-UI-001", "not covered"}});
  CHECK(j["coverage"]["D"]["requirements"]["percent"] == 100.0);
  CHECK(j["coverage"]["B"]["requirements"]["verified"] == 0);
  CHECK(j["coverage"]["B"]["components"]["total"] == 1);
  CHECK(j["coverage"]["QM"]["components"]["verified"] == 1);

  auto md = run_wrt({"trace"}, ws.path());
  CHECK(md.out.find("| REQ-PAR-001 | B | The parser rejects malformed input | prove:parser (failed) | failing |") !=
        std::string::npos);

  write_file(ws / "requirements.toml", "[[requirement]]\nid = \"R1\"\nverified_by = [\"nope\"]\n");
  auto bad = run_wrt({"trace"}, ws.path());
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("requirements.toml:3:16: verified_by names 'nope'") != std::string::npos);
}

TEST_CASE("safety e2e: declared memory keeps heavy stages from running together", "[safety]") {
  TempDir ws;
  // Each stage holds a directory lock for a while; overlapping would fail the second mkdir.
  write_file(ws / "wrt.toml", R"(
[settings]
max_parallel_jobs = 2
memory_limit = "6GiB"
[stages.proof-a]
memory = "4GiB"
cache = false
with = { run = "mkdir held && sleep 0.3 && rmdir held" }
[stages.proof-b]
memory = "4GiB"
cache = false
with = { run = "mkdir held && sleep 0.3 && rmdir held" }
[stages.light-a]
cache = false
with = { run = "touch a.started; for i in $(seq 100); do [ -f b.started ] && exit 0; sleep 0.05; done; exit 1" }
[stages.light-b]
cache = false
with = { run = "touch b.started; for i in $(seq 100); do [ -f a.started ] && exit 0; sleep 0.05; done; exit 1" }
)");
  auto r = run(ws, {"run", "--keep-going"});
  INFO(r.out << r.err);
  // The heavy pair never overlapped; the light pair (no memory declared) did run together.
  CHECK(statuses(report_of(ws)) == std::map<std::string, std::string>{{"proof-a", "passed"},
                                                                       {"proof-b", "passed"},
                                                                       {"light-a", "passed"},
                                                                       {"light-b", "passed"}});
  CHECK(r.exit_code == 0);
}

TEST_CASE("safety e2e: among ready stages the critical one starts first", "[safety]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.a-low]
priority = "low"
cache = false
with = { run = "echo a-low >> order.txt" }
[stages.b-normal]
cache = false
with = { run = "echo b-normal >> order.txt" }
[stages.c-critical]
priority = "critical"
cache = false
with = { run = "echo c-critical >> order.txt" }
)");
  auto r = run(ws, {"run", "-j", "1"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(ws / "order.txt") == "c-critical\nb-normal\na-low\n");
}

TEST_CASE("safety e2e: plugins accept the profile, and coverage takes its ASIL target", "[safety]") {
  TempDir ws;
  // Half of the lines covered.
  write_file(ws / "cov.info", "TN:\nSF:src/a.c\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n");
  write_file(ws / "src/clean.c", "int add(int a, int b) { return a + b; }\n");
  write_file(ws / "wrt.toml", R"(
[stages.cov-d]
plugin = "coverage"
asil = "D"
inputs = ["cov.info"]
with = { lcov = "cov.info", lcov_out = "out-d/lcov.info", cobertura_out = "out-d/cobertura.xml" }
[stages.cov-qm]
plugin = "coverage"
asil = "QM"
inputs = ["cov.info"]
with = { lcov = "cov.info", lcov_out = "out-qm/lcov.info", cobertura_out = "out-qm/cobertura.xml" }
[stages.lint-c]
plugin = "cppcheck"
asil = "C"
inputs = ["src/*.c"]
with = { paths = ["src"] }
)");
  auto r = run(ws, {"run", "--keep-going"});
  INFO(r.out << r.err);
  auto rep = nlohmann::json::parse(read_file(ws / "report.json"));
  CHECK(statuses(rep) == std::map<std::string, std::string>{
                             {"cov-d", "failed"}, {"cov-qm", "passed"}, {"lint-c", "passed"}});
  for (const auto& s : rep["stages"])
    if (s["name"] == "cov-d") CHECK(s["message"].get<std::string>().find("min_line = 95") != std::string::npos);
  CHECK(r.exit_code == 3);  // a failed ASIL D stage blocks
}
