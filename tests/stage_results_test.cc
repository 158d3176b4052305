// The results vocabulary's JSON form: a round trip keeps everything, and
// malformed fields (from a damaged or hostile cache entry) are ignored, not
// trusted.
#include "core/results/stage_results.h"
#include "core/util/out_of_line.h"

#include <catch2/catch.hpp>

using wrt::StageResults;
using wrt::failure_summary;
using wrt::OutOfLine;

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

TEST_CASE("stage_results: a failure summary lists errors before warnings, failed tests, and what it left out",
          "[stage_results]") {
  StageResults r;
  r.findings.push_back({"style", "note", "a.c", 1, 1, "a note is not shown"});
  r.findings.push_back({"unusedVariable", "warning", "src/a.c", 12, 0, "unused variable 'x'"});
  r.findings.push_back({"nullPointer", "error", "src/b.c", 7, 3, "null pointer dereference"});
  r.tests.push_back({"math", "adds", "passed", 0.1, ""});
  r.tests.push_back({"math", "divides", "failed", 0.1, "assertion failed: 1 == 2\nat src/lib.rs:4"});
  CHECK(failure_summary(r, "lint") ==
        "    src/b.c:7:3: error: null pointer dereference [nullPointer]\n"
        "    src/a.c:12: warning: unused variable 'x' [unusedVariable]\n"
        "    FAILED math::divides: assertion failed: 1 == 2\n");

  StageResults many;
  for (int i = 1; i <= 12; ++i) many.findings.push_back({"r", "error", "f.c", static_cast<std::uint32_t>(i), 0, "m"});
  std::string s = failure_summary(many, "lint", 10);
  CHECK(s.find("f.c:10: error") != std::string::npos);
  CHECK(s.find("f.c:11: error") == std::string::npos);
  CHECK(s.find("... and 2 more findings (wrt log lint)") != std::string::npos);
  CHECK(failure_summary(StageResults{}, "x").empty());
}

TEST_CASE("stage results: kept out of line, an empty value allocates nothing and a whole value replaces", "[results]") {
  OutOfLine<StageResults> r;
  const StageResults* shared = &r.get();
  r = StageResults{};  // stays the shared default
  CHECK(&r.get() == shared);
  StageResults some;
  some.findings.push_back({"R1", "error", "a.c", 3, 1, "bad"});
  r = some;
  CHECK(&r.get() != shared);
  CHECK(r->findings.size() == 1);
  CHECK(r == OutOfLine<StageResults>(r));  // copies are deep and equal
  r = StageResults{};  // back to nothing: the allocation goes
  CHECK(&r.get() == shared);
  r.mut().message = "m";
  CHECK(static_cast<const StageResults&>(r).message == "m");
}
