// The machine-readable result of a run (`wrt run --report FILE`).
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/results/stage_record.h"
#include "core/util/result.h"

namespace wrt {

// "2026-11-30T17:40:12.345Z" (UTC); "" for 0.
std::string iso8601_ms(std::int64_t ms_since_epoch);

// One stage's entry in the report's "stages" array.
nlohmann::json stage_report(const StageRecord& r);
// A stage record read back from its report object (`wrt report merge`):
// name, plugin, status, key, reason, ASIL, component, results, output paths.
StageRecord stage_from_report(const nlohmann::json& stage);

// Writes {"wrt_version", "pipeline", "status", "duration_s", "started_at",
// "finished_at", "commit", "branch" (null outside git), ["gate"], "stages": [...]} as indented JSON. Stages are written one at a time, so a
// report over 10,000 stages never holds the whole document in memory.
// `gate` may be null (no safety gate applies).
void stream_report(std::ostream& out, const RunOutcome& outcome, const std::string& pipeline,
                   const std::string& status, const nlohmann::json* gate);

// stream_report() to `file` atomically (temp + rename), creating parent
// directories.
Status write_report(const std::filesystem::path& file, const RunOutcome& outcome, const std::string& pipeline,
                    const std::string& status, const nlohmann::json* gate);

}  // namespace wrt
