// The cbmc plugin: its --json-ui parser and verdict on transcripts in
// CBMC's real JSON UI format (tests/data/cbmc/*.json; CBMC cannot be
// installed here), malformed input, and the missing-tool error end to end.
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

CbmcRun transcript(const std::string& name) {
  auto r = parse_cbmc_json(wrt::test::read_file(fs::path(WRT_TEST_DATA_DIR) / "cbmc" / name), name);
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return std::get<CbmcRun>(r);
}

}  // namespace

TEST_CASE("cbmc: transcript with a failed property gives its location and trace end", "[cbmc]") {
  CbmcRun run = transcript("failure.json");
  CHECK(run.program == "CBMC 5.95.1 (cbmc-5.95.1)");
  CHECK(run.prover_status == "failure");
  REQUIRE(run.properties.size() == 3);
  const Property& p = run.properties[0];
  CHECK(p.property == "rb_push.array_bounds.2");
  CHECK(p.status == "FAILURE");
  CHECK(p.file == "proofs/ring_buffer.c");
  CHECK(p.line == 14);
  CHECK(p.function == "rb_push");
  CHECK(p.trace_steps == 2);
  CHECK(p.trace_line == 14);
  CHECK_FALSE(p.unwinding());
  CHECK(judge(run).verdict == Verdict::kFailed);
}

TEST_CASE("cbmc: transcript where all properties hold is proved", "[cbmc]") {
  CbmcRun run = transcript("success.json");
  CHECK(run.properties.size() == 2);
  CHECK(judge(run).verdict == Verdict::kProved);
}

TEST_CASE("cbmc: transcript with only an unwinding assertion failing is inconclusive", "[cbmc]") {
  CbmcRun run = transcript("unwinding.json");
  REQUIRE(run.properties.size() == 2);
  CHECK(run.properties[0].unwinding());
  auto j = judge(run);
  CHECK(j.verdict == Verdict::kInconclusive);
  CHECK(j.reason.find("unwinding") != std::string::npos);
}

TEST_CASE("cbmc: transcript of a C parse error carries the error messages", "[cbmc]") {
  CbmcRun run = transcript("parse_error.json");
  CHECK(run.properties.empty());
  REQUIRE(run.errors.size() == 2);
  CHECK(run.errors[0].find("syntax error") != std::string::npos);
  CHECK(judge(run).verdict == Verdict::kInconclusive);
}

TEST_CASE("cbmc: output cut off mid-array is inconclusive, text that is not JSON is a parse error with position",
          "[cbmc]") {
  auto t = parse_cbmc_json(wrt::test::read_file(fs::path(WRT_TEST_DATA_DIR) / "cbmc" / "truncated.json"), "t.json");
  REQUIRE(std::holds_alternative<CbmcRun>(t));
  CHECK(std::get<CbmcRun>(t).truncated);
  CHECK(judge(std::get<CbmcRun>(t)).verdict == Verdict::kInconclusive);
  CHECK(std::holds_alternative<ParseError>(parse_cbmc_json("CBMC crashed\n", "x")));
  auto garbage = parse_cbmc_json("[\n  {\"program\": \"CBMC 5.95.1\"},\n  oops\n]", "x");
  REQUIRE(std::holds_alternative<ParseError>(garbage));
  CHECK(std::get<ParseError>(garbage).line == 3);
  CHECK(std::get<ParseError>(garbage).column == 3);
  auto odd = parse_cbmc_json("[{\"result\": [{\"property\": 5, \"sourceLocation\": {\"line\": 7}}]}]", "x");
  REQUIRE(std::holds_alternative<CbmcRun>(odd));
  CHECK(std::get<CbmcRun>(odd).properties[0].line == 7);
  CHECK_FALSE(std::get<CbmcRun>(odd).truncated);
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
