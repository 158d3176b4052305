// The safety-lint plugin: the Rust lexer (comments, strings, raw strings,
// chars vs lifetimes), the rules (test code exempt, enclosing function),
// the severity table and achieved-ASIL rule, and end-to-end runs of wrt on
// a small crate (tests/data/safety-lint/).
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "plugins/safety-lint/rust_lexer.h"
#include "plugins/safety-lint/safety_rules.h"
#include "support.h"

using namespace wrt::plugins::safety;
using wrt::plugins::ParseError;
namespace fs = std::filesystem;

namespace {

std::string lint_data(const std::string& name) {
  return wrt::test::read_file(fs::path(WRT_TEST_DATA_DIR) / "safety-lint" / name);
}

std::vector<Violation> scan(const std::string& source) {
  auto r = lex_rust(source, "x.rs");
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return scan_tokens(std::get<std::vector<Token>>(r));
}

nlohmann::json run_lint(const wrt::test::TempDir& ws, const std::string& with, int* exit_code) {
  for (const char* f : {"src/memory.rs", "src/clean.rs", "tests/integration.rs", "allowed.json"})
    wrt::test::write_file(ws / f, lint_data(f));
  wrt::test::write_file(ws / "wrt.toml", "[project]\nname = \"lint\"\n\n[stages.safety]\nplugin = \"safety-lint\"\n"
                                         "inputs = [\"src/**/*.rs\"]\nwith = { " + with + " }\n");
  auto r = wrt::test::run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  *exit_code = r.exit_code;
  INFO(r.out << r.err);
  REQUIRE(fs::exists(ws / "report.json"));
  return nlohmann::json::parse(wrt::test::read_file(ws / "report.json"))["stages"][0];
}

}  // namespace

TEST_CASE("safety-lint: lexer skips comments, strings, raw strings and chars", "[safety-lint]") {
  auto v = scan("// unsafe { }\n/* panic!() /* nested */ x.unwrap() */\nlet s = \"unsafe { \\\" todo!() \";\n"
                "let r = r##\"x.expect(\"# unsafe {\"##; let c = '{'; let q = '\\'';\n");
  CHECK(v.empty());
  auto open = lex_rust("fn f() { /* never closed\n", "a.rs");
  REQUIRE(std::holds_alternative<ParseError>(open));
  CHECK(std::get<ParseError>(open).to_string() == "a.rs:1:10: unterminated block comment");
  auto str = lex_rust("let s = \"abc;\n", "b.rs");
  REQUIRE(std::holds_alternative<ParseError>(str));
  CHECK(std::get<ParseError>(str).column == 9);
}

TEST_CASE("safety-lint: lifetimes are not char literals", "[safety-lint]") {
  auto v = scan("fn f<'a>(x: &'a Option<u8>) -> u8 { x.unwrap() }\n");
  REQUIRE(v.size() == 1);
  CHECK(v[0].rule == "unwrap");
  CHECK(v[0].function == "f");
  CHECK(v[0].line == 1);
  CHECK(v[0].column == 39);
}

TEST_CASE("safety-lint: rules find each construct with its enclosing function, not test code", "[safety-lint]") {
  auto v = scan(lint_data("src/memory.rs"));
  std::vector<std::string> rules;
  for (const auto& x : v) rules.push_back(x.rule + "@" + x.function + ":" + std::to_string(x.line));
  CHECK(rules == std::vector<std::string>{"unwrap@first:24", "unsafe-block@raw_copy:28", "unsafe-block@peek:34",
                                          "expect@must:38", "panic@reset:43"});
  CHECK(scan(lint_data("src/clean.rs")).empty());  // unwrap_or is fine; #[test] fn exempt
  CHECK(scan("#![cfg(test)]\nfn f() { None::<u8>.unwrap(); }\n").empty());
  CHECK(scan("#[cfg(not(test))]\nfn f() { todo!() }\n").size() == 1);
  CHECK(scan("fn f() { unimplemented!() }\nunsafe fn g() {}\n").size() == 1);
}

TEST_CASE("safety-lint: test directories are exempt", "[safety-lint]") {
  CHECK(is_test_path("tests/integration.rs"));
  CHECK(is_test_path("crates/a/tests/x.rs"));
  CHECK_FALSE(is_test_path("src/tests.rs"));
  CHECK_FALSE(is_test_path("src/memory.rs"));
}

