// `wrt badge`: badges from real results. A run with a probe stage (coverage
// 87.5 %, one of two tests failing) and two ASIL components, one failing;
// each badge's shields endpoint JSON is checked against the endpoint schema
// (schemaVersion 1, label, non-empty message, a colour) and its SVG with
// xmllint; the messages must be the run's figures.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "support.h"

using namespace wrt::test;

TEST_CASE("badges: shields endpoint JSON and SVG from the last run's real results", "[e2e][badges]") {
  TempDir ws;
  auto none = run_wrt({"badge"}, ws.path());
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("no run recorded yet"));

  write_file(ws / "src/memory/state", "ok\n");
  write_file(ws / "src/parser/state", "broken\n");
  write_file(ws / "wrt.toml", R"(
[components.memory]
paths = ["src/memory/**"]
asil = "D"

[components.parser]
paths = ["src/parser/**"]
asil = "B"

[stages.prove]
for_each = "component"
with = { run = "grep -qx ok src/{component}/state" }

[stages.unit]
plugin = "probe"
with = { mode = "report" }
)");
  const std::vector<std::string> env = {std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR};
  auto r = run_wrt({"run", "-k"}, ws.path(), env);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);  // ASIL B only warns
  auto b = run_wrt({"badge", "--out", (ws / "badges").string()}, ws.path());
  INFO(b.out << b.err);
  REQUIRE(b.exit_code == 0);

  const std::set<std::string> colors = {"brightgreen", "green", "yellow", "orange", "red", "lightgrey"};
  std::map<std::string, std::pair<std::string, std::string>> got;  // name -> message, color
  for (const char* name : {"build", "tests", "coverage", "safety-gate", "components"}) {
    INFO(name);
    auto j = read_json(ws / "badges" / (std::string(name) + ".json"));
    CHECK(j["schemaVersion"] == 1);
    CHECK(j["label"].is_string());
    REQUIRE(j["message"].is_string());
    CHECK_FALSE(j["message"].get<std::string>().empty());
    CHECK(colors.count(j["color"].get<std::string>()) == 1);
    got[name] = {j["message"], j["color"]};
    auto lint = run_command({"xmllint", "--noout", (ws / "badges" / (std::string(name) + ".svg")).string()});
    CHECK(lint.exit_code == 0);
    CHECK_THAT(read_file(ws / "badges" / (std::string(name) + ".svg")), Catch::Contains(j["message"].get<std::string>()));
  }
  // A stage failed (prove:parser): the run's status is "failed" even though
  // the gate only warns and the exit code is 0.
  CHECK(got["build"] == std::make_pair(std::string("failing"), std::string("red")));
  CHECK(got["tests"] == std::make_pair(std::string("1/2 passed"), std::string("red")));
  CHECK(got["coverage"] == std::make_pair(std::string("87.5%"), std::string("green")));
  CHECK(got["safety-gate"] == std::make_pair(std::string("warn"), std::string("yellow")));
  CHECK(got["components"] == std::make_pair(std::string("1/2"), std::string("yellow")));
}
