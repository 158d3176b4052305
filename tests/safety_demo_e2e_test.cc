// The shipped examples/safety-demo through the real binary with the real
// spin and z3: all components verified; a failing ASIL-D proof blocks the
// gate (exit 3); a failing ASIL-B one warns; a one-file change re-verifies
// only its component; `wrt trace` reports real coverage.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "support.h"

namespace fs = std::filesystem;
using wrt::test::read_file;
using wrt::test::run_wrt;
using wrt::test::TempDir;
using wrt::test::write_file;

namespace {

std::map<std::string, std::string> statuses(const nlohmann::json& report) {
  std::map<std::string, std::string> m;
  for (const auto& s : report["stages"]) m[s["name"].get<std::string>()] = s["status"].get<std::string>();
  return m;
}

struct Demo {
  TempDir ws;
  Demo() {
    fs::copy(fs::path(WRT_SOURCE_DIR) / "examples/safety-demo", ws.path(),
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    fs::remove_all(ws / ".wrt");
    fs::remove_all(ws / "build");
  }
  wrt::test::CommandResult run(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"run", "safety", "--report", (ws / "report.json").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_wrt(args, ws.path());
  }
  nlohmann::json report() { return nlohmann::json::parse(read_file(ws / "report.json")); }
};

}  // namespace

TEST_CASE("safety-demo: verified, then blocked by ASIL D, warned by ASIL B, incremental per component",
          "[safety-demo]") {
  Demo d;
  auto r = d.run();
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto rep = d.report();
  CHECK(rep["gate"]["verdict"] == "pass");
  auto st = statuses(rep);
  for (const char* s : {"compile", "model-check:memory", "model-check:parser", "model-check:telemetry", "prove:memory",
                        "prove:parser", "prove:telemetry"})
    CHECK(st[s] == "passed");
  for (const auto& s : rep["stages"])
    if (s["name"] == "prove:memory") CHECK(s["metrics"]["verification.passed"] == 2.0);

  // Second run: everything cached.
  r = d.run();
  REQUIRE(r.exit_code == 0);
  for (const auto& [name, status] : statuses(d.report())) CHECK(status == "cached");

  // One file of the parser component changes: only the parser is re-verified.
  write_file(d.ws / "src/parser/lexer.c", read_file(d.ws / "src/parser/lexer.c") + "\n/* reviewed */\n");
  r = d.run();
  REQUIRE(r.exit_code == 0);
  st = statuses(d.report());
  CHECK(st["model-check:parser"] == "passed");
  CHECK(st["prove:parser"] == "passed");
  CHECK(st["model-check:memory"] == "cached");
  CHECK(st["prove:memory"] == "cached");
  CHECK(st["prove:telemetry"] == "cached");

  // A counterexample in an ASIL B obligation: the gate warns, exit 0.
  fs::copy_file(d.ws / "scenarios/parser-overrun.smt2", d.ws / "proofs/parser/token_bound.smt2",
                fs::copy_options::overwrite_existing);
  r = d.run({"--keep-going"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(d.report()["gate"]["verdict"] == "warn");
  CHECK(statuses(d.report())["prove:parser"] == "failed");
  CHECK(r.out.find("ASIL B (warn) WARNS") != std::string::npos);

  // A lock removed from the ASIL D model: spin finds the double ownership; blocked, exit 3.
  fs::copy_file(d.ws / "scenarios/memory-nolock.pml", d.ws / "models/memory.pml", fs::copy_options::overwrite_existing);
  r = d.run({"--keep-going"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  auto rep2 = d.report();
  CHECK(rep2["gate"]["verdict"] == "block");
  CHECK(rep2["gate"]["levels"]["D"]["failed"] == nlohmann::json::array({"model-check:memory"}));
  for (const auto& s : rep2["stages"])
    if (s["name"] == "model-check:memory") {
      REQUIRE(s["findings"].size() >= 1);
      CHECK(s["findings"][0]["message"].get<std::string>().find("assertion violated") != std::string::npos);
    }

  // Traceability from those real results.
  auto t = run_wrt({"trace", "--format", "json"}, d.ws.path());
  INFO(t.out << t.err);
  REQUIRE(t.exit_code == 0);
  auto j = nlohmann::json::parse(t.out);
  std::map<std::string, std::string> req;
  for (const auto& x : j["requirements"]) req[x["id"]] = x["status"];
  CHECK(req["REQ-MEM-001"] == "failing");  // the component's model check is evidence too
  CHECK(req["REQ-PAR-001"] == "failing");
  CHECK(req["REQ-TEL-001"] == "not covered");
  CHECK(j["coverage"]["QM"]["components"]["verified"] == 1);
  CHECK(j["coverage"]["D"]["components"]["verified"] == 0);
}
