#include "core/config/graph.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include <fmt/core.h>

namespace wrt {

namespace {

// Finds a cycle with an iterative DFS (recursion would overflow on deep
// chains of thousands of stages); returns it as a closed path of names.
std::vector<int> find_cycle(const Graph& g) {
  const int n = static_cast<int>(g.stages.size());
  std::vector<int> color(n, 0), parent(n, -1);  // 0 new, 1 on stack, 2 done
  for (int root = 0; root < n; ++root) {
    if (color[root]) continue;
    std::vector<std::pair<int, std::size_t>> stack{{root, 0}};
    color[root] = 1;
    while (!stack.empty()) {
      auto& [v, i] = stack.back();
      if (i < g.deps[v].size()) {
        int w = g.deps[v][i++];
        if (color[w] == 1) {
          std::vector<int> cycle{w};
          for (int x = v; x != w; x = parent[x]) cycle.push_back(x);
          cycle.push_back(w);
          std::reverse(cycle.begin(), cycle.end());
          return cycle;
        }
        if (color[w] == 0) {
          color[w] = 1;
          parent[w] = v;
          stack.push_back({w, 0});
        }
      } else {
        color[v] = 2;
        stack.pop_back();
      }
    }
  }
  return {};
}

}  // namespace

Result<Graph> build_graph(const Config& config) {
  Graph g;
  const int n = static_cast<int>(config.stages.size());
  g.deps.resize(n);
  g.dependents.resize(n);
  g.stages.reserve(n);
  g.index.reserve(n);
  for (int i = 0; i < n; ++i) {
    g.stages.push_back(&config.stages[i]);
    g.index.emplace(config.stages[i].name, i);
  }
  for (int i = 0; i < n; ++i) {
    const StageConfig& s = config.stages[i];
    for (const auto& need : s.needs) {
      int j = g.find(need);
      if (j < 0) {
        auto it = s.key_pos.find("needs");
        std::vector<std::string> names;
        for (const auto& st : config.stages) names.push_back(st.name);
        std::string hint = did_you_mean(need, names);
        return Error{fmt::format("{}: stage '{}' needs unknown stage '{}'{}",
                                 config.where(it == s.key_pos.end() ? s.pos : it->pos), s.name,
                                 escape_control(need), hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint))};
      }
      if (std::find(g.deps[i].begin(), g.deps[i].end(), j) != g.deps[i].end()) continue;
      g.deps[i].push_back(j);
      g.dependents[j].push_back(i);
    }
  }
  auto cycle = find_cycle(g);
  if (!cycle.empty()) {
    std::string path;
    for (int v : cycle) path += (path.empty() ? "" : " -> ") + g.stages[v]->name;
    return Error{fmt::format("{}: dependency cycle: {}", config.where(g.stages[cycle[0]]->pos), path)};
  }
  // Two stages writing the same file (or one writing inside the other's
  // output directory) would make cache restores overwrite each other.
  std::map<std::string, int> owner;
  for (int i = 0; i < n; ++i)
    for (const auto& out : config.stages[i].outputs) {
      auto [it, inserted] = owner.emplace(out, i);
      if (!inserted && it->second != i)
        return Error{fmt::format("{}: output '{}' of stage '{}' is also an output of stage '{}'",
                                 config.where(config.stages[i].pos), out, config.stages[i].name,
                                 config.stages[it->second].name)};
    }
  // One output inside another's directory. Sorted with '/' before every other
  // byte, the paths inside an output follow it directly ("a", "a/b", "a/b/c",
  // "a-b"; byte order would put "a-b" before "a/b"), so a stack holds exactly
  // the outputs that contain the current one, shortest first. Linear after the
  // sort: looking up every parent directory of every path was quadratic in a
  // long path's length (16 s for a 1 MB output).
  std::vector<std::pair<const std::string*, int>> by_path;
  by_path.reserve(owner.size());
  for (const auto& [path, i] : owner) by_path.emplace_back(&path, i);
  std::sort(by_path.begin(), by_path.end(), [](const auto& x, const auto& y) {
    const std::string& a = *x.first;
    const std::string& b = *y.first;
    auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    if (ia == a.end()) return ib != b.end();
    if (ib == b.end()) return false;
    if (*ia == '/' || *ib == '/') return *ia == '/';
    return static_cast<unsigned char>(*ia) < static_cast<unsigned char>(*ib);
  });
  // The error names the first offending output in byte order and the shortest
  // output of another stage containing it, as the check always has. That is
  // the outermost container: were the outermost one of the offender's own
  // stage, a container in between would be of another stage, offend itself,
  // and come first.
  std::vector<std::pair<const std::string*, int>> stack;
  const std::pair<const std::string*, int>* inner = nullptr;
  std::pair<const std::string*, int> outer{nullptr, -1};
  for (const auto& entry : by_path) {
    const std::string& p = *entry.first;
    while (!stack.empty()) {
      const std::string& top = *stack.back().first;
      if (p.size() > top.size() && p[top.size()] == '/' && p.compare(0, top.size(), top) == 0) break;
      stack.pop_back();
    }
    if (!stack.empty() && stack.front().second != entry.second && (!inner || p < *inner->first)) {
      inner = &entry;
      outer = stack.front();
    }
    stack.push_back(entry);
  }
  if (inner) {
    const StageConfig& in = config.stages[inner->second];
    return Error{fmt::format("{}: output '{}' of stage '{}' lies inside output '{}' of stage '{}'", config.where(in.pos),
                             *inner->first, in.name, *outer.first, config.stages[outer.second].name)};
  }
  return g;
}

