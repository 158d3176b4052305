// The kani plugin on what Kani really prints: every transcript in
// tests/data/kani/transcripts/ (provenance in its README; expected.json says
// what each one means, read from the transcript, not from this parser)
// through the parser, and the main ones through the real plugin and the
// real wrt binary, replayed by a TEST DOUBLE `cargo kani` (tests/replay/:
// Kani is not a Debian package and cannot be installed here). Tests that
// use the double say "replay" in their names. With cargo-kani installed,
// the last test runs the real tool.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "plugins/common/tool.h"
#include "plugins/kani/kani_output.h"
#include "support.h"

using namespace wrt::plugins::kani;
using wrt::plugins::ParseError;
namespace fs = std::filesystem;

namespace {

const fs::path kTranscripts = fs::path(WRT_TEST_DATA_DIR) / "kani" / "transcripts";

std::string transcript_text(const std::string& name) { return wrt::test::read_file(kTranscripts / name); }

nlohmann::json expected() { return wrt::test::read_json(kTranscripts / "expected.json"); }

// wrt's verdict differs from Kani's word where Kani says FAILED but nothing
// was refuted: only an unwinding assertion or an unsupported construct
// failed (the proof is incomplete), or CBMC itself failed. expected.json
// records Kani's meaning; these are wrt's, stated here once.
std::string wrt_verdict(const std::string& file, const std::string& kani_verdict) {
  static const std::set<std::string> incomplete = {"unwinding_failure.txt", "unwinding_docs_excerpt.txt",
                                                   "unsupported_construct.txt"};
  if (kani_verdict == "failed" && incomplete.count(file)) return "inconclusive";
  return kani_verdict;
}

std::string verdict_name(HarnessVerdict v) {
  switch (v) {
    case HarnessVerdict::kSuccessful: return "passed";
    case HarnessVerdict::kFailed: return "failed";
    case HarnessVerdict::kInconclusive: return "inconclusive";
    default: return "unknown";
  }
}

void write_crate(const wrt::test::TempDir& ws) {
  wrt::test::write_file(ws / "Cargo.toml", "[package]\nname = \"proofs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
  wrt::test::write_file(ws / "src/lib.rs",
                        "pub fn sat_add(a: u8, b: u8) -> u8 { a.saturating_add(b) }\n"
                        "#[cfg(kani)]\n#[kani::proof]\nfn sat_add_never_below() {\n"
                        "  let a: u8 = kani::any();\n  let b: u8 = kani::any();\n  assert!(sat_add(a, b) >= a);\n}\n");
}

nlohmann::json run_kani_stage(const wrt::test::TempDir& ws, int* exit_code, const std::string& with,
                              const std::vector<std::string>& env = {}) {
  wrt::test::write_file(ws / "wrt.toml", "[project]\nname = \"kani-e2e\"\n\n[stages.prove]\nplugin = \"kani\"\n"
                                         "inputs = [\"src/**/*.rs\", \"Cargo.toml\"]\nwith = " + with + "\n");
  auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), env);
  *exit_code = r.exit_code;
  INFO(r.out << r.err);
  REQUIRE(fs::exists(ws / "report.json"));
  return nlohmann::json::parse(wrt::test::read_file(ws / "report.json"))["stages"][0];
}

// The environment that puts the replay double first on PATH.
std::vector<std::string> replay_env(const wrt::test::TempDir& ws, const std::string& transcript, int exit_code,
                                    const std::string& version = "cargo-kani 0.67.0") {
  const char* path = std::getenv("PATH");
  return {std::string("PATH=") + WRT_SOURCE_DIR + "/tests/replay:" + (path ? path : "/usr/bin:/bin"),
          "WRT_REPLAY_TRANSCRIPT=" + (kTranscripts / transcript).string(),
          "WRT_REPLAY_EXIT=" + std::to_string(exit_code),
          "WRT_REPLAY_KANI_VERSION=" + version,
          "WRT_REPLAY_LIST=" + (kTranscripts / "list_json_0.67.0.kani-list.json").string(),
          "WRT_REPLAY_LOG=" + (ws / "replay.log").string()};
}

std::vector<std::pair<std::string, int>> findings_of(const nlohmann::json& stage) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& f : stage["findings"]) out.emplace_back(f["file"].get<std::string>(), f["line"].get<int>());
  return out;
}

}  // namespace

