// Content digests of workspace files, remembered across runs in a stat cache
// so a no-op run re-reads no file whose (size, mtime, ctime, inode) is
// unchanged. Like git's index, an entry whose mtime is too close to the time
// it was hashed is "racy" and re-hashed next time, because a same-size edit
// within the filesystem's timestamp granularity would otherwise go unseen.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <atomic>
#include <optional>
#include <string>

#include "core/util/hash.h"
#include "core/util/result.h"
#include "core/util/sharded_map.h"

namespace wrt {

struct FileStat {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint64_t inode = 0;
  std::uint32_t mode = 0;  // st_mode
  bool operator==(const FileStat&) const = default;
};

// The fields of `st` the stat cache compares.
FileStat file_stat_of(const struct stat& st);

// lstat-free stat of a regular file (follows symlinks). Error names the path.
Result<FileStat> stat_file(const std::filesystem::path& path);

// A stat vouches for a file's content only if the file was last written this
// long before the content was recorded: timestamps are coarse (a kernel tick,
// or whole seconds on some filesystems), so a same-size write just after
// recording could leave the stat unchanged. The spirit of git's racy-index
// check; used by the stat cache and the config cache.
inline constexpr std::int64_t kRacyWindowNs = 100'000'000;
// The wall clock racy checks compare mtimes with, in nanoseconds.
std::int64_t wall_clock_ns();

class FileDigester {
 public:
  // `workspace`: absolute root that relative paths are resolved against.
  // `state_file`: where the stat cache is persisted (inside the workspace's
  // .wrt/ directory, never in a shared cache dir, since inodes are local).
  FileDigester(std::filesystem::path workspace, std::filesystem::path state_file);
  ~FileDigester();
  FileDigester(const FileDigester&) = delete;
  FileDigester& operator=(const FileDigester&) = delete;

  // Reads the state file. A missing file is fine; an unreadable or corrupt
  // one is discarded and `warning` says why (never an error: it is a cache).
  void load(std::string* warning);

  // Digest of the regular file at workspace-relative `rel_path`, from the
  // stat cache when its stat is unchanged and not racy, else by hashing.
  // Thread-safe. Error (naming the path) when missing or unreadable.
  // `stat_out`, when given, receives the file's stat (saves the caller one).
  // With `follow_symlinks` false a symlink at `rel_path` itself is an error
  // ("not a regular file"), as outputs must be checked.
  // `content`, when given, receives the bytes that were hashed if the file
  // was read (not answered from the stat cache), is at most kKeptContent
  // bytes, and did not change while it was read; else it stays empty. For
  // callers that would read the file again right away (storing an output).
  static constexpr std::uint64_t kKeptContent = 1u << 16;
  Result<Digest> digest(const std::string& rel_path, FileStat* stat_out = nullptr, bool follow_symlinks = true,
                        std::optional<std::string>* content = nullptr);

  // The digest the stat cache holds for the file, when its stat is unchanged
  // and not racy; nullopt when digest() would have to read it (or it is not
  // a readable regular file). Never hashes. Thread-safe.
  std::optional<Digest> cached(const std::string& rel_path);

  // The file's stat now (following symlinks), without hashing: to see whether
  // an input changed while a stage ran. Thread-safe.
  Result<FileStat> stat_now(const std::string& rel_path) const;

  // Has the file changed since its digest was taken (or remembered)? True
  // when its stat now differs from the stat recorded with the digest, when
  // no digest is recorded, or when it is gone: the concurrent-change guard.
  bool changed_since_digest(const std::string& rel_path);

  // The open workspace directory (-1 if it could not be opened).
  int root_fd() const { return root_fd_; }

  // Tells the digester a file's content is known (e.g. just restored from the
  // cache or just hashed while storing it), to save a re-read. Thread-safe.
  void remember(const std::string& rel_path, const FileStat& stat, const Digest& digest);

  // Writes the state file atomically (temp + rename) if anything changed.
  Status save();

  // Room for about `n` files when fewer than half are known (a first run):
  // the table then does not grow by doubling, copying its entries and
  // leaving the old arrays as garbage, while the stages run. Untouched room
  // costs address space, not memory.
  // `path_bytes`: about how long their paths are in all.
  void reserve(std::size_t n, std::size_t path_bytes = 0);

  std::uint64_t files_hashed() const { return hashed_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    FileStat stat;
    Digest digest;
    std::int64_t hashed_at_ns;  // wall clock when the digest was taken
  };
  std::filesystem::path root_;
  // Open on root_: paths are resolved relative to it (fstatat/openat), which
  // spares the kernel walking the workspace's own path on every lookup.
  int root_fd_ = -1;
  std::filesystem::path state_file_;
  // By workspace-relative path; sharded because every stage's every input
  // and output is looked up here, from all threads at once.
  ShardedMap<Entry> entries_;
  std::atomic<bool> dirty_{false};
  std::atomic<std::uint64_t> hashed_{0};
};

}  // namespace wrt
