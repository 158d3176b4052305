// GitLab CI output (GITLAB_CI=true): collapsible log sections, and the
// Code Quality report (--codequality FILE) of the run's findings, through
// the real binary.
#include <catch2/catch.hpp>

#include <regex>

#include "support.h"

using namespace wrt::test;

TEST_CASE("gitlab: log sections, and a Code Quality report deduplicated across stages", "[e2e][gitlab]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"([stages.lint]
plugin = "probe"
with = { mode = "report" }
[stages.lint_again]
plugin = "probe"
with = { mode = "report" }
[components.x]
paths = ["src/**"]
[stages.prove]
for_each = "component"
with = { run = "echo proving; exit 1" }
)");
  auto r = run_wrt({"run", "-k", "--codequality", (ws / "gl-code-quality.json").string()}, ws.path(),
                   {"GITLAB_CI=true", std::string("WRT_PLUGIN_PATH=") + WRT_TEST_PLUGIN_DIR});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);  // a QM component's failure is allowed by the gate
  // A passing stage's section is collapsed, a failed one open; names are sanitised.
  CHECK(std::regex_search(r.out, std::regex("\x1b\\[0Ksection_start:\\d+:wrt_lint\\[collapsed=true\\]\r\x1b\\[0Klint \\(passed\\)\n")));
  CHECK(std::regex_search(r.out, std::regex("\x1b\\[0Ksection_start:\\d+:wrt_prove_x\r\x1b\\[0Kprove:x \\(failed: exit code 1\\)\n\\[wrt\\] \\$ [^\n]*\nproving\n")));
  CHECK(std::regex_search(r.out, std::regex("\x1b\\[0Ksection_end:\\d+:wrt_prove_x\r\x1b\\[0K\n")));

  auto cq = read_json(ws / "gl-code-quality.json");
  REQUIRE(cq.is_array());
  REQUIRE(cq.size() == 1);  // the same finding from two stages is one issue
  CHECK(cq[0]["description"] == "something odd");
  CHECK(cq[0]["check_name"] == "probe-rule");
  CHECK(cq[0]["severity"] == "minor");
  CHECK(cq[0]["location"]["path"] == "src/a.c");
  CHECK(cq[0]["location"]["lines"]["begin"] == 3);
  CHECK(cq[0]["fingerprint"].get<std::string>().size() == 32);
}
