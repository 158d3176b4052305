// End-to-end tests of the plugin SDK through the real binary: ABI 1.2 host
// functions (inputs/outputs, check_keys with "did you mean", the cached
// tool_version, log_global), plugins built against the 1.0 and 1.1 headers,
// and the SDK guide's example plugin, which must be the code README shows.
#include <wrt/plugin.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {


std::string settings() { return "[settings]\nplugin_path = [\"" + std::string(WRT_TEST_PLUGIN_DIR) + "\"]\n"; }

CommandResult run_with_report(const TempDir& ws, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run", "--keep-going", "--report", (ws / "report.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_wrt(args, ws.path());
}

}  // namespace

TEST_CASE("sdk: plugins built against the ABI 1.0 and 1.1 headers load and run", "[e2e][sdk]") {
  TempDir ws;
  write_file(ws / "wrt.toml", settings() + R"(
[stages.old10]
plugin = "abi10"
[stages.old11]
plugin = "abi11"
)");
  auto r = run_with_report(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json rep = read_json(ws / "report.json");
  CHECK(report_stage(rep, "old10")["metrics"]["built_minor"] == 0);
  CHECK(report_stage(rep, "old11")["metrics"]["built_minor"] == 1);
  CHECK(report_stage(rep, "old10")["metrics"]["host_minor"] == WRT_ABI_VERSION_MINOR);
  CHECK(report_stage(rep, "old10")["metrics"]["output_bytes"] == std::string("hello from an old plugin\n").size());
  CHECK(report_stage(rep, "old11")["message"] == "abi11 ran");
}

TEST_CASE("sdk: ABI 1.2 gives a plugin its inputs and outputs, checks keys, logs from init", "[e2e][sdk]") {
  TempDir ws;
  write_file(ws / "src/a.c", "a\n");
  write_file(ws / "src/sub/b.c", "b\n");
  write_file(ws / "src/skip.h", "h\n");
  write_file(ws / "wrt.toml", settings() + R"(
[stages.good]
plugin = "sdk12"
inputs = ["src/**/*.c"]
outputs = ["out/made.txt"]
)");
  auto r = run_with_report(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  json rep = read_json(ws / "report.json");
  auto good = report_stage(rep, "good");
  CHECK(good["status"] == "passed");
  CHECK(good["metrics"]["inputs"] == 2);
  CHECK(good["message"] == "src/a.c;src/sub/b.c;");
  CHECK(good["metrics"]["outputs"] == 1);
  CHECK(good["metrics"]["has_data_dir"] == 1);
  CHECK(read_file(ws / "out/made.txt") == "made\n");
  CHECK(good["artifacts"][0]["path"] == "report.txt");
  CHECK(r.err.find("wrt: plugin info: sdk12 loaded") != std::string::npos);

  // check_keys: a misspelt key is a configuration error of the run (exit 2).
  write_file(ws / "wrt.toml", settings() + "[stages.typo]\nplugin = \"sdk12\"\nwith = { tol = \"x\" }\n");
  auto typo = run_with_report(ws);
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.err, Catch::Contains("stage 'typo': with.tol: unknown key (did you mean 'tool'?)"));
}

TEST_CASE("sdk: a tool's version is asked once per installed binary, not on every run", "[e2e][sdk]") {
  TempDir ws;
  auto write_tool = [&](const std::string& version) {
    write_file(ws / "bin/fake-tool", "#!/bin/sh\necho asked >> \"$(dirname \"$0\")/../asked.log\"\necho 'fake-tool " +
                                         version + "'\n");
    fs::permissions(ws / "bin/fake-tool", fs::perms::owner_all);
  };
  write_tool("1.0");
  write_file(ws / "wrt.toml", settings() + R"(
[stages.versioned]
plugin = "sdk12"
with = { tool = "bin/fake-tool" }
)");
  auto asked = [&] {
    std::string log = fs::exists(ws / "asked.log") ? read_file(ws / "asked.log") : "";
    return std::count(log.begin(), log.end(), '\n');
  };
  REQUIRE(run_with_report(ws).exit_code == 0);
  CHECK(asked() == 1);
  // No-op runs (new wrt processes, new workers): the tool is not started.
  REQUIRE(run_with_report(ws).exit_code == 0);
  REQUIRE(run_with_report(ws).exit_code == 0);
  CHECK(asked() == 1);
  CHECK(report_stage(read_json(ws / "report.json"), "versioned")["status"] == "cached");
  // Another installed version: asked again, and the key changes.
  write_tool("2.0");
  REQUIRE(run_with_report(ws).exit_code == 0);
  CHECK(asked() == 2);
  CHECK(report_stage(read_json(ws / "report.json"), "versioned")["status"] == "passed");
}

TEST_CASE("sdk: the guide's example plugin is the code sdk/README.md shows, and it works", "[e2e][sdk]") {
  const std::string readme = read_file(fs::path(WRT_SOURCE_DIR) / "sdk/README.md");
  const std::string code = read_file(fs::path(WRT_SOURCE_DIR) / "sdk/examples/lines.cc");
  CHECK(readme.find("```cpp\n" + code + "```") != std::string::npos);

  TempDir ws;
  write_file(ws / "src/short.c", "int a;\n");
  std::string lng;
  for (int i = 0; i < 12; ++i) lng += "int x" + std::to_string(i) + ";\n";
  write_file(ws / "src/long.c", lng);
  write_file(ws / "wrt.toml", settings() + R"(
[stages.size]
plugin = "lines"
inputs = ["src/**/*.c"]
with = { max_lines = 10 }
)");
  auto r = run_with_report(ws);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  json rep = read_json(ws / "report.json");
  auto size = report_stage(rep, "size");
  CHECK(size["status"] == "failed");
  CHECK(size["metrics"]["lines.total"] == 13);
  CHECK(size["metrics"]["lines.files"] == 2);
  REQUIRE(size["findings"].size() == 1);
  CHECK(size["findings"][0]["file"] == "src/long.c");
  CHECK(size["message"] == "1 file(s) too long");

  write_file(ws / "wrt.toml", settings() + "[stages.typo]\nplugin = \"lines\"\nwith = { max_line = 10 }\n");
  auto typo = run_with_report(ws);
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.err, Catch::Contains("did you mean 'max_lines'?"));
}

