// Which source files an audit covers: workspace-relative globs (`*`, `?`,
// `[a-z]` within a path component, `**` across directories) or plain paths
// of files or directories (a directory means every .rs file below it).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace wrt::plugins::unsafe_audit {

// True when the '/'-separated relative `path` matches `pattern`.
bool glob_match(std::string_view pattern, std::string_view path);

// Sorted, unique workspace-relative paths of the regular files the patterns
// select under `root`. Hidden directories (.git, .wrt) and build
// directories (those holding a CACHEDIR.TAG, such as cargo's target/) are
// not searched. Throws std::runtime_error for a plain path that does not
// exist or a pattern that leaves the workspace.
std::vector<std::string> expand_sources(const std::filesystem::path& root, const std::vector<std::string>& patterns);

}  // namespace wrt::plugins::unsafe_audit
