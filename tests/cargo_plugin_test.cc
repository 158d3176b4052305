// Unit tests of the cargo plugin's parsers on output captured from the real
// cargo, rustc, clippy, rustdoc, libtest and rustfmt (tests/data/cargo/),
// plus malformed input.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "plugins/cargo/cargo_messages.h"
#include "plugins/cargo/libtest_output.h"
#include "plugins/cargo/rustfmt_check.h"
#include "support.h"

using namespace wrt::plugins::cargo;
using wrt::plugins::ParseError;

namespace {

std::string capture(const std::string& name) {
  return wrt::test::read_file(std::filesystem::path(WRT_TEST_DATA_DIR) / "cargo" / name);
}

CargoOutput cargo_output(const std::string& name) {
  auto r = parse_cargo_output(capture(name), name);
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return std::get<CargoOutput>(r);
}

LibtestRun libtest(const std::string& name) {
  auto r = parse_libtest_output(capture(name), name);
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return std::get<LibtestRun>(r);
}

const LibtestCase& find_case(const LibtestRun& run, const std::string& name) {
  for (const auto& c : run.cases)
    if (c.name == name) return c;
  FAIL("no test case " << name);
  throw 0;
}

}  // namespace

TEST_CASE("cargo: check warning becomes a diagnostic with code and primary span", "[cargo]") {
  CargoOutput out = cargo_output("check-warning.txt");
  REQUIRE(out.diagnostics.size() == 1);
  const Diagnostic& d = out.diagnostics[0];
  CHECK(d.level == Diagnostic::Level::kWarning);
  CHECK(d.code == "unused_variables");
  CHECK(d.message == "unused variable: `unused`");
  CHECK(d.file == "src/lib.rs");
  CHECK(d.line == 3);
  CHECK(d.column == 9);
  CHECK(d.rendered.find("--> src/lib.rs:3:9") != std::string::npos);
  CHECK(out.warning_count() == 1);
  CHECK(out.error_count() == 0);
  CHECK(out.build_finished);
  CHECK(out.build_succeeded);
  REQUIRE(out.artifacts.size() == 1);
  CHECK(out.artifacts[0].target_name == "capture");
  CHECK(out.artifacts[0].kinds == std::vector<std::string>{"lib"});
  CHECK(out.artifacts[0].executable.empty());
}

TEST_CASE("cargo: clippy lints carry their clippy:: codes", "[cargo]") {
  CargoOutput out = cargo_output("clippy-warnings.txt");
  REQUIRE(out.diagnostics.size() == 3);
  CHECK(out.diagnostics[0].code == "unused_variables");
  CHECK(out.diagnostics[1].code == "clippy::needless_return");
  CHECK(out.diagnostics[1].line == 4);
  CHECK(out.diagnostics[1].column == 5);
  CHECK(out.diagnostics[2].code == "clippy::get_first");
  CHECK(out.diagnostics[2].file == "src/lib.rs");
  CHECK(out.diagnostics[2].line == 13);
  CHECK(out.warning_count() == 3);
}

TEST_CASE("cargo: rustdoc warnings and the generated index", "[cargo]") {
  CargoOutput out = cargo_output("doc-broken-link.txt");
  REQUIRE(out.diagnostics.size() == 1);
  CHECK(out.diagnostics[0].code == "rustdoc::broken_intra_doc_links");
  CHECK(out.diagnostics[0].line == 1);
  CHECK(out.diagnostics[0].column == 17);
  REQUIRE(out.artifacts.size() == 1);
  CHECK(out.artifacts[0].filenames == std::vector<std::string>{"/tmp/cap/target/doc/capture/index.html"});
}

TEST_CASE("cargo: build errors, failure notes dropped, cargo's own error lines kept", "[cargo]") {
  CargoOutput out = cargo_output("build-error.txt");
  REQUIRE(out.diagnostics.size() == 2);
  CHECK(out.diagnostics[0].level == Diagnostic::Level::kError);
  CHECK(out.diagnostics[0].code == "E0308");
  CHECK(out.diagnostics[0].message == "mismatched types");
  CHECK(out.diagnostics[0].line == 2);
  CHECK(out.diagnostics[0].column == 21);  // the primary span, not the first listed
  CHECK(out.diagnostics[1].code == "E0425");
  CHECK(out.diagnostics[1].line == 3);
  CHECK(out.error_count() == 2);
  CHECK(out.build_finished);
  CHECK_FALSE(out.build_succeeded);
  REQUIRE_FALSE(out.error_lines.empty());
  CHECK(out.error_lines[0] == "error: could not compile `capture` (lib) due to 2 previous errors");
}