TEST_CASE("safety-lint: severity table and achieved ASIL", "[safety-lint]") {
  CHECK(severity("unsafe-block", Asil::kD) == Level::kCritical);
  CHECK(severity("unsafe-block", Asil::kC) == Level::kCritical);
  CHECK(severity("unsafe-block", Asil::kB) == Level::kMinor);
  CHECK(severity("panic", Asil::kD) == Level::kCritical);
  CHECK(severity("panic", Asil::kC) == Level::kMajor);
  CHECK(severity("todo", Asil::kA) == Level::kMinor);
  CHECK(severity("unwrap", Asil::kD) == Level::kMajor);
  CHECK(severity("expect", Asil::kC) == Level::kMajor);
  CHECK(severity("expect", Asil::kB) == Level::kMinor);
  CHECK(achieved_asil(Asil::kD, true, true) == Asil::kQM);
  CHECK(achieved_asil(Asil::kD, false, true) == Asil::kB);
  CHECK(achieved_asil(Asil::kA, false, true) == Asil::kA);
  CHECK(achieved_asil(Asil::kC, false, false) == Asil::kC);
  CHECK(parse_asil("ASIL-D") == Asil::kD);
  CHECK(parse_asil("qm") == Asil::kQM);
  CHECK(parse_asil("b") == Asil::kB);
  CHECK_FALSE(parse_asil("E").has_value());
}

TEST_CASE("safety-lint: e2e ASIL D component with unsafe and panic achieves QM and fails", "[safety-lint][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_lint(ws, "component = { name = \"memory\", asil = \"D\", paths = [\"src/memory/**\"] }", &rc);
  CHECK(rc == 1);
  CHECK(st["status"] == "failed");
  CHECK(st["metrics"]["safety.achieved_asil"] == 0);
  CHECK(st["metrics"]["safety.target_asil"] == 4);
  CHECK(st["metrics"]["safety.unsafe_blocks"] == 2);
  CHECK(st["metrics"]["safety.unwraps"] == 1);
  CHECK(st["message"].get<std::string>().rfind("achieved ASIL QM (target D)", 0) == 0);
  bool unsafe_found = false;
  for (const auto& f : st["findings"]) {
    CHECK(f["file"] != "tests/integration.rs");
    if (f["rule"] == "unsafe-block" && f["line"] == 28) {
      unsafe_found = true;
      CHECK(f["file"] == "src/memory.rs");
      CHECK(f["column"] == 9);
      CHECK(f["severity"] == "error");
    }
  }
  CHECK(unsafe_found);
}

TEST_CASE("safety-lint: e2e allow list, without unsafe or panics ASIL C caps at B", "[safety-lint][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  // Allow both unsafe blocks (inline list and a JSON file) at ASIL B target: passes.
  auto b = run_lint(ws, "asil = \"B\", allowed_unsafe = \"allowed.json\"", &rc);
  CHECK(rc == 0);
  CHECK(b["status"] == "passed");
  CHECK(b["metrics"]["safety.unsafe_allowed"] == 1);
  CHECK(b["message"] == "achieved ASIL B (target B)");
  wrt::test::TempDir ws2;
  auto c = run_lint(ws2,
                    "asil = \"C\", paths = [\"src/clean.rs\", \"src/memory.rs\"], allowed_unsafe = ["
                    "{ file = \"src/memory.rs\", function = \"raw_copy\", reason = \"dma\" },"
                    "{ file = \"src/*.rs\", function = \"peek\", reason = \"checked\" }]",
                    &rc);
  CHECK(c["status"] == "failed");
  CHECK(c["metrics"]["safety.unsafe_allowed"] == 2);
  CHECK(c["metrics"]["safety.unsafe_blocks"] == 0);
  // panic! at C is major, unwrap/expect major: capped at B.
  CHECK(c["metrics"]["safety.achieved_asil"] == 2);
  CHECK(c["message"].get<std::string>().rfind("achieved ASIL B (target C)", 0) == 0);
}

TEST_CASE("safety-lint: e2e an unknown ASIL is a config error", "[safety-lint][e2e]") {
  wrt::test::TempDir ws;
  int rc = -1;
  auto st = run_lint(ws, "asil = \"E\"", &rc);
  CHECK(rc != 0);
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().find("ASIL must be") != std::string::npos);
}
