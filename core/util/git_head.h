// The checkout's current commit and branch, read from .git directly: a run
// must start no process (a no-op run starts none), so no `git rev-parse`.
// Handles a .git directory, a .git file (worktrees, submodules: "gitdir:
// PATH"), loose and packed refs, and a detached HEAD.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace wrt {

struct GitHead {
  std::string commit;  // 40 (or 64) hex digits
  std::string branch;  // "" when detached
};

// nullopt when `workspace` (or a parent) is not a git checkout or HEAD
// cannot be resolved (an unborn branch).
std::optional<GitHead> read_git_head(const std::filesystem::path& workspace);

}  // namespace wrt
