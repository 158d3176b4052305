// The GCC/Clang/clang-tidy diagnostics parser on output captured from the
// real tools on this machine (tests/data/cmake, tests/data/clang-tidy).
// The captures were made in /tmp/wrtcap/proj and /tmp/wrtcap/fail, which
// therefore serve as the workspaces here.
#include <catch2/catch.hpp>

#include "plugins/common/diagnostics.h"
#include "support.h"

using wrt::plugins::Diagnostic;
using wrt::plugins::parse_diagnostics;

namespace {

std::string data(const std::string& rel) { return wrt::test::read_file(std::string(WRT_TEST_DATA_DIR) + "/" + rel); }

const Diagnostic* find(const std::vector<Diagnostic>& ds, const std::string& file, unsigned line, unsigned col) {
  for (const auto& d : ds)
    if (d.file == file && d.line == line && d.column == col) return &d;
  return nullptr;
}

}  // namespace

TEST_CASE("diagnostics: gcc warnings in a ninja build, header warning from two TUs reported once",
          "[cmake][diagnostics]") {
  auto ds = parse_diagnostics(data("cmake/gcc_ninja_warnings.txt"), "/tmp/wrtcap/proj", "/tmp/wrtcap/proj/build");
  auto counts = wrt::plugins::count_diagnostics(ds);
  CHECK(counts.warnings == 5);
  CHECK(counts.errors == 0);
  REQUIRE(ds.size() == 5);

  const Diagnostic* header = find(ds, "src/util.h", 2, 32);
  REQUIRE(header);
  CHECK(header->rule == "-Wunused-variable");
  CHECK(header->severity == WRT_SEVERITY_WARNING);
  CHECK(header->message == "unused variable \xE2\x80\x98unused_in_header\xE2\x80\x99");
  int header_count = 0;
  for (const auto& d : ds) header_count += d.file == "src/util.h" && d.line == 2 && d.column == 32;
  CHECK(header_count == 1);

  const Diagnostic* uninit = find(ds, "src/util.c", 4, 21);
  REQUIRE(uninit);
  CHECK(uninit->rule == "-Wuninitialized");
  REQUIRE(uninit->notes.size() == 1);  // "'y' was declared here" belongs to it, not a finding of its own
  CHECK(uninit->notes[0].rfind("src/util.c:3:7: ", 0) == 0);

  REQUIRE(find(ds, "src/main.cc", 6, 12));
  CHECK(find(ds, "src/main.cc", 6, 12)->rule == "-Wsign-compare");
  CHECK(find(ds, "src/util.c", 4, 7)->rule == "-Wparentheses");
  CHECK(find(ds, "src/util.h", 2, 12)->rule == "-Wunused-function");
  CHECK(ds[0].file == "src/util.h");  // order of first appearance
}

TEST_CASE("diagnostics: gcc errors, fatal error and linker error in a failed ninja build", "[cmake][diagnostics]") {
  auto ds = parse_diagnostics(data("cmake/gcc_ninja_failure.txt"), "/tmp/wrtcap/fail", "/tmp/wrtcap/fail/bn");
  auto counts = wrt::plugins::count_diagnostics(ds);
  CHECK(counts.errors == 5);
  CHECK(counts.warnings == 1);
  REQUIRE(!ds.empty());
  CHECK(ds[0].file == "src/main.cc");
  CHECK(ds[0].line == 2);
  CHECK(ds[0].column == 11);
  CHECK(ds[0].severity == WRT_SEVERITY_ERROR);
  CHECK(ds[0].rule == "-fpermissive");
  CHECK(wrt::plugins::describe(ds[0]) ==
        "src/main.cc:2:11: invalid conversion from \xE2\x80\x98"
        "const char*\xE2\x80\x99 to \xE2\x80\x98int\xE2\x80\x99 [-fpermissive]");

  const Diagnostic* fatal = find(ds, "src/missing.c", 1, 10);
  REQUIRE(fatal);
  CHECK(fatal->severity == WRT_SEVERITY_ERROR);
  CHECK(fatal->message == "does_not_exist.h: No such file or directory");

  bool linker = false, collect2 = false;
  for (const auto& d : ds) {
    if (d.rule == "ld") {
      linker = true;
      CHECK(d.file.empty());
      CHECK(d.message == "undefined reference to `nowhere' (in linkerr.c)");
    }
    if (d.message == "collect2: ld returned 1 exit status") collect2 = true;
  }
  CHECK(linker);
  CHECK(collect2);
}

