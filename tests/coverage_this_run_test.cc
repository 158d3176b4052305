// Coverage of this run only (issue 11): the counters (.gcda) of earlier runs,
// of earlier compiles and of objects removed from the build must not count,
// and no coverage data at all is an error. Unit tests of
// plugins/common/gcov_files, then the real wrt binary with cmake, gcc
// --coverage, ctest and gcovr.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "plugins/common/gcov_files.h"
#include "plugins/common/tool.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;
namespace gcov = wrt::plugins::gcov;

namespace {

void set_age(const fs::path& p, int seconds_ago) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::seconds(seconds_ago));
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

TEST_CASE("coverage-this-run: prune removes orphan, stale and dead counters and keeps current ones",
          "[coverage][coverage-this-run]") {
  TempDir dir;
  // Current object, counters newer than the notes: kept.
  write_file(dir / "CMakeFiles/lib.dir/lib.c.gcno", "notes");
  write_file(dir / "CMakeFiles/lib.dir/lib.c.gcda", "counts");
  set_age(dir / "CMakeFiles/lib.dir/lib.c.gcno", 60);
  // Current object recompiled after its counters were written: stale.
  write_file(dir / "CMakeFiles/t1.dir/t1.c.gcno", "new notes");
  write_file(dir / "CMakeFiles/t1.dir/t1.c.gcda", "old counts");
  set_age(dir / "CMakeFiles/t1.dir/t1.c.gcda", 60);
  // Counters without notes: orphan.
  write_file(dir / "CMakeFiles/gone.dir/gone.c.gcda", "counts");
  // An object the build no longer has (its target was removed): dead.
  write_file(dir / "CMakeFiles/t2.dir/t2.c.gcno", "notes");
  write_file(dir / "CMakeFiles/t2.dir/t2.c.gcda", "counts");
  set_age(dir / "CMakeFiles/t2.dir/t2.c.gcno", 60);

  std::set<std::string> objects;
  for (const char* o : {"CMakeFiles/lib.dir/lib.c.o", "CMakeFiles/t1.dir/t1.c.o", "CMakeFiles/gone.dir/gone.c.o"})
    objects.insert(fs::weakly_canonical(dir / o).replace_extension().string());
  auto p = gcov::prune(dir.path(), objects);
  CHECK_FALSE(p.objects_ignored);
  CHECK(p.gcda_left == 1);
  CHECK(p.orphans == std::vector<std::string>{"CMakeFiles/gone.dir/gone.c.gcda"});
  CHECK(p.stale == std::vector<std::string>{"CMakeFiles/t1.dir/t1.c.gcda"});
  CHECK(contains(p.dead, "CMakeFiles/t2.dir/t2.c.gcda"));
  CHECK(contains(p.dead, "CMakeFiles/t2.dir/t2.c.gcno"));
  CHECK(fs::exists(dir / "CMakeFiles/lib.dir/lib.c.gcda"));
  CHECK(fs::exists(dir / "CMakeFiles/t1.dir/t1.c.gcno"));  // notes of a current object stay
  CHECK_FALSE(fs::exists(dir / "CMakeFiles/t1.dir/t1.c.gcda"));
  CHECK_FALSE(fs::exists(dir / "CMakeFiles/gone.dir/gone.c.gcda"));
  CHECK_FALSE(fs::exists(dir / "CMakeFiles/t2.dir/t2.c.gcno"));

  // A database naming none of the notes (another tree) removes nothing as dead.
  write_file(dir / "x.dir/x.c.gcno", "notes");
  auto q = gcov::prune(dir.path(), std::set<std::string>{"/elsewhere/a.c"});
  CHECK(q.objects_ignored);
  CHECK(q.dead.empty());
  CHECK(fs::exists(dir / "x.dir/x.c.gcno"));
}

