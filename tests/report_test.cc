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

TEST_CASE("report: thousands of stages, made in parallel batches, come out in order and indented as one", "[report]") {
  RunOutcome o;
  const RunOutcome two = two_stages();
  for (int i = 0; i < 2500; ++i) {
    StageRecord r = two.records[static_cast<std::size_t>(i % 2)];
    r.name = "s" + std::to_string(i);
    r.duration_s = i * 0.5;
    o.records.push_back(std::move(r));
  }
  std::ostringstream out;
  stream_report(out, o, "ci", "passed", nullptr);
  const std::string text = out.str();
  auto j = nlohmann::json::parse(text);
  REQUIRE(j["stages"].size() == o.records.size());
  for (std::size_t i = 0; i < o.records.size(); ++i) {
    INFO(i);
    REQUIRE(j["stages"][i] == stage_report(o.records[i]));
  }
  // Each stage is its dump(2), every line after the first indented by four
  // more spaces, after ",\n    " -- across the batches' seams too.
  for (std::size_t i : {std::size_t{0}, std::size_t{1023}, std::size_t{1024}, std::size_t{2499}}) {
    std::string want = stage_report(o.records[i]).dump(2);
    for (std::size_t at = want.find('\n'); at != std::string::npos; at = want.find('\n', at + 5)) want.insert(at + 1, "    ");
    want = (i == 0 ? "[\n    " : ",\n    ") + want;
    INFO(i);
    CHECK(text.find(want) != std::string::npos);
  }
  CHECK(text.substr(text.size() - 8) == "}\n  ]\n}\n");
}
