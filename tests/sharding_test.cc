// `wrt run --shard K/N` and `wrt report merge`: the partition (unit), then
// three shards in three checkouts sharing a real nginx remote cache, merged
// into the report of one run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/config/graph.h"
#include "core/exec/sharding.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string chain_config(int n) {
  std::string t;
  for (int i = 0; i < n; ++i) t += "[stages.s" + std::to_string(i) + "]\nwith = { run = \"true\" }\n";
  return t;
}

}  // namespace

TEST_CASE("sharding: K/N parsing, and a partition that covers every stage once, balanced by duration", "[sharding]") {
  CHECK(wrt::parse_shard("2/3")->index == 2);
  for (const char* bad : {"0/3", "4/3", "1/0", "x", "1/", "/2", "1/2/3", "-1/2"}) {
    INFO(bad);
    CHECK(!wrt::parse_shard(bad));
  }
  auto cfg = wrt::parse_config(chain_config(10), "/ws/wrt.toml");
  REQUIRE(cfg);
  auto g = wrt::build_graph(*cfg);
  REQUIRE(g);
  std::vector<int> all;
  for (int i = 0; i < 10; ++i) all.push_back(i);
  // s0 takes 9 s, the rest 1 s each: s0 alone on one shard of 2 with the
  // rest split so both carry 9 s.
  std::map<std::string, double> seconds = {{"s0", 9}};
  std::multiset<std::string> seen;
  std::string partition;
  std::vector<double> load;
  for (int k = 1; k <= 2; ++k) {
    auto plan = wrt::plan_shard(*g, all, seconds, {k, 2});
    if (k == 1) partition = plan.partition;
    CHECK(plan.partition == partition);
    double sum = 0;
    for (const auto& s : plan.assigned) {
      seen.insert(s);
      sum += s == "s0" ? 9 : 1;
    }
    load.push_back(sum);
  }
  CHECK(seen.size() == 10);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 10);
  CHECK(load[0] == 9);
  CHECK(load[1] == 9);
  // Other durations, another partition digest (merge tells them apart).
  CHECK(wrt::plan_shard(*g, all, {}, {1, 2}).partition != partition);
}

TEST_CASE("sharding: three shards over one remote cache run every stage, and their merged report is one run's",
          "[e2e][sharding][remote-cache]") {
  TempDir server_dir, keys, single;
  NginxDav nginx(server_dir.path());
  ed25519_keypair(keys.path(), "ci");
  const std::string toml = std::string(R"toml(
[components.core]
paths = ["src/core/**"]
asil = "D"

[components.ui]
paths = ["src/ui/**"]
asil = "B"

[stages.build]
inputs = ["src/**"]
outputs = ["out/app"]
with = { run = "mkdir -p out && cat src/*/* > out/app" }

[stages.test]
needs = ["build"]
for_each = "component"
inputs = ["src/{component}/**"]
with = { run = "grep -q {component} out/app" }

[stages.lint]
for_each = "component"
inputs = ["src/{component}/**"]
with = { run = "! grep -q TODO src/{component}/*" }

[stages.package]
needs = ["test", "lint"]
outputs = ["out/pkg.tar"]
with = { run = "tar --mtime=@0 -cf out/pkg.tar out/app" }
)toml") + "\n[settings]\nremote_cache = \"" + nginx.url() + "\"\nremote_cache_trusted_keys = [\"" +
                           (keys / "ci.pub").string() + "\"]\n";
  auto checkout = [&](const fs::path& dir) {
    write_file(dir / "wrt.toml", toml);
    write_file(dir / "src/core/a.c", "core\n");
    write_file(dir / "src/ui/b.c", "ui\n");
  };
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};

  // One run, without the remote, for comparison.
  checkout(single.path());
  auto r = run_wrt({"run", "--report", (single / "r.json").string(), "--remote-cache", nginx.url("unused")}, single.path());
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::string> expected;
  const json single_report = read_json(single / "r.json");
  for (const auto& s : single_report["stages"]) expected[s["name"]] = s["status"];
  REQUIRE(expected.size() == 6);

  TempDir shards[3];
  std::multiset<std::string> ran;
  std::vector<std::string> reports;
  for (int k = 0; k < 3; ++k) {
    checkout(shards[k].path());
    const std::string report = (shards[k] / "r.json").string();
    r = run_wrt({"run", "--shard", std::to_string(k + 1) + "/3", "--report", report}, shards[k].path(), writer);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("shard " + std::to_string(k + 1) + "/3: ") == 0);
    const json shard_report = read_json(report);
    for (const auto& a : shard_report["shard"]["assigned"]) ran.insert(a.get<std::string>());
    reports.push_back(report);
  }
  CHECK(ran.size() == 6);  // each stage in exactly one shard
  CHECK(std::set<std::string>(ran.begin(), ran.end()).size() == 6);

  TempDir out;
  std::vector<std::string> args = {"report", "merge"};
  args.insert(args.end(), reports.begin(), reports.end());
  args.insert(args.end(), {"--out", (out / "all.json").string()});
  auto m = run_wrt(args, shards[0].path());
  INFO(m.out << m.err);
  REQUIRE(m.exit_code == 0);
  const json all = read_json(out / "all.json");
  std::map<std::string, std::string> merged;
  for (const auto& s : all["stages"]) merged[s["name"]] = s["status"] == "cached" ? "passed" : s["status"];
  CHECK(merged == expected);
  CHECK(all["gate"]["verdict"] == "pass");
  CHECK(all["merged_from"].size() == 3);

  // A missing shard, a shard twice, and a shard that partitioned otherwise are refused.
  m = run_wrt({"report", "merge", reports[0], reports[1], "--out", (out / "x.json").string()}, shards[0].path());
  CHECK(m.exit_code == 2);
  CHECK(m.err.find("shard 3/3 is missing") != std::string::npos);
  m = run_wrt({"report", "merge", reports[0], reports[0], reports[1], reports[2], "--out", (out / "x.json").string()},
              shards[0].path());
  CHECK(m.err.find("given twice") != std::string::npos);
  json other = read_json(reports[2]);
  other["shard"]["partition"] = "0000";
  write_file(out / "other.json", other.dump());
  m = run_wrt({"report", "merge", reports[0], reports[1], (out / "other.json").string(), "--out", (out / "x.json").string()},
              shards[0].path());
  CHECK(m.err.find("partitioned the stages differently") != std::string::npos);

  // A failed ASIL D stage in the shard that ran it: the merged verdict
  // blocks (exit 3), as one run's would.
  std::vector<std::string> with_failure = reports;
  bool changed = false;
  for (std::size_t k = 0; k < reports.size() && !changed; ++k) {
    json rep = read_json(reports[k]);
    const json assigned = rep["shard"]["assigned"];
    for (auto& st : rep["stages"])
      if (!changed && st["asil"] == "D" && std::find(assigned.begin(), assigned.end(), st["name"]) != assigned.end()) {
        st["status"] = "failed";
        changed = true;
      }
    if (changed) {
      write_file(out / "failing.json", rep.dump());
      with_failure[k] = (out / "failing.json").string();
    }
  }
  REQUIRE(changed);
  args = {"report", "merge"};
  args.insert(args.end(), with_failure.begin(), with_failure.end());
  args.insert(args.end(), {"--out", (out / "x.json").string()});
  m = run_wrt(args, shards[0].path());
  INFO(m.out << m.err);
  CHECK(m.exit_code == 3);
  CHECK(read_json(out / "x.json")["gate"]["verdict"] == "block");
}
