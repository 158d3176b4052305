// The spin plugin: its parsers on output captured from the real SPIN 6.5
// verifier (tests/data/spin/*.pan.txt, *.trail.txt, produced from the
// models next to them), malformed input, and end-to-end runs of the real
// wrt binary with real spin and cc on those models.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "plugins/spin/pan_output.h"
#include "support.h"

using namespace wrt::plugins::spin;
using wrt::plugins::ParseError;
namespace fs = std::filesystem;

namespace {

std::string spin_data(const std::string& name) { return wrt::test::read_file(fs::path(WRT_TEST_DATA_DIR) / "spin" / name); }

PanReport pan(const std::string& name) {
  auto r = parse_pan_output(spin_data(name), name);
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return std::get<PanReport>(r);
}

nlohmann::json run_spin_stage(const wrt::test::TempDir& ws, const std::string& model, const std::string& with_extra,
                              int* exit_code) {
  wrt::test::write_file(ws / ("models/" + model), spin_data(model));
  wrt::test::write_file(ws / "wrt.toml", "[project]\nname = \"spin-e2e\"\n\n[stages.model]\nplugin = \"spin\"\ninputs = [\"models/" +
                                             model + "\"]\nwith = { model = \"models/" + model + "\"" + with_extra + " }\n");
  auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  *exit_code = r.exit_code;
  INFO(r.out << r.err);
  REQUIRE(fs::exists(ws / "report.json"));
  auto report = nlohmann::json::parse(wrt::test::read_file(ws / "report.json"));
  REQUIRE(report["stages"].size() == 1);
  return report["stages"][0];
}

}  // namespace

TEST_CASE("spin: pan summary of a correct model has no errors and its statistics", "[spin]") {
  PanReport r = pan("mutex_ok.pan.txt");
  CHECK(r.errors == 0);
  CHECK(r.depth_reached == 23);
  CHECK(r.states_stored == 38);
  CHECK(r.transitions == 65);
  CHECK(r.error_lines.empty());
  CHECK_FALSE(r.depth_too_small);
  CHECK_FALSE(r.trail_written);
  REQUIRE(r.unreached.size() == 1);
  CHECK(r.unreached[0].proctype == "user");
  CHECK(r.unreached[0].file == "mutex_ok.pml");
  CHECK(r.unreached[0].line == 19);
  CHECK(r.unreached[0].statement == "-end-");
}

TEST_CASE("spin: assertion violation, its depth and the trail replay location", "[spin]") {
  PanReport r = pan("mutex_broken.pan.txt");
  CHECK(r.errors == 1);
  REQUIRE(r.error_lines.size() == 1);
  CHECK(r.error_lines[0].kind == "assertion violated");
  CHECK(r.error_lines[0].text == "assertion violated (in_cs==1) (at depth 7)");
  CHECK(r.error_lines[0].depth == 7);
  CHECK(r.trail_written);
  TrailError t = parse_trail_replay(spin_data("mutex_broken.trail.txt"));
  CHECK(t.file == "mutex_broken.pml");
  CHECK(t.line == 13);
  CHECK(t.message == "assertion violated");
  CHECK(t.failed_text == "assert((in_cs==1))");
  CHECK(t.steps == 8);
  CHECK_FALSE(t.cycle);
}

TEST_CASE("spin: violated LTL safety claim names the claim, the replay ends in the model", "[spin]") {
  PanReport r = pan("ltl_bounded.pan.txt");
  CHECK(r.claim == "bounded");
  CHECK(r.errors == 1);
  REQUIRE(r.error_lines.size() == 1);
  CHECK(r.error_lines[0].kind == "assertion violated");
  TrailError t = parse_trail_replay(spin_data("ltl_bounded.trail.txt"));
  CHECK(t.file == "_spin_nvr.tmp");  // the never claim, not the model
  CHECK(t.last_step_file == "ltl_violated.pml");
  CHECK(t.last_step_line == 8);
}

