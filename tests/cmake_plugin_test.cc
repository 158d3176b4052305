// The cmake plugin: its CMake-message and ccache stats-log readers on
// output captured from the real tools (tests/data/cmake), and the whole
// cmake -> ctest -> clang-tidy pipeline through the real wrt binary.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "plugins/cmake/ccache_stats.h"
#include "plugins/cmake/cmake_messages.h"
#include "plugins/common/tool.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

std::string data(const std::string& rel) { return read_file(std::string(WRT_TEST_DATA_DIR) + "/cmake/" + rel); }

nlohmann::json stage_of(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

bool has_finding(const nlohmann::json& stage, const std::string& file, int line, int col, const std::string& rule,
                 const std::string& severity) {
  for (const auto& f : stage["findings"])
    if (f["file"] == file && f["line"] == line && f["column"] == col && f["rule"] == rule && f["severity"] == severity)
      return true;
  return false;
}

CommandResult wrt_run(const TempDir& ws) {
  return run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
}

nlohmann::json report_of(const TempDir& ws) { return nlohmann::json::parse(read_file(ws / "report.json")); }

bool ccache_available() { return wrt::plugins::find_program("ccache").has_value(); }

}  // namespace

TEST_CASE("cmake: configure errors and warnings name CMakeLists.txt and line", "[cmake]") {
  auto ds = wrt::plugins::parse_cmake_messages(data("configure_error.txt"), "/tmp/wrtcap", "/tmp/wrtcap/bad");
  REQUIRE(ds.size() == 2);
  CHECK(ds[0].severity == WRT_SEVERITY_WARNING);
  CHECK(ds[0].file == "bad/CMakeLists.txt");
  CHECK(ds[0].line == 4);
  CHECK(ds[0].message == "be careful");
  CHECK(ds[1].severity == WRT_SEVERITY_ERROR);
  CHECK(ds[1].rule == "cmake");
  CHECK(ds[1].line == 5);
  CHECK(ds[1].message ==
        "Cannot specify link libraries for target \"nonexistent_target\" which is not built by this project.");
}

TEST_CASE("cmake: CMake messages without location, and noise", "[cmake]") {
  std::string text =
      "CMake Error: The source directory \"/nope\" does not exist.\n"
      "Specify --help for usage, or press the help button on the CMake GUI.\n"
      "-- Configuring incomplete, errors occurred!\n"
      "CMake Error at\n";  // truncated output: not a message, and no crash
  auto ds = wrt::plugins::parse_cmake_messages(text, "/ws", "/ws");
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].file.empty());
  CHECK(ds[0].message == "The source directory \"/nope\" does not exist.");
  CHECK(wrt::plugins::parse_cmake_messages("", "/ws", "/ws").empty());
}

TEST_CASE("cmake: ccache stats log of a cold and a warm build", "[cmake]") {
  auto cold = wrt::plugins::parse_ccache_statslog(data("ccache_statslog_misses.txt"));
  CHECK(cold.misses == 2);
  CHECK(cold.hits == 0);
  auto warm = wrt::plugins::parse_ccache_statslog(data("ccache_statslog_hits.txt"));
  CHECK(warm.hits == 2);
  CHECK(warm.misses == 0);
  auto none = wrt::plugins::parse_ccache_statslog("garbage\n# x\n\n");
  CHECK(none.hits == 0);
  CHECK(none.misses == 0);
}

