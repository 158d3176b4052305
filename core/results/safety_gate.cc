#include "core/results/safety_gate.h"

#include <fmt/core.h>

namespace wrt {

namespace {

// Anything but positive evidence counts against the gate: an inconclusive
// proof is reported failed by its plugin, and a stage skipped because what
// it needs failed produced no evidence at all.
bool lacks_evidence(const std::string& status) {
  return status == "failed" || status == "timeout" || status == "interrupted" || status == "skipped";
}

}  // namespace

GateResult evaluate_gate(const Config& config, const std::vector<StageRecord>& records) {
  GateResult g;
  for (int a = 0; a < kAsilLevels; ++a) g.levels[a].on_failure = config.profile(static_cast<Asil>(a)).on_failure;
  bool warn = false, block = false;
  for (const auto& r : records) {
    if (!r.asil || r.status == "pending") continue;
    g.applies = true;
    GateLevel& level = g.levels[static_cast<int>(*r.asil)];
    level.stages.push_back(r.name);
    if (lacks_evidence(r.status)) level.failed.push_back(r.name);
  }
  for (auto& level : g.levels) {
    if (level.failed.empty()) continue;
    level.verdict = level.on_failure == "block" ? "block" : level.on_failure == "warn" ? "warn" : "allow";
    block |= level.verdict == "block";
    warn |= level.verdict == "warn";
  }
  g.verdict = block ? "block" : warn ? "warn" : "pass";
  return g;
}

nlohmann::json gate_to_json(const GateResult& g) {
  nlohmann::json levels = nlohmann::json::object();
  for (int a = 0; a < kAsilLevels; ++a) {
    const GateLevel& l = g.levels[a];
    levels[asil_name(static_cast<Asil>(a))] = {
        {"on_failure", l.on_failure}, {"verdict", l.verdict}, {"stages", l.stages}, {"failed", l.failed}};
  }
  return {{"verdict", g.verdict}, {"levels", levels}};
}

std::string gate_summary(const GateResult& g) {
  std::string out;
  for (int a = kAsilLevels - 1; a >= 0; --a) {
    const GateLevel& l = g.levels[a];
    if (l.failed.empty()) continue;
    std::string names;
    for (const auto& n : l.failed) names += (names.empty() ? "" : ", ") + n;
    const char* what = l.verdict == "block" ? "BLOCKS" : l.verdict == "warn" ? "WARNS" : "allowed";
    out += fmt::format("safety gate: ASIL {} ({}) {}: {} without passing evidence: {}\n", asil_name(static_cast<Asil>(a)),
                       l.on_failure, what, l.failed.size(), names);
  }
  if (!out.empty()) out += fmt::format("safety gate verdict: {}\n", g.verdict);
  return out;
}

}  // namespace wrt