TEST_CASE("spin: liveness violation is an acceptance cycle", "[spin]") {
  PanReport r = pan("ltl_reaches_nine.pan.txt");
  CHECK(r.claim == "reaches_nine");
  REQUIRE(r.error_lines.size() == 1);
  CHECK(r.error_lines[0].kind == "acceptance cycle");
  CHECK(r.error_lines[0].depth == 0);
  TrailError t = parse_trail_replay(spin_data("ltl_reaches_nine.trail.txt"));
  CHECK(t.cycle);
  CHECK(t.last_step_file == "ltl_violated.pml");
  CHECK(t.last_step_line > 0);
}

TEST_CASE("spin: a holding LTL claim reports its claim with no errors", "[spin]") {
  PanReport r = pan("ltl_resets.pan.txt");
  CHECK(r.claim == "resets");
  CHECK(r.errors == 0);
  CHECK(r.states_stored == 22);
  CHECK(r.unreached.size() == 2);
}

TEST_CASE("spin: depth limit reached and out of memory are recognised (inconclusive)", "[spin]") {
  PanReport deep = pan("deep_m100.pan.txt");
  CHECK(deep.depth_too_small);
  CHECK(deep.errors == 0);
  CHECK(deep.depth_reached == 99);
  PanReport oom = pan("out_of_memory.pan.txt");
  CHECK(oom.out_of_memory);
  CHECK(oom.errors == 0);
}

TEST_CASE("spin: invalid end state (deadlock) is an error", "[spin]") {
  PanReport r = pan("deadlock.pan.txt");
  REQUIRE(r.error_lines.size() == 1);
  CHECK(r.error_lines[0].kind == "invalid end state");
  TrailError t = parse_trail_replay(spin_data("deadlock.trail.txt"));
  CHECK(t.last_step_file == "deadlock.pml");
  CHECK(t.last_step_line == 4);
}

TEST_CASE("spin: malformed pan output is a parse error with position", "[spin]") {
  auto none = parse_pan_output("pan: something odd\n", "pan.txt");
  REQUIRE(std::holds_alternative<ParseError>(none));
  CHECK(std::get<ParseError>(none).file == "pan.txt");
  auto bad = parse_pan_output("x\nState-vector 28 byte, depth reached , errors: \n", "pan.txt");
  REQUIRE(std::holds_alternative<ParseError>(bad));
  CHECK(std::get<ParseError>(bad).line == 2);
  auto empty = parse_pan_output("", "pan.txt");
  CHECK(std::holds_alternative<ParseError>(empty));
  TrailError t = parse_trail_replay("garbage\n\x01\x02 proc (state \n");
  CHECK(t.line == 0);
}

TEST_CASE("spin: ltl claim names skip comments and strings, unnamed claims are numbered", "[spin]") {
  CHECK(ltl_claim_names(spin_data("ltl_violated.pml")) == std::vector<std::string>{"bounded", "resets", "reaches_nine"});
  CHECK(ltl_claim_names("/* ltl fake { [] p } */ // ltl other { p }\nltl { [] p }\nltl { <> q }\n") ==
        std::vector<std::string>{"ltl_0", "ltl_1"});
  CHECK(ltl_claim_names(spin_data("mutex_ok.pml")).empty());
}

TEST_CASE("spin: e2e correct mutex passes with states and one obligation", "[spin][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_spin_stage(ws, "mutex_ok.pml", "", &rc);
  CHECK(rc == 0);
  CHECK(st["status"] == "passed");
  CHECK(st["metrics"]["verification.total"] == 1);
  CHECK(st["metrics"]["verification.passed"] == 1);
  CHECK(st["metrics"]["spin.errors"] == 0);
  CHECK(st["metrics"]["spin.states_stored"].get<double>() > 0);
  REQUIRE(st["tests"].size() == 1);
  CHECK(st["tests"][0]["name"] == "safety");
  CHECK(st["tests"][0]["status"] == "passed");
  CHECK_FALSE(fs::exists(ws / "models/pan.c"));  // scratch work stays out of the tree
}

