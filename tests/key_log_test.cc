#include "core/cache/key_log.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "support.h"

using namespace wrt;
using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

std::string key_of(char c) { return std::string(64, c); }

nlohmann::json record(const std::string& stage, const std::string& key, const std::string& input) {
  return {{"stage", stage}, {"key", key}, {"files", {{"src/a.c", input}}}};
}

}  // namespace

TEST_CASE("key log: the latest record per stage survives a flush and a new reader", "[key-log]") {
  TempDir dir;
  const fs::path file = dir / "state/key-records";
  {
    KeyLog log(file);
    CHECK_FALSE(log.latest("build"));
    log.append("build", key_of('a'), record("build", key_of('a'), "one"));
    log.append("test", key_of('b'), record("test", key_of('b'), "two"));
    log.append("build", key_of('c'), record("build", key_of('c'), "three"));
    // Answered from memory before anything is written.
    REQUIRE(log.latest("build"));
    CHECK((*log.latest("build"))["files"]["src/a.c"] == "three");
    REQUIRE(log.flush().ok());
  }
  KeyLog log(file);
  auto b = log.latest("build");
  REQUIRE(b);
  CHECK((*b)["key"] == key_of('c'));
  auto t = log.latest("test");
  REQUIRE(t);
  CHECK((*t)["files"]["src/a.c"] == "two");
  CHECK_FALSE(log.latest("never"));
}

TEST_CASE("key log: a torn last line is no record, and the next writer cuts it off", "[key-log]") {
  TempDir dir;
  const fs::path file = dir / "key-records";
  {
    KeyLog log(file);
    log.append("build", key_of('a'), record("build", key_of('a'), "one"));
    REQUIRE(log.flush().ok());
  }
  // A run killed in the middle of its write.
  std::string text = read_file(file);
  const std::string torn = key_of('d') + " build {\"stage\":\"build\",\"ke";
  write_file(file, text + torn);
  {
    KeyLog log(file);
    auto b = log.latest("build");
    REQUIRE(b);
    CHECK((*b)["key"] == key_of('a'));  // the torn line is not a record
    log.append("test", key_of('e'), record("test", key_of('e'), "two"));
    REQUIRE(log.flush().ok());
  }
  CHECK(read_file(file) == text + key_of('e') + " test " + record("test", key_of('e'), "two").dump() + "\n");
  KeyLog log(file);
  REQUIRE(log.latest("test"));
  REQUIRE(log.latest("build"));
  CHECK((*log.latest("build"))["key"] == key_of('a'));
}

TEST_CASE("key log: a line whose JSON disagrees with its prefix, or is damaged, is no record", "[key-log]") {
  TempDir dir;
  const fs::path file = dir / "key-records";
  const std::string good = key_of('a') + " ok " + record("ok", key_of('a'), "x").dump() + "\n";
  write_file(file, good +
                       // another stage's JSON under this stage's name
                       key_of('b') + " build " + record("deploy", key_of('b'), "x").dump() + "\n" +
                       // another key in the JSON than in the prefix
                       key_of('c') + " test " + record("test", key_of('d'), "x").dump() + "\n" +
                       // not hex, not JSON, no prefix at all
                       std::string(64, 'Z') + " lint " + record("lint", std::string(64, 'Z'), "x").dump() + "\n" +
                       key_of('e') + " docs {not json\n" + "garbage\n\n");
  KeyLog log(file);
  CHECK(log.latest("ok"));
  CHECK_FALSE(log.latest("build"));
  CHECK_FALSE(log.latest("deploy"));
  CHECK_FALSE(log.latest("test"));
  CHECK_FALSE(log.latest("lint"));
  CHECK_FALSE(log.latest("docs"));
}

TEST_CASE("key log: superseded lines are dropped once they outweigh the live ones", "[key-log]") {
  TempDir dir;
  const fs::path file = dir / "key-records";
  const std::string pad(2000, 'p');
  for (int run = 0; run < 3; ++run) {
    KeyLog log(file);
    for (int i = 0; i < 600; ++i) {  // ~2 KB per line: ~1.3 MB per run, 3 stages live
      const std::string stage = "s" + std::to_string(i % 3);
      const std::string key = key_of("abc"[run]);
      nlohmann::json r = record(stage, key, std::to_string(i));
      r["with"] = pad;
      log.append(stage, key, r);
    }
    REQUIRE(log.flush().ok());
    REQUIRE(log.latest("s2"));
    CHECK((*log.latest("s2"))["files"]["src/a.c"] == "599");
  }
  // Past the 1 MiB floor the file was rewritten with one line per stage.
  CHECK(fs::file_size(file) < 3 * 2200);
  KeyLog log(file);
  for (const char* s : {"s0", "s1", "s2"}) {
    auto r = log.latest(s);
    REQUIRE(r);
    CHECK((*r)["key"] == key_of('c'));
  }
  CHECK((*log.latest("s0"))["files"]["src/a.c"] == "597");
}

TEST_CASE("key log: lines longer than the read buffer and lines across its boundaries are read whole", "[key-log]") {
  TempDir dir;
  const fs::path file = dir / "state/key-records";
  {
    KeyLog log(file);
    // 300 short records cross many 64 KiB boundaries; one record of
    // ~200 KiB is longer than the buffer (a stage with thousands of inputs).
    for (int i = 0; i < 300; ++i) {
      const std::string s = "stage" + std::to_string(i);
      log.append(s, key_of('a'), record(s, key_of('a'), std::string(400 + i, 'x')));
    }
    log.append("big", key_of('b'), record("big", key_of('b'), std::string(200 * 1024, 'y')));
    log.append("after", key_of('c'), record("after", key_of('c'), "z"));
    REQUIRE(log.flush().ok());
  }
  KeyLog log(file);
  for (int i = 0; i < 300; ++i) {
    const std::string s = "stage" + std::to_string(i);
    auto r = log.latest(s);
    REQUIRE(r);
    CHECK((*r)["files"]["src/a.c"].get<std::string>().size() == std::size_t(400 + i));
  }
  auto big = log.latest("big");
  REQUIRE(big);
  CHECK((*big)["files"]["src/a.c"].get<std::string>() == std::string(200 * 1024, 'y'));
  auto after = log.latest("after");
  REQUIRE(after);
  CHECK((*after)["key"] == key_of('c'));
}
