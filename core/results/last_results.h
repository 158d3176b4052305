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

struct LastResult {
  std::string status;       // a StageRecord status other than pending
  std::string cache_key;
  std::string component;
  std::string asil;         // "" when none
  std::string finished_at;  // UTC, ISO 8601
  std::vector<LastTest> tests;
};

using LastResults = std::map<std::string, LastResult>;

// Missing or unreadable file -> empty (a warning in `warning`).
LastResults load_last_results(const std::filesystem::path& workspace, std::string* warning = nullptr);

// Merges the records that ran or were served from the cache (not pending)
// into the file, atomically.
Status save_last_results(const std::filesystem::path& workspace, const std::vector<StageRecord>& records);

}  // namespace wrt
