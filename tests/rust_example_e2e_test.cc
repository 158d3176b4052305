// End to end: the real wrt binary runs examples/rust-crate's pre-merge
// pipeline with the real cargo, clippy, rustfmt and rustdoc (and the
// unsafe-audit plugin) on a copy of the crate, then on copies with one
// defect each, and the report names the failing stage and the defect.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "plugins/common/tool.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

const fs::path kExample = fs::path(WRT_SOURCE_DIR) / "examples" / "rust-crate";

void copy_example(const fs::path& to) {
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(kExample)) {
    std::string name = entry.path().filename().string();
    if (name == "target" || name == ".wrt") continue;  // a developer's local build must not leak in
    fs::copy(entry.path(), to / name, fs::copy_options::recursive);
  }
}

struct Run {
  CommandResult result;
  nlohmann::json report;
};

Run run_pre_merge(const fs::path& crate, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run", "pre-merge", "--report", (crate / "report.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  Run r;
  r.result = run_wrt(args, crate);
  std::string text = fs::exists(crate / "report.json") ? read_file(crate / "report.json") : "{}";
  r.report = nlohmann::json::parse(text);
  fs::remove(crate / "report.json");
  return r;
}

std::map<std::string, std::string> statuses(const nlohmann::json& report) {
  std::map<std::string, std::string> m;
  for (const auto& s : report["stages"]) m[s["name"].get<std::string>()] = s["status"].get<std::string>();
  return m;
}