TEST_CASE("cargo: the same diagnostic from lib and lib-test builds is reported once", "[cargo]") {
  CargoOutput out = cargo_output("test-build-error.txt");
  CHECK(out.error_count() == 2);
  CargoOutput warn = cargo_output("test-failures.txt");
  CHECK(warn.warning_count() == 1);
  // test binaries are artifacts built with the test profile
  int test_executables = 0;
  for (const auto& a : warn.artifacts)
    if (a.test_profile && !a.executable.empty()) ++test_executables;
  CHECK(test_executables == 2);
}

TEST_CASE("cargo: malformed JSON message names source, line and column", "[cargo]") {
  std::string text =
      "   Compiling x v0.1.0 (/x)\n"
      "{\"reason\":\"build-finished\",\"success\":true}\n"
      "{\"reason\":\"compiler-message\",\"message\":{\"level\":\"warn\n";
  auto r = parse_cargo_output(text, "cargo check output");
  REQUIRE(std::holds_alternative<ParseError>(r));
  const auto& e = std::get<ParseError>(r);
  CHECK(e.file == "cargo check output");
  CHECK(e.line == 3);
  CHECK(e.column > 1);
  CHECK(e.to_string().rfind("cargo check output:3:", 0) == 0);
}

TEST_CASE("cargo: valid JSON of the wrong shape is an error, not a crash", "[cargo]") {
  SECTION("line_start is a string") {
    std::string text =
        "{\"reason\":\"compiler-message\",\"message\":{\"level\":\"warning\",\"message\":\"m\",\"code\":null,"
        "\"spans\":[{\"is_primary\":true,\"file_name\":\"src/a.rs\",\"line_start\":\"7\",\"column_start\":1}]}}\n";
    auto r = parse_cargo_output(text, "out");
    REQUIRE(std::holds_alternative<ParseError>(r));
    CHECK(std::get<ParseError>(r).line == 1);
    CHECK(std::get<ParseError>(r).message.find("line_start") != std::string::npos);
  }
  SECTION("message missing") {
    auto r = parse_cargo_output("\n\n{\"reason\":\"compiler-message\"}\n", "out");
    REQUIRE(std::holds_alternative<ParseError>(r));
    CHECK(std::get<ParseError>(r).line == 3);
  }
  SECTION("not an object") {
    auto r = parse_cargo_output("{\"reason\":\"build-finished\",\"success\":\"yes\"}\n", "out");
    REQUIRE(std::holds_alternative<ParseError>(r));
  }
  SECTION("a truncated capture") {
    std::string text = capture("check-warning.txt");
    auto r = parse_cargo_output(text.substr(0, text.size() / 2), "half");
    CHECK(std::holds_alternative<ParseError>(r));
  }
}

TEST_CASE("cargo: libtest results, failure messages and summaries", "[cargo]") {
  LibtestRun run = libtest("test-failures.txt");
  CHECK(run.binaries == 3);
  CHECK(run.totals.passed == 3);
  CHECK(run.totals.failed == 3);
  CHECK(run.totals.ignored == 1);
  CHECK(run.totals.total() == 7);
  REQUIRE(run.cases.size() == 7);

  const auto& fails = find_case(run, "tests::fails");
  CHECK(fails.suite == "unittests src/lib.rs");
  CHECK(fails.outcome == LibtestCase::Outcome::kFailed);
  CHECK(fails.message.find("panicked at src/lib.rs:35:9") != std::string::npos);
  CHECK(fails.message.find("math is broken") != std::string::npos);
  CHECK(fails.message.find("stack backtrace") == std::string::npos);
  CHECK(fails.message.find("some output { brace") != std::string::npos);

  CHECK(find_case(run, "tests::panics").message.find("boom") != std::string::npos);
  const auto& skipped = find_case(run, "tests::skipped");
  CHECK(skipped.outcome == LibtestCase::Outcome::kIgnored);
  CHECK(skipped.message == "not ready");
  CHECK(find_case(run, "tests::passes").outcome == LibtestCase::Outcome::kPassed);
  CHECK(find_case(run, "integration_ok").suite == "tests/integration.rs");

  const auto& doc_ok = find_case(run, "src/lib.rs - first (line 9)");
  CHECK(doc_ok.suite == "doc-tests capture");
  CHECK(doc_ok.outcome == LibtestCase::Outcome::kPassed);
  const auto& doc_bad = find_case(run, "src/lib.rs - second (line 18)");
  CHECK(doc_bad.outcome == LibtestCase::Outcome::kFailed);
  CHECK(doc_bad.message.find("assertion `left == right` failed") != std::string::npos);
}

TEST_CASE("cargo: libtest passing run of the example crate", "[cargo]") {
  LibtestRun run = libtest("test-pass.txt");
  CHECK(run.binaries == 2);
  CHECK(run.totals.passed == 7);
  CHECK(run.totals.failed == 0);
  REQUIRE(run.cases.size() == 7);
  CHECK(find_case(run, "hex::tests::every_nibble").suite == "unittests src/lib.rs");
  CHECK(find_case(run, "src/lib.rs - adler32 (line 16)").suite == "doc-tests checksum");
}

