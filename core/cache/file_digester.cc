#include "core/cache/file_digester.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <ctime>
#include <memory>
#include <fmt/core.h>

#include "core/util/atomic_file.h"
#include "core/util/state_file.h"

namespace wrt {

namespace {

// Stat cache payload (sealed by state_file.h, magic "WRTSTAT\n"):
//   u64 entry count, then per entry
//   u32 path length | path bytes | u64 size | i64 mtime_ns | i64 ctime_ns |
//   u64 inode | u32 mode | i64 hashed_at_ns | digest
// The checksum matters because a flipped bit in a digest would otherwise be
// trusted for as long as the file's stat stays the same.
constexpr char kMagic[9] = "WRTSTAT\n";
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kFixedEntrySize = 4 + 8 + 8 + 8 + 8 + 4 + 8 + 32;
constexpr std::size_t kMaxPathLength = 1 << 16;

std::int64_t to_ns(const timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

FileStat file_stat_of(const struct stat& st) {
  FileStat s;
  s.size = static_cast<std::uint64_t>(st.st_size);
  s.mtime_ns = to_ns(st.st_mtim);
  s.ctime_ns = to_ns(st.st_ctim);
  s.inode = static_cast<std::uint64_t>(st.st_ino);
  s.mode = static_cast<std::uint32_t>(st.st_mode);
  return s;
}

std::int64_t wall_clock_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return to_ns(ts);
}

Result<FileStat> stat_file(const std::filesystem::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Error{fmt::format("{}: {}", path.string(), std::strerror(errno))};
  if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", path.string())};
  return file_stat_of(st);
}

FileDigester::FileDigester(std::filesystem::path workspace, std::filesystem::path state_file)
    : root_(std::move(workspace)),
      root_fd_(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
      state_file_(std::move(state_file)) {}

FileDigester::~FileDigester() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

void FileDigester::reserve(std::size_t n, std::size_t path_bytes) {
  auto all = entries_.all();
  if (all.size() * 2 < n) all.reserve(n, path_bytes);
}

void FileDigester::load(std::string* warning) {
  bool missing = false;
  auto data = read_state_file(state_file_, &missing);
  if (!data) {
    if (missing) return;
    if (warning)
      *warning = fmt::format("{}: cannot read file digest cache ({}); rebuilding it", state_file_.string(),
                             data.error());
    dirty_ = true;
    return;
  }

  auto all = entries_.all();
  all.clear();
  auto problem = [&]() -> std::string {
    auto payload = unseal_state(data->view(), kMagic, kVersion);
    if (!payload) return payload.error() == "bad magic" ? "not a wrt stat cache (bad magic)" : payload.error();
    StateReader r(*payload);
    std::uint64_t count = 0;
    if (!r.count(count, kFixedEntrySize)) return "entry count exceeds file size";
    // The paths take what the payload has beyond the fixed part of each entry.
    all.reserve(static_cast<std::size_t>(count), r.left() - static_cast<std::size_t>(count) * kFixedEntrySize);
    for (std::uint64_t i = 0; i < count; ++i) {
      std::string_view path;
      Entry e{};
      if (!r.view(path)) return "truncated entry";
      if (path.empty() || path.size() > kMaxPathLength)
        return fmt::format("entry {} has a bad path length {}", i, path.size());
      if (!r.get(e.stat.size) || !r.get(e.stat.mtime_ns) || !r.get(e.stat.ctime_ns) || !r.get(e.stat.inode) ||
          !r.get(e.stat.mode) || !r.get(e.hashed_at_ns) || !r.get(e.digest))
        return "truncated entry";
      all.put(path, e);
    }
    if (r.left() != 0) return fmt::format("{} trailing bytes", r.left());
    return {};
  }();

  if (!problem.empty()) {
    if (warning)
      *warning = fmt::format("{}: corrupt file digest cache ({}); discarded and rebuilding it",
                             state_file_.string(), problem);
    all.clear();
    dirty_ = true;  // so save() replaces the bad file even on a no-op run
    return;
  }
  dirty_ = false;
}

Result<FileStat> FileDigester::stat_now(const std::string& rel_path) const {
  const bool relative = root_fd_ >= 0 && !rel_path.empty() && rel_path[0] != '/';
  const std::string abs = relative ? std::string() : (root_ / rel_path).string();
  struct stat st;
  if (::fstatat(relative ? root_fd_ : AT_FDCWD, relative ? rel_path.c_str() : abs.c_str(), &st, 0) != 0)
    return Error{fmt::format("{}: {}", rel_path, std::strerror(errno))};
  return file_stat_of(st);
}

bool FileDigester::changed_since_digest(const std::string& rel_path) {
  auto now = stat_now(rel_path);
  if (!now) return true;
  auto shard = entries_.shard(rel_path);
  auto* found = shard->find(rel_path);
  return !found || !(found->stat == *now);
}

std::optional<Digest> FileDigester::cached(const std::string& rel_path) {
  const bool relative = root_fd_ >= 0 && !rel_path.empty() && rel_path[0] != '/';
  const std::string abs = relative ? std::string() : (root_ / rel_path).string();
  struct stat st;
  if (::fstatat(relative ? root_fd_ : AT_FDCWD, relative ? rel_path.c_str() : abs.c_str(), &st, 0) != 0 ||
      !S_ISREG(st.st_mode))
    return std::nullopt;
  const FileStat now = file_stat_of(st);
  auto shard = entries_.shard(rel_path);
  auto* found = shard->find(rel_path);
  if (found && found->stat == now && now.mtime_ns < found->hashed_at_ns - kRacyWindowNs)
    return found->digest;
  return std::nullopt;
}

Result<Digest> FileDigester::digest(const std::string& rel_path, FileStat* stat_out, bool follow_symlinks,
                                    std::optional<std::string>* content) {
  if (content) content->reset();
  // Taken before the stat so that any write the stat could have missed is
  // stamped no earlier than this, keeping the racy check conservative.
  const std::int64_t started = wall_clock_ns();
  // Relative to the open workspace directory when there is one.
  const bool relative = root_fd_ >= 0 && !rel_path.empty() && rel_path[0] != '/';
  const std::string abs = relative ? std::string() : (root_ / rel_path).string();
  const int at = relative ? root_fd_ : AT_FDCWD;
  const char* name = relative ? rel_path.c_str() : abs.c_str();
  struct stat st;
  if (::fstatat(at, name, &st, follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
    return Error{fmt::format("{}: {}", rel_path, std::strerror(errno))};
  if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", rel_path)};
  const FileStat before = file_stat_of(st);
  if (stat_out) *stat_out = before;
  {
    auto shard = entries_.shard(rel_path);
    auto* found = shard->find(rel_path);
    if (found && found->stat == before &&
        before.mtime_ns < found->hashed_at_ns - kRacyWindowNs)
      return found->digest;
  }

  // Hashing happens outside the lock so threads hash different files at once.
  int fd = ::openat(at, name, O_RDONLY | O_CLOEXEC | (follow_symlinks ? 0 : O_NOFOLLOW));
  if (fd < 0) return Error{fmt::format("{}: {}", rel_path, std::strerror(errno))};
  Sha256 h;
  // Large files in 1 MiB reads (a sixteenth of the system calls of 64 KiB
  // ones; the kernel reads ahead sequentially); one buffer per thread.
  thread_local std::unique_ptr<char[]> big;
  char small[1 << 16];
  char* buf = small;
  std::size_t buf_size = sizeof small;
  if (before.size > (1u << 20)) {
    if (!big) big.reset(new char[1u << 20]);
    buf = big.get();
    buf_size = 1u << 20;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  std::string keep;  // the bytes read, for `content`
  bool keep_all = content != nullptr && before.size <= kKeptContent;
  std::uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, buf_size);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Error{fmt::format("{}: {}", rel_path, std::strerror(e))};
    }
    h.update(buf, static_cast<std::size_t>(n));
    if (keep_all && keep.size() + static_cast<std::size_t>(n) <= kKeptContent)
      keep.append(buf, static_cast<std::size_t>(n));
    else
      keep_all = false;
    total += static_cast<std::uint64_t>(n);
    // A short read that ends where the stat said the file ends is its end:
    // no read of zero bytes to confirm it (one system call in six for the
    // small inputs of a fresh checkout). A file that grew meanwhile fills
    // the buffer or reads on past the size; either way the stat after the
    // read below tells a changed file from an unchanged one.
    if (static_cast<std::size_t>(n) < buf_size && total == before.size) break;
  }
  struct stat after_st;
  const bool have_after = ::fstat(fd, &after_st) == 0;
  ::close(fd);
  const Digest d = h.finish();

  hashed_.fetch_add(1, std::memory_order_relaxed);
  // A file rewritten while it was read has no single content to remember;
  // leaving it out makes the next run hash it again.
  if (have_after && file_stat_of(after_st) == before) {
    entries_.shard(rel_path)->put(rel_path, Entry{before, d, started});
    dirty_ = true;
    if (content && keep_all && keep.size() == before.size) *content = std::move(keep);
  }
  return d;
}

void FileDigester::remember(const std::string& rel_path, const FileStat& stat, const Digest& digest) {
  const std::int64_t t = wall_clock_ns();
  entries_.shard(rel_path)->put(rel_path, Entry{stat, digest, t});
  dirty_ = true;
}

Status FileDigester::save() {
  // Written straight to the file, entry by entry: a copy of the whole file
  // in memory was the peak of a run's last step (issue 17). The lock is
  // held while writing: save() runs once, after every stage has ended.
  auto all = entries_.all();
  if (!dirty_) return Status::Ok();
  std::uint64_t payload = 8;
  all.for_each([&](std::string_view path, const Entry&) { payload += kFixedEntrySize + path.size(); });
  Status st = write_file_atomically(state_file_, [&](std::ostream& out) {
    SealedStreamWriter w(out, kMagic, kVersion, payload);
    w.put(static_cast<std::uint64_t>(all.size()));
    all.for_each([&](std::string_view path, const Entry& e) {
      w.str(path);
      w.put(e.stat.size);
      w.put(e.stat.mtime_ns);
      w.put(e.stat.ctime_ns);
      w.put(e.stat.inode);
      w.put(e.stat.mode);
      w.put(e.hashed_at_ns);
      w.put(e.digest);
    });
    if (!w.finish()) throw std::runtime_error("the entries changed size while written");
  });
  if (!st) return Error{fmt::format("{}: cannot write file digest cache: {}", state_file_.string(), st.error())};
  dirty_ = false;
  return Status::Ok();
}

}  // namespace wrt