TEST_CASE("coverage-this-run: compile_commands.json outputs name the current objects", "[coverage][coverage-this-run]") {
  TempDir dir;
  CHECK_FALSE(gcov::current_object_stems(dir.path()).has_value());
  write_file(dir / "compile_commands.json",
             R"([{"directory": ")" + dir.path().string() +
                 R"(", "command": "cc -c a.c", "file": "a.c", "output": "CMakeFiles/a.dir/a.c.o"}])");
  auto stems = gcov::current_object_stems(dir.path());
  REQUIRE(stems.has_value());
  CHECK(*stems == std::set<std::string>{fs::weakly_canonical(dir / "CMakeFiles/a.dir/a.c").string()});
  // CMake's Ninja generator writes no "output": the -o of the command.
  write_file(dir / "compile_commands.json",
             R"([{"directory": "/b", "command": "/usr/bin/cc -I\"/x y\" --coverage -o CMakeFiles/t.dir/t.c.o -c /s/t.c", "file": "t.c"},
                 {"directory": "/b", "arguments": ["cc", "-oout/u.c.o", "-c", "u.c"], "file": "u.c"}])");
  stems = gcov::current_object_stems(dir.path());
  REQUIRE(stems.has_value());
  CHECK(*stems == std::set<std::string>{"/b/CMakeFiles/t.dir/t.c", "/b/out/u.c"});
  // An entry naming no object: the objects are unknown.
  write_file(dir / "compile_commands.json", R"([{"directory": "/b", "command": "cc -c a.c", "file": "a.c"}])");
  CHECK_FALSE(gcov::current_object_stems(dir.path()).has_value());
  write_file(dir / "compile_commands.json", "{");
  CHECK_THROWS_WITH(gcov::current_object_stems(dir.path()), Catch::Contains("compile_commands.json"));
}

TEST_CASE("coverage-this-run: the counters list round-trips and names each difference", "[coverage][coverage-this-run]") {
  TempDir dir;
  write_file(dir / "a/x.c.gcda", "1");
  write_file(dir / "a/x.c.gcno", "n");
  write_file(dir / "b y/z.c.gcda", "2");
  auto files = gcov::list_counters(dir.path());
  REQUIRE(files.size() == 2);
  CHECK(files[0].path == "a/x.c.gcda");
  CHECK(files[1].path == "b y/z.c.gcda");
  CHECK(files[1].gcno_digest == "-");
  auto back = gcov::parse_manifest(gcov::write_manifest(files, "test"), "list");
  CHECK(back == files);
  CHECK(gcov::differences(back, gcov::list_counters(dir.path())).empty());

  write_file(dir / "a/x.c.gcda", "11");  // the tests ran again
  fs::remove(dir / "b y/z.c.gcda");
  write_file(dir / "c.gcda", "3");
  auto diff = gcov::differences(back, gcov::list_counters(dir.path()));
  CHECK(diff == std::vector<std::string>{"a/x.c.gcda changed", "b y/z.c.gcda missing", "c.gcda not recorded"});
  CHECK_THROWS_WITH(gcov::parse_manifest("# c\nabc a.gcda\n", "list"), Catch::Contains("list:2:"));
  CHECK(gcov::remove_counters(dir.path()) == 2);
  CHECK(gcov::list_counters(dir.path()).empty());
  CHECK(fs::exists(dir / "a/x.c.gcno"));
}

// ---- end to end ----

namespace {

const char* kLib = R"(#include "lib.h"
int add(int a, int b) { return a + b; }
int sub(int a, int b) { return a - b; }
int mul(int a, int b) {
  int r = 0;
  for (int i = 0; i < b; ++i) r += a;
  return r;
}
int neg(int a) { return -a; }
)";

const char* kCMakeBoth = R"(cmake_minimum_required(VERSION 3.20)
project(mini C)
option(COVERAGE "gcc --coverage" ON)
if(COVERAGE)
  add_compile_options(--coverage)
  add_link_options(--coverage)
endif()
add_library(lib src/lib.c)
target_include_directories(lib PUBLIC src)
enable_testing()
add_executable(t1 tests/t1.c)
target_link_libraries(t1 lib)
add_test(NAME t1 COMMAND t1)
# t2 begin
add_executable(t2 tests/t2.c)
target_link_libraries(t2 lib)
add_test(NAME t2 COMMAND t2)
# t2 end
)";

// The CMakeLists.txt above without the second test program.
std::string without_t2(const std::string& cmake) {
  auto b = cmake.find("# t2 begin");
  auto e = cmake.find("# t2 end\n");
  return cmake.substr(0, b) + cmake.substr(e + std::string("# t2 end\n").size());
}

