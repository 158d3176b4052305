// GitHub Actions output (GITHUB_ACTIONS=true): log groups, annotations
// (deduplicated, errors first, capped), the step summary and step outputs,
// through the real binary with temporary GITHUB_STEP_SUMMARY/GITHUB_OUTPUT
// files. The annotation lines are parsed back and checked.
#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <sstream>

#include "core/results/github_output.h"
#include "support.h"

using namespace wrt::test;

namespace {

struct Annotation {
  std::string level;
  std::map<std::string, std::string> props;
  std::string message;
};

std::vector<Annotation> annotations_in(const std::string& out) {
  std::vector<Annotation> found;
  std::istringstream in(out);
  const std::regex cmd(R"(^::(error|warning)( ([^:]*))?::(.*)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, cmd)) continue;
    Annotation a{m[1], {}, m[4]};
    std::istringstream props(m[3]);
    for (std::string kv; std::getline(props, kv, ',');)
      if (auto eq = kv.find('='); eq != std::string::npos) a.props[kv.substr(0, eq)] = kv.substr(eq + 1);
    found.push_back(a);
  }
  return found;
}

}  // namespace

TEST_CASE("github: a failing lint, a failing test and a warned gate under GITHUB_ACTIONS", "[e2e][github]") {
  TempDir ws;
  for (const char* c : {"memory", "parser"}) write_file(ws / (std::string("src/") + c + "/state"), "ok\n");
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
with = { run = "echo checking {component}; grep -qx ok src/{component}/state" }

[stages.lint]
plugin = "probe"
with = { mode = "report" }

[stages.lint_again]
plugin = "probe"
with = { mode = "report" }

[stages.compile]
with = { run = "echo 'src/x.c:1:2: error: boom'; exit 2" }
)");
  const std::vector<std::string> env = {"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + (ws / "summary.md").string(),
                                        "GITHUB_OUTPUT=" + (ws / "output.txt").string(),
                                        std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR};
  auto r = run_wrt({"run", "-k"}, ws.path(), env);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);  // compile failed (not an ASIL stage)

  // Each stage that ran has its log in a group, as the tool wrote it.
  CHECK_THAT(r.out, Catch::Contains("::group::compile (failed: exit code 2)\n"));
  CHECK_THAT(r.out, Catch::Contains("\nsrc/x.c:1:2: error: boom\n[wrt] /bin/sh exited with code 2\n::endgroup::\n"));
  CHECK_THAT(r.out, Catch::Contains("::group::prove:parser (failed"));
  CHECK(r.out.find("    src/x.c:1:2") == std::string::npos);  // never indented

  auto notes = annotations_in(r.out);
  // probe reports one warning and one failed test; two probe stages report
  // the same: one annotation each. Then the gate's warning.
  int warnings = 0, errors = 0;
  for (const auto& a : notes) (a.level == "error" ? errors : warnings)++;
  CHECK(errors == 1);
  CHECK(warnings == 2);
  REQUIRE(!notes.empty());
  CHECK(notes[0].level == "error");  // errors first
  CHECK(notes[0].props["title"] == "FAILED suite1%3A%3Afails");  // ':' escaped, as GitHub requires
  CHECK(notes[0].message == "expected 1, got 2");
  const Annotation* finding = nullptr;
  for (const auto& a : notes)
    if (a.props.count("file")) finding = &a;
  REQUIRE(finding);
  CHECK(finding->props.at("file") == "src/a.c");
  CHECK(finding->props.at("line") == "3");
  CHECK(finding->props.at("col") == "7");
  CHECK(finding->message == "something odd");
  CHECK_THAT(r.out, Catch::Contains("::warning title=safety gate::"));

  const std::string summary = read_file(ws / "summary.md");
  CHECK_THAT(summary, Catch::Contains("**Safety gate: warn**"));
  CHECK_THAT(summary, Catch::Contains("| B | warn | warn | 1 | 1: prove:parser |"));
  CHECK_THAT(summary, Catch::Contains("### ✗ compile (failed)"));
  CHECK_THAT(summary, Catch::Contains("| prove:memory | passed |"));
  const std::string output = read_file(ws / "output.txt");
  CHECK_THAT(output, Catch::Contains("status=failed\n"));
  CHECK_THAT(output, Catch::Contains("gate=warn\n"));
  CHECK_THAT(output, Catch::Contains("cache_hit_rate=0.000\n"));
}

TEST_CASE("github: annotations escape, dedupe and cap at 10 errors and 10 warnings", "[github]") {
  CHECK(wrt::GithubOutput::escape_data("50%\nnext\r") == "50%25%0Anext%0D");
  CHECK(wrt::GithubOutput::escape_property("a:b,c") == "a%3Ab%2Cc");
  wrt::RunOutcome o;
  o.records.resize(2);
  for (int s = 0; s < 2; ++s) {
    o.records[s].name = "s" + std::to_string(s);
    o.records[s].status = "failed";
    for (int i = 0; i < 15; ++i) {
      o.records[s].results.mut().findings.push_back({"r", "error", "f.c", static_cast<std::uint32_t>(i + 1), 1, "e"});
      o.records[s].results.mut().findings.push_back({"r", "warning", "f.c", static_cast<std::uint32_t>(i + 1), 2, "w"});
    }
  }
  std::size_t left = 0;
  const std::string text = wrt::GithubOutput::annotations(wrt::RunVerdict{o, "p", "failed", nullptr}, 10, &left);
  auto notes = annotations_in(text);
  CHECK(notes.size() == 20);
  CHECK(left == 10);  // 15 + 15 unique after dedupe across the two stages
  CHECK(notes[9].level == "error");
  CHECK(notes[10].level == "warning");
  const std::string md = wrt::GithubOutput::summary_markdown(wrt::RunVerdict{o, "p", "failed", nullptr}, left);
  CHECK_THAT(md, Catch::Contains("10 more annotation(s) not shown"));
}
