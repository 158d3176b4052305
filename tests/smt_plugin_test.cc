// The smt plugin: obligation discovery in .smt2 files, pairing of solver
// answers captured from the real z3 4.8 and cvc5 1.0 on this machine
// (tests/data/smt/*.z3.txt, *.cvc5.txt), malformed input, the workspace
// glob, and end-to-end runs of wrt with the real solvers.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "plugins/smt/smt_results.h"
#include "plugins/common/workspace_glob.h"
#include "support.h"

using namespace wrt::plugins::smt;
using wrt::plugins::ParseError;
namespace fs = std::filesystem;

namespace {

std::string smt_data(const std::string& name) { return wrt::test::read_file(fs::path(WRT_TEST_DATA_DIR) / "smt" / name); }

std::vector<Obligation> obligations(const std::string& file) {
  auto r = find_obligations(smt_data(file), file);
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return std::get<std::vector<Obligation>>(r);
}

std::vector<ObligationResult> results(const std::string& file, const std::string& solver) {
  return match_answers(smt_data(file.substr(0, file.size() - 5) + "." + solver + ".txt"), obligations(file), "unsat");
}

nlohmann::json run_smt_stage(const wrt::test::TempDir& ws, const std::vector<std::string>& files,
                             const std::string& with_extra, int* exit_code) {
  for (const auto& f : files) wrt::test::write_file(ws / ("proofs/" + f), smt_data(f));
  wrt::test::write_file(ws / "wrt.toml", "[project]\nname = \"smt-e2e\"\n\n[stages.prove]\nplugin = \"smt\"\n"
                                         "inputs = [\"proofs/*.smt2\"]\nwith = { files = [\"proofs/*.smt2\"]" +
                                             with_extra + " }\n");
  auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  *exit_code = r.exit_code;
  INFO(r.out << r.err);
  REQUIRE(fs::exists(ws / "report.json"));
  return nlohmann::json::parse(wrt::test::read_file(ws / "report.json"))["stages"][0];
}

}  // namespace

TEST_CASE("smt: obligations are check-sats, named by @name comments, set-info or position", "[smt]") {
  auto p = obligations("proved.smt2");
  REQUIRE(p.size() == 2);
  CHECK(p[0].name == "result_not_below_operand");
  CHECK(p[0].line == 12);
  CHECK(p[1].name == "commutative");
  auto c = obligations("counterexample.smt2");
  REQUIRE(c.size() == 1);
  CHECK(c[0].name == "double_is_larger");
  CHECK(c[0].wants_model);
  auto u = obligations("unknown_z3.smt2");
  REQUIRE(u.size() == 1);
  CHECK(u[0].name == "unknown_z3.smt2#1");
  CHECK_FALSE(u[0].wants_model);
}

TEST_CASE("smt: parentheses in comments, strings and quoted symbols do not count", "[smt]") {
  auto r = find_obligations("; (check-sat\n(echo \"(check-sat)\")\n(declare-const |a)b| Int)\n(check-sat)\n", "q.smt2");
  REQUIRE(std::holds_alternative<std::vector<Obligation>>(r));
  auto& o = std::get<std::vector<Obligation>>(r);
  REQUIRE(o.size() == 1);
  CHECK(o[0].line == 4);
}

TEST_CASE("smt: malformed .smt2 files are parse errors with position", "[smt]") {
  auto open = find_obligations("(set-logic QF_LIA)\n(assert (> x 1)\n", "a.smt2");
  REQUIRE(std::holds_alternative<ParseError>(open));
  CHECK(std::get<ParseError>(open).to_string() == "a.smt2:2:1: unbalanced '(': command is never closed");
  auto close = find_obligations("(check-sat))", "b.smt2");
  REQUIRE(std::holds_alternative<ParseError>(close));
  CHECK(std::get<ParseError>(close).column == 12);
  auto str = find_obligations("(echo \"abc)\n", "c.smt2");
  REQUIRE(std::holds_alternative<ParseError>(str));
  CHECK(std::get<ParseError>(str).message == "unterminated string");
}

TEST_CASE("smt: real z3 and cvc5 answers: unsat proves, sat is a counterexample with its model", "[smt]") {
  for (const char* solver : {"z3", "cvc5"}) {
    INFO(solver);
    auto p = results("proved.smt2", solver);
    REQUIRE(p.size() == 2);
    CHECK(p[0].verdict == Verdict::kProved);
    CHECK(p[1].verdict == Verdict::kProved);
    auto c = results("counterexample.smt2", solver);
    REQUIRE(c.size() == 1);
    CHECK(c[0].verdict == Verdict::kCounterexample);
    CHECK(c[0].answer == "sat");
    CHECK(c[0].model.find("define-fun x () Int") != std::string::npos);
  }
}

TEST_CASE("smt: real unknown, timeout and error answers are inconclusive or errors", "[smt]") {
  auto z3_unknown = results("unknown_z3.smt2", "z3");
  CHECK(z3_unknown[0].verdict == Verdict::kInconclusive);
  CHECK(z3_unknown[0].answer == "unknown");
  auto cvc5_error = results("unknown_z3.smt2", "cvc5");  // cvc5 rejects the term, after warnings
  CHECK(cvc5_error[0].verdict == Verdict::kError);
  CHECK(cvc5_error[0].error.find("POW") != std::string::npos);
  auto cvc5_unknown = results("unknown_cvc5.smt2", "cvc5");
  CHECK(cvc5_unknown[0].verdict == Verdict::kInconclusive);
  CHECK(cvc5_unknown[0].answer == "unknown");
  auto z3_timeout = results("hard.smt2", "z3");
  CHECK(z3_timeout[0].verdict == Verdict::kInconclusive);
  CHECK(z3_timeout[0].answer == "timeout");
  auto cvc5_timeout = results("hard.smt2", "cvc5");
  CHECK(cvc5_timeout[0].verdict == Verdict::kInconclusive);
  // z3 reports the error and then still answers: the obligation is not trusted.
  auto z3_syntax = results("syntax_error.smt2", "z3");
  CHECK(z3_syntax[0].verdict == Verdict::kError);
  CHECK(z3_syntax[0].error == "line 3 column 13: unknown constant undefined_name");
  auto cvc5_syntax = results("syntax_error.smt2", "cvc5");
  CHECK(cvc5_syntax[0].verdict == Verdict::kError);
}