TEST_CASE("sdk: ABI 1.5 run_context reaches a never-cached stage through its worker, and no cacheable one",
          "[e2e][sdk]") {
  TempDir ws;
  write_file(ws / "wrt.toml", settings() + R"toml(
[components.core]
paths = ["src/**"]
asil = "C"

[stages.prove]
for_each = "component"
inputs = ["src/**"]
with = { run = "true" }

[stages.effect]
plugin = "probe"
needs = ["prove"]
cache = false
with = { context = "effect.json" }

[stages.pure]
plugin = "probe"
needs = ["prove"]
with = { context = "pure.json" }
)toml");
  write_file(ws / "src/a.c", "int a;\n");
  for (int round = 0; round < 2; ++round) {  // the second: prove cached, effect runs again
    auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const json report = read_json(ws / "report.json");
    const json ctx = json::parse(read_file(ws / "effect.json"));
    CHECK(ctx["run_id"] == report["run_id"]);
    CHECK(ctx["gate"]["verdict"] == "pass");
    CHECK(ctx["gate"]["levels"]["C"] == "pass");
    REQUIRE(ctx["dependencies"].size() == 1);
    CHECK(ctx["dependencies"][0]["name"] == "prove:core");
    CHECK(ctx["dependencies"][0]["asil"] == "C");
    CHECK(ctx["dependencies"][0]["key"].get<std::string>().size() == 64);
    if (round == 0) CHECK(read_file(ws / "pure.json") == "null");
    if (round == 1) CHECK(report_stage(report, "pure")["status"] == "cached");
  }
}
