#include "core/config/graph.h"

#include <catch2/catch.hpp>

#include "support.h"

using namespace wrt;

namespace {
Config cfg(const std::string& text) {
  auto c = parse_config(text, "/ws/wrt.toml");
  REQUIRE(c.ok());
  return std::move(*c);
}
std::vector<std::string> names(const Graph& g, const std::vector<int>& order) {
  std::vector<std::string> out;
  for (int v : order) out.push_back(g.stages[v]->name);
  return out;
}
}  // namespace

TEST_CASE("graph: selection is the closure of needs, in topological order", "[graph]") {
  Config c = cfg(R"(
[stages.test]
needs = ["build"]
[stages.build]
needs = ["gen"]
[stages.gen]
[stages.docs]
)");
  auto g = build_graph(c);
  REQUIRE(g.ok());
  auto all = select_stages(*g, {});
  REQUIRE(all.ok());
  auto order = names(*g, *all);
  REQUIRE(order.size() == 4);
  auto pos = [&](const std::string& n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  CHECK(pos("gen") < pos("build"));
  CHECK(pos("build") < pos("test"));
  auto sel = select_stages(*g, {"build"});
  REQUIRE(sel.ok());
  CHECK(names(*g, *sel) == std::vector<std::string>{"gen", "build"});
  auto bad = select_stages(*g, {"tset"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error(), Catch::Contains("did you mean 'test'"));
}

TEST_CASE("graph: cycles are printed as a path", "[graph]") {
  Config c = cfg("[stages.a]\nneeds=[\"c\"]\n[stages.b]\nneeds=[\"a\"]\n[stages.c]\nneeds=[\"b\"]\n[stages.d]\n");
  auto g = build_graph(c);
  REQUIRE_FALSE(g.ok());
  CHECK_THAT(g.error(), Catch::Contains("dependency cycle: a -> c -> b -> a"));
  Config self = cfg("[stages.a]\nneeds=[\"a\"]\n");
  auto gs = build_graph(self);
  REQUIRE_FALSE(gs.ok());
  CHECK_THAT(gs.error(), Catch::Contains("dependency cycle: a -> a"));
}

TEST_CASE("graph: a deep chain does not overflow the stack", "[graph]") {
  std::string text;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    text += "[stages.s" + std::to_string(i) + "]\n";
    if (i) text += "needs = [\"s" + std::to_string(i - 1) + "\"]\n";
  }
  Config c = cfg(text);
  auto g = build_graph(c);
  REQUIRE(g.ok());
  auto sel = select_stages(*g, {"s" + std::to_string(n - 1)});
  REQUIRE(sel.ok());
  CHECK(sel->size() == static_cast<size_t>(n));
  CHECK(g->stages[sel->front()]->name == "s0");
}

TEST_CASE("graph: overlapping outputs are rejected", "[graph]") {
  auto same = build_graph(cfg("[stages.a]\noutputs=[\"x\"]\n[stages.b]\noutputs=[\"./x\"]\n"));
  REQUIRE_FALSE(same.ok());
  CHECK_THAT(same.error(), Catch::Contains("output 'x' of stage 'b' is also an output of stage 'a'"));
  auto nested = build_graph(cfg("[stages.a]\noutputs=[\"out/sub/f\"]\n[stages.b]\noutputs=[\"out\"]\n"));
  REQUIRE_FALSE(nested.ok());
  CHECK_THAT(nested.error(), Catch::Contains("lies inside output 'out' of stage 'b'"));
  auto sibling = build_graph(cfg("[stages.a]\noutputs=[\"out/a\"]\n[stages.b]\noutputs=[\"out/a-b\", \"out/ab\"]\n"));
  CHECK(sibling.ok());
}

TEST_CASE("graph: dot and mermaid renderings contain the edges", "[graph]") {
  Config c = cfg("[stages.a]\n[stages.b]\nneeds=[\"a\"]\n");
  auto g = build_graph(c);
  REQUIRE(g.ok());
  auto all = *select_stages(*g, {});
  CHECK_THAT(graph_to_dot(*g, all), Catch::Contains("\"a\" -> \"b\""));
  CHECK_THAT(graph_to_mermaid(*g, all), Catch::Contains("s0 --> s1"));
}

TEST_CASE("graph: wrt graph --format dot renders in Graphviz with the plugin on a second line", "[graph][e2e]") {
  wrt::test::TempDir ws;
  wrt::test::write_file(ws / "wrt.toml", "[stages.build]\nwith = { run = \"true\" }\n[stages.test]\nneeds = [\"build\"]\n"
                                         "with = { run = \"true\" }\n");
  auto dot = wrt::test::run_wrt({"graph", "--format", "dot"}, ws.path());
  REQUIRE(dot.exit_code == 0);
  wrt::test::write_file(ws / "g.dot", dot.out);
  auto svg = wrt::test::run_command({"dot", "-Tsvg", (ws / "g.dot").string()});
  INFO(dot.out << svg.err);
  REQUIRE(svg.exit_code == 0);
  // Two text lines per node: the name, then the plugin; no literal "\n".
  CHECK_THAT(svg.out, Catch::Contains(">build</text>"));
  CHECK_THAT(svg.out, Catch::Contains(">(command)</text>"));
  CHECK(svg.out.find("\\n") == std::string::npos);
}
