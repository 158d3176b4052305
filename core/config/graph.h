// The stage DAG: needs resolved to indices, validated (unknown needs, cycles,
// overlapping outputs) and ordered. Built once per invocation from a Config.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "core/config/config.h"
#include "core/util/result.h"

namespace wrt {

struct Graph {
  std::vector<const StageConfig*> stages;    // same order as Config::stages
  std::vector<std::vector<int>> deps;        // stage -> stages it needs
  std::vector<std::vector<int>> dependents;  // stage -> stages that need it
  std::unordered_map<std::string, int> index;

  int find(const std::string& name) const {
    auto it = index.find(name);
    return it == index.end() ? -1 : it->second;
  }
};

// Errors: "<file>:<line>:<col>: stage 'x' needs unknown stage 'y' (did you
// mean 'z'?)", "dependency cycle: a -> b -> a", overlapping outputs.
// `config` must outlive the graph.
Result<Graph> build_graph(const Config& config);

// The stages to run, in a topological order: `targets` and everything they
// need. Empty `targets` = every stage. Error names an unknown target.
Result<std::vector<int>> select_stages(const Graph& graph, const std::vector<std::string>& targets);

// Renders the selected stages and their edges.
std::string graph_to_dot(const Graph& graph, const std::vector<int>& selected);
std::string graph_to_mermaid(const Graph& graph, const std::vector<int>& selected);

}  // namespace wrt