TEST_CASE("cmake: e2e cmake -> ctest -> clang-tidy, findings, tests, cached rerun, .clang-tidy fingerprint",
          "[cmake][junit][clang-tidy][e2e]") {
  TempDir ws;
  write_file(ws / "CMakeLists.txt", R"(cmake_minimum_required(VERSION 3.20)
project(tiny C CXX)
enable_testing()
add_library(util STATIC src/util.c)
target_compile_options(util PRIVATE -Wall)
add_executable(app src/main.cc)
target_link_libraries(app util)
add_test(NAME app_works COMMAND app)
)");
  write_file(ws / "src/util.c", "int util_twice(int x) {\n  int y = x;\n  int unused;\n  return 2 * y;\n}\n");
  write_file(ws / "src/main.cc",
             "extern \"C\" int util_twice(int);\nint main() { return util_twice(2) == 4 ? 0 : 1; }\n");
  write_file(ws / "wrt.toml", R"(
[project]
name = "tiny"

[settings]
max_parallel_jobs = 2

[stages.build]
plugin = "cmake"
inputs = ["CMakeLists.txt", "src/**"]
outputs = ["build"]
with = { build_dir = "build" }

[stages.test]
plugin = "ctest"
needs = ["build"]
with = { build_dir = "build" }

[stages.tidy]
plugin = "clang-tidy"
needs = ["build"]
inputs = ["src/**"]
with = { build_dir = "build", checks = "-*,clang-diagnostic-*,bugprone-branch-clone" }
)");
  auto r1 = wrt_run(ws);
  INFO(r1.out << r1.err);
  REQUIRE(r1.exit_code == 0);
  auto rep1 = report_of(ws);
  auto build = stage_of(rep1, "build");
  CHECK(build["status"] == "passed");
  CHECK(has_finding(build, "src/util.c", 3, 7, "-Wunused-variable", "warning"));
  CHECK(build["findings"].size() == 1);
  CHECK(build["metrics"]["warnings"] == 1);
  CHECK(build["metrics"]["errors"] == 0);
  CHECK(build["message"] == "1 warning");
  bool compile_commands = false;
  for (const auto& a : build["artifacts"]) compile_commands |= a["path"] == "build/compile_commands.json";
  CHECK(compile_commands);
  if (ccache_available()) {
    CHECK(build["metrics"]["ccache.misses"] == 2);  // a fresh wrt cache dir holds a fresh ccache
    CHECK(build["metrics"]["ccache.hits"] == 0);
  } else {
    WARN("ccache metrics not checked: ccache is not on PATH");
  }

  auto test = stage_of(rep1, "test");
  CHECK(test["status"] == "passed");
  REQUIRE(test["tests"].size() == 1);
  CHECK(test["tests"][0]["name"] == "app_works");
  CHECK(test["tests"][0]["status"] == "passed");
  CHECK(test["metrics"]["tests.total"] == 1);

  auto tidy = stage_of(rep1, "tidy");
  CHECK(tidy["status"] == "passed");
  CHECK(has_finding(tidy, "src/util.c", 3, 7, "clang-diagnostic-unused-variable", "warning"));
  CHECK(tidy["metrics"]["files"] == 2);
  CHECK(tidy["metrics"]["warnings"] == 1);

  auto r2 = wrt_run(ws);
  INFO(r2.out << r2.err);
  REQUIRE(r2.exit_code == 0);
  auto cached_report = report_of(ws);
  for (const auto& s : cached_report["stages"]) CHECK(s["status"] == "cached");

  // .clang-tidy is not among the stage's inputs: the plugin's fingerprint
  // alone makes the lint stage run again.
  write_file(ws / ".clang-tidy", "Checks: '-*,readability-named-parameter'\n");
  auto r3 = wrt_run(ws);
  INFO(r3.out << r3.err);
  REQUIRE(r3.exit_code == 0);
  auto rep3 = report_of(ws);
  CHECK(stage_of(rep3, "build")["status"] == "cached");
  CHECK(stage_of(rep3, "tidy")["status"] == "passed");

  if (ccache_available()) {
    // A changed CMakeLists.txt and an empty build directory: every
    // compilation is a ccache hit now.
    fs::remove_all(ws / "build");
    write_file(ws / "CMakeLists.txt", read_file(ws / "CMakeLists.txt") + "# changed\n");
    auto r4 = wrt_run(ws);
    INFO(r4.out << r4.err);
    REQUIRE(r4.exit_code == 0);
    auto b4 = stage_of(report_of(ws), "build");
    CHECK(b4["status"] == "passed");
    CHECK(b4["metrics"]["ccache.hits"] == 2);
    CHECK(b4["metrics"]["ccache.misses"] == 0);
    CHECK(has_finding(b4, "src/util.c", 3, 7, "-Wunused-variable", "warning"));  // ccache replays warnings
  }
}

TEST_CASE("cmake: e2e compile error fails the stage with the first error, bad config is one line", "[cmake][e2e]") {
  TempDir ws;
  write_file(ws / "CMakeLists.txt",
             "cmake_minimum_required(VERSION 3.20)\nproject(broken C)\nadd_executable(app src/bad.c)\n");
  write_file(ws / "src/bad.c", "int main(void) {\n  return undeclared;\n}\n");
  write_file(ws / "wrt.toml", R"(
[project]
name = "broken"

[stages.build]
plugin = "cmake"
inputs = ["CMakeLists.txt", "src/**"]
with = { build_dir = "out", ccache = false, definitions = { MY_FLAG = true, LEVEL = 3 } }
)");
  auto r = run_wrt({"run", "-k", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto rep = report_of(ws);
  auto build = stage_of(rep, "build");
  CHECK(build["status"] == "failed");
  CHECK(build["message"].get<std::string>().rfind("build failed: src/bad.c:2:10: ", 0) == 0);
  CHECK(has_finding(build, "src/bad.c", 2, 10, "", "error"));
  CHECK(build["metrics"]["errors"] == 1);
  CHECK(build["metrics"].count("ccache.hits") == 0);
  CHECK(read_file(ws / "out/CMakeCache.txt").find("MY_FLAG:UNINITIALIZED=ON") != std::string::npos);
  // A misspelt key stops the run before any stage starts (exit 2), in one line.
  write_file(ws / "wrt.toml", "[stages.typo]\nplugin = \"cmake\"\nwith = { biuld_dir = \"out\" }\n");
  auto typo = run_wrt({"run"}, ws.path());
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.err, Catch::Contains("wrt.toml:3:8: stage 'typo': with.biuld_dir: unknown key (did you mean 'build_dir'?)"));
}

TEST_CASE("cmake: e2e configure error names CMakeLists.txt:line", "[cmake][e2e]") {
  TempDir ws;
  write_file(
      ws / "CMakeLists.txt",
      "cmake_minimum_required(VERSION 3.20)\nproject(nothing LANGUAGES NONE)\nmessage(FATAL_ERROR \"no way\")\n");
  write_file(ws / "wrt.toml",
             "[project]\nname = \"c\"\n[stages.build]\nplugin = \"cmake\"\ninputs = [\"CMakeLists.txt\"]\n");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto build = stage_of(report_of(ws), "build");
  CHECK(build["status"] == "failed");
  CHECK(build["message"] == "cmake configure failed: CMakeLists.txt:3: no way [cmake]");
  CHECK(has_finding(build, "CMakeLists.txt", 3, 0, "cmake", "error"));
}