TEST_CASE("smt: a solver that stops early leaves the remaining obligations unanswered", "[smt]") {
  std::vector<Obligation> two(2);
  two[0].name = "a";
  two[1].name = "b";
  auto r = match_answers("unsat\ncvc5 interrupted by timeout.\n", two, "unsat");
  CHECK(r[0].verdict == Verdict::kProved);
  CHECK(r[1].verdict == Verdict::kInconclusive);
  CHECK(r[1].answer == "timeout");
  auto sat_expected = match_answers("sat\nunsat\n", two, "sat");
  CHECK(sat_expected[0].verdict == Verdict::kProved);
  CHECK(sat_expected[1].verdict == Verdict::kCounterexample);
  auto garbage = match_answers("\x01(((\"", two, "unsat");
  CHECK(garbage[0].verdict == Verdict::kInconclusive);
}

TEST_CASE("smt: workspace globs match ** across directories and skip .wrt", "[smt]") {
  using wrt::plugins::glob_match;
  CHECK(glob_match("proofs/*.smt2", "proofs/a.smt2"));
  CHECK_FALSE(glob_match("proofs/*.smt2", "proofs/sub/a.smt2"));
  CHECK(glob_match("proofs/**/*.smt2", "proofs/a.smt2"));
  CHECK(glob_match("proofs/**/*.smt2", "proofs/x/y/a.smt2"));
  CHECK(glob_match("src/**", "src/a/b.rs"));
  CHECK_FALSE(glob_match("src/*.rs", "src/a.rsx"));
  wrt::test::TempDir ws;
  wrt::test::write_file(ws / "p/a.smt2", "");
  wrt::test::write_file(ws / "p/q/b.smt2", "");
  wrt::test::write_file(ws / ".wrt/tmp/c.smt2", "");
  CHECK(wrt::plugins::expand_globs(ws.path().string(), {"**/*.smt2"}) == std::vector<std::string>{"p/a.smt2", "p/q/b.smt2"});
  CHECK(wrt::plugins::expand_globs(ws.path().string(), {"p/a.smt2", "p/*.smt2"}) == std::vector<std::string>{"p/a.smt2"});
}

TEST_CASE("smt: e2e z3 proves the obligations of a file", "[smt][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_smt_stage(ws, {"proved.smt2"}, "", &rc);
  CHECK(rc == 0);
  CHECK(st["status"] == "passed");
  CHECK(st["metrics"]["verification.total"] == 2);
  CHECK(st["metrics"]["verification.passed"] == 2);
  REQUIRE(st["tests"].size() == 2);
  CHECK(st["tests"][0]["suite"] == "proofs/proved.smt2");
  CHECK(st["tests"][0]["name"] == "result_not_below_operand");
}

TEST_CASE("smt: e2e cvc5 finds the counterexample and reports its model", "[smt][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_smt_stage(ws, {"proved.smt2", "counterexample.smt2"}, ", solver = \"cvc5\"", &rc);
  CHECK(rc == 1);
  CHECK(st["status"] == "failed");
  CHECK(st["metrics"]["verification.total"] == 3);
  CHECK(st["metrics"]["verification.failed"] == 1);
  CHECK(st["metrics"]["verification.inconclusive"] == 0);
  REQUIRE(st["findings"].size() == 1);
  CHECK(st["findings"][0]["rule"] == "smt-counterexample");
  CHECK(st["findings"][0]["file"] == "proofs/counterexample.smt2");
  CHECK(st["findings"][0]["line"] == 6);
  CHECK(st["findings"][0]["message"].get<std::string>().find("define-fun x () Int") != std::string::npos);
}

TEST_CASE("smt: e2e unknown and a timeout from the profile are inconclusive", "[smt][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_smt_stage(ws, {"unknown_z3.smt2"}, "", &rc);
  CHECK(rc == 1);
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().rfind("inconclusive:", 0) == 0);
  CHECK(st["metrics"]["verification.inconclusive"] == 1);
  // A one-second limit from the ASIL profile on a problem no solver finishes
  // in seconds: the answer is a timeout whatever the machine's speed.
  wrt::test::TempDir ws2;
  auto hard = run_smt_stage(ws2, {"hard.smt2"}, ", profile = { timeout_s = 1, solver = \"cvc5\" }", &rc);
  CHECK(hard["status"] == "failed");
  CHECK(hard["message"].get<std::string>().rfind("inconclusive:", 0) == 0);
  CHECK(hard["message"].get<std::string>().find("cvc5") != std::string::npos);
  CHECK(hard["metrics"]["verification.inconclusive"] == 1);
}

TEST_CASE("smt: e2e bad config is a one-line error", "[smt][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_smt_stage(ws, {"proved.smt2"}, ", solver = \"yices\"", &rc);
  CHECK(rc != 0);
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().find("with.solver") != std::string::npos);
}
