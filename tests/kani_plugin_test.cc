// The kani plugin: its parser on transcripts in Kani's real text output
// format (tests/data/kani/*.txt; Kani cannot be installed here), the
// `cargo kani list --format json` file, malformed input, and end to end:
// without cargo-kani a kani stage fails naming the install command; with
// it, the real plugin runs.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "plugins/common/tool.h"
#include "plugins/kani/kani_output.h"
#include "support.h"

using namespace wrt::plugins::kani;
using wrt::plugins::ParseError;
namespace fs = std::filesystem;

namespace {

std::string kani_data(const std::string& name) { return wrt::test::read_file(fs::path(WRT_TEST_DATA_DIR) / "kani" / name); }

KaniRun transcript(const std::string& name) {
  auto r = parse_kani_output(kani_data(name), name);
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return std::get<KaniRun>(r);
}

void write_crate(const wrt::test::TempDir& ws) {
  wrt::test::write_file(ws / "Cargo.toml", "[package]\nname = \"proofs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
  wrt::test::write_file(ws / "src/lib.rs",
                        "pub fn sat_add(a: u8, b: u8) -> u8 { a.saturating_add(b) }\n"
                        "#[cfg(kani)]\n#[kani::proof]\nfn sat_add_never_below() {\n"
                        "  let a: u8 = kani::any();\n  let b: u8 = kani::any();\n  assert!(sat_add(a, b) >= a);\n}\n");
}

nlohmann::json run_kani_stage(const wrt::test::TempDir& ws, int* exit_code) {
  wrt::test::write_file(ws / "wrt.toml", "[project]\nname = \"kani-e2e\"\n\n[stages.prove]\nplugin = \"kani\"\n"
                                         "inputs = [\"src/**/*.rs\", \"Cargo.toml\"]\n"
                                         "with = { harnesses = \"auto\", profile = { default_unwind = 4 } }\n");
  auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  *exit_code = r.exit_code;
  INFO(r.out << r.err);
  REQUIRE(fs::exists(ws / "report.json"));
  return nlohmann::json::parse(wrt::test::read_file(ws / "report.json"))["stages"][0];
}

}  // namespace

TEST_CASE("kani: transcript of two successful harnesses with checks, locations and summary", "[kani]") {
  KaniRun run = transcript("passing.txt");
  REQUIRE(run.harnesses.size() == 2);
  const Harness& h = run.harnesses[0];
  CHECK(h.name == "bounds::verify_checked_index");
  CHECK(h.verdict == HarnessVerdict::kSuccessful);
  REQUIRE(h.checks.size() == 3);
  CHECK(h.checks[1].name == "bounds::verify_checked_index.assertion.1");
  CHECK(h.checks[1].status == "SUCCESS");
  CHECK(h.checks[1].description == "assertion failed: r.is_none() || idx < 8");
  CHECK(h.checks[1].file == "src/bounds.rs");
  CHECK(h.checks[1].line == 21);
  CHECK(h.checks[1].column == 5);
  CHECK(h.checks[1].function == "bounds::verify_checked_index");
  CHECK(h.checks[2].status == "UNREACHABLE");
  CHECK(h.total == 3);
  CHECK(h.failed == 0);
  CHECK(h.unreachable == 1);
  CHECK(h.seconds == Approx(0.0741));
  CHECK(run.summary_successful == 2);
  CHECK(run.summary_failures == 0);
  CHECK(run.summary_total == 2);
}

TEST_CASE("kani: transcript with a failed harness lists failed checks with their locations", "[kani]") {
  KaniRun run = transcript("failing.txt");
  REQUIRE(run.harnesses.size() == 2);
  CHECK(run.harnesses[0].verdict == HarnessVerdict::kSuccessful);
  const Harness& h = run.harnesses[1];
  CHECK(h.name == "pool::verify_split");
  CHECK(h.verdict == HarnessVerdict::kFailed);
  CHECK(h.failed == 2);
  CHECK(h.total == 3);
  int failures = 0;
  for (const auto& c : h.checks)
    if (c.status == "FAILURE") {
      ++failures;
      CHECK(c.file == "src/pool.rs");
      CHECK((c.line == 48 || c.line == 77));
    }
  CHECK(failures == 2);
  CHECK(run.summary_failures == 1);
}

TEST_CASE("kani: transcript where only an unwinding assertion fails is inconclusive", "[kani]") {
  KaniRun run = transcript("unwinding.txt");
  REQUIRE(run.harnesses.size() == 1);
  CHECK(run.harnesses[0].verdict == HarnessVerdict::kInconclusive);
  CHECK(run.harnesses[0].inconclusive_reason.find("unwind") != std::string::npos);
}

TEST_CASE("kani: transcript with a CBMC timeout or undetermined checks is inconclusive", "[kani]") {
  KaniRun t = transcript("timeout.txt");
  REQUIRE(t.harnesses.size() == 1);
  CHECK(t.harnesses[0].verdict == HarnessVerdict::kInconclusive);
  CHECK(t.harnesses[0].inconclusive_reason == "CBMC timed out");
  KaniRun u = transcript("undetermined.txt");
  REQUIRE(u.harnesses.size() == 1);
  CHECK(u.harnesses[0].verdict == HarnessVerdict::kInconclusive);
  CHECK(u.harnesses[0].undetermined == 1);
}

TEST_CASE("kani: malformed transcripts are parse errors at the offending line", "[kani]") {
  auto r = parse_kani_output(kani_data("malformed.txt"), "malformed.txt");
  REQUIRE(std::holds_alternative<ParseError>(r));
  CHECK(std::get<ParseError>(r).line == 2);
  auto verdict = parse_kani_output("Checking harness h...\nVERIFICATION:- MAYBE\n", "x.txt");
  REQUIRE(std::holds_alternative<ParseError>(verdict));
  CHECK(std::get<ParseError>(verdict).line == 2);
  auto coloured = parse_kani_output("Checking harness h...\nVERIFICATION:- \x1b[32mSUCCESSFUL\x1b[0m\n", "c.txt");
  REQUIRE(std::holds_alternative<KaniRun>(coloured));
  CHECK(std::get<KaniRun>(coloured).harnesses[0].verdict == HarnessVerdict::kSuccessful);
}

TEST_CASE("kani: list json gives standard and contract harness names", "[kani]") {
  auto r = parse_kani_list(kani_data("list.json"), "list.json");
  REQUIRE(std::holds_alternative<std::vector<std::string>>(r));
  CHECK(std::get<std::vector<std::string>>(r) ==
        std::vector<std::string>{"bounds::verify_checked_index", "pool::verify_alloc_free", "pool::verify_split",
                                 "pool::verify_alloc_contract"});
  auto bad = parse_kani_list("{\n  \"standard-harnesses\": [\n", "l.json");
  REQUIRE(std::holds_alternative<ParseError>(bad));
  CHECK(std::get<ParseError>(bad).line >= 2);
  CHECK(std::holds_alternative<ParseError>(parse_kani_list("{}", "l.json")));
}

TEST_CASE("kani: e2e without cargo-kani the stage fails naming cargo install kani-verifier", "[kani][e2e]") {
  if (wrt::plugins::find_program("cargo-kani")) {
    WARN("skipped: cargo-kani is installed, so the missing-tool path cannot be observed");
    return;
  }
  wrt::test::TempDir ws;
  write_crate(ws);
  int rc = -1;
  auto st = run_kani_stage(ws, &rc);
  CHECK(rc == 2);  // found by the fingerprint, before any stage starts
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().find("cargo install --locked kani-verifier") != std::string::npos);
}

TEST_CASE("kani: e2e proves a harness with real cargo kani (skipped when cargo-kani is absent)", "[kani][e2e]") {
  if (!wrt::plugins::find_program("cargo-kani")) {
    WARN("skipped: cargo-kani not installed");
    return;
  }
  wrt::test::TempDir ws;
  write_crate(ws);
  int rc = -1;
  auto st = run_kani_stage(ws, &rc);
  CHECK(rc == 0);
  CHECK(st["status"] == "passed");
  CHECK(st["metrics"]["verification.passed"] == 1);
}
