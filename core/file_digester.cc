#include "core/file_digester.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fmt/core.h>

namespace wrt {

namespace {

// State file layout (native byte order: the file is local to this machine,
// like the inodes it records):
//   header  "WRTSTAT\n" | u32 version | u32 reserved | u64 entry count
//   entries u32 path length | path bytes | u64 size | i64 mtime_ns |
//           i64 ctime_ns | u64 inode | u32 mode | i64 hashed_at_ns | digest
//   footer  u64 checksum of everything before it
// The checksum matters because a flipped bit in a digest would otherwise be
// trusted for as long as the file's stat stays the same.
constexpr char kMagic[8] = {'W', 'R', 'T', 'S', 'T', 'A', 'T', '\n'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderSize = 8 + 4 + 4 + 8;
constexpr std::size_t kFixedEntrySize = 4 + 8 + 8 + 8 + 8 + 4 + 8 + 32;
constexpr std::size_t kMaxPathLength = 1 << 16;

// An entry is trusted only if the file was last written this long before it
// was hashed: timestamps are coarse (a kernel tick, or whole seconds on some
// filesystems), so a same-size write just after hashing could leave the stat
// unchanged. Matches the spirit of git's racy-index check.
constexpr std::int64_t kRacyWindowNs = 100'000'000;

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t to_ns(const timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

FileStat from_stat(const struct stat& st) {
  FileStat s;
  s.size = static_cast<std::uint64_t>(st.st_size);
  s.mtime_ns = to_ns(st.st_mtim);
  s.ctime_ns = to_ns(st.st_ctim);
  s.inode = static_cast<std::uint64_t>(st.st_ino);
  s.mode = static_cast<std::uint32_t>(st.st_mode);
  return s;
}

// Word-at-a-time mix: detects corruption of a 30k-entry file in about a
// millisecond, where a cryptographic hash is not needed (nothing adversarial
// can write into .wrt/ that could not also write the sources).
std::uint64_t checksum(const char* data, std::size_t n) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = 0x243F6A8885A308D3ull ^ n;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, data + i, n - i);
  h = (h ^ tail) * kMul;
  h ^= h >> 32;
  h *= kMul;
  h ^= h >> 29;
  return h;
}

template <typename T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Bounds-checked reader over the loaded bytes.
struct Reader {
  const char* p;
  std::size_t left;
  template <typename T>
  bool get(T& v) {
    if (left < sizeof v) return false;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    left -= sizeof v;
    return true;
  }
  bool bytes(std::string& s, std::size_t n) {
    if (left < n) return false;
    s.assign(p, n);
    p += n;
    left -= n;
    return true;
  }
};

bool read_all(const std::filesystem::path& path, std::string& out, int& err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      ::close(fd);
      return false;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<FileStat> stat_file(const std::filesystem::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Error{fmt::format("{}: {}", path.string(), std::strerror(errno))};
  if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", path.string())};
  return from_stat(st);
}

FileDigester::FileDigester(std::filesystem::path workspace, std::filesystem::path state_file)
    : root_(std::move(workspace)), state_file_(std::move(state_file)) {}

void FileDigester::load(std::string* warning) {
  std::string data;
  int err = 0;
  if (!read_all(state_file_, data, err)) {
    if (err != ENOENT && warning)
      *warning = fmt::format("{}: cannot read file digest cache ({}); rebuilding it", state_file_.string(),
                             std::strerror(err));
    if (err != ENOENT) {
      std::lock_guard<std::mutex> lock(mu_);
      dirty_ = true;
    }
    return;
  }

  std::unordered_map<std::string, Entry> loaded;
  auto problem = [&]() -> std::string {
    if (data.size() < kHeaderSize + 8) return "truncated header";
    if (std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) return "not a wrt stat cache (bad magic)";
    Reader r{data.data() + sizeof kMagic, data.size() - sizeof kMagic};
    std::uint32_t version = 0, reserved = 0;
    std::uint64_t count = 0;
    r.get(version);
    r.get(reserved);
    r.get(count);
    if (version != kVersion) return fmt::format("unsupported version {} (expected {})", version, kVersion);
    std::uint64_t stored_sum = 0;
    std::memcpy(&stored_sum, data.data() + data.size() - 8, 8);
    if (stored_sum != checksum(data.data(), data.size() - 8)) return "checksum mismatch (truncated or corrupt)";
    r.left -= 8;  // the footer
    // Bound the count by the bytes present before trusting it for reserve().
    if (count > r.left / kFixedEntrySize) return fmt::format("entry count {} exceeds file size", count);
    loaded.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint32_t len = 0;
      std::string path;
      Entry e{};
      if (!r.get(len)) return "truncated entry";
      if (len == 0 || len > kMaxPathLength) return fmt::format("entry {} has a bad path length {}", i, len);
      if (!r.bytes(path, len) || !r.get(e.stat.size) || !r.get(e.stat.mtime_ns) ||
          !r.get(e.stat.ctime_ns) || !r.get(e.stat.inode) || !r.get(e.stat.mode) ||
          !r.get(e.hashed_at_ns) || !r.get(e.digest))
        return "truncated entry";
      loaded.insert_or_assign(std::move(path), e);
    }
    if (r.left != 0) return fmt::format("{} trailing bytes", r.left);
    return {};
  }();

  std::lock_guard<std::mutex> lock(mu_);
  if (!problem.empty()) {
    if (warning)
      *warning = fmt::format("{}: corrupt file digest cache ({}); discarded and rebuilding it",
                             state_file_.string(), problem);
    entries_.clear();
    dirty_ = true;  // so save() replaces the bad file even on a no-op run
    return;
  }
  entries_ = std::move(loaded);
  dirty_ = false;
}

Result<Digest> FileDigester::digest(const std::string& rel_path) {
  // Taken before the stat so that any write the stat could have missed is
  // stamped no earlier than this, keeping the racy check conservative.
  const std::int64_t started = now_ns();
  const std::filesystem::path abs = root_ / rel_path;
  struct stat st;
  if (::stat(abs.c_str(), &st) != 0) return Error{fmt::format("{}: {}", rel_path, std::strerror(errno))};
  if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", rel_path)};
  const FileStat before = from_stat(st);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(rel_path);
    if (it != entries_.end() && it->second.stat == before &&
        before.mtime_ns < it->second.hashed_at_ns - kRacyWindowNs)
      return it->second.digest;
  }

