// The clang-tidy plugin: reading the compilation database CMake wrote
// (tests/data/clang-tidy), selecting files by pattern, and the plugin end to
// end through the real wrt binary with the real clang-tidy.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugins/clang-tidy/compile_database.h"
#include "support.h"

using namespace wrt::test;

namespace {

std::string data(const std::string& rel) { return read_file(std::string(WRT_TEST_DATA_DIR) + "/clang-tidy/" + rel); }

nlohmann::json stage_of(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

// A workspace with two C files and a hand-written compilation database (no
// CMake needed, so the test stays quick).
void write_project(const TempDir& ws, const std::string& stages) {
  write_file(ws / "src/a.c", "int a(int x) {\n  int unused;\n  return x;\n}\n");
  write_file(ws / "lib/b.c", "int b(int x) {\n  if (x = 2) return 1;\n  return 0;\n}\n");
  nlohmann::json db = nlohmann::json::array();
  for (const char* f : {"src/a.c", "lib/b.c"})
    db.push_back({{"directory", ws.path().string()},
                  {"command", std::string("cc -Wall -c ") + f + " -o /dev/null"},
                  {"file", f}});
  db.push_back({{"directory", "/usr/src"}, {"command", "cc -c elsewhere.c"}, {"file", "elsewhere.c"}});
  write_file(ws / "build/compile_commands.json", db.dump(2));
  write_file(ws / "wrt.toml", "[project]\nname = \"lint\"\n" + stages);
}

}  // namespace

TEST_CASE("clang-tidy: compile_commands.json written by CMake lists its workspace files", "[clang-tidy]") {
  std::vector<std::string> files;
  wrt::plugins::ParseError error;
  REQUIRE(wrt::plugins::compile_database_files(data("compile_commands.json"), "build/compile_commands.json",
                                               "/tmp/wrtcap/proj", &files, &error));
  CHECK(files == std::vector<std::string>{"src/main.cc", "src/util.c"});
  // Another workspace: nothing of it lies inside.
  REQUIRE(wrt::plugins::compile_database_files(data("compile_commands.json"), "db.json", "/elsewhere", &files, &error));
  CHECK(files.empty());
}

TEST_CASE("clang-tidy: malformed compilation database names file:line:col", "[clang-tidy]") {
  std::vector<std::string> files;
  wrt::plugins::ParseError error;
  REQUIRE_FALSE(wrt::plugins::compile_database_files(data("compile_commands_malformed.json"), "build/cc.json", "/x",
                                                     &files, &error));
  CHECK(error.file == "build/cc.json");
  CHECK(error.line == 3);
  CHECK(error.column == 3);
  CHECK(error.message.find("malformed JSON") == 0);
  REQUIRE_FALSE(wrt::plugins::compile_database_files("{}", "db.json", "/x", &files, &error));
  CHECK(error.message.find("expected an array") != std::string::npos);
  REQUIRE_FALSE(wrt::plugins::compile_database_files("[{\"directory\": \"/\"}]", "db.json", "/x", &files, &error));
  CHECK(error.message == "entry 1 has no \"file\"");
}

TEST_CASE("clang-tidy: file patterns", "[clang-tidy]") {
  using wrt::plugins::path_matches;
  CHECK(path_matches("src/*.c", "src/a.c"));
  CHECK_FALSE(path_matches("src/*.c", "src/sub/a.c"));
  CHECK(path_matches("src/**/*.c", "src/a.c"));
  CHECK(path_matches("src/**/*.c", "src/sub/deeper/a.c"));
  CHECK(path_matches("**", "any/thing.cc"));
  CHECK(path_matches("./lib/?.c", "lib/b.c"));
  CHECK(path_matches("lib/[a-c].c", "lib/b.c"));
  CHECK_FALSE(path_matches("lib/[x-z].c", "lib/b.c"));
  CHECK_FALSE(path_matches("src/*.c", "lib/b.c"));
}

TEST_CASE("clang-tidy: e2e two parallel batches, findings, fail_on warning, file selection", "[clang-tidy][e2e]") {
  TempDir ws;
  write_project(ws, R"(
[stages.all]
plugin = "clang-tidy"
inputs = ["src/*.c", "lib/*.c"]
with = { build_dir = "build", checks = "-*,clang-diagnostic-*,bugprone-branch-clone", jobs = 2 }

[stages.strict]
plugin = "clang-tidy"
inputs = ["lib/*.c"]
with = { build_dir = "build", checks = "-*,clang-diagnostic-*,bugprone-branch-clone", files = ["lib/*.c"], fail_on = "warning" }
)");
  auto r = run_wrt({"run", "-k", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto rep = nlohmann::json::parse(read_file(ws / "report.json"));

  auto all = stage_of(rep, "all");
  CHECK(all["status"] == "passed");
  CHECK(all["metrics"]["files"] == 2);  // elsewhere.c lies outside the workspace
  CHECK(all["metrics"]["warnings"] == 2);
  bool unused = false, parens = false;
  for (const auto& f : all["findings"]) {
    unused |= f["file"] == "src/a.c" && f["line"] == 2 && f["rule"] == "clang-diagnostic-unused-variable";
    parens |= f["file"] == "lib/b.c" && f["line"] == 2 && f["rule"] == "clang-diagnostic-parentheses";
  }
  CHECK(unused);
  CHECK(parens);
  CHECK(all["message"] == "2 warnings in 2 files");

  auto strict = stage_of(rep, "strict");
  CHECK(strict["status"] == "failed");
  CHECK(strict["metrics"]["files"] == 1);
  CHECK(strict["message"] == "1 warning (fail_on = \"warning\")");

  // A configuration error stops the run before any stage starts (exit 2).
  write_file(ws / "wrt.toml", "[stages.bad]\nplugin = \"clang-tidy\"\nwith = { checks = \"*\" }\n");
  auto bad = run_wrt({"run"}, ws.path());
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("stage 'bad': clang-tidy needs with.build_dir"));
}

TEST_CASE("clang-tidy: e2e a GCC-configured database (GCC-only -W flags, -Werror) and extra_args", "[clang-tidy][e2e]") {
  // What CMake writes for a GCC build with strict flags: clang does not know
  // -Wformat-overflow=2 or -Wlogical-op, and -Werror makes that an error.
  TempDir ws;
  write_file(ws / "src/a.c", "#ifdef WRT_EXTRA\nint a(int x) {\n  int unused;\n  return x;\n}\n#else\nint a(int x) { return x; }\n#endif\n");
  nlohmann::json db = nlohmann::json::array();
  db.push_back({{"directory", ws.path().string()},
                {"command", "gcc -Wall -Wextra -Wformat-overflow=2 -Wlogical-op -Werror -c src/a.c -o /dev/null"},
                {"file", "src/a.c"}});
  write_file(ws / "build/compile_commands.json", db.dump(2));
  write_file(ws / "wrt.toml", R"([stages.plain]
plugin = "clang-tidy"
inputs = ["src/a.c"]
with = { build_dir = "build", checks = "-*,clang-diagnostic-*,bugprone-branch-clone" }

[stages.extra]
plugin = "clang-tidy"
inputs = ["src/a.c"]
with = { build_dir = "build", checks = "-*,clang-diagnostic-*,bugprone-branch-clone", extra_args = ["-DWRT_EXTRA", "-Wno-error"] }
)");
  auto r = run_wrt({"run", "-k", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto rep = nlohmann::json::parse(read_file(ws / "report.json"));
  auto plain = stage_of(rep, "plain");
  CHECK(plain["status"] == "passed");
  CHECK(plain["metrics"]["errors"] == 0);
  CHECK(plain["metrics"]["warnings"] == 0);
  // The define switches on the code with the unused variable: extra_args
  // reached the compiler, after the database's own flags.
  auto extra = stage_of(rep, "extra");
  CHECK(extra["status"] == "passed");
  CHECK(extra["metrics"]["warnings"] == 1);
  bool unused = false;
  for (const auto& f : extra["findings"]) unused |= f["rule"] == "clang-diagnostic-unused-variable";
  CHECK(unused);
}
