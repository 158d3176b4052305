// The SDK as a third party uses it: install wrt under a prefix, build the
// out-of-tree example plugin with find_package(wrt) + wrt_add_plugin(), and
// run the installed wrt (which must find its own built-in plugins) with it.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

TEST_CASE("sdk: out-of-tree C plugin builds against the installed SDK, passes its own harness test, and runs", "[sdk][e2e]") {
  TempDir prefix, build, ws;
  auto inst = run_command({"cmake", "--install", WRT_BUILD_DIR, "--prefix", prefix.path().string()});
  INFO(inst.out << inst.err);
  REQUIRE(inst.exit_code == 0);
  REQUIRE(fs::exists(prefix / "include/wrt/plugin.h"));
  REQUIRE(fs::exists(prefix / "include/wrt/testing.hpp"));  // the plugin test harness ships with the SDK
  REQUIRE(fs::exists(prefix / "lib/cmake/wrt/wrtConfig.cmake"));

  auto cfg = run_command({"cmake", "-S", std::string(WRT_SOURCE_DIR) + "/examples/custom-plugin", "-B",
                          build.path().string(), "-DCMAKE_PREFIX_PATH=" + prefix.path().string(),
                          "-DCMAKE_C_COMPILER=" WRT_C_COMPILER, "-DCMAKE_CXX_COMPILER=" WRT_CXX_COMPILER});
  INFO(cfg.out << cfg.err);
  REQUIRE(cfg.exit_code == 0);
  auto b = run_command({"cmake", "--build", build.path().string()});
  INFO(b.out << b.err);
  REQUIRE(b.exit_code == 0);
  REQUIRE(fs::exists(build / "wrt-plugin-wordcount.so"));

  // The plugin's own test, built with the installed harness (wrt::testing,
  // <wrt/testing.hpp>) and run by its CTest: it loads the plugin it just built.
  auto t = run_command({"ctest", "--test-dir", build.path().string(), "--output-on-failure"});
  INFO(t.out << t.err);
  CHECK(t.exit_code == 0);
  CHECK(t.out.find("100% tests passed, 0 tests failed out of 1") != std::string::npos);
  auto direct = run_command({(build / "wordcount_test").string()});
  CHECK(direct.out == "wordcount_test: 0 failure(s)\n");

  fs::copy(fs::path(WRT_SOURCE_DIR) / "examples/custom-plugin/demo", ws.path(), fs::copy_options::recursive);
  std::string wrt_bin = (prefix / "bin/wrt").string();
  std::string plugin_env = "WRT_PLUGIN_PATH=" + build.path().string();

  // The installed binary lists its built-in plugin and the third-party one.
  auto pl = run_command({wrt_bin, "plugins"}, ws.path(), {plugin_env});
  CHECK(pl.out.find("wordcount") != std::string::npos);
  CHECK(pl.out.find("command") != std::string::npos);
  CHECK(pl.out.find((prefix / "lib/wrt/plugins").string()) != std::string::npos);

  auto r = run_command({wrt_bin, "run", "--keep-going", "--report", (ws / "report.json").string()}, ws.path(),
                       {plugin_env, "CI=true"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);  // long.md is over the limit
  auto rep = nlohmann::json::parse(read_file(ws / "report.json"));
  std::map<std::string, nlohmann::json> st;
  for (const auto& s : rep["stages"]) st[s["name"]] = s;
  CHECK(st["docs-size"]["status"] == "failed");
  CHECK(st["docs-size"]["metrics"]["words"] == 17.0);
  REQUIRE(st["docs-size"]["findings"].size() == 1);
  CHECK(st["docs-size"]["findings"][0]["file"] == "docs/long.md");
  CHECK(st["docs-total"]["status"] == "passed");
  CHECK(st["docs-total"]["metrics"]["words"] == 5.0);

  // The installed wrt runs its built-in command plugin with no configuration.
  write_file(ws / "wrt.toml", "[stages.hi]\nwith = { run = \"echo hi > hi.txt\" }\n");
  auto c = run_command({wrt_bin, "run"}, ws.path(), {"CI=true"});
  INFO(c.out << c.err);
  CHECK(c.exit_code == 0);
  CHECK(read_file(ws / "hi.txt") == "hi\n");
}

TEST_CASE("sdk: the shipped hello example runs, then is fully cached", "[sdk][e2e]") {
  TempDir ws;
  fs::copy(fs::path(WRT_SOURCE_DIR) / "examples/hello", ws.path(), fs::copy_options::recursive);
  fs::remove_all(ws / ".wrt");
  fs::remove_all(ws / "out");
  auto r1 = run_wrt({"run", "ci", "--report", (ws / "r1.json").string()}, ws.path());
  INFO(r1.out << r1.err);
  REQUIRE(r1.exit_code == 0);
  auto r2 = run_wrt({"run", "ci", "--report", (ws / "r2.json").string()}, ws.path());
  REQUIRE(r2.exit_code == 0);
  auto rep = nlohmann::json::parse(read_file(ws / "r2.json"));
  REQUIRE(rep["stages"].size() == 5);
  for (const auto& s : rep["stages"]) CHECK(s["status"] == "cached");
  auto out = run_command({(ws / "out/hello").string(), "you"});
  CHECK(out.out == "Hello, you!\n");
}