nlohmann::json stage(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

const nlohmann::json* test_case(const nlohmann::json& st, const std::string& name) {
  for (const auto& t : st["tests"])
    if (t["name"] == name) return &t;
  return nullptr;
}

const nlohmann::json* finding(const nlohmann::json& st, const std::string& rule) {
  for (const auto& f : st["findings"])
    if (f["rule"] == rule) return &f;
  return nullptr;
}

// 1-based line of the first line containing `needle`.
int line_of(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  REQUIRE(pos != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

std::map<std::string, std::string> all(const std::string& status) {
  std::map<std::string, std::string> m;
  for (const char* s : {"check", "test", "clippy", "fmt-check", "unsafe-audit", "doc"}) m[s] = status;
  return m;
}

}  // namespace

TEST_CASE("cargo: e2e examples/rust-crate pre-merge passes, is cached, and each defect fails the right stage", "[cargo][e2e]") {
  REQUIRE(wrt::plugins::find_program("cargo"));  // cargo is a required tool of this test suite
  TempDir ws;
  const fs::path crate = ws / "rust-crate";
  copy_example(crate);
  const fs::path lib = crate / "src" / "lib.rs";
  const std::string original = read_file(lib);

  // A clean crate passes every check.
  Run first = run_pre_merge(crate);
  INFO(first.result.out << first.result.err);
  REQUIRE(first.result.exit_code == 0);
  CHECK(statuses(first.report) == all("passed"));

  auto test = stage(first.report, "test");
  CHECK(test["metrics"]["tests.total"] == 7);
  CHECK(test["metrics"]["tests.passed"] == 7);
  CHECK(test["metrics"]["tests.failed"] == 0);
  const auto* unit = test_case(test, "tests::known_vector");
  REQUIRE(unit);
  CHECK((*unit)["status"] == "passed");
  CHECK((*unit)["suite"] == "unittests src/lib.rs");
  const auto* doc_test = test_case(test, "src/lib.rs - adler32 (line 16)");
  REQUIRE(doc_test);
  CHECK((*doc_test)["suite"] == "doc-tests checksum");
  CHECK(test_case(test, "hex::tests::every_nibble"));

  CHECK(stage(first.report, "check")["metrics"]["warnings"] == 0);
  CHECK(stage(first.report, "clippy")["metrics"]["warnings"] == 0);
  CHECK(stage(first.report, "clippy")["findings"].empty());
  auto audit = stage(first.report, "unsafe-audit");
  CHECK(audit["metrics"]["unsafe.total"] == 1);
  CHECK(audit["metrics"]["unsafe.allowed"] == 1);
  CHECK(audit["metrics"]["unsafe.unapproved"] == 0);
  CHECK(stage(first.report, "fmt-check")["metrics"]["fmt.diffs"] == 0);
  bool doc_index = false;
  const auto doc = stage(first.report, "doc");
  INFO("doc artifacts: " << doc["artifacts"].dump());
  for (const auto& a : doc["artifacts"])
    doc_index = doc_index || a["path"] == "target/doc/checksum/index.html";
  CHECK(doc_index);

  // Nothing changed: everything comes from the cache.
  Run second = run_pre_merge(crate);
  INFO(second.result.out << second.result.err);
  REQUIRE(second.result.exit_code == 0);
  CHECK(statuses(second.report) == all("cached"));

  // Two defects that different stages must catch, in one run (cargo builds
  // are the slow part): an unused variable, which check reports as a warning
  // and clippy (fail_on = "warning", i.e. -D warnings) fails on, and a
  // failing unit test, which only the test stage fails on.
  {
    std::string text = replaced(original, "    let mut b: u32 = 0;\n", "    let mut b: u32 = 0;\n    let spare = 7;\n");
    text = replaced(text, "assert_eq!(adler32(b\"\"), 1);", "assert_eq!(adler32(b\"\"), 2);");
    write_file(lib, text);
    int unused_line = line_of(text, "let spare");
    int assert_line = line_of(text, "adler32(b\"\"), 2)");
    Run r = run_pre_merge(crate, {"-k"});
    INFO(r.result.out << r.result.err);
    CHECK(r.result.exit_code == 1);
    auto expected = all("passed");
    expected["clippy"] = "failed";
    expected["test"] = "failed";
    CHECK(statuses(r.report) == expected);

    auto clippy = stage(r.report, "clippy");
    const auto* f = finding(clippy, "unused_variables");
    REQUIRE(f);
    CHECK((*f)["file"] == "src/lib.rs");
    CHECK((*f)["line"] == unused_line);
    CHECK((*f)["column"] == 9);
    CHECK((*f)["severity"] == "warning");
    CHECK(clippy["message"].get<std::string>().find("unused variable: `spare`") != std::string::npos);
    auto check = stage(r.report, "check");
    CHECK(check["metrics"]["warnings"] == 1);
    CHECK(finding(check, "unused_variables"));

    auto t = stage(r.report, "test");
    CHECK(t["metrics"]["tests.failed"] == 1);
    CHECK(t["metrics"]["tests.passed"] == 6);
    const auto* failed = test_case(t, "tests::empty_input_is_one");
    REQUIRE(failed);
    CHECK((*failed)["status"] == "failed");
    std::string msg = (*failed)["message"].get<std::string>();
    CHECK(msg.find("panicked at src/lib.rs:" + std::to_string(assert_line) + ":9") != std::string::npos);
    CHECK(msg.find("right: 2") != std::string::npos);
    CHECK(t["message"].get<std::string>().find("tests::empty_input_is_one") != std::string::npos);
  }

  // A misformatted line, which only fmt-check fails on, and an unsafe block
  // outside the allow list, which only unsafe-audit fails on.
  {
    std::string text = replaced(original, "    let mut b: u32 = 0;", "    let mut b:u32=0;");
    text = replaced(text, "#[cfg(test)]",
                    "/// First byte of `data`, which must not be empty.\n"
                    "pub fn first_byte(data: &[u8]) -> u8 {\n"
                    "    assert!(!data.is_empty());\n"
                    "    // SAFETY: checked non-empty above.\n"
                    "    unsafe { *data.get_unchecked(0) }\n"
                    "}\n\n#[cfg(test)]");
    write_file(lib, text);
    int misformatted_line = line_of(text, "let mut b:u32=0;");
    int unsafe_line = line_of(text, "unsafe { *data");
    Run r = run_pre_merge(crate, {"-k"});
    INFO(r.result.out << r.result.err);
    CHECK(r.result.exit_code == 1);
    auto expected = all("passed");
    expected["fmt-check"] = "failed";
    expected["unsafe-audit"] = "failed";
    CHECK(statuses(r.report) == expected);

    auto fmt = stage(r.report, "fmt-check");
    REQUIRE(fmt["findings"].size() == 1);
    CHECK(fmt["findings"][0]["rule"] == "rustfmt");
    CHECK(fmt["findings"][0]["file"] == "src/lib.rs");
    CHECK(fmt["findings"][0]["line"] == misformatted_line);
    CHECK(fmt["findings"][0]["message"].get<std::string>().find("+    let mut b: u32 = 0;") != std::string::npos);

    auto a = stage(r.report, "unsafe-audit");
    CHECK(a["metrics"]["unsafe.total"] == 2);
    CHECK(a["metrics"]["unsafe.unapproved"] == 1);
    REQUIRE(a["findings"].size() == 1);
    CHECK(a["findings"][0]["rule"] == "unsafe-code");
    CHECK(a["findings"][0]["file"] == "src/lib.rs");
    CHECK(a["findings"][0]["line"] == unsafe_line);
    CHECK(a["findings"][0]["column"] == 5);
    CHECK(a["findings"][0]["severity"] == "error");
  }

  // A type error: check fails with the first error; the stages that need it are skipped.
  write_file(lib, replaced(original, "    let mut b: u32 = 0;", "    let mut b: u32 = \"zero\";"));
  {
    int line = line_of(read_file(lib), "\"zero\"");
    Run r = run_pre_merge(crate);
    INFO(r.result.out << r.result.err);
    CHECK(r.result.exit_code == 1);
    auto st = statuses(r.report);
    CHECK(st["check"] == "failed");
    CHECK(st["test"] == "skipped");
    auto check = stage(r.report, "check");
    CHECK(check["message"] == "error[E0308]: mismatched types (src/lib.rs:" + std::to_string(line) + ":22)");
    CHECK(check["metrics"]["errors"] == 1);
  }

  // Back to the original: every stage is a cache hit again.
  write_file(lib, original);
  Run restored = run_pre_merge(crate);
  INFO(restored.result.out << restored.result.err);
  CHECK(restored.result.exit_code == 0);
  CHECK(statuses(restored.report) == all("cached"));

  // RUSTFLAGS is part of the cargo stages' cache key.
  auto flagged = run_wrt({"run", "--stage", "check", "--report", (crate / "report.json").string()}, crate,
                         {"RUSTFLAGS=--cfg=wrt_probe"});
  INFO(flagged.out << flagged.err);
  CHECK(flagged.exit_code == 0);
  CHECK(statuses(nlohmann::json::parse(read_file(crate / "report.json")))["check"] == "passed");
}

TEST_CASE("cargo: e2e missing cargo is an error naming the Debian package", "[cargo][e2e]") {
  TempDir ws;
  write_file(ws / "Cargo.toml", "[package]\nname = \"x\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
  write_file(ws / "src/lib.rs", "");
  write_file(ws / "wrt.toml", "[stages.check]\nplugin = \"cargo\"\nwith = { command = \"check\" }\n");
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"});
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  std::string all_output = r.out + r.err + (fs::exists(ws / "report.json") ? read_file(ws / "report.json") : "");
  CHECK(all_output.find("cargo was not found on PATH; it is in the Debian package cargo") != std::string::npos);
}

TEST_CASE("cargo: e2e bad cargo config is a one-line error", "[cargo][e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", "[stages.lint]\nplugin = \"cargo\"\nwith = { command = \"lint\" }\n");
  auto r = run_wrt({"run"}, ws.path());
  CHECK(r.exit_code != 0);
  CHECK((r.out + r.err).find("with.command must be one of check, build, test, clippy, fmt-check, doc, bench, not \"lint\"") !=
        std::string::npos);
  write_file(ws / "wrt.toml", "[stages.fmt]\nplugin = \"cargo\"\nwith = { command = \"fmt-check\", release = true }\n");
  r = run_wrt({"run"}, ws.path());
  CHECK(r.exit_code != 0);
  CHECK((r.out + r.err).find("do not apply to command = \"fmt-check\"") != std::string::npos);
}