// The recommended wiring (README, coverage plugin): cmake -> ctest with
// reset_coverage -> coverage. `coverage_with` is added to the coverage stage's table.
void write_project(const fs::path& ws, const std::string& cmake, const std::string& coverage_with = "",
                   const std::string& definitions = "COVERAGE = true") {
  write_file(ws / "src/lib.c", kLib);
  write_file(ws / "src/lib.h", "int add(int, int);\nint sub(int, int);\nint mul(int, int);\nint neg(int);\n");
  write_file(ws / "tests/t1.c", "#include \"lib.h\"\nint main(void) { return add(2, 3) == 5 ? 0 : 1; }\n");
  write_file(ws / "tests/t2.c",
             "#include \"lib.h\"\nint main(void) { return sub(5, 3) == 2 && mul(3, 4) == 12 ? 0 : 1; }\n");
  write_file(ws / "CMakeLists.txt", cmake);
  write_file(ws / "wrt.toml", R"(
[project]
name = "mini"

[stages.build]
plugin = "cmake"
inputs = ["CMakeLists.txt", "src/**", "tests/**"]
with = { build_dir = "build", definitions = { )" + definitions + R"( } }

[stages.test]
plugin = "ctest"
needs = ["build"]
inputs = ["CMakeLists.txt", "src/**", "tests/**"]
outputs = ["build/wrt-coverage-counters.txt"]
with = { build_dir = "build", reset_coverage = "build" }

[stages.coverage]
plugin = "coverage"
needs = ["test"]
inputs = ["CMakeLists.txt", "src/**", "tests/**"]
outputs = ["coverage/lcov.info", "coverage/cobertura.xml"]
with = { build_dir = "build")" + coverage_with + R"( }
)");
}

struct Run {
  CommandResult result;
  nlohmann::json report;
};

Run run(const fs::path& ws, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"run", "-k", "--report", (ws / "report.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  Run r;
  r.result = run_wrt(args, ws);
  r.report = fs::exists(ws / "report.json") ? read_json(ws / "report.json") : nlohmann::json::object();
  fs::remove(ws / "report.json");
  return r;
}

double metric(const Run& r, const std::string& stage, const std::string& name) {
  auto st = report_stage(r.report, stage);
  INFO(stage << ": " << st.dump());
  REQUIRE(st["metrics"].contains(name));
  return st["metrics"][name].get<double>();
}

void require_tools() {
  for (const char* tool : {"cmake", "ctest", "ninja", "gcc", "gcovr"}) {
    INFO("required tool: " << tool);
    REQUIRE(wrt::plugins::find_program(tool));
  }
}

}  // namespace

TEST_CASE("coverage-this-run: e2e removing a test program from the build gives a clean build's coverage",
          "[coverage][coverage-this-run][e2e]") {
  require_tools();
  TempDir ws;
  write_project(ws.path(), kCMakeBoth);

  // Both programs: lib.c 6 of 7 lines, t1.c and t2.c 1 of 1 each.
  Run first = run(ws.path());
  INFO(first.result.out << first.result.err);
  REQUIRE(first.result.exit_code == 0);
  CHECK(metric(first, "coverage", "lines.total") == 9);
  CHECK(metric(first, "coverage", "lines.covered") == 8);
  CHECK(fs::exists(ws / "build/CMakeFiles/t2.dir/tests/t2.c.gcda"));

  // t2 leaves the build; CMake leaves its objects, notes and counters behind.
  write_file(ws / "CMakeLists.txt", without_t2(kCMakeBoth));
  Run second = run(ws.path());
  INFO(second.result.out << second.result.err);
  REQUIRE(second.result.exit_code == 0);
  CHECK(report_stage(second.report, "test")["metrics"]["tests.total"] == 1);
  const double line = metric(second, "coverage", "coverage.line");
  const double lines_total = metric(second, "coverage", "lines.total");
  const double lines_covered = metric(second, "coverage", "lines.covered");
  const double functions_covered = metric(second, "coverage", "functions.covered");

  // The reference: the same edited project, built and measured from scratch.
  TempDir clean;
  write_project(clean.path(), without_t2(kCMakeBoth));
  Run reference = run(clean.path());
  INFO(reference.result.out << reference.result.err);
  REQUIRE(reference.result.exit_code == 0);
  CHECK(line == metric(reference, "coverage", "coverage.line"));
  CHECK(lines_total == metric(reference, "coverage", "lines.total"));
  CHECK(lines_covered == metric(reference, "coverage", "lines.covered"));
  CHECK(functions_covered == metric(reference, "coverage", "functions.covered"));
  CHECK(metric(reference, "coverage", "functions.total") == metric(second, "coverage", "functions.total"));
  // Counted by hand: t1 runs add() only: lib.c 1 of 7 lines, t1.c 1 of 1;
  // t2.c is no longer part of the build. (Before the fix: 8 of 9, as in the
  // first run, because t2's old counters were still read.)
  CHECK(lines_total == 8);
  CHECK(lines_covered == 2);
  CHECK(line == Approx(25.0));
  const std::string lcov = read_file(ws / "coverage/lcov.info");
  CHECK(lcov.find("tests/t2.c") == std::string::npos);
  CHECK_FALSE(fs::exists(ws / "build/CMakeFiles/t2.dir/tests/t2.c.gcno"));

  // Nothing changed: every stage is cached and says the same.
  Run third = run(ws.path());
  INFO(third.result.out << third.result.err);
  REQUIRE(third.result.exit_code == 0);
  for (const char* s : {"build", "test", "coverage"}) CHECK(report_stage(third.report, s)["status"] == "cached");
  CHECK(metric(third, "coverage", "coverage.line") == line);

  // Only the coverage stage's configuration changes: it runs again while the
  // test stage is a hit, on the counters that test run left (checked).
  write_project(ws.path(), without_t2(kCMakeBoth), ", min_line = 20");
  Run fourth = run(ws.path());
  INFO(fourth.result.out << fourth.result.err);
  REQUIRE(fourth.result.exit_code == 0);
  CHECK(report_stage(fourth.report, "test")["status"] == "cached");
  CHECK(report_stage(fourth.report, "coverage")["status"] == "passed");
  CHECK(metric(fourth, "coverage", "lines.covered") == lines_covered);

  // build/ now holds other counters than the cached test result's (the test
  // program ran outside wrt): coverage refuses to measure them.
  auto t1 = run_command({(ws / "build/t1").string()}, ws.path());
  REQUIRE(t1.exit_code == 0);
  write_project(ws.path(), without_t2(kCMakeBoth), ", min_line = 21");
  Run fifth = run(ws.path());
  INFO(fifth.result.out << fifth.result.err);
  CHECK(fifth.result.exit_code == 1);
  CHECK(report_stage(fifth.report, "test")["status"] == "cached");
  auto cov = report_stage(fifth.report, "coverage");
  CHECK(cov["status"] != "passed");
  CHECK_THAT(cov["message"].get<std::string>(),
             Catch::Contains("are not the ones the test stage recorded in build/wrt-coverage-counters.txt") &&
                 Catch::Contains("changed"));
}

