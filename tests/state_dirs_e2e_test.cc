// State directories (`state = ["build"]`): a stage's incremental build
// directory never goes stale behind a cache hit. The scenarios of the
// real-projects issue, with a command stage standing in for CMake: `build`
// copies the source into build/ (its "binary"), `test` checks the binary;
// then the same with the real cmake, ctest and cargo plugins, which declare
// their build trees themselves (declare_state, ABI 1.3).
#include <catch2/catch.hpp>
#include <filesystem>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

std::string pipeline(const std::string& test_run) {
  return R"([stages.build]
inputs = ["src/*.c"]
state = ["build"]
with = { run = "mkdir -p build && cp src/lib.c build/lib.o && echo built >> builds.txt" }

[stages.test]
needs = ["build"]
inputs = ["src/*.c", "tests/*.txt"]
with = { run = ")" + test_run + R"(" }
)";
}

const char* kGood = "int f(void) { return 1; }\n";
const char* kBroken = "int f(void) { return 2; }\n";

CommandResult run(const TempDir& ws) { return run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path()); }

std::string status_of(const TempDir& ws, const std::string& stage) {
  return report_stage(read_json(ws / "report.json"), stage)["status"];
}

}  // namespace

TEST_CASE("state dirs: a revert then a test-only change re-runs against a rebuilt, not a stale, build", "[e2e][state]") {
  TempDir ws;
  write_file(ws / "src/lib.c", kGood);
  write_file(ws / "tests/t.txt", "f returns 1\n");
  write_file(ws / "wrt.toml", pipeline("grep -q 'return 1' build/lib.o"));
  REQUIRE(run(ws).exit_code == 0);

  write_file(ws / "src/lib.c", kBroken);  // break it: the test fails
  CHECK(run(ws).exit_code == 1);
  CHECK(status_of(ws, "test") == "failed");

  write_file(ws / "src/lib.c", kGood);  // revert: both cached, correctly
  REQUIRE(run(ws).exit_code == 0);
  CHECK(status_of(ws, "build") == "cached");
  CHECK(status_of(ws, "test") == "cached");
  CHECK(read_file(ws / "build/lib.o") == kBroken);  // build/ still holds the broken binary

  // Only the test stage's configuration changes: it must run, and against
  // a build/ made from the current sources.
  write_file(ws / "wrt.toml", pipeline("grep -q 'return 1' build/lib.o && true"));
  auto r = run(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(status_of(ws, "test") == "passed");
  CHECK(read_file(ws / "build/lib.o") == kGood);
  CHECK_THAT(r.out, Catch::Contains("rebuilding build for test: its state directory was produced for another key"));
  auto rep = read_json(ws / "report.json");
  CHECK(report_stage(rep, "build")["status"] == "cached");
  CHECK_THAT(report_stage(rep, "build")["rebuilt_state"].get<std::string>(), Catch::Contains("rebuilt"));
}

TEST_CASE("state dirs: a missing build directory is rebuilt before a stage that needs it runs", "[e2e][state]") {
  TempDir ws;
  write_file(ws / "src/lib.c", kGood);
  write_file(ws / "tests/t.txt", "f returns 1\n");
  write_file(ws / "wrt.toml", pipeline("grep -q 'return 1' build/lib.o"));
  REQUIRE(run(ws).exit_code == 0);
  fs::remove_all(ws / "build");  // a fresh CI checkout with a restored cache looks the same

  // Nothing needs build/: nothing is rebuilt (a replay forces nothing).
  REQUIRE(run(ws).exit_code == 0);
  CHECK(status_of(ws, "build") == "cached");
  CHECK(status_of(ws, "test") == "cached");
  CHECK_FALSE(fs::exists(ws / "build"));
  CHECK(read_file(ws / "builds.txt") == "built\n");

  write_file(ws / "tests/t.txt", "f returns 1, really\n");
  auto r = run(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(status_of(ws, "test") == "passed");
  CHECK_THAT(r.out, Catch::Contains("its state directory build/ is missing"));
  CHECK(read_file(ws / "builds.txt") == "built\nbuilt\n");

  // And once rebuilt, the next change to the tests rebuilds nothing.
  write_file(ws / "tests/t.txt", "f returns 1, again\n");
  REQUIRE(run(ws).exit_code == 0);
  CHECK(read_file(ws / "builds.txt") == "built\nbuilt\n");
}

TEST_CASE("state dirs: a state directory must be a workspace directory of its own", "[e2e][state]") {
  TempDir ws;
  write_file(ws / "wrt.toml", "[stages.a]\nstate = [\".wrt/x\"]\n");
  auto r = run_wrt({"run"}, ws.path());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("wrt.toml:2:10: stages.a.state: '.wrt/x' cannot be a state directory"));
}

TEST_CASE("state dirs: a Cargo workspace's target/ (declared by the cargo plugin) is rebuilt for the current key before a stage reads it",
          "[e2e][state][cargo]") {
  TempDir ws;
  write_file(ws / "Cargo.toml", "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n");
  write_file(ws / "app/Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
  const std::string good = "fn main() { println!(\"1\"); }\n";
  write_file(ws / "app/src/main.rs", good);
  write_file(ws / "expect.txt", "1\n");
  auto toml = [](const std::string& check) {
    return R"([stages.build]
plugin = "cargo"
inputs = ["Cargo.toml", "app/**"]
with = { command = "build" }

[stages.check]
needs = ["build"]
inputs = ["app/**", "expect.txt"]
with = { run = ")" + check + R"(" }
)";
  };
  write_file(ws / "wrt.toml", toml("./target/debug/app | cmp - expect.txt"));
  auto first = run(ws);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);

  write_file(ws / "app/src/main.rs", "fn main() { println!(\"2\"); }\n");
  CHECK(run(ws).exit_code == 1);  // the broken binary fails the check
  write_file(ws / "app/src/main.rs", good);
  REQUIRE(run(ws).exit_code == 0);  // reverted: both cached, target/ still holds the broken binary
  CHECK(status_of(ws, "check") == "cached");

  write_file(ws / "wrt.toml", toml("./target/debug/app | cmp - expect.txt && true"));
  auto r = run(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(status_of(ws, "check") == "passed");
  CHECK_THAT(r.out, Catch::Contains("rebuilding build for check: its state directory was produced for another key"));
}

TEST_CASE("state dirs: the cmake plugin declares its build tree: a revert then a ctest-only change tests a rebuilt tree",
          "[e2e][state][cmake]") {
  // Scenario 1 of the real-projects issue, with no `state` in wrt.toml.
  TempDir ws;
  write_file(ws / "CMakeLists.txt", R"(cmake_minimum_required(VERSION 3.20)
project(tiny C)
enable_testing()
add_library(util STATIC src/util.c)
add_executable(check_util tests/check.c)
target_link_libraries(check_util util)
add_test(NAME twice COMMAND check_util)
)");
  const std::string good = "int util_twice(int x) { return 2 * x; }\n";
  write_file(ws / "src/util.c", good);
  write_file(ws / "tests/check.c", "int util_twice(int);\nint main(void) { return util_twice(2) == 4 ? 0 : 1; }\n");
  auto toml = [](const std::string& ctest_with) {
    return R"([stages.build]
plugin = "cmake"
inputs = ["CMakeLists.txt", "src/**", "tests/**"]
with = { build_dir = "build", ccache = false }

[stages.test]
plugin = "ctest"
needs = ["build"]
inputs = ["src/**", "tests/**"]
with = { build_dir = "build")" + ctest_with + R"( }
)";
  };
  write_file(ws / "wrt.toml", toml(""));
  auto first = run(ws);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);

  write_file(ws / "src/util.c", "int util_twice(int x) { return 2 * x + 1; }\n");
  CHECK(run(ws).exit_code == 1);
  CHECK(status_of(ws, "test") == "failed");
  write_file(ws / "src/util.c", good);  // reverted: both cached, build/ holds the broken library
  REQUIRE(run(ws).exit_code == 0);
  CHECK(status_of(ws, "build") == "cached");
  CHECK(status_of(ws, "test") == "cached");

  write_file(ws / "wrt.toml", toml(", parallel = 2"));
  auto r = run(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(status_of(ws, "test") == "passed");
  CHECK_THAT(r.out, Catch::Contains("rebuilding build for test: its state directory was produced for another key"));

  // A fresh checkout with the cache: build/ is gone, and rebuilt before ctest reads it.
  fs::remove_all(ws / "build");
  write_file(ws / "wrt.toml", toml(", parallel = 3"));
  auto fresh = run(ws);
  INFO(fresh.out << fresh.err);
  CHECK(fresh.exit_code == 0);
  CHECK(status_of(ws, "test") == "passed");
  CHECK_THAT(fresh.out, Catch::Contains("its state directory build/ is missing"));
}

