// The cbmc plugin on what CBMC really prints with --json-ui: every
// transcript in tests/data/cbmc/transcripts/ (provenance in its README;
// expected.json says what each one means, read from the transcript) through
// the parser and verdict, and through the real plugin and the real wrt
// binary, replayed by a TEST DOUBLE `cbmc` (tests/replay/: Debian 12 has no
// CBMC package). Tests that use the double say "replay" in their names.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "plugins/cbmc/cbmc_json.h"
#include "plugins/common/tool.h"
#include "support.h"

using namespace wrt::plugins::cbmc;
using wrt::plugins::ParseError;
namespace fs = std::filesystem;

namespace {

const fs::path kTranscripts = fs::path(WRT_TEST_DATA_DIR) / "cbmc" / "transcripts";

std::string text_of(const std::string& name) { return wrt::test::read_file(kTranscripts / name); }

CbmcRun transcript(const std::string& name) {
  auto r = parse_cbmc_json(text_of(name), name);
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return std::get<CbmcRun>(r);
}

// expected.json records CBMC's meaning. wrt's differs in one place: a run
// whose only failed property is an unwinding assertion proved nothing and
// refuted nothing (the bound was too small), so it is inconclusive.
std::string wrt_outcome(const std::string& file, const std::string& outcome) {
  if (file == "unwinding_assertion.json" && outcome == "failed") return "inconclusive";
  return outcome;
}

std::string outcome_of(const CbmcRun& run) {
  if (run.properties.empty() && !run.errors.empty() && !run.out_of_memory && !run.truncated) return "error";
  switch (judge(run).verdict) {
    case Verdict::kProved: return "passed";
    case Verdict::kFailed: return "failed";
    default: return "inconclusive";
  }
}

std::vector<std::string> replay_env(const wrt::test::TempDir& ws, const std::string& transcript, int exit_code) {
  const char* path = std::getenv("PATH");
  return {std::string("PATH=") + WRT_SOURCE_DIR + "/tests/replay:" + (path ? path : "/usr/bin:/bin"),
          "WRT_REPLAY_TRANSCRIPT=" + (kTranscripts / transcript).string(), "WRT_REPLAY_EXIT=" + std::to_string(exit_code),
          "WRT_REPLAY_LOG=" + (ws / "replay.log").string()};
}

}  // namespace

TEST_CASE("cbmc: every stored transcript parses to what CBMC meant (expected.json)", "[cbmc]") {
  const auto exp = wrt::test::read_json(kTranscripts / "expected.json");
  int checked = 0;
  for (const auto& [file, e] : exp.items()) {
    INFO(file);
    CbmcRun run = transcript(file);
    CHECK(outcome_of(run) == wrt_outcome(file, e["outcome"].get<std::string>()));
    const auto& want = e["properties"];
    REQUIRE(run.properties.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      const Property& p = run.properties[i];
      INFO(p.property);
      CHECK(p.property == want[i]["property"].get<std::string>());
      std::string status = want[i]["status"].get<std::string>();
      if (status == "NOT CHECKED") status = "NOT_CHECKED";
      CHECK(p.status == status);
      if (p.status != "FAILURE") continue;
      // Where it failed: the result's location, or (CBMC <= 5.48,
      // --stop-on-fail) the failing step at the end of the trace.
      const bool own = p.line != 0;
      CHECK((own ? p.file : p.trace_file) == want[i]["file"].get<std::string>());
      CHECK((own ? p.line : p.trace_line) == want[i]["line"].get<std::uint32_t>());
    }
    ++checked;
  }
  CHECK(checked >= 14);
}

TEST_CASE("cbmc: resource limits and cut-off output are inconclusive, never a refuted property", "[cbmc]") {
  for (const char* f : {"out_of_memory_killed.json", "out_of_memory_caught.json", "out_of_memory_solver_error.json",
                        "killed_mid_output.json", "killed_mid_token.json"}) {
    INFO(f);
    CbmcRun run = transcript(f);
    CHECK(judge(run).verdict == Verdict::kInconclusive);
  }
  CHECK(transcript("killed_mid_token.json").truncated);
  CHECK(transcript("out_of_memory_caught.json").out_of_memory);
  CHECK(judge(transcript("out_of_memory_caught.json")).reason == "CBMC ran out of memory");
  // A C parse error: the location is in the ERROR message.
  CbmcRun parse = transcript("parse_error_syntax.json");
  CHECK(parse.error_file == "withdraw.c");
  CHECK(parse.error_line == 18);
  CHECK(parse.errors.front() == "withdraw.c:18: syntax error before '__CPROVER_assume'");
}

