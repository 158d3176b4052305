// A plugin's configuration error is a configuration error of the run: the
// plugins' fingerprints are taken before any stage starts, and one rejected
// `with` table stops `wrt run` (and `--dry-run`, and `wrt list`) with exit 2,
// naming wrt.toml:line:col, the stage and a "did you mean".
#include <catch2/catch.hpp>
#include <filesystem>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

const char* kPipeline = R"([stages.first]
with = { run = "touch first.ran" }

[stages.cov]
plugin = "coverage"
needs = ["first"]
with = { threshold = 80 }

[stages.other]
with = { run = "touch other.ran" }
)";

}  // namespace

TEST_CASE("config errors: a misspelt plugin key stops the run before any stage starts (exit 2)", "[e2e][config-errors]") {
  TempDir ws;
  write_file(ws / "wrt.toml", kPipeline);
  const std::string expected = "wrt.toml:7:8: stage 'cov': with.threshold: unknown key";

  auto r = run_wrt({"run", "-k", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(expected));
  CHECK_THAT(r.err, Catch::Contains("1 configuration error; no stage was started"));
  CHECK_FALSE(fs::exists(ws / "first.ran"));
  CHECK_FALSE(fs::exists(ws / "other.ran"));  // not even with -k
  auto rep = read_json(ws / "report.json");
  CHECK(rep["status"] == "configuration error");
  CHECK(report_stage(rep, "cov")["status"] == "failed");
  CHECK_THAT(report_stage(rep, "cov")["message"].get<std::string>(), Catch::Contains("with.threshold: unknown key"));
  CHECK(report_stage(rep, "other")["status"] == "skipped");

  auto dry = run_wrt({"run", "--dry-run"}, ws.path());
  CHECK(dry.exit_code == 2);
  CHECK_THAT(dry.err, Catch::Contains(expected));

  auto list = run_wrt({"list"}, ws.path());
  CHECK(list.exit_code == 2);
  CHECK_THAT(list.out, Catch::Contains("cov"));  // the list is still printed
  CHECK_THAT(list.err, Catch::Contains(expected));

  // Fixed: everything runs, and list is happy.
  write_file(ws / "wrt.toml", std::string(kPipeline).replace(std::string(kPipeline).find("threshold = 80"),
                                                             14, "build_dir = \"build\", min_line = 0.0"));
  CHECK(run_wrt({"list"}, ws.path()).exit_code == 0);
}

TEST_CASE("config errors: a typo close to a known key gets a did-you-mean, every error is listed", "[e2e][config-errors]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"([stages.cov]
plugin = "coverage"
with = { min_lien = 80.0 }

[stages.tidy]
plugin = "clang-tidy"
with = { build_dir = "build", chekcs = "-*" }
)");
  auto r = run_wrt({"run"}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("wrt.toml:3:8: stage 'cov': with.min_lien: unknown key (did you mean 'min_line'?)"));
  CHECK_THAT(r.err, Catch::Contains("wrt.toml:7:8: stage 'tidy': with.chekcs: unknown key (did you mean 'checks'?)"));
  CHECK_THAT(r.err, Catch::Contains("2 configuration errors; no stage was started"));
}