TEST_CASE("kani: every stored transcript parses to what Kani meant (expected.json)", "[kani]") {
  const auto exp = expected();
  int checked = 0;
  for (const auto& [file, e] : exp.items()) {
    const std::string format = e.value("format", "");
    if (format != "regular" && format != "terse") continue;
    INFO(file);
    std::string text = transcript_text(file);
    // The docs' concrete-playback excerpt is only the generated unit test.
    if (text.find("VERIFICATION:-") == std::string::npos && text.find("No proof harnesses") == std::string::npos) continue;
    // Excerpts that start after the harness header (a docs page, a Kani test
    // expectation): the header Kani printed before them is put back.
    if (text.find("Checking harness ") == std::string::npos && !e["harnesses"].empty())
      text = "Checking harness " + e["harnesses"][0]["name"].get<std::string>() + "...\n" + text;
    auto parsed = parse_kani_output(text, file);
    if (auto* err = std::get_if<ParseError>(&parsed)) FAIL(err->to_string());
    const KaniRun& run = std::get<KaniRun>(parsed);
    REQUIRE(run.harnesses.size() == e["harnesses"].size());
    for (std::size_t i = 0; i < run.harnesses.size(); ++i) {
      const auto& want = e["harnesses"][i];
      const Harness& h = run.harnesses[i];
      INFO(h.name);
      CHECK(h.name == want["name"].get<std::string>());
      CHECK(verdict_name(h.verdict) == wrt_verdict(file, want["verdict"].get<std::string>()));
      if (want["checks_failed"].is_number()) {
        int failures = 0;
        for (const auto& c : h.checks) failures += c.status == "FAILURE";
        CHECK(failures == want["checks_failed"].get<int>());
      }
      if (want["checks_undetermined"].is_number() && want["checks_undetermined"].get<int>() > 0)
        CHECK(h.undetermined == want["checks_undetermined"].get<int>());
      std::vector<std::pair<std::string, int>> got, expect;
      for (const auto& c : h.checks)
        if (c.status == "FAILURE") got.emplace_back(c.file, static_cast<int>(c.line));
      for (const auto& f : want["failures"]) expect.emplace_back(f["file"].get<std::string>(), f["line"].get<int>());
      CHECK(got == expect);
    }
    if (e["summary"].is_object()) {
      CHECK(run.summary_successful == e["summary"]["succeeded"].get<std::int64_t>());
      CHECK(run.summary_failures == e["summary"]["failed"].get<std::int64_t>());
      CHECK(run.summary_total == e["summary"]["total"].get<std::int64_t>());
    }
    if (file == "no_harnesses.txt") CHECK(run.no_harnesses);
    ++checked;
  }
  CHECK(checked >= 20);
}

TEST_CASE("kani: details Kani prints: should_panic outcomes, -j threads, covers, CBMC failures", "[kani]") {
  auto parse = [](const std::string& file) {
    auto r = parse_kani_output(transcript_text(file), file);
    if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
    return std::get<KaniRun>(r);
  };
  CHECK(parse("should_panic_expected_panics.txt").harnesses[0].verdict_note ==
        "encountered one or more panics as expected");
  CHECK(parse("should_panic_no_panic.txt").harnesses[0].verdict == HarnessVerdict::kFailed);
  // -j: results arrive out of order; each belongs to the harness its thread checked last.
  KaniRun j = parse("parallel_jobs_terse.txt");
  REQUIRE(j.harnesses.size() == 3);
  CHECK(j.harnesses[0].name == "verify::check_checked_index");
  CHECK(j.harnesses[0].total == 2);
  CHECK(j.harnesses[1].name == "verify::check_mid");
  CHECK(j.harnesses[1].verdict == HarnessVerdict::kFailed);
  CHECK(j.harnesses[2].total == 3);
  KaniRun cover = parse("cover_satisfied_unreachable.txt");
  CHECK(cover.harnesses[0].covers_satisfied == 1);
  CHECK(cover.harnesses[0].covers_total == 3);
  CHECK(parse("timeout.txt").harnesses[0].inconclusive_reason == "CBMC timed out");
  CHECK(parse("oom_killed.txt").harnesses[0].inconclusive_reason == "CBMC ran out of memory");
  CHECK(parse("cbmc_failed_status.txt").harnesses[0].inconclusive_reason == "CBMC failed with status 6");
  KaniRun unw = parse("unwinding_failure.txt");
  CHECK(unw.harnesses[0].inconclusive_reason.find("raise default_unwind") != std::string::npos);
  CHECK(unw.harnesses[0].undetermined == 2);
  KaniRun terse = parse("terse_failure.txt");
  REQUIRE(terse.harnesses[0].checks.size() == 1);  // from "Failed Checks:", with its location
  CHECK(terse.harnesses[0].checks[0].function == "mid");
}

