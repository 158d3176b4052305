// `wrt run --shard K/N`: a deterministic, balanced share of the selected
// stages for CI runner K of N, plus what they need (from the remote cache
// when another shard built it, else built here: correct, at worst twice).
//
// Balance: longest first onto the least-loaded shard (LPT), weighing each
// stage by its last real duration from the run history, 1 s when unknown;
// ties broken by name, so every shard computes the same partition from the
// same history. Shards that saw different histories would partition
// differently: each report names its partition by digest and
// `wrt report merge` refuses reports that disagree, or a missing shard.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/config/graph.h"
#include "core/util/result.h"

namespace wrt {

struct ShardSpec {
  int index = 0;  // 1-based
  int count = 0;
};

// "2/3" -> {2, 3}; an error for anything else (0/3, 4/3, 1/0, "x").
Result<ShardSpec> parse_shard(const std::string& text);

struct ShardPlan {
  std::vector<std::string> assigned;  // this shard's stages, sorted
  std::string partition;              // hex digest of the whole partition
};

// Partitions `selected` (graph stage indices) into spec.count shards.
// `seconds`: a stage's weight by name (absent: 1 s).
ShardPlan plan_shard(const Graph& graph, const std::vector<int>& selected, const std::map<std::string, double>& seconds,
                     ShardSpec spec);

}  // namespace wrt