TEST_CASE("spin: e2e assertion violation fails with the model line and the trail artifact", "[spin][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_spin_stage(ws, "mutex_broken.pml", "", &rc);
  CHECK(rc == 1);
  CHECK(st["status"] == "failed");
  CHECK(st["metrics"]["spin.errors"] == 1);
  CHECK(st["metrics"]["verification.failed"] == 1);
  REQUIRE_FALSE(st["findings"].empty());
  auto f = st["findings"][0];
  CHECK(f["rule"] == "spin-assertion-violated");
  CHECK(f["file"] == "models/mutex_broken.pml");
  CHECK(f["line"] == 13);
  CHECK(f["message"].get<std::string>().find("assertion violated") != std::string::npos);
  REQUIRE(st["artifacts"].size() == 1);
  std::string trail = st["artifacts"][0]["path"];
  CHECK(wrt::test::read_file(ws / trail).find("Error: assertion violated") != std::string::npos);
}

TEST_CASE("spin: e2e checks every LTL claim, violated ones fail with a location", "[spin][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_spin_stage(ws, "ltl_violated.pml", "", &rc);
  CHECK(rc == 1);
  CHECK(st["status"] == "failed");
  CHECK(st["metrics"]["verification.total"] == 3);
  CHECK(st["metrics"]["verification.passed"] == 1);
  CHECK(st["metrics"]["verification.failed"] == 2);
  std::map<std::string, std::string> tests;
  for (const auto& t : st["tests"]) tests[t["name"]] = t["status"];
  CHECK(tests["bounded"] == "failed");
  CHECK(tests["resets"] == "passed");
  CHECK(tests["reaches_nine"] == "failed");
  bool acceptance = false;
  for (const auto& f : st["findings"])
    if (f["rule"] == "spin-acceptance-cycle") {
      acceptance = true;
      CHECK(f["file"] == "models/ltl_violated.pml");
      CHECK(f["line"].get<int>() > 0);
    }
  CHECK(acceptance);
  CHECK(st["artifacts"].size() == 2);
}

TEST_CASE("spin: e2e a selected claim only checks that claim", "[spin][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_spin_stage(ws, "ltl_violated.pml", ", ltl = [\"resets\"]", &rc);
  CHECK(rc == 0);
  CHECK(st["status"] == "passed");
  CHECK(st["metrics"]["verification.total"] == 1);
}

TEST_CASE("spin: e2e too small a depth limit is inconclusive, and the profile supplies max_depth", "[spin][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_spin_stage(ws, "deep.pml", ", profile = { max_depth = 100 }", &rc);
  CHECK(rc == 1);
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().rfind("inconclusive:", 0) == 0);
  CHECK(st["metrics"]["verification.inconclusive"] == 1);
  // An explicit with.max_depth overrides the profile and the proof completes.
  wrt::test::TempDir ws2;
  auto ok = run_spin_stage(ws2, "deep.pml", ", max_depth = 5000, profile = { max_depth = 100 }", &rc);
  CHECK(rc == 0);
  CHECK(ok["status"] == "passed");
}

TEST_CASE("spin: e2e bad config and a model with a syntax error are errors", "[spin][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_spin_stage(ws, "mutex_ok.pml", ", mode = \"liveness\"", &rc);
  CHECK(rc != 0);
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().find("with.mode") != std::string::npos);
  wrt::test::TempDir ws2;
  wrt::test::write_file(ws2 / "bad.pml", "active proctype x() { y = 1 }\n");
  wrt::test::write_file(ws2 / "wrt.toml", "[project]\nname = \"s\"\n[stages.model]\nplugin = \"spin\"\nwith = { model = \"bad.pml\" }\n");
  auto r = wrt::test::run_wrt({"run", "--report", (ws2 / "report.json").string()}, ws2.path());
  auto report = nlohmann::json::parse(wrt::test::read_file(ws2 / "report.json"));
  CHECK(report["stages"][0]["status"] == "failed");
  CHECK(report["stages"][0]["message"].get<std::string>().find("undeclared variable") != std::string::npos);
}
