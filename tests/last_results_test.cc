#include "core/results/last_results.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support.h"

using namespace wrt;
using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

StageRecord record(const std::string& name, const std::string& status, const std::string& key) {
  StageRecord r;
  r.name = name;
  r.status = status;
  r.cache_key = key;
  return r;
}

fs::path file_of(const TempDir& ws) { return ws / ".wrt/state/last-results.json"; }

}  // namespace

TEST_CASE("last results: a run's records merge into the file by name, and read back field by field",
          "[last-results]") {
  TempDir ws;
  std::vector<StageRecord> first{record("b", "passed", "k1"), record("a", "failed", "k2"),
                                 record("skip-me", "pending", "k3")};
  first[0].asil = Asil::D;
  first[0].component = "brakes";
  first[0].results.mut().tests.push_back({"suite", "t1", "passed", 0.1, ""});
  first[0].results.mut().tests.push_back({"", "t2 \"quoted\" \u00e9\t", "failed", -1, "boom"});
  first[0].results.mut().artifacts.push_back({"out/cov.xml", "coverage"});
  first[0].results.mut().artifacts.push_back({"elsewhere.txt", "trail"});
  Digest d{};
  d[0] = 0xab;
  first[0].outputs.emplace_back("out/cov.xml", d, 3, false);
  REQUIRE(save_last_results(ws.path(), first, "run-1").ok());

  std::string warning;
  LastResults got = load_last_results(ws.path(), &warning);
  CHECK(warning.empty());
  REQUIRE(got.size() == 2);  // pending is not a result
  CHECK(got.count("skip-me") == 0);
  const LastResult& b = got.at("b");
  CHECK(b.status == "passed");
  CHECK(b.cache_key == "k1");
  CHECK(b.component == "brakes");
  CHECK(b.asil == "D");
  CHECK(b.run_id == "run-1");
  CHECK(b.finished_at.size() == 20);  // 2026-12-01T22:00:00Z
  REQUIRE(b.tests.size() == 2);
  CHECK(b.tests[0].name == "suite/t1");
  CHECK(b.tests[1].name == "t2 \"quoted\" \u00e9\t");
  CHECK(b.tests[1].status == "failed");
  REQUIRE(b.artifacts.size() == 2);
  CHECK(b.artifacts[0].path == "out/cov.xml");
  CHECK(b.artifacts[0].kind == "coverage");
  CHECK(b.artifacts[0].sha256.substr(0, 4) == "ab00");
  CHECK(b.artifacts[1].sha256.empty());
  CHECK(got.at("a").status == "failed");
  CHECK(got.at("a").asil.empty());

  // A later run over one stage keeps the other's result as it was.
  REQUIRE(save_last_results(ws.path(), {record("a", "passed", "k4"), record("c", "cached", "k5")}, "run-2").ok());
  got = load_last_results(ws.path(), &warning);
  CHECK(warning.empty());
  REQUIRE(got.size() == 3);
  CHECK(got.at("a").status == "passed");
  CHECK(got.at("a").run_id == "run-2");
  CHECK(got.at("b").status == "passed");
  CHECK(got.at("b").run_id == "run-1");
  CHECK(got.at("b").tests.size() == 2);
  CHECK(got.at("b").artifacts.size() == 2);
  CHECK(got.at("c").cache_key == "k5");

  // The file is written as it is merged, stage by stage; it must still be
  // the document nlohmann's dump(1) would have written for it.
  const std::string text = read_file(file_of(ws));
  const nlohmann::json doc = nlohmann::json::parse(text);
  CHECK(doc["run_id"] == "run-2");
  CHECK(text == doc.dump(1) + "\n");
  CHECK(last_run_ids(ws.path()).written_by == "run-2");
}

TEST_CASE("last results: unknown keys are skipped, a known key of the wrong type makes the file unreadable",
          "[last-results]") {
  TempDir ws;
  write_file(file_of(ws), R"({"future": {"x": [1, {"y": null}]}, "run_id": "r",
    "stages": {"s": {"status": "passed", "extra": [[{}], 2.5, true], "tests": [{"name": "t", "status": "passed",
    "duration": 1}], "artifacts": []}, "s": {"status": "failed"}}})");
  std::string warning;
  LastResults got = load_last_results(ws.path(), &warning);
  CHECK(warning.empty());
  REQUIRE(got.size() == 1);
  CHECK(got.at("s").status == "failed");  // a repeated name: the last one wins
  CHECK(got.at("s").tests.empty());

  for (const char* bad : {R"({"stages": {"s": {"status": 3}}})", R"({"stages": {"s": "passed"}})",
                          R"({"stages": {"s": {"tests": {}}}})", R"({"stages": {"s": {"tests": ["t"]}}})",
                          R"({"stages": [)", R"([])", R"({"stages": {"s": {"status": "passed"}}} trailing)",
                          R"({"stages": {"s": {"artifacts": [{"path": null}]}}})"}) {
    INFO(bad);
    write_file(file_of(ws), bad);
    warning.clear();
    got = load_last_results(ws.path(), &warning);
    CHECK(got.empty());
    CHECK_THAT(warning, Catch::Contains("last-results.json: ignored, unreadable"));
  }
  // An unreadable file is replaced by the next save.
  REQUIRE(save_last_results(ws.path(), {record("a", "passed", "k")}, "run-3").ok());
  warning.clear();
  got = load_last_results(ws.path(), &warning);
  CHECK(warning.empty());
  CHECK(got.size() == 1);
}
