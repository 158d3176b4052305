// The log a CI format shows for a stage (GitHub's ::group::, GitLab's
// collapsible section): only stages that ran have one, shown as the tool
// wrote it, and only its last 256 KiB (a note says where the whole log is).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/results/stage_record.h"

namespace wrt {

// nullopt for a stage that did not run (cached, skipped, pending, no log);
// else its log, ending with a newline (empty when the log is).
std::optional<std::string> ci_stage_log(const std::filesystem::path& workspace, const StageRecord& rec);

}  // namespace wrt
