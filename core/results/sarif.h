// The findings of a run as one SARIF 2.1.0 log, the format code-scanning
// services (GitHub, GitLab, IDE viewers) import: one SARIF `run` per plugin,
// its rules, and a result per finding located relative to the workspace.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/stage_results.h"
#include "core/util/result.h"

namespace wrt {

// The findings one stage reported, with the plugin that produced them.
struct SarifStageFindings {
  std::string stage;
  std::string plugin;
  std::string plugin_version;
  std::vector<Finding> findings;
};

// One SARIF run per plugin with findings (stages of the same plugin share
// it, in input order), tool.driver.name "wrt/<plugin>". File paths are
// taken as workspace-relative and written as percent-encoded URIs against
// the uriBaseId %SRCROOT%, which originalUriBaseIds maps to
// `workspace_dir` (absolute) as a file:// URI; absolute paths outside the
// workspace become file:// URIs of their own. A finding without a file has
// no location; one without a line has no region.
nlohmann::json findings_to_sarif(const std::vector<SarifStageFindings>& stages, const std::string& workspace_dir);

// Writes `log` to `path` atomically (temp file in the same directory, then
// rename), creating missing parent directories.
Status write_sarif(const std::string& path, const nlohmann::json& log);

// RFC 3986 percent-encoding of a path: every byte except unreserved
// characters and '/' becomes %XX, so spaces, '%', '#', '?', ':' and
// non-ASCII UTF-8 survive as one URI path.
std::string sarif_uri_path(const std::string& path);

}  // namespace wrt
