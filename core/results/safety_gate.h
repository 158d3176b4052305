// The safety gate: after a run, the verdict over every stage that carries an
// ASIL level. A failed (or timed-out, interrupted, inconclusive, skipped)
// stage counts against its level's `on_failure`: block -> the run is blocked
// (exit 3), warn -> a prominent warning (exit 0, or 1 with --strict),
// allow -> informational only.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/results/stage_record.h"

namespace wrt {

struct GateLevel {
  std::string on_failure;            // allow | warn | block
  std::vector<std::string> stages;   // judged at this level
  std::vector<std::string> failed;   // of those, the ones without evidence of success
  std::string verdict = "pass";      // pass | allow | warn | block
};

struct GateResult {
  bool applies = false;              // some stage of the run carries a level
  std::string verdict = "pass";      // pass | warn | block (worst over the levels; allow counts as pass)
  GateLevel levels[kAsilLevels];
};

GateResult evaluate_gate(const Config& config, const std::vector<StageRecord>& records);

// {"verdict": "...", "levels": {"QM": {"on_failure", "verdict", "stages", "failed"}, ...}}
nlohmann::json gate_to_json(const GateResult& gate);

// One line per level with failures, for the console; empty when nothing failed.
std::string gate_summary(const GateResult& gate);

}  // namespace wrt
