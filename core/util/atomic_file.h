// Whole-file writes that a reader, or a crash, never sees half done.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

#include "core/util/result.h"

namespace wrt {

// Writes `file` through a temp file beside it (same file system) and
// rename(2), so a reader sees the old content or all of the new. Parent
// directories are created. `fill` writes the content; if it or the write
// fails (or `fill` throws), the temp file is removed, `file` is left as it
// was, and the error names `file` and the reason. Safe to call from several
// threads and processes at once (each call has its own temp file; the last
// rename wins). No fsync: readers of wrt's files reject or rebuild a torn one.
Status write_file_atomically(const std::filesystem::path& file, const std::function<void(std::ostream&)>& fill);

// The same with the content given at once.
Status write_file_atomically(const std::filesystem::path& file, std::string_view content);

}  // namespace wrt