TEST_CASE("kani: output that contradicts itself is a parse error naming the line", "[kani]") {
  const std::string mixed = transcript_text("mixed_multi_harness.txt");
  SECTION("cut off before a harness's verdict") {
    std::string cut = mixed.substr(0, mixed.find("VERIFICATION:- FAILED"));
    auto r = parse_kani_output(cut, "cut.txt");
    REQUIRE(std::holds_alternative<ParseError>(r));
    CHECK(std::get<ParseError>(r).message.find("verify::check_mid has no \"VERIFICATION:-\" verdict") != std::string::npos);
  }
  SECTION("a final summary that disagrees with the harnesses") {
    std::string bad = mixed;
    bad.replace(bad.find("Complete - 2 successfully"), 25, "Complete - 3 successfully");
    auto r = parse_kani_output(bad, "bad.txt");
    REQUIRE(std::holds_alternative<ParseError>(r));
    std::uint32_t complete_line = 1;
    for (std::size_t i = 0; i < bad.find("Complete - "); ++i) complete_line += bad[i] == '\n';
    CHECK(std::get<ParseError>(r).line == complete_line);
    CHECK(std::get<ParseError>(r).message.find("counts 3 successful") != std::string::npos);
  }
  SECTION("a failed-check count that differs from the checks listed") {
    std::string bad = mixed;
    bad.replace(bad.find(" ** 1 of 2 failed"), 17, " ** 2 of 2 failed");
    auto r = parse_kani_output(bad, "bad.txt");
    REQUIRE(std::holds_alternative<ParseError>(r));
    CHECK(std::get<ParseError>(r).message.find("says 2 failed check(s), but 1 are listed") != std::string::npos);
  }
  SECTION("an unknown verdict word") {
    auto verdict = parse_kani_output("Checking harness h...\nVERIFICATION:- MAYBE\n", "x.txt");
    REQUIRE(std::holds_alternative<ParseError>(verdict));
    CHECK(std::get<ParseError>(verdict).line == 2);
  }
  SECTION("colours are stripped") {
    auto coloured = parse_kani_output("Checking harness h...\nVERIFICATION:- \x1b[32mSUCCESSFUL\x1b[0m\n", "c.txt");
    REQUIRE(std::holds_alternative<KaniRun>(coloured));
    CHECK(std::get<KaniRun>(coloured).harnesses[0].verdict == HarnessVerdict::kSuccessful);
  }
}

TEST_CASE("kani: list json gives the harness names, malformed list json is a parse error", "[kani]") {
  auto r = parse_kani_list(transcript_text("list_json_0.67.0.kani-list.json"), "kani-list.json");
  REQUIRE(std::holds_alternative<std::vector<std::string>>(r));
  CHECK(std::get<std::vector<std::string>>(r) == std::vector<std::string>{"verify::check_checked_index", "verify::check_mid",
                                                                         "verify::check_mid_fixed", "verify::check_sum"});
  auto bad = parse_kani_list("{\n  \"standard-harnesses\": [\n", "l.json");
  REQUIRE(std::holds_alternative<ParseError>(bad));
  CHECK(std::get<ParseError>(bad).line >= 2);
  CHECK(std::holds_alternative<ParseError>(parse_kani_list("{}", "l.json")));
}

