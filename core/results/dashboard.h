// `wrt dashboard`: a self-contained static site of the workspace's results,
// the WRT guide's status dashboard. Everything comes from what runs
// recorded -- the run history (`.wrt/history/runs.jsonl`, oldest first) and
// the last result of every stage (`.wrt/state/last-results.json`) -- never
// from constants.
//
// One HTML file, no script, no external request: styles are inline and the
// trend charts are inline SVG, so it reads the same from file://, GitHub
// Pages or a printout. Every figure carries a `data-wrt` attribute naming
// what it is (`data-wrt="stage-status" data-stage="build"`), so a test (or
// a scraper) reads the figures back without parsing prose.
//
// Sections: the latest run (status, commit, gate), summary figures, the
// safety gate per ASIL level, the ASIL verification matrix (component x
// level), trends over the history (run duration, cache hit rate, coverage,
// verification and test counts), every stage's latest status, the slowest
// and the flaky stages, and deployments (each environment's current release
// from the deploy ledgers, their last entries, a broken chain).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/deployments.h"
#include "core/results/last_results.h"

namespace wrt {

struct DashboardComponent {
  std::string name;
  std::string asil;  // "QM" .. "D"
};

struct DashboardInput {
  std::string project;                        // shown in the title
  std::vector<nlohmann::json> runs;           // history records, oldest first
  LastResults last;                           // every stage's latest result
  std::vector<DashboardComponent> components; // from wrt.toml (may be empty)
  std::string generated_at;                   // UTC, ISO 8601
  std::vector<DeploymentLedger> deployments;  // the deploy stages' ledgers
};

// Figures derived from one history record, shared by the page and its tests.
struct RunFigures {
  int stages = 0;
  int cached = 0;
  double cache_hit_rate = 0;  // percent of the run's stages served from the cache
  // Sums over the run's stages' metrics; negative when no stage reported one.
  double tests_passed = -1, tests_failed = -1;
  double verification_passed = -1, verification_failed = -1, verification_inconclusive = -1;
};
RunFigures run_figures(const nlohmann::json& record);

// The page. Stage, component and metric names are escaped; at most
// `kMaxStageRows` stages are listed (failures first).
constexpr std::size_t kMaxStageRows = 1000;
std::string dashboard_html(const DashboardInput& in);

}  // namespace wrt
