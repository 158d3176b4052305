#include "core/results/report.h"

#include <catch2/catch.hpp>
#include <sstream>

using namespace wrt;

namespace {

RunOutcome two_stages() {
  RunOutcome o;
  o.duration_s = 1.5;
  StageRecord a;
  a.name = "build";
  a.plugin = "command";
  a.status = "passed";
  a.attempts = 1;
  a.cache_key = std::string(64, 'a');
  a.outputs.push_back({"out/app", sha256("app"), 3, true});
  a.output_digest = sha256("outputs");
  a.results.mut().metrics["coverage"] = 91.5;
  a.results.mut().message = "multi\nline \"quoted\"";
  StageRecord b;
  b.name = "test";
  b.plugin = "command";
  b.status = "skipped";
  b.reason = "needs 'build', which failed";
  o.records = {a, b};
  return o;
}

}  // namespace

TEST_CASE("report: streamed JSON parses back to every stage and field", "[report]") {
  std::ostringstream out;
  nlohmann::json gate = {{"verdict", "warn"}};
  stream_report(out, two_stages(), "ci", "passed", &gate);
  auto j = nlohmann::json::parse(out.str());
  CHECK(j["pipeline"] == "ci");
  CHECK(j["status"] == "passed");
  CHECK(j["duration_s"] == 1.5);
  CHECK(j["wrt_version"] == WRT_VERSION);
  CHECK(j["gate"]["verdict"] == "warn");
  REQUIRE(j["stages"].size() == 2);
  CHECK(j["stages"][0] == stage_report(two_stages().records[0]));
  CHECK(j["stages"][0]["outputs"] == nlohmann::json::array({"out/app"}));
  CHECK(j["stages"][0]["message"] == "multi\nline \"quoted\"");
  CHECK(j["stages"][1]["status"] == "skipped");
  CHECK(j["stages"][1]["reason"] == "needs 'build', which failed");
  // Indented like the rest of wrt's JSON: one key per line.
  CHECK(out.str().find("\"stages\": [\n    {\n      \"") != std::string::npos);
  CHECK(out.str().find("\n      \"attempts\": 1,\n") != std::string::npos);
}

TEST_CASE("report: no stages and no gate is still valid JSON", "[report]") {
  std::ostringstream out;
  stream_report(out, RunOutcome{}, "", "passed", nullptr);
  auto j = nlohmann::json::parse(out.str());
  CHECK(j["stages"] == nlohmann::json::array());
  CHECK_FALSE(j.contains("gate"));
}