TEST_CASE("cbmc: text that is not JSON where a message should be is a parse error with position", "[cbmc]") {
  CHECK(std::holds_alternative<ParseError>(parse_cbmc_json("CBMC crashed\n", "x")));
  auto garbage = parse_cbmc_json("[\n  {\"program\": \"CBMC 5.95.1\"},\n  oops\n]", "x");
  REQUIRE(std::holds_alternative<ParseError>(garbage));
  CHECK(std::get<ParseError>(garbage).line == 3);
  CHECK(std::get<ParseError>(garbage).column == 3);
  // "out of memory" in a property's description is not CBMC running out.
  auto desc = parse_cbmc_json(
      "[{\"result\": [{\"property\": \"m.assertion.1\", \"status\": \"SUCCESS\", \"description\": \"out of memory "
      "handled\"}]}, {\"cProverStatus\": \"success\"}]",
      "x");
  REQUIRE(std::holds_alternative<CbmcRun>(desc));
  CHECK(judge(std::get<CbmcRun>(desc)).verdict == Verdict::kProved);
}

TEST_CASE("cbmc: replay of real transcripts through the plugin and wrt: status, metrics, findings", "[cbmc][e2e]") {
  struct Case {
    const char* transcript;
    int exit_code;
    const char* status;
    int passed, failed, inconclusive;
    std::vector<std::pair<std::string, int>> findings;
  };
  const std::vector<Case> cases = {
      {"success.json", 0, "passed", 1, 0, 0, {}},
      {"failure_trace.json", 10, "failed", 0, 1, 0, {{"Proof_Harness/catalan_with_harness.c", 42}}},
      {"multiple_properties.json", 10, "failed", 0, 1, 0,
       {{"Proof_Harness/floyd_cycle_detection_algorithm_with_harness.c", 103}}},
      {"legacy_5_48_failure.json", 10, "failed", 0, 1, 0, {{"multi.c", 8}}},
      {"stop_on_fail.json", 10, "failed", 0, 1, 0, {{"main.c", 6}}},
      {"out_of_memory_killed.json", 137, "failed", 0, 0, 1, {{"proofs/a.c", 0}}},
      {"out_of_memory_caught.json", 6, "failed", 0, 0, 1, {{"proofs/a.c", 0}}},
      {"killed_mid_token.json", 137, "failed", 0, 0, 1, {{"proofs/a.c", 0}}},
  };
  for (const auto& c : cases) {
    INFO(c.transcript);
    wrt::test::TempDir ws;
    wrt::test::write_file(ws / "proofs/a.c", "void harness(void) {}\n");
    wrt::test::write_file(ws / "wrt.toml", "[stages.bmc]\nplugin = \"cbmc\"\n"
                                           "with = { harnesses = [{ file = \"proofs/a.c\", function = \"harness\" }] }\n");
    auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(),
                                replay_env(ws, c.transcript, c.exit_code));
    INFO(r.out << r.err);
    CHECK(r.exit_code == (std::string(c.status) == "passed" ? 0 : 1));
    auto st = wrt::test::report_stage(wrt::test::read_json(ws / "report.json"), "bmc");
    CHECK(st["status"] == c.status);
    CHECK(st["metrics"]["verification.passed"] == c.passed);
    CHECK(st["metrics"]["verification.failed"] == c.failed);
    CHECK(st["metrics"]["verification.inconclusive"] == c.inconclusive);
    std::vector<std::pair<std::string, int>> findings;
    for (const auto& f : st["findings"]) findings.emplace_back(f["file"].get<std::string>(), f["line"].get<int>());
    CHECK(findings == c.findings);
  }
}