TEST_CASE("diagnostics: make's noise lines are ignored, same findings as with ninja", "[cmake][diagnostics]") {
  auto make = parse_diagnostics(data("cmake/gcc_make_failure.txt"), "/tmp/wrtcap/fail", "/tmp/wrtcap/fail/bm");
  auto ninja = parse_diagnostics(data("cmake/gcc_ninja_failure.txt"), "/tmp/wrtcap/fail", "/tmp/wrtcap/fail/bn");
  REQUIRE(make.size() == ninja.size());
  for (std::size_t i = 0; i < make.size(); ++i)
    CHECK(wrt::plugins::describe(make[i]) == wrt::plugins::describe(ninja[i]));
  for (const auto& d : make) CHECK(d.message.find("***") == std::string::npos);
}

TEST_CASE("diagnostics: clang errors and the clang driver's linker error", "[cmake][diagnostics]") {
  auto ds = parse_diagnostics(data("cmake/clang_ninja_failure.txt"), "/tmp/wrtcap/fail", "/tmp/wrtcap/fail/bc");
  auto counts = wrt::plugins::count_diagnostics(ds);
  CHECK(counts.errors == 5);
  CHECK(counts.warnings == 1);
  const Diagnostic* w = find(ds, "src/other.c", 1, 23);
  REQUIRE(w);
  CHECK(w->rule == "-Wunused-variable");
  CHECK(w->message == "unused variable 'z'");
  const Diagnostic* fatal = find(ds, "src/missing.c", 1, 10);
  REQUIRE(fatal);
  CHECK(fatal->message == "'does_not_exist.h' file not found");
  bool driver = false;
  for (const auto& d : ds)
    driver |= d.message == "clang: linker command failed with exit code 1 (use -v to see invocation)";
  CHECK(driver);
}

TEST_CASE("diagnostics: colour escapes stripped, -Werror=X reported as -WX, relative path resolved",
          "[cmake][diagnostics]") {
  auto ds = parse_diagnostics(data("cmake/gcc_werror_color.txt"), "/tmp/wrtcap/fail", "/tmp/wrtcap/fail");
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].file == "src/other.c");
  CHECK(ds[0].line == 1);
  CHECK(ds[0].column == 23);
  CHECK(ds[0].severity == WRT_SEVERITY_ERROR);
  CHECK(ds[0].rule == "-Wunused-variable");
  CHECK(ds[0].message == "unused variable \xE2\x80\x98z\xE2\x80\x99");
}

TEST_CASE("diagnostics: clang-tidy check names as rules, analyzer path notes attached", "[clang-tidy][diagnostics]") {
  auto ds = parse_diagnostics(data("clang-tidy/analyzer.txt"), "/tmp/wrtcap/proj", "/tmp/wrtcap/proj");
  REQUIRE(ds.size() == 2);
  CHECK(ds[0].rule == "clang-analyzer-deadcode.DeadStores");
  CHECK(ds[0].file == "src/util.c");
  CHECK(ds[0].line == 4);
  CHECK(ds[0].column == 7);
  CHECK(ds[1].rule == "clang-analyzer-core.CallAndMessage");
  CHECK(ds[1].message == "1st function call argument is an uninitialized value");
  CHECK(ds[1].notes.size() == 4);
  CHECK(wrt::plugins::count_diagnostics(ds).notes == 0);
}

