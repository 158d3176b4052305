// What the clang-tidy stage needs from a compilation database
// (compile_commands.json): the source files it lists, and which of them a
// `files` pattern selects.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins {

// The distinct source files of `json` (the content of `file`, named in
// errors) that lie inside `workspace`, workspace-relative, sorted. Relative
// entries are resolved against their "directory". Returns false and fills
// `error` when the JSON is malformed or not an array of entries.
bool compile_database_files(std::string_view json, const std::string& file, const std::string& workspace,
                            std::vector<std::string>* files, ParseError* error);

// `pattern` matches workspace-relative `path`: `*` and `?` within one path
// component, `[a-z]` a class, a `**` component any number of directories.
bool path_matches(std::string_view pattern, std::string_view path);

}  // namespace wrt::plugins
