// Where a run happens (branch, tags, CI event, stages named on the command
// line) and the two run-time conditions a stage may carry: `when` (branch /
// tag / event patterns) and `requires_gate` / `min_verified_asil` (the
// safety gate over what it depends on). Both are decided afresh on every
// run and never come from the cache: a cached "not a tag" must not be
// replayed on the tag.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/results/stage_record.h"

namespace wrt {

struct RunConditions {
  std::string branch;              // "" when detached / unknown
  std::vector<std::string> tags;   // tags on the commit being built
  std::string event;               // CI event (push, pull_request, schedule, workflow_dispatch, ...) or "local"
  std::vector<std::string> named;  // stages (or for_each groups) named with --stage / --target
  std::string source;              // where the above came from: "GitHub Actions", "GitLab CI", "git"
};

using EnvLookup = std::function<std::string(const char*)>;  // "" when unset

// GitHub Actions (GITHUB_REF, GITHUB_HEAD_REF, GITHUB_EVENT_NAME), GitLab CI
// (CI_COMMIT_BRANCH, CI_COMMIT_TAG, CI_MERGE_REQUEST_SOURCE_BRANCH_NAME,
// CI_PIPELINE_SOURCE), else the git checkout (HEAD's branch; tags pointing
// at HEAD, asked of git only when `need_tags`).
RunConditions detect_run_conditions(const std::filesystem::path& workspace, const EnvLookup& env, bool need_tags);

// Why `when` does not hold here ("" when it does, or there is none).
std::string condition_refusal(const StageConfig& stage, const RunConditions& where);

// The safety gate over a stage's finished dependencies, as safety_gate.h
// judges a run: the worst failing level's on_failure decides.
struct DependencyGate {
  std::string verdict = "none";               // pass | warn | block | none (no dependency carries a level)
  std::string why;                            // "prove:core failed at ASIL D"; "" on pass
  std::vector<std::pair<std::string, std::string>> levels;  // ("D", "pass"), ... for the levels present
};
DependencyGate gate_over(const Config& config, const std::vector<const StageRecord*>& deps);

// The JSON text a never-cached or gate-aware stage gets from run_context()
// (plugin.h, ABI 1.5).
std::string run_context_json(const std::string& run_id, const Config& config, const std::vector<const StageRecord*>& deps);

// Why the gate over `deps` (every stage `stage` depends on, transitively,
// all finished) does not let `stage` start ("" when it does).
std::string gate_refusal(const StageConfig& stage, const Config& config, const std::vector<const StageRecord*>& deps);

}  // namespace wrt