TEST_CASE("diagnostics: clang-tidy with header filter, headers and clang-diagnostic checks",
          "[clang-tidy][diagnostics]") {
  auto ds = parse_diagnostics(data("clang-tidy/header_filter.txt"), "/tmp/wrtcap/proj", "/tmp/wrtcap/proj");
  CHECK(wrt::plugins::count_diagnostics(ds).warnings == 7);
  REQUIRE(find(ds, "src/util.h", 2, 32));
  CHECK(find(ds, "src/util.h", 2, 32)->rule == "clang-diagnostic-unused-variable");
  REQUIRE(find(ds, "src/main.cc", 4, 26));
  CHECK(find(ds, "src/main.cc", 4, 26)->rule == "readability-named-parameter");
}

TEST_CASE("diagnostics: merging batches drops diagnostics already seen", "[clang-tidy][diagnostics]") {
  auto text = data("clang-tidy/header_filter.txt");
  auto all = parse_diagnostics(text, "/tmp/wrtcap/proj", "/tmp/wrtcap/proj");
  auto merged = all;
  wrt::plugins::merge_diagnostics(merged, parse_diagnostics(text, "/tmp/wrtcap/proj", "/tmp/wrtcap/proj"));
  CHECK(merged.size() == all.size());
  wrt::plugins::merge_diagnostics(
      merged, parse_diagnostics(data("clang-tidy/analyzer.txt"), "/tmp/wrtcap/proj", "/tmp/wrtcap/proj"));
  CHECK(merged.size() == all.size() + 1);  // DeadStores is new; CallAndMessage was already there
}

TEST_CASE("diagnostics: files outside the workspace stay absolute, a lone note is a note", "[cmake][diagnostics]") {
  std::string text =
      "/usr/include/stdio.h:10:3: note: declared here\n"
      "/usr/include/stdio.h:12: warning: something without a column [-Wfoo]\n"
      "error: unable to handle compilation, expected exactly one compiler job [clang-diagnostic-error]\n";
  auto ds = parse_diagnostics(text, "/ws", "/ws/build");
  REQUIRE(ds.size() == 3);
  CHECK(ds[0].severity == WRT_SEVERITY_NOTE);
  CHECK(ds[0].file == "/usr/include/stdio.h");
  CHECK(ds[1].line == 12);
  CHECK(ds[1].column == 0);
  CHECK(ds[1].rule == "-Wfoo");
  CHECK(ds[2].file.empty());
  CHECK(ds[2].rule == "clang-diagnostic-error");
  CHECK(wrt::plugins::count_diagnostics(ds).notes == 1);
}

TEST_CASE("diagnostics: malformed and hostile input never throws", "[cmake][diagnostics]") {
  std::vector<std::string> inputs = {
      "",
      "\n\n\n",
      ": error: \n",
      "file.c:: error: two colons\n",
      "a.c:99999999999999999999:1: warning: huge line number\n",
      "\x1b[01m\x1b[\n",
      "\x1b]8;;http://x\x07 unterminated osc",
      "some prose that mentions: error: in passing\n",
      std::string("bin\0ary: error: x\n", 18),
      "x.c:1:2: warning: message ends with [bracket with spaces]\n",
  };
  for (const auto& in : inputs) {
    std::vector<Diagnostic> ds;
    REQUIRE_NOTHROW(ds = parse_diagnostics(in, "/ws", "/ws"));
    for (const auto& d : ds) CHECK(d.message.size() <= in.size());
  }
  CHECK(parse_diagnostics("some prose that mentions: error: in passing\n", "/ws", "/ws").empty());
  auto spaced = parse_diagnostics("x.c:1:2: warning: message ends with [bracket with spaces]\n", "/ws", "/ws");
  REQUIRE(spaced.size() == 1);
  CHECK(spaced[0].rule.empty());
  CHECK(spaced[0].message == "message ends with [bracket with spaces]");
}