TEST_CASE("coverage-this-run: e2e no coverage data is an error naming what was looked for and where, never 100%",
          "[coverage][coverage-this-run][e2e]") {
  require_tools();
  // Built without --coverage: the tests run, no .gcda appears.
  TempDir ws;
  write_project(ws.path(), kCMakeBoth, ", min_line = 95", "COVERAGE = false");
  Run r = run(ws.path());
  INFO(r.result.out << r.result.err);
  CHECK(r.result.exit_code == 1);
  CHECK(report_stage(r.report, "test")["status"] == "passed");
  auto cov = report_stage(r.report, "coverage");
  CHECK(cov["status"] != "passed");
  CHECK(cov["message"] ==
        "no coverage data: no .gcda files under build/ (were the tests built with --coverage and run?)");
  CHECK(cov["metrics"].empty());

  // With data, but a filter that matches none of it.
  TempDir filtered;
  write_project(filtered.path(), kCMakeBoth, R"(, filter = ["nothing/"])");
  Run f = run(filtered.path());
  INFO(f.result.out << f.result.err);
  CHECK(f.result.exit_code == 1);
  auto fcov = report_stage(f.report, "coverage");
  CHECK(fcov["status"] != "passed");
  CHECK_THAT(fcov["message"].get<std::string>(),
             Catch::StartsWith("no coverage data: gcovr found no source file in the ") &&
                 Catch::Contains(".gcda files under build/ (filter nothing/)"));

  // An existing LCOV file without records.
  TempDir empty;
  write_file(empty / "empty.info", "TN:\n");
  write_file(empty / "wrt.toml", R"(
[stages.cov]
plugin = "coverage"
inputs = ["empty.info"]
with = { lcov = "empty.info", min_line = 95 }
)");
  Run e = run(empty.path());
  INFO(e.result.out << e.result.err);
  CHECK(e.result.exit_code == 1);
  CHECK(report_stage(e.report, "cov")["message"] == "no coverage data: the LCOV file empty.info has no source file in it");
}

TEST_CASE("coverage-this-run: e2e reset_coverage is validated before anything runs", "[coverage][coverage-this-run][e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.test]
plugin = "ctest"
with = { build_dir = "build", reset_coverage = "build" }

[stages.outside]
plugin = "ctest"
outputs = ["x"]
with = { build_dir = "build", reset_coverage = "../build" }

[stages.nocommand]
plugin = "junit"
outputs = ["build/wrt-coverage-counters.txt"]
with = { report = "r.xml", reset_coverage = "build" }
)");
  auto r = run_wrt({"run"}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("stage 'test': with.reset_coverage = \"build\": declare "
                                    "\"build/wrt-coverage-counters.txt\" in the stage's outputs"));
  CHECK_THAT(r.err, Catch::Contains("stage 'outside': with.reset_coverage must be a directory inside the workspace"));
  CHECK_THAT(r.err, Catch::Contains("stage 'nocommand': with.reset_coverage needs the test command"));
}
