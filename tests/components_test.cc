#include "core/config/components.h"

#include <catch2/catch.hpp>

#include "core/config/graph.h"
#include "core/results/safety_gate.h"

using namespace wrt;

namespace {

Result<Config> parse(const std::string& text) { return parse_config(text, "/ws/wrt.toml"); }

const char* kSafety = R"(
[components.memory]
paths = ["src/memory/**"]
asil = "D"
requirements = ["REQ-MEM-001"]

[components.parser]
paths = ["src/parser"]
asil = "B"

[components.ui]
paths = ["src/ui/**"]

[asil.B]
on_failure = "warn"
verifier = { default_unwind = 8, solver = "minisat" }

[stages.build]
with = { run = "true" }

[stages.prove]
plugin = "command"
for_each = "component"
needs = ["build"]
inputs = ["models/{component}.pml"]
outputs = ["out/{component}.txt"]
with = { run = "echo {component} > out/{component}.txt" }

[stages.report]
needs = ["prove"]
with = { run = "true" }

[stages.lint]
for_each = "component"
needs = ["prove"]
min_asil = "B"
with = { run = "true" }

[pipelines.verify]
stages = ["prove"]
)";

}  // namespace

TEST_CASE("components: for_each expands one instance per component, in file order", "[components]") {
  auto c = parse(kSafety);
  REQUIRE(c.ok());
  std::vector<std::string> names;
  for (const auto& s : c->stages) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"build", "prove:memory", "prove:parser", "prove:ui", "report", "lint:memory",
                                          "lint:parser"});
  CHECK(c->groups.at("prove") == std::vector<std::string>{"prove:memory", "prove:parser", "prove:ui"});
  const StageConfig* m = c->find_stage("prove:memory");
  REQUIRE(m);
  CHECK(m->component == "memory");
  CHECK(m->extras().group == "prove");
  REQUIRE(m->asil);
  CHECK(*m->asil == Asil::D);
  CHECK(m->inputs == std::vector<std::string>{"models/memory.pml", "src/memory/**"});
  CHECK(m->outputs == std::vector<std::string>{"out/memory.txt"});
  CHECK(m->with["run"] == "echo memory > out/memory.txt");
  CHECK(m->with["component"]["asil"] == "D");
  CHECK(m->with["profile"]["level"] == "D");
  CHECK(m->with["profile"]["on_failure"] == "block");
  CHECK(m->timeout_minutes == 120);  // the guide's ASIL-D default
  const StageConfig* p = c->find_stage("prove:parser");
  CHECK(p->with["profile"]["default_unwind"] == 8);  // [asil.B] verifier settings, flattened
  CHECK(p->with["profile"]["on_failure"] == "warn");
  CHECK(p->timeout_minutes == 60);
  // Needs on a template: the same component's instance, or every instance.
  CHECK(c->find_stage("lint:parser")->needs == std::vector<std::string>{"prove:parser"});
  CHECK(c->find_stage("report")->needs == std::vector<std::string>{"prove:memory", "prove:parser", "prove:ui"});
  CHECK(c->find_pipeline("verify")->stages == std::vector<std::string>{"prove:memory", "prove:parser", "prove:ui"});
  CHECK(c->resolve_stage_name("lint") == std::vector<std::string>{"lint:memory", "lint:parser"});
  REQUIRE(build_graph(*c).ok());
}

TEST_CASE("components: configuration errors name file, line and column", "[components]") {
  auto bad = [](const std::string& text) {
    auto c = parse_config(text, "/ws/wrt.toml");
    REQUIRE_FALSE(c.ok());
    return c.error();
  };
  CHECK_THAT(bad("[components.a]\npaths = [\"x\"]\nasil = \"E\"\n"),
             Catch::StartsWith("/ws/wrt.toml:3:8: components.a.asil must be one of QM, A, B, C, D"));
  CHECK_THAT(bad("[components.a]\nasil = \"D\"\n"), Catch::Contains("needs paths"));
  CHECK_THAT(bad("[components.a]\npaths = [\"x\"]\n[stages.p]\nfor_each = \"component\"\ncomponents = [\"b\"]\n"),
             Catch::StartsWith("/ws/wrt.toml:5:14: stage 'p' names unknown component 'b'"));
  CHECK_THAT(bad("[stages.p]\nfor_each = \"stage\"\n"), Catch::Contains("must be \"component\""));
  CHECK_THAT(bad("[stages.p]\nfor_each = \"component\"\n"), Catch::Contains("defines no [components]"));
  CHECK_THAT(bad("[stages.p]\nmin_asil = \"B\"\n"), Catch::Contains("needs for_each"));
  CHECK_THAT(bad("[asil.E]\npriority = \"low\"\n"), Catch::Contains("unknown ASIL level 'E'"));
  CHECK_THAT(bad("[asil.D]\non_failur = \"block\"\n"), Catch::Contains("did you mean 'on_failure'"));
  CHECK_THAT(bad("[asil.D]\non_failure = \"stop\"\n"), Catch::Contains("allow, warn or block"));
  CHECK_THAT(bad("[stages.p]\npriority = \"urgent\"\n"), Catch::Contains("low, normal, high or critical"));
  CHECK_THAT(bad("[stages.p]\nmemory = \"lots\"\n"), Catch::StartsWith("/ws/wrt.toml:2:10: stages.p.memory"));
}

