// A stage's declared outputs as files on disk: listing them after a run and
// writing them back on a cache hit, both confined to the workspace.
//
// Cache entries may come from a directory shared with other checkouts and
// machines, so nothing an entry says is allowed to decide *where* wrt writes:
//   - an entry may name only paths inside the stage's declared outputs, never
//     inside .git/, .wrt/, the cache directory or wrt.toml itself;
//   - every directory on the way to a restored path is opened one component
//     at a time with O_NOFOLLOW, so a symlink in the workspace cannot redirect
//     a write (a symlinked parent makes the restore fail, i.e. a miss);
//   - symlink outputs are data (their target text), stored and restored as
//     symlinks, and only when their target stays inside the workspace.
// Files named ".wrt-restore.*" are temp files of an interrupted restore; the
// listing removes them instead of caching them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/hash.h"
#include "core/util/result.h"

namespace wrt {

enum class OutputKind : std::uint8_t { kFile = 0, kSymlink = 1, kDir = 2 };

std::string_view output_kind_name(OutputKind k);

// Prefix of restore temp files, which live beside their destination so the
// final rename stays on one file system.
inline constexpr std::string_view kRestoreTempPrefix = ".wrt-restore.";

// One path under a declared output, as found on disk.
struct ListedOutput {
  std::string path;            // workspace-relative, '/'-separated
  OutputKind kind = OutputKind::kFile;
  std::string target;          // symlinks: the link text
  std::uint64_t size = 0;      // files: bytes
  bool executable = false;     // files: owner execute bit
};

// Lists what is under each declared output (a file, a symlink, or a
// directory walked without following symlinks; empty directories are listed
// so they survive a round trip), sorted by path. Error (one line, naming the
// output) when a declared output is missing, a parent of one is a symlink, a
// symlink points outside the workspace or is absolute, or something is
// neither file, directory nor symlink.
Result<std::vector<ListedOutput>> list_output_tree(int workspace_fd, const std::vector<std::string>& declared);

// A clean workspace-relative path: not absolute, no empty, "." or ".."
// component, no control character. What every path read back from a cache
// entry or the run index must be.
bool is_clean_relative_path(std::string_view path);

// Is `path` allowed to be written by a cache restore of a stage declaring
// `declared`? Checks, in order: a clean relative path (no empty, "." or ".."
// component, no control character), not protected (first component .wrt or
// any component .git, wrt.toml at the root, inside `cache_dir_rel` when the
// cache directory is in the workspace), and equal to or below one declared
// output. The error says which rule failed.
Status check_restorable_path(std::string_view path, const std::vector<std::string>& declared,
                             std::string_view cache_dir_rel);

// Opens directory `rel_dir` ("" = the workspace itself) below `workspace_fd`
// one component at a time, never following a symlink; creates missing
// components when `create`. Returns an O_DIRECTORY fd the caller closes.
Result<int> open_dir_beneath(int workspace_fd, std::string_view rel_dir, bool create);

// Removes restore temp files (kRestoreTempPrefix) from the open directory
// `dir_fd`: leftovers of a restore killed before its rename. Only safe while
// no other restore writes there (the checkout lock). Returns how many.
int remove_restore_temps(int dir_fd);

// Restores a symlink or an (empty) directory at workspace-relative `path`
// (files are restored by CacheStore::restore_file_at). Confined as above.
Status restore_symlink(int workspace_fd, const std::string& path, const std::string& target);
Status restore_dir(int workspace_fd, const std::string& path);

// Removes the declared output at workspace-relative `path` -- a file, a
// symlink (not what it points to) or a directory with everything below it --
// without following a symlink anywhere on the way (open_dir_beneath). A
// missing path is not an error. The error names the path that could not be
// removed.
Status remove_output(int workspace_fd, const std::string& path);

// Is the symlink's target inside the workspace? `link_path` is the
// workspace-relative path of the link. Relative targets only.
bool symlink_stays_inside(std::string_view link_path, std::string_view target);

// The digest wrt records for a symlink: over its target text, so that the
// outputs digest changes when a link is re-pointed.
Digest symlink_digest(std::string_view target);

}  // namespace wrt
