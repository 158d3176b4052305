// The latest outcome of every stage in this workspace, merged over runs
// (`.wrt/state/last-results.json`), so `wrt status` and `wrt trace` can
// speak about stages that the last run did not cover.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/results/stage_record.h"
#include "core/util/result.h"

namespace wrt {

struct LastTest {
  std::string name;    // "suite/name", or "name" without a suite
  std::string status;  // passed | failed | skipped | flaky
};

// An artifact the stage reported (a coverage report, a trail); `sha256`
// (hex) when it is one of the stage's declared outputs, whose digest the run
// recorded, else "" (its content is vouched for by nothing).
struct LastArtifact {
  std::string path;
  std::string kind;
  std::string sha256;
};

struct LastResult {
  std::string status;       // a StageRecord status other than pending
  std::string cache_key;
  std::string component;
  std::string asil;         // "" when none
  std::string finished_at;  // UTC, ISO 8601
  std::vector<LastTest> tests;
  std::vector<LastArtifact> artifacts;
  std::string run_id;       // the run that wrote this result
};

using LastResults = std::map<std::string, LastResult>;

// Missing or unreadable file -> empty (a warning in `warning`).
LastResults load_last_results(const std::filesystem::path& workspace, std::string* warning = nullptr);

// Merges the records that ran or were served from the cache (not pending)
// into the file, atomically. A run whose records match what the file holds
// already (a repeated run) does not rewrite it, only confirms it: see
// last_run_stages.
Status save_last_results(const std::filesystem::path& workspace, const std::vector<StageRecord>& records,
                         const std::string& run_id);

// The id of the last run that wrote or confirmed the file ("" when unknown)
// and the id of the run that wrote it: the stages of the last run are the
// results whose run_id is `written_by`.
struct LastRunIds {
  std::string last;
  std::string written_by;
};
LastRunIds last_run_ids(const std::filesystem::path& workspace);

}  // namespace wrt