TEST_CASE("kani: replay of real transcripts through the plugin and wrt: verdicts, metrics, findings", "[kani][e2e]") {
  struct Case {
    const char* transcript;
    int exit_code;
    const char* status;
    int total, passed, failed, inconclusive;
    std::vector<std::pair<std::string, int>> findings;
  };
  const std::vector<Case> cases = {
      {"success_single.txt", 0, "passed", 1, 1, 0, 0, {}},
      {"mixed_multi_harness.txt", 1, "failed", 3, 2, 1, 0, {{"src/lib.rs", 6}}},
      {"parallel_jobs_terse.txt", 1, "failed", 3, 2, 1, 0, {{"src/lib.rs", 6}}},
      {"should_panic_expected_panics.txt", 0, "passed", 1, 1, 0, 0, {}},
      {"should_panic_no_panic.txt", 1, "failed", 1, 0, 1, 0, {}},
      {"timeout.txt", 1, "failed", 1, 0, 0, 1, {{"", 0}}},
      {"unwinding_failure.txt", 1, "failed", 1, 0, 0, 1, {{"src/lib.rs", 15}}},
      {"cover_unsatisfiable.txt", 0, "passed", 1, 1, 0, 0, {}},
  };
  for (const auto& c : cases) {
    INFO(c.transcript);
    wrt::test::TempDir ws;
    write_crate(ws);
    int rc = -1;
    auto st = run_kani_stage(ws, &rc, "{}", replay_env(ws, c.transcript, c.exit_code));
    CHECK(rc == (std::string(c.status) == "passed" ? 0 : 1));
    CHECK(st["status"] == c.status);
    CHECK(st["metrics"]["verification.total"] == c.total);
    CHECK(st["metrics"]["verification.passed"] == c.passed);
    CHECK(st["metrics"]["verification.failed"] == c.failed);
    CHECK(st["metrics"]["verification.inconclusive"] == c.inconclusive);
    CHECK(findings_of(st) == c.findings);
  }
}

TEST_CASE("kani: replay of every complete transcript through wrt: status, counts and each finding's location",
          "[kani][e2e]") {
  // The stage's findings for what expected.json says each harness means:
  // every failed check of a failed harness; one finding where an
  // inconclusive harness stopped (its first FAILURE, else nothing located).
  const auto exp = expected();
  int replayed = 0;
  for (const auto& [file, e] : exp.items()) {
    const std::string format = e.value("format", "");
    if ((format != "regular" && format != "terse") || !e["exit_code"].is_number()) continue;
    const std::string text = transcript_text(file);
    if (text.find("Checking harness ") == std::string::npos) continue;  // excerpts: the parser test covers them
    INFO(file);
    int passed = 0, failed = 0, inconclusive = 0;
    std::vector<std::pair<std::string, int>> findings;
    for (const auto& h : e["harnesses"]) {
      const std::string v = wrt_verdict(file, h["verdict"].get<std::string>());
      if (v == "passed") ++passed;
      if (v == "failed") {
        ++failed;
        for (const auto& f : h["failures"]) findings.emplace_back(f["file"].get<std::string>(), f["line"].get<int>());
      }
      if (v == "inconclusive") {
        ++inconclusive;
        if (h["failures"].empty()) findings.emplace_back("", 0);
        else findings.emplace_back(h["failures"][0]["file"].get<std::string>(), h["failures"][0]["line"].get<int>());
      }
    }
    wrt::test::TempDir ws;
    write_crate(ws);
    int rc = -1;
    const bool none = e["harnesses"].empty();
    auto st = run_kani_stage(ws, &rc, none ? "{ expect_harnesses = false }" : "{}",
                             replay_env(ws, file, e["exit_code"].get<int>()));
    const bool ok = failed + inconclusive == 0;
    CHECK(rc == (ok ? 0 : 1));
    CHECK(st["status"] == (ok ? "passed" : "failed"));
    CHECK(st["metrics"]["verification.total"] == passed + failed + inconclusive);
    CHECK(st["metrics"]["verification.passed"] == passed);
    if (!none) {
      CHECK(st["metrics"]["verification.failed"] == failed);
      CHECK(st["metrics"]["verification.inconclusive"] == inconclusive);
    }
    CHECK(findings_of(st) == findings);
    ++replayed;
  }
  CHECK(replayed >= 15);
}

