// Workspace-relative glob patterns for stage inputs.
// Syntax: `*` matches within one path component, `?` one character, `[abc]`
// / `[a-z]` / `[!a]` a character class, and a component that is exactly `**`
// matches zero or more whole components ("src/**/*.c" matches "src/a.c" and
// "src/x/y/a.c"). Paths use '/' and never start with "./".
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/result.h"

namespace wrt {

bool glob_match(std::string_view pattern, std::string_view path);
bool has_wildcard(std::string_view pattern);
// Error text if `pattern` is malformed (unclosed '[', absolute, contains
// "..", empty, contains a NUL); empty string when valid.
std::string glob_pattern_error(std::string_view pattern);

// Expands patterns against the files of a workspace. Directory walks are
// cached per directory, so many stages with patterns under the same folder
// walk it once. Thread-safe.
class GlobExpander {
 public:
  // `skip_dirs` are workspace-relative directories never descended into
  // (e.g. ".wrt", ".git").
  GlobExpander(std::filesystem::path workspace, std::vector<std::string> skip_dirs);

  // Sorted, de-duplicated workspace-relative paths of regular files (and
  // symlinks to them) matching `pattern`. A literal pattern (no wildcard)
  // yields that one path if it is a file, every file below it if it is a
  // directory, and nothing if it does not exist.
  Result<std::vector<std::string>> expand(const std::string& pattern);

  // Forget cached walks (after stages may have created files).
  void invalidate();

 private:
  const std::vector<std::string>& files_under(const std::string& dir);  // cached walk, recursive
  std::filesystem::path root_;
  std::vector<std::string> skip_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::string>> walks_;
};

}  // namespace wrt