TEST_CASE("state dirs: a plugin's declare_state is checked like wrt.toml's state", "[e2e][state][sdk]") {
  TempDir ws;
  write_file(ws / "src/a.txt", "1\n");
  SECTION("a directory outside the workspace is a configuration error, exit 2") {
    write_file(ws / "wrt.toml", "[stages.a]\nplugin = \"probe\"\nwith = { state = \"../elsewhere\" }\n");
    auto r = run_wrt({"run"}, ws.path(), {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("wrt.toml:3:8: stage 'a': state directory: '../elsewhere' is outside the workspace"));
  }
  SECTION("a declared directory behaves as `state`: missing, it is rebuilt before a dependent runs") {
    write_file(ws / "wrt.toml", R"([stages.a]
plugin = "probe"
inputs = ["src/*"]
with = { state = "./gen/../gen", write = "gen/out.txt" }

[stages.b]
needs = ["a"]
inputs = ["tests/*"]
with = { run = "cat gen/out.txt" }
)");
    write_file(ws / "tests/t.txt", "1\n");
    const std::vector<std::string> env = {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR};
    auto r1 = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), env);
    INFO(r1.out << r1.err);
    REQUIRE(r1.exit_code == 0);
    fs::remove_all(ws / "gen");
    write_file(ws / "tests/t.txt", "2\n");
    auto r2 = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), env);
    INFO(r2.out << r2.err);
    CHECK(r2.exit_code == 0);
    CHECK_THAT(r2.out, Catch::Contains("rebuilding a for b: its state directory gen/ is missing"));
    CHECK(status_of(ws, "b") == "passed");
  }
}
