// unsafe-audit: the lexer on real Rust source (comments, nested comments,
// strings, raw strings, char literals, lifetimes), source selection, the
// allow-list policy, and the plugin end to end through the real wrt binary.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "plugins/unsafe-audit/audit_policy.h"
#include "plugins/unsafe-audit/source_glob.h"
#include "plugins/unsafe-audit/unsafe_lexer.h"
#include "support.h"

using namespace wrt::plugins::unsafe_audit;
using wrt::plugins::ParseError;
using wrt::test::TempDir;
using wrt::test::write_file;

namespace {

std::vector<UnsafeUse> uses_in(const std::string& source) {
  auto r = find_unsafe(source, "x.rs");
  if (auto* e = std::get_if<ParseError>(&r)) FAIL(e->to_string());
  return std::get<std::vector<UnsafeUse>>(r);
}

ParseError error_in(const std::string& source) {
  auto r = find_unsafe(source, "src/bad.rs");
  REQUIRE(std::holds_alternative<ParseError>(r));
  return std::get<ParseError>(r);
}

}  // namespace

TEST_CASE("unsafe-audit: lexer counts only code in real Rust source", "[unsafe-audit]") {
  std::string src = wrt::test::read_file(std::filesystem::path(WRT_TEST_DATA_DIR) / "unsafe-audit" / "tricky.rs");
  auto uses = uses_in(src);
  std::vector<UnsafeUse> expected = {
      {UnsafeKind::kFn, 38, 5},           {UnsafeKind::kBlock, 39, 5},    {UnsafeKind::kFn, 44, 5},
      {UnsafeKind::kImpl, 49, 1},         {UnsafeKind::kTrait, 53, 5},    {UnsafeKind::kExternBlock, 55, 1},
      {UnsafeKind::kAttribute, 59, 3},    {UnsafeKind::kBlock, 61, 31},
  };
  CHECK(uses == expected);
}

TEST_CASE("unsafe-audit: lexer skips comments, strings and char literals", "[unsafe-audit]") {
  CHECK(uses_in("// unsafe { }\nfn f() {}\n").empty());
  CHECK(uses_in("/* a /* nested */ unsafe { } */ fn f() {}").empty());
  CHECK(uses_in("let s = \"unsafe { }\";").empty());
  CHECK(uses_in("let s = \"\\\"unsafe {\";").empty());
  CHECK(uses_in("let s = r\"unsafe {\";").empty());
  CHECK(uses_in("let s = r###\"x\"## unsafe { }\"###;").empty());
  CHECK(uses_in("let s = b\"unsafe\"; let c = c\"unsafe {\";").empty());
  CHECK(uses_in("let c = '\"'; let d = \"unsafe\";").empty());  // '"' must not open a string
  CHECK(uses_in("let r#unsafe_ = 1;").empty());
  CHECK(uses_in("type F = unsafe fn();").empty());
  // a lifetime must not swallow what follows as a char literal
  auto after_lifetime = uses_in("fn f<'a>(x: &'a u8) -> u8 { unsafe { *x } }");
  REQUIRE(after_lifetime.size() == 1);
  CHECK(after_lifetime[0].column == 29);
  // columns count characters, not bytes
  auto after_utf8 = uses_in("let é = 'é'; unsafe { }");
  REQUIRE(after_utf8.size() == 1);
  CHECK(after_utf8[0] == UnsafeUse{UnsafeKind::kBlock, 1, 14});
  // code after a nested comment still counts, on the right line
  auto after_comment = uses_in("/* /* */ */\n  unsafe { }");
  REQUIRE(after_comment.size() == 1);
  CHECK(after_comment[0].line == 2);
  CHECK(after_comment[0].column == 3);
}

TEST_CASE("unsafe-audit: unterminated constructs are errors naming where they began", "[unsafe-audit]") {
  auto comment = error_in("fn f() {}\n  /* open /* nested */ never closed\n");
  CHECK(comment.to_string() == "src/bad.rs:2:3: unterminated block comment");
  CHECK(error_in("let s = \"abc").to_string() == "src/bad.rs:1:9: unterminated string literal");
  CHECK(error_in("let s = r#\"abc\"").message == "unterminated raw string literal");
  CHECK(error_in("let c = '\\u{1F600").message == "unterminated character literal");
  CHECK(error_in("/*").line == 1);
}

