// The machine-readable result of a run (`wrt run --report FILE`).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/executor.h"
#include "core/result.h"

namespace wrt {

// {"wrt_version", "pipeline", "status", "duration_s", "stages": [...]}
nlohmann::json make_report(const RunOutcome& outcome, const std::string& pipeline, const std::string& status);

// Writes atomically (temp + rename), creating parent directories.
Status write_report(const std::filesystem::path& file, const nlohmann::json& report);

}  // namespace wrt
