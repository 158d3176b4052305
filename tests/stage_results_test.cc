// The results vocabulary's JSON form: a round trip keeps everything, and
// malformed fields (from a damaged or hostile cache entry) are ignored, not
// trusted.
#include "core/results/stage_results.h"

#include <catch2/catch.hpp>

using wrt::StageResults;

TEST_CASE("stage_results: JSON round trip keeps every field", "[stage_results]") {
  StageResults r;
  r.metrics["coverage.line"] = 87.5;
  r.findings.push_back({"-Wunused", "warning", "src/a.c", 3, 7, "unused variable"});
  r.tests.push_back({"suite", "case", "failed", 0.25, "expected 1"});
  r.artifacts.push_back({"out/report.txt", "report"});
  r.message = "done";
  StageResults back = wrt::results_from_json(wrt::results_to_json(r));
  CHECK(back.metrics == r.metrics);
  REQUIRE(back.findings.size() == 1);
  CHECK(back.findings[0].file == "src/a.c");
  CHECK(back.findings[0].line == 3);
  CHECK(back.findings[0].column == 7);
  REQUIRE(back.tests.size() == 1);
  CHECK(back.tests[0].status == "failed");
  CHECK(back.tests[0].duration_s == 0.25);
  REQUIRE(back.artifacts.size() == 1);
  CHECK(back.artifacts[0].kind == "report");
  CHECK(back.message == "done");
}

TEST_CASE("stage_results: malformed fields are dropped", "[stage_results]") {
  auto j = nlohmann::json::parse(R"({"metrics": {"a": "x", "b": 2}, "findings": [1, {"line": -3, "message": 5}],
                                     "tests": "no", "message": 7})");
  StageResults r = wrt::results_from_json(j);
  CHECK(r.metrics.size() == 1);
  CHECK(r.metrics["b"] == 2);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].line == 0);
  CHECK(r.findings[0].message.empty());
  CHECK(r.tests.empty());
  CHECK(r.message.empty());
  CHECK(wrt::results_from_json(nlohmann::json::array()).metrics.empty());
}