TEST_CASE("unsafe-audit: glob_match", "[unsafe-audit]") {
  CHECK(glob_match("src/**/*.rs", "src/lib.rs"));
  CHECK(glob_match("src/**/*.rs", "src/a/b/c.rs"));
  CHECK_FALSE(glob_match("src/**/*.rs", "tests/a.rs"));
  CHECK_FALSE(glob_match("src/*.rs", "src/a/b.rs"));
  CHECK(glob_match("src/ffi_?.rs", "src/ffi_1.rs"));
  CHECK(glob_match("src/[a-c]*.rs", "src/bits.rs"));
  CHECK_FALSE(glob_match("src/[!a-c]*.rs", "src/bits.rs"));
  CHECK(glob_match("**", "any/thing.rs"));
  CHECK(glob_match("src/lib.rs", "src/lib.rs"));
  CHECK_FALSE(glob_match("src/lib.rs", "src/lib.rsx"));
}

TEST_CASE("unsafe-audit: expand_sources skips build and hidden directories", "[unsafe-audit]") {
  TempDir ws;
  write_file(ws / "src/lib.rs", "");
  write_file(ws / "src/ffi/mod.rs", "");
  write_file(ws / "src/notes.txt", "");
  write_file(ws / "target/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
  write_file(ws / "target/debug/build/out/gen.rs", "");
  write_file(ws / ".git/hooks/x.rs", "");
  write_file(ws / "benches/b.rs", "");
  CHECK(expand_sources(ws.path(), {"src/**/*.rs"}) == std::vector<std::string>{"src/ffi/mod.rs", "src/lib.rs"});
  CHECK(expand_sources(ws.path(), {"**/*.rs"}) ==
        std::vector<std::string>{"benches/b.rs", "src/ffi/mod.rs", "src/lib.rs"});
  CHECK(expand_sources(ws.path(), {"src", "benches/b.rs"}) ==
        std::vector<std::string>{"benches/b.rs", "src/ffi/mod.rs", "src/lib.rs"});
  CHECK(expand_sources(ws.path(), {"nothing/**/*.rs"}).empty());
  CHECK_THROWS_WITH(expand_sources(ws.path(), {"src/missing.rs"}),
                    "with.paths: \"src/missing.rs\" does not exist");
  CHECK_THROWS_WITH(expand_sources(ws.path(), {"../x/*.rs"}), "with.paths: \"../x/*.rs\" is outside the workspace");
}

TEST_CASE("unsafe-audit: allow list budgets per file and overall budget", "[unsafe-audit]") {
  std::vector<FileUses> files = {
      {"src/ffi.rs", {{UnsafeKind::kBlock, 3, 5}, {UnsafeKind::kBlock, 9, 5}, {UnsafeKind::kFn, 12, 1}}},
      {"src/lib.rs", {{UnsafeKind::kImpl, 20, 1}}},
      {"src/safe.rs", {}},
  };
  std::vector<AllowEntry> allow = {{"src/ffi.rs", 2, "FFI"}, {"src/gone.rs", 1, "stale"}};
  AuditResult r = audit(files, allow, std::nullopt);
  CHECK(r.total == 4);
  CHECK(r.allowed == 2);
  REQUIRE(r.unapproved.size() == 2);
  CHECK(r.unapproved[0].file == "src/ffi.rs");
  CHECK(r.unapproved[0].use.line == 12);
  CHECK(r.unapproved[0].why == "over the allow-list budget of 2 for src/ffi.rs");
  CHECK(r.unapproved[1].file == "src/lib.rs");
  CHECK(r.unapproved[1].why == "outside the allow list");
  CHECK(r.unused_entries == std::vector<std::string>{"src/gone.rs"});
  CHECK_FALSE(r.over_budget);

  AuditResult globbed = audit(files, {{"src/*.rs", 5, "all reviewed"}}, 3);
  CHECK(globbed.unapproved.empty());
  CHECK(globbed.allowed == 4);
  CHECK(globbed.over_budget);
  CHECK_FALSE(audit(files, {{"src/*.rs", 5, "all reviewed"}}, 4).over_budget);
}

namespace {

nlohmann::json audit_stage(const TempDir& ws) {
  auto report = nlohmann::json::parse(wrt::test::read_file(ws / "report.json"));
  for (const auto& s : report["stages"])
    if (s["name"] == "audit") return s;
  FAIL("no audit stage in report");
  throw 0;
}

void write_workspace(const TempDir& ws, const std::string& with) {
  write_file(ws / "wrt.toml", "[stages.audit]\nplugin = \"unsafe-audit\"\ninputs = [\"src/**/*.rs\"]\n" + with);
  write_file(ws / "src/lib.rs", "// unsafe in a comment\npub mod ffi;\npub fn f() -> &'static str { \"unsafe\" }\n");
  write_file(ws / "src/ffi.rs", "pub fn g(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n");
}

}  // namespace

TEST_CASE("unsafe-audit: e2e passes with the allow list, fails without it", "[unsafe-audit]") {
  TempDir ws;
  write_workspace(ws, "with = { allow = [{ file = \"src/ffi.rs\", max = 1, reason = \"FFI\" }] }\n");
  auto args = std::vector<std::string>{"run", "--report", (ws / "report.json").string()};
  auto ok = wrt::test::run_wrt(args, ws.path());
  INFO(ok.out << ok.err);
  REQUIRE(ok.exit_code == 0);
  auto st = audit_stage(ws);
  CHECK(st["status"] == "passed");
  CHECK(st["metrics"]["unsafe.total"] == 1);
  CHECK(st["metrics"]["unsafe.allowed"] == 1);
  CHECK(st["metrics"]["unsafe.unapproved"] == 0);
  CHECK(st["metrics"]["files"] == 2);

  write_workspace(ws, "with = { severity = \"error\" }\n");
  auto bad = wrt::test::run_wrt(args, ws.path());
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  st = audit_stage(ws);
  CHECK(st["status"] == "failed");
  REQUIRE(st["findings"].size() == 1);
  CHECK(st["findings"][0]["rule"] == "unsafe-code");
  CHECK(st["findings"][0]["file"] == "src/ffi.rs");
  CHECK(st["findings"][0]["line"] == 2);
  CHECK(st["findings"][0]["column"] == 5);
  CHECK(st["findings"][0]["severity"] == "error");
  CHECK(st["message"].get<std::string>().find("src/ffi.rs:2:5") != std::string::npos);
}

TEST_CASE("unsafe-audit: e2e budget, warning severity and config errors", "[unsafe-audit]") {
  TempDir ws;
  auto args = std::vector<std::string>{"run", "--report", (ws / "report.json").string()};
  SECTION("severity warning reports without failing") {
    write_workspace(ws, "with = { severity = \"warning\" }\n");
    auto r = wrt::test::run_wrt(args, ws.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    auto st = audit_stage(ws);
    REQUIRE(st["findings"].size() == 1);
    CHECK(st["findings"][0]["severity"] == "warning");
  }
  SECTION("over budget fails even when allowed") {
    write_workspace(ws, "with = { budget = 0, allow = [{ file = \"src/*.rs\", max = 9, reason = \"ok\" }] }\n");
    auto r = wrt::test::run_wrt(args, ws.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    auto st = audit_stage(ws);
    CHECK(st["status"] == "failed");
    CHECK(st["message"].get<std::string>().find("over budget = 0") != std::string::npos);
  }
  SECTION("an allow entry without a reason is a configuration error") {
    write_workspace(ws, "with = { allow = [{ file = \"src/ffi.rs\", max = 1 }] }\n");
    auto r = wrt::test::run_wrt(args, ws.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code != 0);
    CHECK((r.out + r.err).find("with.allow[0].reason is required") != std::string::npos);
  }
  SECTION("an unknown key is a configuration error") {
    write_workspace(ws, "with = { allow_list = \"allowed-unsafe.toml\" }\n");
    auto r = wrt::test::run_wrt(args, ws.path());
    CHECK(r.exit_code != 0);
    CHECK((r.out + r.err).find("unknown key with.allow_list") != std::string::npos);
  }
  SECTION("unterminated comment in a source is an error naming file and position") {
    write_workspace(ws, "");
    write_file(ws / "src/ffi.rs", "fn g() {}\n/* open\n");
    auto r = wrt::test::run_wrt(args, ws.path());
    CHECK(r.exit_code != 0);
    CHECK((r.out + r.err + wrt::test::read_file(ws / "report.json")).find("src/ffi.rs:2:1: unterminated block comment") !=
          std::string::npos);
  }
}