TEST_CASE("kani: replay of a workspace member: findings are relative to the Cargo workspace root", "[kani][e2e]") {
  wrt::test::TempDir ws;
  wrt::test::write_file(ws / "Cargo.toml", "[workspace]\nmembers = [\"crates/codec\"]\n");
  wrt::test::write_file(ws / "crates/codec/Cargo.toml", "[package]\nname = \"codec\"\nversion = \"0.1.0\"\n");
  wrt::test::write_file(ws / "crates/codec/src/lib.rs", "pub fn decode_len() {}\n");
  int rc = -1;
  auto st = run_kani_stage(ws, &rc, "{ package_dir = \"crates/codec\" }", replay_env(ws, "workspace_member.txt", 1));
  CHECK(rc == 1);
  CHECK(findings_of(st) == std::vector<std::pair<std::string, int>>{{"crates/codec/src/lib.rs", 3}});
}

TEST_CASE("kani: replay of harnesses = auto: cargo kani list per Kani version, a named list, no harnesses", "[kani][e2e]") {
  wrt::test::TempDir ws;
  write_crate(ws);
  int rc = -1;
  SECTION("Kani 0.67: list without -Z list, then one run per harness") {
    auto st = run_kani_stage(ws, &rc, "{ harnesses = \"auto\" }", replay_env(ws, "success_single.txt", 0));
    CHECK(rc == 0);
    CHECK(st["metrics"]["verification.total"] == 4);
    const std::string log = wrt::test::read_file(ws / "replay.log");
    CHECK(log.find("cargo kani list --format json") != std::string::npos);
    CHECK(log.find("-Z list") == std::string::npos);
    CHECK(log.find("cargo kani --harness verify::check_mid --exact") != std::string::npos);
  }
  SECTION("Kani 0.56: list needs -Z list") {
    auto st = run_kani_stage(ws, &rc, "{ harnesses = \"auto\" }",
                             replay_env(ws, "success_single.txt", 0, "cargo-kani 0.56.0"));
    CHECK(rc == 0);
    CHECK(wrt::test::read_file(ws / "replay.log").find("cargo kani list -Z list --format json") != std::string::npos);
  }
  SECTION("Kani 0.55 has no list: a clear error") {
    auto st = run_kani_stage(ws, &rc, "{ harnesses = \"auto\" }",
                             replay_env(ws, "success_single.txt", 0, "cargo-kani 0.55.0"));
    CHECK(rc == 1);
    CHECK(st["message"].get<std::string>().find("needs `cargo kani list` (Kani 0.56 or later)") != std::string::npos);
  }
  SECTION("harnesses as a list of names") {
    auto st = run_kani_stage(ws, &rc, "{ harnesses = [\"verify::check_checked_index\"] }",
                             replay_env(ws, "success_single.txt", 0));
    CHECK(rc == 0);
    CHECK(st["metrics"]["verification.passed"] == 1);
  }
  SECTION("no harnesses: a failure unless expect_harnesses = false") {
    auto st = run_kani_stage(ws, &rc, "{}", replay_env(ws, "no_harnesses.txt", 0));
    CHECK(rc == 1);
    CHECK(st["message"].get<std::string>().find("nothing was verified") != std::string::npos);
    auto ok = run_kani_stage(ws, &rc, "{ expect_harnesses = false }", replay_env(ws, "no_harnesses.txt", 0));
    CHECK(rc == 0);
    CHECK(ok["status"] == "passed");
  }
  SECTION("unknown keys and unreadable output formats are configuration errors (exit 2)") {
    run_kani_stage(ws, &rc, "{ harness = \"x\" }", replay_env(ws, "success_single.txt", 0));
    CHECK(rc == 2);
    run_kani_stage(ws, &rc, "{ extra_args = [\"--output-format\", \"old\"] }", replay_env(ws, "success_single.txt", 0));
    CHECK(rc == 2);
  }
}

TEST_CASE("kani: e2e without cargo-kani the stage fails naming cargo install kani-verifier", "[kani][e2e]") {
  if (wrt::plugins::find_program("cargo-kani")) {
    WARN("skipped: cargo-kani is installed, so the missing-tool path cannot be observed");
    return;
  }
  wrt::test::TempDir ws;
  write_crate(ws);
  int rc = -1;
  auto st = run_kani_stage(ws, &rc, "{ harnesses = \"auto\", profile = { default_unwind = 4 } }");
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
  auto st = run_kani_stage(ws, &rc, "{ harnesses = \"auto\", profile = { default_unwind = 4 } }");
  CHECK(rc == 0);
  CHECK(st["status"] == "passed");
  CHECK(st["metrics"]["verification.passed"] == 1);
}