Result<std::vector<int>> select_stages(const Graph& g, const std::vector<std::string>& targets) {
  const int n = static_cast<int>(g.stages.size());
  std::vector<char> wanted(n, targets.empty() ? 1 : 0);
  std::vector<int> stack;
  for (const auto& t : targets) {
    int i = g.find(t);
    if (i < 0) {
      std::vector<std::string> names;
      for (auto* s : g.stages) names.push_back(s->name);
      std::string hint = did_you_mean(t, names);
      return Error{fmt::format("unknown stage '{}'{}", t, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint))};
    }
    if (!wanted[i]) {
      wanted[i] = 1;
      stack.push_back(i);
    }
  }
  while (!stack.empty()) {
    int v = stack.back();
    stack.pop_back();
    for (int d : g.deps[v])
      if (!wanted[d]) {
        wanted[d] = 1;
        stack.push_back(d);
      }
  }
  // Kahn's algorithm, taking ready stages in file order for a stable result.
  std::vector<int> indegree(n, 0);
  for (int v = 0; v < n; ++v)
    if (wanted[v])
      for (int d : g.deps[v])
        if (wanted[d]) ++indegree[v];
  std::vector<int> order, ready;
  for (int v = n - 1; v >= 0; --v)
    if (wanted[v] && indegree[v] == 0) ready.push_back(v);
  while (!ready.empty()) {
    int v = ready.back();
    ready.pop_back();
    order.push_back(v);
    std::vector<int> next;
    for (int w : g.dependents[v])
      if (wanted[w] && --indegree[w] == 0) next.push_back(w);
    std::sort(next.rbegin(), next.rend());
    ready.insert(ready.end(), next.begin(), next.end());
  }
  return order;
}

namespace {
// Inside a DOT string: quote and backslash escaped, nothing else changed.
std::string escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
std::string quoted(const std::string& s) {
  return "\"" + escaped(s) + "\"";
}
}  // namespace

std::string graph_to_dot(const Graph& g, const std::vector<int>& selected) {
  std::vector<char> in(g.stages.size(), 0);
  for (int v : selected) in[v] = 1;
  std::string out = "digraph wrt {\n  rankdir=LR;\n";
  for (int v : selected)
    out += fmt::format("  {} [label={}];\n", quoted(g.stages[v]->name),
                       // `\n` is DOT's line break: it must reach the file as is,
                       // not escaped like the name's own characters.
                       "\"" + escaped(g.stages[v]->name) + "\\n(" + escaped(g.stages[v]->plugin) + ")\"");
  for (int v : selected)
    for (int d : g.deps[v])
      if (in[d]) out += fmt::format("  {} -> {};\n", quoted(g.stages[d]->name), quoted(g.stages[v]->name));
  return out + "}\n";
}

std::string graph_to_mermaid(const Graph& g, const std::vector<int>& selected) {
  std::vector<char> in(g.stages.size(), 0);
  for (int v : selected) in[v] = 1;
  std::string out = "graph LR\n";
  for (int v : selected) out += fmt::format("  s{}[\"{}\"]\n", v, g.stages[v]->name);
  for (int v : selected)
    for (int d : g.deps[v])
      if (in[d]) out += fmt::format("  s{} --> s{}\n", d, v);
  return out;
}

}  // namespace wrt