TEST_CASE("cargo: cargo bench on stable runs unit tests as ignored", "[cargo]") {
  LibtestRun run = libtest("bench.txt");
  CHECK(run.totals.ignored == 4);
  CHECK(run.totals.passed == 0);
  REQUIRE(run.cases.size() == 4);
  CHECK(run.cases[0].suite == "unittests src/lib.rs");
}

TEST_CASE("cargo: libtest bench lines (transcript of nightly #[bench] output)", "[cargo]") {
  std::string text =
      "running 1 test\n"
      "test benches::adler_4k ... bench:       1,234.50 ns/iter (+/- 56.00)\n"
      "\n"
      "test result: ok. 0 passed; 0 failed; 0 ignored; 1 measured; 0 filtered out; finished in 0.35s\n";
  auto r = parse_libtest_output(text, "bench");
  REQUIRE(std::holds_alternative<LibtestRun>(r));
  const auto& run = std::get<LibtestRun>(r);
  REQUIRE(run.cases.size() == 1);
  REQUIRE(run.cases[0].bench_ns_per_iter);
  CHECK(*run.cases[0].bench_ns_per_iter == Approx(1234.5));
  CHECK(run.totals.measured == 1);
}

TEST_CASE("cargo: malformed libtest summary names line and column", "[cargo]") {
  SECTION("unknown status") {
    auto r = parse_libtest_output("running 1 test\ntest a ... ok\n\ntest result: maybe. 1 passed\n", "t.txt");
    REQUIRE(std::holds_alternative<ParseError>(r));
    CHECK(std::get<ParseError>(r).line == 4);
    CHECK(std::get<ParseError>(r).file == "t.txt");
  }
  SECTION("count is not a number") {
    auto r = parse_libtest_output("test result: ok. x passed; 0 failed; 0 ignored; finished in 0.1s\n", "t.txt");
    REQUIRE(std::holds_alternative<ParseError>(r));
    CHECK(std::get<ParseError>(r).line == 1);
    CHECK(std::get<ParseError>(r).column == 18);
  }
  SECTION("truncated") {
    auto r = parse_libtest_output("test result: ok. 1 pass", "t.txt");
    CHECK(std::holds_alternative<ParseError>(r));
  }
}

TEST_CASE("cargo: rustfmt --check diff headers become first changed lines", "[cargo]") {
  for (const char* name : {"fmt-check-nocolor.txt", "fmt-check-diff.txt"}) {
    INFO(name);
    auto r = parse_rustfmt_check(capture(name), name);
    REQUIRE(std::holds_alternative<std::vector<FormatDiff>>(r));
    const auto& diffs = std::get<std::vector<FormatDiff>>(r);
    REQUIRE(diffs.size() == 2);
    CHECK(diffs[0].file == "/tmp/cap/src/lib.rs");
    CHECK(diffs[0].line == 1);
    CHECK(diffs[0].hunk.find("+pub fn add(a: i32, b: i32) -> i32 {") != std::string::npos);
    CHECK(diffs[0].hunk.find('\x1b') == std::string::npos);
    CHECK(diffs[1].file == "/tmp/cap/src/lib.rs");
    CHECK(diffs[1].line == 8);  // header says 6; two context lines precede the change
  }
}

TEST_CASE("cargo: older rustfmt 'at line' headers and malformed headers", "[cargo]") {
  auto r = parse_rustfmt_check("Diff in /w/src/main.rs at line 12:\n-fn main(){}\n+fn main() {}\n", "fmt");
  REQUIRE(std::holds_alternative<std::vector<FormatDiff>>(r));
  const auto& diffs = std::get<std::vector<FormatDiff>>(r);
  REQUIRE(diffs.size() == 1);
  CHECK(diffs[0].file == "/w/src/main.rs");
  CHECK(diffs[0].line == 12);

  auto bad = parse_rustfmt_check("Diff in /w/src/main.rs:\n-x\n", "fmt");
  REQUIRE(std::holds_alternative<ParseError>(bad));
  CHECK(std::get<ParseError>(bad).to_string() == "fmt:1:9: rustfmt diff header without FILE:LINE: Diff in /w/src/main.rs:");
  CHECK(std::holds_alternative<ParseError>(parse_rustfmt_check("Diff in src/a.rs:0:\n", "fmt")));
}

TEST_CASE("cargo: strip_ansi removes colour and charset escapes", "[cargo]") {
  CHECK(strip_ansi("\x1b[31m-a\n\x1b(B\x1b[m\x1b[32m+b\n") == "-a\n+b\n");
  CHECK(strip_ansi("plain") == "plain");
  CHECK(strip_ansi("\x1b") == "");
}