TEST_CASE("components: verify applies the requested profile to components at or below it", "[components]") {
  auto c = parse(kSafety);
  REQUIRE(c.ok());
  VerifyRequest req;
  req.level = Asil::B;
  req.harness = "check_bounds";
  auto sel = apply_verify_request(*c, req);
  REQUIRE(sel.ok());
  CHECK(*sel == std::vector<std::string>{"prove:parser", "prove:ui", "lint:parser"});
  const StageConfig* ui = c->find_stage("prove:ui");
  CHECK(ui->with["profile"]["level"] == "B");
  CHECK(ui->with["profile"]["default_unwind"] == 8);
  CHECK(ui->with["harnesses"] == nlohmann::json::array({"check_bounds"}));
  CHECK(ui->timeout_minutes == 60);
  CHECK(c->find_stage("prove:memory")->with["profile"]["level"] == "D");  // untouched: above B

  req.components = {"memory"};
  CHECK_FALSE(apply_verify_request(*c, req).ok());  // D is above the B profile
  req.components = {"memroy"};
  CHECK_THAT(apply_verify_request(*c, req).error(), Catch::Contains("did you mean 'memory'"));
}

TEST_CASE("components: changed files map to the components that own them", "[components]") {
  auto c = parse(kSafety);
  REQUIRE(c.ok());
  CHECK(components_touched(*c, {"src/memory/alloc.rs"}) == std::vector<std::string>{"memory"});
  CHECK(components_touched(*c, {"src/parser/lex.rs", "README.md"}) == std::vector<std::string>{"parser"});
  CHECK(components_touched(*c, {"src/parsers.rs"}).empty());  // a literal dir is not a prefix of a sibling
  CHECK(components_touched(*c, {"docs/x.md"}).empty());
}

TEST_CASE("safety gate: block, warn and allow by the level of the failed stage", "[components]") {
  auto c = parse(kSafety);
  REQUIRE(c.ok());
  auto rec = [](const std::string& name, const std::string& status, std::optional<Asil> a) {
    StageRecord r;
    r.name = name;
    r.status = status;
    r.asil = a;
    return r;
  };
  std::vector<StageRecord> ok{rec("build", "failed", std::nullopt), rec("prove:memory", "passed", Asil::D),
                              rec("prove:ui", "cached", Asil::QM)};
  GateResult g = evaluate_gate(*c, ok);
  CHECK(g.applies);
  CHECK(g.verdict == "pass");  // a failure without an ASIL level is not the gate's business

  GateResult qm = evaluate_gate(*c, {rec("prove:ui", "failed", Asil::QM)});
  CHECK(qm.verdict == "pass");
  CHECK(qm.levels[0].verdict == "allow");

  GateResult warn = evaluate_gate(*c, {rec("prove:parser", "timeout", Asil::B), rec("prove:memory", "passed", Asil::D)});
  CHECK(warn.verdict == "warn");
  CHECK(warn.levels[2].failed == std::vector<std::string>{"prove:parser"});

  GateResult block = evaluate_gate(*c, {rec("prove:parser", "failed", Asil::B), rec("prove:memory", "skipped", Asil::D)});
  CHECK(block.verdict == "block");
  auto j = gate_to_json(block);
  CHECK(j["levels"]["D"]["failed"][0] == "prove:memory");
  CHECK(j["levels"]["B"]["verdict"] == "warn");
  CHECK(gate_summary(block).find("ASIL D (block) BLOCKS") != std::string::npos);

  CHECK_FALSE(evaluate_gate(*c, {rec("build", "passed", std::nullopt)}).applies);
}
