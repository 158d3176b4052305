// `wrt init` looks at the workspace: a CMake project, a Cargo crate or
// neither gets a wrt.toml that the real binary loads, lists and runs.
#include <algorithm>

#include <catch2/catch.hpp>

#include "support.h"

using namespace wrt::test;

namespace {

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The stage lines of `wrt list` ("  build    plugin=cmake ...").
void check_lists_stages(const std::filesystem::path& ws, const std::vector<std::pair<std::string, std::string>>& stages) {
  auto l = run_wrt({"list"}, ws);
  INFO(l.out << l.err);
  REQUIRE(l.exit_code == 0);
  for (const auto& [name, plugin] : stages) {
    INFO(name);
    CHECK(has(l.out, "  " + name + " "));
    CHECK(has(l.out, "plugin=" + plugin));
  }
  CHECK(has(l.out, "pipelines:\n  ci "));
  // The dry run resolves every stage's plugin and configuration too.
  auto n = run_wrt({"run", "-n", "ci"}, ws);
  INFO(n.out << n.err);
  CHECK(n.exit_code == 0);
  for (const auto& [name, plugin] : stages) CHECK(has(n.out, name));
}

}  // namespace

TEST_CASE("init: a CMake project gets cmake, ctest, coverage, clang-tidy and cppcheck stages that run", "[init][e2e]") {
  TempDir ws;
  write_file(ws / "CMakeLists.txt", R"(cmake_minimum_required(VERSION 3.16)
# project(wrong) in a comment is not the name
project(tinycalc C)
enable_testing()
add_library(calc src/calc.c)
target_include_directories(calc PUBLIC include)
add_executable(calc_test tests/calc_test.c)
target_link_libraries(calc_test calc)
add_test(NAME calc COMMAND calc_test)
)");
  write_file(ws / "include/calc.h", "int add(int a, int b);\n");
  write_file(ws / "src/calc.c", "#include \"calc.h\"\nint add(int a, int b) { return a + b; }\n");
  write_file(ws / "tests/calc_test.c", "#include \"calc.h\"\nint main(void) { return add(2, 3) == 5 ? 0 : 1; }\n");
  // A build directory from an earlier manual build is not an input.
  write_file(ws / "build-manual/junk.c", "int junk;\n");

  auto i = run_wrt({"init"}, ws.path());
  INFO(i.out << i.err);
  REQUIRE(i.exit_code == 0);
  CHECK(has(i.out, "detected a CMake project (CMakeLists.txt): tinycalc"));
  const std::string toml = read_file(ws / "wrt.toml");
  CHECK(has(toml, "name = \"tinycalc\""));
  CHECK(has(toml, R"(inputs = ["CMakeLists.txt", "include/**", "src/**", "tests/**"])"));
  CHECK_FALSE(has(toml, "build-manual"));
  check_lists_stages(ws.path(), {{"build", "cmake"},
                                 {"test", "ctest"},
                                 {"coverage", "coverage"},
                                 {"tidy", "clang-tidy"},
                                 {"cppcheck", "cppcheck"}});

  // The whole generated pipeline really runs on the tiny project, and a
  // second run is answered from the cache.
  auto r = run_wrt({"run", "ci"}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(std::filesystem::exists(ws / "coverage/lcov.info"));
  auto again = run_wrt({"run", "ci", "--report", "again.json"}, ws.path());
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  auto report = read_json(ws / "again.json");
  for (const char* stage : {"build", "test", "coverage", "tidy", "cppcheck"}) {
    INFO(stage);
    CHECK(report_stage(report, stage)["status"] == "cached");
  }
}

TEST_CASE("init: a Cargo crate gets check, test, clippy, fmt-check and doc through the cargo plugin", "[init][e2e]") {
  TempDir ws;
  write_file(ws / "Cargo.toml", R"([package]
name = "tinycrate"
version = "0.1.0"
edition = "2021"

[dependencies]
)");
  write_file(ws / "src/lib.rs", R"(//! Adds numbers.

/// The sum of `a` and `b`.
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        assert_eq!(super::add(2, 3), 5);
    }
}
)");
  auto i = run_wrt({"init"}, ws.path());
  INFO(i.out << i.err);
  REQUIRE(i.exit_code == 0);
  CHECK(has(i.out, "detected a Cargo project (Cargo.toml): tinycrate"));
  CHECK(has(read_file(ws / "wrt.toml"), R"(inputs = ["Cargo.toml", "src/**"])"));
  check_lists_stages(ws.path(), {{"check", "cargo"},
                                 {"test", "cargo"},
                                 {"clippy", "cargo"},
                                 {"fmt-check", "cargo"},
                                 {"doc", "cargo"}});
  // The whole generated pipeline really runs: the crate has no dependencies,
  // so this works offline.
  auto r = run_wrt({"run", "ci", "--report", "r.json"}, ws.path(), {"CARGO_NET_OFFLINE=true"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto report = read_json(ws / "r.json");
  for (const char* stage : {"check", "test", "clippy", "fmt-check", "doc"}) {
    INFO(stage);
    CHECK(report_stage(report, stage)["status"] == "passed");
  }
  // cargo wrote Cargo.lock: written again, the pipeline lists it as an input
  // (a named input must exist, so it was left out before).
  REQUIRE(std::filesystem::exists(ws / "Cargo.lock"));
  REQUIRE(run_wrt({"init", "--force"}, ws.path()).exit_code == 0);
  CHECK(has(read_file(ws / "wrt.toml"), R"(inputs = ["Cargo.toml", "Cargo.lock", "src/**"])"));
  auto again = run_wrt({"run", "--stage", "test"}, ws.path(), {"CARGO_NET_OFFLINE=true"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
}

TEST_CASE("init: neither CMake nor Cargo gets the generic template", "[init][e2e]") {
  TempDir ws;
  auto i = run_wrt({"init"}, ws.path());
  INFO(i.out << i.err);
  REQUIRE(i.exit_code == 0);
  CHECK(has(i.out, "generic template"));
  check_lists_stages(ws.path(), {{"build", "command"}, {"test", "command"}});
}

TEST_CASE("init: an existing wrt.toml is kept unless --force", "[init][e2e]") {
  TempDir ws;
  write_file(ws / "wrt.toml", "[stages.mine]\nwith = { run = \"true\" }\n");
  write_file(ws / "CMakeLists.txt", "project(p)\n");
  auto i = run_wrt({"init"}, ws.path());
  CHECK(i.exit_code == 2);
  CHECK(has(i.err, "already exists"));
  CHECK(has(i.err, "--force"));
  CHECK(std::count(i.err.begin(), i.err.end(), '\n') == 1);
  CHECK(read_file(ws / "wrt.toml") == "[stages.mine]\nwith = { run = \"true\" }\n");

  auto f = run_wrt({"init", "--force"}, ws.path());
  INFO(f.out << f.err);
  CHECK(f.exit_code == 0);
  CHECK(has(read_file(ws / "wrt.toml"), "plugin = \"cmake\""));
}