  // Hashing happens outside the lock so threads hash different files at once.
  int fd = ::open(abs.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("{}: {}", rel_path, std::strerror(errno))};
  Sha256 h;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Error{fmt::format("{}: {}", rel_path, std::strerror(e))};
    }
    h.update(buf, static_cast<std::size_t>(n));
  }
  struct stat after_st;
  const bool have_after = ::fstat(fd, &after_st) == 0;
  ::close(fd);
  const Digest d = h.finish();

  std::lock_guard<std::mutex> lock(mu_);
  ++hashed_;
  // A file rewritten while it was read has no single content to remember;
  // leaving it out makes the next run hash it again.
  if (have_after && from_stat(after_st) == before) {
    entries_.insert_or_assign(rel_path, Entry{before, d, started});
    dirty_ = true;
  }
  return d;
}

void FileDigester::remember(const std::string& rel_path, const FileStat& stat, const Digest& digest) {
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mu_);
  entries_.insert_or_assign(rel_path, Entry{stat, digest, t});
  dirty_ = true;
}

Status FileDigester::save() {
  std::string data;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!dirty_) return Status::Ok();
    std::size_t bytes = kHeaderSize + 8;
    for (const auto& [path, e] : entries_) bytes += kFixedEntrySize + path.size();
    data.reserve(bytes);
    data.append(kMagic, sizeof kMagic);
    put(data, kVersion);
    put(data, std::uint32_t{0});
    put(data, static_cast<std::uint64_t>(entries_.size()));
    for (const auto& [path, e] : entries_) {
      put(data, static_cast<std::uint32_t>(path.size()));
      data += path;
      put(data, e.stat.size);
      put(data, e.stat.mtime_ns);
      put(data, e.stat.ctime_ns);
      put(data, e.stat.inode);
      put(data, e.stat.mode);
      put(data, e.hashed_at_ns);
      put(data, e.digest);
    }
    dirty_ = false;
  }
  put(data, checksum(data.data(), data.size()));

  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    dirty_ = true;
    return Error{fmt::format("{}: cannot write file digest cache: {}", state_file_.string(), what)};
  };
  std::error_code ec;
  if (state_file_.has_parent_path()) std::filesystem::create_directories(state_file_.parent_path(), ec);
  if (ec) return fail(ec.message());

  // No fsync: after a crash the loader's checksum rejects a torn file, and
  // losing this cache only costs re-hashing.
  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp = state_file_;
  tmp += fmt::format(".tmp.{}.{}", ::getpid(), counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(std::strerror(errno));
  bool ok = write_all(fd, data);
  int write_err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    write_err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return fail(std::strerror(write_err));
  }
  if (::rename(tmp.c_str(), state_file_.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return fail(std::strerror(e));
  }
  return Status::Ok();
}

}  // namespace wrt
