#include "core/cache/run_index.h"
#include "core/util/state_file.h"

#include <catch2/catch.hpp>

#include "support.h"

using namespace wrt;
using namespace wrt::test;

namespace {

CacheEntry sample_entry() {
  CacheEntry e;
  e.result = {{"status", "passed"}, {"attempts", 1}, {"results", {{"metrics", {{"coverage", 91.5}}}}}};
  e.outputs.push_back({"out/a.txt", sha256("a"), 1, false});
  e.outputs.push_back({"out/bin/tool", sha256("tool"), 4, true});
  e.outputs.back().inlined = true;  // its content inside the store's entry
  e.log = sha256("log");
  e.log_inlined = true;
  return e;
}

const Digest kKey1 = sha256("key one");
const Digest kKey2 = sha256("key two");

}  // namespace

TEST_CASE("run index: keys and entries survive save and load", "[run-index]") {
  TempDir dir;
  const auto file = dir / "state/run-index";
  {
    RunIndex idx(file);
    idx.load(nullptr);
    idx.set_last_key("build", kKey1);
    idx.set_entry("build", kKey1, sample_entry());
    idx.set_touched_at("build", 1234);
    idx.set_last_key("test", kKey2);  // failed: a key, no entry
    REQUIRE(idx.save().ok());
  }
  RunIndex idx(file);
  std::string warning;
  idx.load(&warning);
  CHECK(warning.empty());
  CHECK(idx.last_key("build") == kKey1);
  CHECK(idx.last_key("test") == kKey2);
  CHECK_FALSE(idx.last_key("never"));
  CHECK(idx.is_last_key("build", kKey1));
  CHECK_FALSE(idx.is_last_key("build", kKey2));
  CHECK(idx.touched_at("build") == 1234);
  auto e = idx.entry("build", kKey1);
  REQUIRE(e);
  CacheEntry want = sample_entry();
  CHECK(e->results.metrics == std::map<std::string, double>{{"coverage", 91.5}});
  REQUIRE(e->outputs.size() == 2);
  CHECK(e->outputs[1].path == "out/bin/tool");
  CHECK(e->outputs[1].digest == want.outputs[1].digest);
  CHECK(e->outputs[1].executable);
  CHECK(e->outputs[1].inlined);
  CHECK_FALSE(e->outputs[0].inlined);
  CHECK_FALSE(e->outputs[0].executable);
  CHECK(e->log == want.log);
  CHECK(e->log_inlined);
  CHECK_FALSE(idx.entry("build", kKey2));  // another key: never the entry
  CHECK_FALSE(idx.entry("test", kKey2));
}

TEST_CASE("run index: an entry whose stage reported nothing replays as empty results", "[run-index]") {
  TempDir dir;
  const auto file = dir / "run-index";
  CacheEntry quiet = sample_entry();
  quiet.result = {{"status", "passed"}, {"attempts", 1},
                  {"results", {{"metrics", nlohmann::json::object()}, {"findings", nlohmann::json::array()}, {"message", ""}}}};
  CacheEntry talking = sample_entry();
  talking.result["results"] = {{"message", "3 warnings"},
                               {"findings", {{{"rule", "R1"}, {"severity", "warning"}, {"file", "a.c"}, {"line", 3}}}}};
  {
    RunIndex idx(file);
    idx.set_entry("quiet", kKey1, quiet);
    idx.set_entry("talking", kKey2, talking);
    REQUIRE(idx.save().ok());
  }
  RunIndex idx(file);
  idx.load(nullptr);
  auto q = idx.entry("quiet", kKey1);
  REQUIRE(q);
  CHECK(q->results.metrics.empty());
  CHECK(q->results.findings.empty());
  CHECK(q->results.message.empty());
  CHECK(q->outputs.size() == 2);
  auto t = idx.entry("talking", kKey2);
  REQUIRE(t);
  CHECK(t->results.message == "3 warnings");
  REQUIRE(t->results.findings.size() == 1);
  CHECK(t->results.findings[0].rule == "R1");
  CHECK(t->results.findings[0].line == 3);
}

TEST_CASE("run index: a new key drops the old entry, a failure drops it too", "[run-index]") {
  TempDir dir;
  RunIndex idx(dir / "run-index");
  idx.set_entry("build", kKey1, sample_entry());
  idx.set_last_key("build", kKey2);
  CHECK_FALSE(idx.entry("build", kKey1));
  CHECK_FALSE(idx.entry("build", kKey2));
  idx.set_entry("build", kKey2, sample_entry());
  idx.drop_entry("build");
  CHECK_FALSE(idx.entry("build", kKey2));
  CHECK(idx.last_key("build") == kKey2);
}

TEST_CASE("run index: a corrupt or truncated file is discarded with a warning", "[run-index]") {
  TempDir dir;
  const auto file = dir / "run-index";
  {
    RunIndex idx(file);
    idx.set_entry("build", kKey1, sample_entry());
    REQUIRE(idx.save().ok());
  }
  const std::string good = read_file(file);
  for (const std::string& bad : {std::string("garbage"), good.substr(0, good.size() / 2),
                                 good.substr(0, 30) + std::string(1, static_cast<char>(good[30] ^ 1)) + good.substr(31)}) {
    write_file(file, bad);
    RunIndex idx(file);
    std::string warning;
    idx.load(&warning);
    CHECK_THAT(warning, Catch::Contains("run index"));
    CHECK_FALSE(idx.last_key("build"));
    // Discarded state is rewritten even when nothing new is recorded.
    REQUIRE(idx.save().ok());
    RunIndex again(file);
    std::string w2;
    again.load(&w2);
    CHECK(w2.empty());
  }
}

TEST_CASE("run index: an index written by an older wrt (versions 3 and 4) is read as none, without a warning",
          "[run-index]") {
  TempDir dir;
  const auto file = dir / "run-index";
  for (std::uint32_t version : {3u, 4u}) {
    // The framing of state_file.h; the payload does not matter: it is not read.
    write_file(file, seal_state("WRTINDX\n", version, std::string(64, '\0')));
    RunIndex idx(file);
    std::string warning;
    idx.load(&warning);
    CHECK(warning.empty());
    CHECK_FALSE(idx.last_key("build"));
    REQUIRE(idx.save().ok());  // rewritten in the current version
    RunIndex again(file);
    std::string w2;
    again.load(&w2);
    CHECK(w2.empty());
  }
}
