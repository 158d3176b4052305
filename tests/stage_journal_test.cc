// Unit tests of core/exec/stage_journal: which stages were started and never
// ended cleanly, kept across runs in one file.
#include "core/exec/stage_journal.h"

#include <catch2/catch.hpp>

#include "support.h"

using namespace wrt;
using wrt::test::read_file;
using wrt::test::TempDir;
using wrt::test::write_file;
namespace fs = std::filesystem;

TEST_CASE("stage_journal: a stage started and never finished is interrupted for the next run", "[stage_journal]") {
  TempDir dir;
  const fs::path file = dir / "running-stages";
  {
    StageJournal j(file, /*read_only=*/false);
    CHECK(!j.was_interrupted("a"));
    REQUIRE(j.started("a").ok());
    REQUIRE(j.started("b").ok());
    j.finished("b");
    // What a kill -9 leaves: the appended lines, no close().
    CHECK(read_file(file) == "+a\n+b\n-b\n");
  }
  StageJournal next(file, false);
  CHECK(next.was_interrupted("a"));
  CHECK(!next.was_interrupted("b"));
  SECTION("close() keeps only what is still open") {
    REQUIRE(next.close().ok());
    CHECK(read_file(file) == "+a\n");
  }
  SECTION("finishing it resolves it, and close() then removes the file") {
    next.finished("a");
    CHECK(!next.was_interrupted("a"));
    REQUIRE(next.close().ok());
    CHECK(!fs::exists(file));
  }
}

TEST_CASE("stage_journal: damaged lines are ignored, a dry run never writes", "[stage_journal]") {
  TempDir dir;
  const fs::path file = dir / "running-stages";
  write_file(file, "+a\ngarbage\n+\n-\n+b\x01x\n+c");  // the last line torn (no newline) still names c
  StageJournal j(file, /*read_only=*/true);
  CHECK(j.was_interrupted("a"));
  CHECK(j.was_interrupted("c"));
  CHECK(!j.was_interrupted("garbage"));
  CHECK(!j.was_interrupted("b\x01x"));
  REQUIRE(j.started("d").ok());
  j.finished("a");
  REQUIRE(j.close().ok());
  CHECK(read_file(file) == "+a\ngarbage\n+\n-\n+b\x01x\n+c");
  CHECK(j.was_interrupted("a"));
}

TEST_CASE("stage_journal: a journal that cannot be written refuses the start", "[stage_journal]") {
  TempDir dir;
  StageJournal j(dir / "no/such/dir/running-stages", false);
  auto s = j.started("a");
  REQUIRE(!s.ok());
  CHECK(s.error().find("no/such/dir/running-stages") != std::string::npos);
}
