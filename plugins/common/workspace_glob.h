// Workspace file globs for plugins (which cannot use the core's glob), with
// the same rules as wrt.toml inputs: `*` and `?` match within one path
// component, `[a-z]`/`[!a]` a character class, a `**` component any number
// of directories (including none). .wrt/ and .git/ are never walked.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wrt::plugins {

// True when the workspace-relative `path` ("src/a/b.rs") matches `pattern`.
bool glob_match(std::string_view pattern, std::string_view path);

// Sorted, de-duplicated workspace-relative regular files matching any of
// `patterns`. A pattern without wildcards names a file directly.
std::vector<std::string> expand_globs(const std::string& workspace, const std::vector<std::string>& patterns);

}  // namespace wrt::plugins
