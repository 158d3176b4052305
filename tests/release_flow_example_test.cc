// examples/release-flow: its demo.sh walks through the WRT guide's whole
// flow with the real binary and checks each step itself; here it runs in a
// scratch directory, and what it leaves is checked again.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

TEST_CASE("examples/release-flow: main -> staging, release -> tag, tag -> approved production, manual certification with evidence",
          "[e2e][example][deploy]") {
  TempDir scratch;
  const fs::path work = scratch / "demo";
  auto r = run_command({"bash", std::string(WRT_SOURCE_DIR) + "/examples/release-flow/demo.sh", work.string()}, scratch.path(),
                       {std::string("WRT=") + WRT_BINARY});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("demo: done") != std::string::npos);

  // The release plugin made v1.0.0 from the commits, with its changelog.
  CHECK(run_command({"git", "-C", work.string(), "cat-file", "-t", "v1.0.0"}).out == "tag\n");
  CHECK(read_file(work / "CHANGELOG.md").find("## [1.0.0]") != std::string::npos);
  CHECK(read_file(work / "VERSION") == "1.0.0\n");

  // Production is staging's release, approved by someone else than who asked.
  std::string text = read_file(work / "dist/registry/deployments.jsonl");
  const auto nl = text.find('\n');
  const auto staging = nlohmann::json::parse(text.substr(0, nl));
  const auto production = nlohmann::json::parse(text.substr(nl + 1, text.find('\n', nl + 1) - nl - 1));
  CHECK(staging["environment"] == "staging");
  CHECK(production["environment"] == "production");
  CHECK(production["oci_manifest"] == staging["oci_manifest"]);
  CHECK(production["approved_by"] == nlohmann::json::array({"release-manager"}));
  CHECK(production["who"].get<std::string>().rfind("ci-bot@", 0) == 0);
  CHECK(production["gate"]["levels"]["D"] == "pass");
  // The certification deploy shipped the evidence package it names.
  const auto cert = nlohmann::json::parse(read_file(work / "dist/certification/deployments.jsonl"));
  CHECK(cert["evidence"].get<std::string>().rfind("sha256:", 0) == 0);
  CHECK(fs::exists(work / "dist/certification/certification/evidence/verification-summary.dsse.json"));
}