TEST_CASE("cbmc: replay of every transcript through wrt: status, counts and each finding's location", "[cbmc][e2e]") {
  const auto exp = wrt::test::read_json(kTranscripts / "expected.json");
  int replayed = 0;
  for (const auto& [file, e] : exp.items()) {
    INFO(file);
    const std::string outcome = wrt_outcome(file, e["outcome"].get<std::string>());
    // A killed CBMC has no exit code of its own: the shell's 137 for SIGKILL.
    const int exit_code = e["exit_code"].is_number() ? e["exit_code"].get<int>() : 137;
    wrt::test::TempDir ws;
    wrt::test::write_file(ws / "proofs/a.c", "void harness(void) {}\n");
    wrt::test::write_file(ws / "wrt.toml", "[stages.bmc]\nplugin = \"cbmc\"\n"
                                           "with = { harnesses = [{ file = \"proofs/a.c\", function = \"harness\" }] }\n");
    auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(),
                                replay_env(ws, file, exit_code));
    INFO(r.out << r.err);
    CHECK(r.exit_code == (outcome == "passed" ? 0 : 1));
    auto st = wrt::test::report_stage(wrt::test::read_json(ws / "report.json"), "bmc");
    CHECK(st["status"] == (outcome == "passed" ? "passed" : "failed"));
    std::vector<std::pair<std::string, int>> want;
    if (outcome == "error") {
      CHECK_FALSE(st["metrics"].contains("verification.total"));
    } else {
      CHECK(st["metrics"]["verification.passed"] == (outcome == "passed" ? 1 : 0));
      CHECK(st["metrics"]["verification.failed"] == (outcome == "failed" ? 1 : 0));
      CHECK(st["metrics"]["verification.inconclusive"] == (outcome == "inconclusive" ? 1 : 0));
      for (const auto& p : e["properties"]) {
        const bool unwinding = p["property"].get<std::string>().find(".unwind.") != std::string::npos;
        if (outcome == "failed" && p["status"] == "FAILURE" && !unwinding)
          want.emplace_back(p["file"].get<std::string>(), p["line"].get<int>());
      }
      // Inconclusive: one finding where it stopped (a located undecided
      // property), else on the harness file.
      if (outcome == "inconclusive") {
        std::pair<std::string, int> where{"proofs/a.c", 0};
        for (const auto& p : e["properties"])
          if (p["status"] != "SUCCESS" && p.contains("line") && p["line"].is_number()) {
            where = {p["file"].get<std::string>(), p["line"].get<int>()};
            break;
          }
        want.push_back(where);
      }
    }
    std::vector<std::pair<std::string, int>> got;
    for (const auto& f : st["findings"]) got.emplace_back(f["file"].get<std::string>(), f["line"].get<int>());
    if (outcome != "error") CHECK(got == want);
    ++replayed;
  }
  CHECK(replayed == static_cast<int>(exp.size()));
}

TEST_CASE("cbmc: replay of a parse error: the stage fails at the error's location, and a lying exit code is an error",
          "[cbmc][e2e]") {
  wrt::test::TempDir ws;
  wrt::test::write_file(ws / "withdraw.c", "void proof_harness_withdraw(void) {}\n");
  wrt::test::write_file(ws / "wrt.toml", "[stages.bmc]\nplugin = \"cbmc\"\n"
                                         "with = { harnesses = [{ file = \"withdraw.c\", function = \"proof_harness_withdraw\" }] }\n");
  auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(),
                              replay_env(ws, "parse_error_syntax.json", 6));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto st = wrt::test::report_stage(wrt::test::read_json(ws / "report.json"), "bmc");
  CHECK(st["status"] == "failed");
  CHECK_THAT(st["message"].get<std::string>(), Catch::Contains("withdraw.c:18: syntax error before '__CPROVER_assume'"));
  REQUIRE(st["findings"].size() == 1);
  CHECK(st["findings"][0]["line"] == 18);

  auto lie = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(),
                                replay_env(ws, "success.json", 10));
  CHECK(lie.exit_code == 1);
  auto st2 = wrt::test::report_stage(wrt::test::read_json(ws / "report.json"), "bmc");
  CHECK_THAT(st2["message"].get<std::string>(), Catch::Contains("exited with 10 but reported \"success\""));
}

TEST_CASE("cbmc: unknown keys are a configuration error, exit 2, with a suggestion", "[cbmc][e2e]") {
  wrt::test::TempDir ws;
  wrt::test::write_file(ws / "wrt.toml", "[stages.bmc]\nplugin = \"cbmc\"\n"
                                         "with = { harnesses = [{ file = \"a.c\", functon = \"h\" }] }\n");
  auto r = wrt::test::run_wrt({"run"}, ws.path(), replay_env(ws, "success.json", 0));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("functon"));
  CHECK_THAT(r.err, Catch::Contains("did you mean 'function'"));
}

TEST_CASE("cbmc: e2e without cbmc the run stops with exit 2 saying how to install it (skipped when cbmc is present)", "[cbmc][e2e]") {
  if (wrt::plugins::find_program("cbmc")) {
    WARN("skipped: cbmc is installed");
    return;
  }
  wrt::test::TempDir ws;
  wrt::test::write_file(ws / "proofs/a.c", "void harness(void) { int x; __CPROVER_assert(x == x, \"refl\"); }\n");
  wrt::test::write_file(ws / "wrt.toml", "[project]\nname = \"c\"\n[stages.bmc]\nplugin = \"cbmc\"\n"
                                         "with = { harnesses = [{ file = \"proofs/a.c\", function = \"harness\" }] }\n");
  auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  CHECK(r.exit_code == 2);  // found by the fingerprint, before any stage starts
  auto st = nlohmann::json::parse(wrt::test::read_file(ws / "report.json"))["stages"][0];
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().find("Debian 12 does not package CBMC") != std::string::npos);
}
