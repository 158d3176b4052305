#include "core/exec/sharding.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include <fmt/core.h>

#include "core/util/hash.h"

namespace wrt {

Result<ShardSpec> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  auto number = [](const std::string& s, int& out) {
    if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
      return false;
    out = std::atoi(s.c_str());
    return true;
  };
  ShardSpec spec;
  if (slash == std::string::npos || !number(text.substr(0, slash), spec.index) || !number(text.substr(slash + 1), spec.count) ||
      spec.count < 1 || spec.index < 1 || spec.index > spec.count)
    return Error{fmt::format("--shard {}: expected K/N with 1 <= K <= N, e.g. 2/3", text)};
  return spec;
}

ShardPlan plan_shard(const Graph& graph, const std::vector<int>& selected, const std::map<std::string, double>& seconds,
                     ShardSpec spec) {
  struct Item {
    std::string name;
    double weight;
  };
  std::vector<Item> items;
  items.reserve(selected.size());
  for (int v : selected) {
    const std::string& name = graph.stages[v]->name;
    auto it = seconds.find(name);
    // Durations are rounded to milliseconds: the partition must not depend
    // on how a double was printed and read back.
    const double w = it == seconds.end() || !(it->second > 0) ? 1.0 : std::max(0.001, std::round(it->second * 1000) / 1000);
    items.push_back({name, w});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.weight != b.weight ? a.weight > b.weight : a.name < b.name;
  });
  std::vector<double> load(static_cast<std::size_t>(spec.count), 0.0);
  std::vector<std::pair<std::string, int>> where;
  where.reserve(items.size());
  for (const auto& item : items) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    load[static_cast<std::size_t>(least)] += item.weight;
    where.emplace_back(item.name, static_cast<int>(least) + 1);
  }
  std::sort(where.begin(), where.end());
  ShardPlan plan;
  Sha256 h;
  h.update_field(std::to_string(spec.count));
  for (const auto& [name, shard] : where) {
    h.update_field(name);
    h.update_field(std::to_string(shard));
    if (shard == spec.index) plan.assigned.push_back(name);
  }
  plan.partition = to_hex(h.finish());
  return plan;
}

}  // namespace wrt
