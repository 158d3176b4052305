// The version text of the tools plugins drive (`gcc --version`), cached so a
// no-op run starts no process: a tool's answer is kept in
// <workspace>/.wrt/state/tools/<key>, where the key covers the resolved
// binary's path, size, mtime, ctime and inode and the arguments. Installing
// another version changes the binary's stat, so the cache never answers for
// a tool that changed (a wrapper script that calls another binary is only
// re-asked when the script itself changes). Entries are checksummed; a bad
// one is asked again. Shared by wrt and its worker processes (atomic writes).
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "core/util/result.h"

namespace wrt {

// Output of running `argv` (argv[0] resolved in PATH, or relative to
// `workspace` when it contains a '/'), from the cache when the binary is
// unchanged. Error when the tool is missing, cannot start or exits non-zero.
Result<std::string> cached_tool_version(const std::filesystem::path& workspace, const std::vector<std::string>& argv,
                                        const std::atomic<bool>* cancel);

}  // namespace wrt
