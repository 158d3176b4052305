#include "core/cache/cache_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/core.h>

namespace wrt {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct CacheStore::State {
  // Shared by put/restore/get, exclusive for gc/verify.
  std::shared_mutex mu;
  // Blobs at least this new that no entry references may belong to a
  // put_file → put_entry sequence still under way in this process; gc keeps
  // them. (Other processes are excluded by the flock instead.)
  timespec opened_at{};

  std::mutex estimate_mu;
  bool have_estimate = false;
  std::uint64_t estimate_base = 0;
  std::uint64_t written_at_base = 0;
  std::int64_t walked_at = 0;  // when estimate_base's figure was last measured by a walk (unix s)
  std::atomic<std::uint64_t> written{0};

  // See removal_mark(): read once by open().
  std::string removal_mark;
};

namespace {

constexpr int kEntryVersion = 3;
constexpr std::size_t kCopyBufferSize = 1 << 18;
constexpr time_t kStaleTempSeconds = 3600;
// An entry whose mtime is younger than this is not touched again on a hit.
constexpr time_t kTouchIntervalSeconds = 3600;

std::string err_text(int e) { return std::error_code(e, std::generic_category()).message(); }

int flock_retry(int fd, int op) {
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

int write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// pid + thread id + counter is unique on one host; the random token keeps
// names apart when the store is on a network filesystem shared by hosts
// whose pids collide.
std::string unique_name(std::string_view prefix) {
  static const std::string token = [] {
    std::random_device rd;
    return fmt::format("{:08x}", rd());
  }();
  static std::atomic<std::uint64_t> counter{0};
  return fmt::format("{}{}.{}.{}.{}", prefix, ::getpid(), token, static_cast<long>(::syscall(SYS_gettid)),
                     counter.fetch_add(1, std::memory_order_relaxed));
}

// A file that becomes visible under its final name only through rename(2),
// and is unlinked unless published.
class TempFile {
 public:
  TempFile() = default;
  ~TempFile() { discard(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  Status create(const fs::path& dir, std::string_view prefix) {
    for (int attempt = 0;; ++attempt) {
      fs::path p = dir / unique_name(prefix);
      int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd >= 0) {
        path_ = std::move(p);
        fd_ = fd;
        return {};
      }
      // EEXIST only if a crashed process with a recycled pid left one behind.
      if (errno != EEXIST || attempt >= 100)
        return Error{fmt::format("cannot create temp file {}: {}", p.string(), err_text(errno))};
    }
  }

  int fd() const { return fd_; }
  const fs::path& path() const { return path_; }

  Status write(const char* data, std::size_t size) {
    if (int e = write_all(fd_, data, size))
      return Error{fmt::format("cannot write {}: {}", path_.string(), err_text(e))};
    return {};
  }

  // Network filesystems may report deferred write errors only here.
  Status close() {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0)
      return Error{fmt::format("cannot write {}: {}", path_.string(), err_text(errno))};
    return {};
  }

  Status publish(const fs::path& dest) {
    if (auto s = close(); !s) return s;
    if (::rename(path_.c_str(), dest.c_str()) != 0)
      return Error{fmt::format("cannot write {}: {}", dest.string(), err_text(errno))};
    path_.clear();
    return {};
  }

  // publish() into a shard directory, made if missing (into_shard).
  Status publish_into_shard(const fs::path& dest);

  // The file was moved away (closed already): nothing to remove.
  void forget() { path_.clear(); }

  void discard() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!path_.empty()) {
      ::unlink(path_.c_str());
      path_.clear();
    }
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

struct Copied {
  Digest digest{};
  std::uint64_t size = 0;
};

// Reads `in` to the end, hashing every byte and handing it to `sink`, so the
// source is read only once.
template <typename Sink>
Result<Copied> copy_hashing(int in, const fs::path& in_name, Sink&& sink) {
  // One buffer per thread, not zero-filled: allocating and clearing it per
  // stored file cost more than hashing a stage's small outputs.
  thread_local std::unique_ptr<char[]> buffer(new char[kCopyBufferSize]);
  struct {
    char* ptr;
    char* data() { return ptr; }
    std::size_t size() const { return kCopyBufferSize; }
  } buf{buffer.get()};
  Sha256 h;
  Copied c;
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{fmt::format("cannot read {}: {}", in_name.string(), err_text(errno))};
    }
    h.update(buf.data(), static_cast<std::size_t>(n));
    if (Status s = sink(buf.data(), static_cast<std::size_t>(n)); !s) return Error{s.error()};
    c.size += static_cast<std::uint64_t>(n);
  }
  c.digest = h.finish();
  return c;
}

struct ReadResult {
  int err = 0;
  std::string data;
  dev_t dev = 0;
  ino_t ino = 0;
  time_t mtime = 0;
};

ReadResult read_whole(const fs::path& p) {
  ReadResult r;
  FdGuard fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    r.err = errno;
    return r;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    r.err = errno;
    return r;
  }
  r.dev = st.st_dev;
  r.ino = st.st_ino;
  r.mtime = st.st_mtim.tv_sec;
  // Straight into the result; a short read that ends at the size fstat gave
  // is the end (the store's files are written once, by rename, and checked
  // against their checksums after): no read of zero bytes to confirm it.
  const std::size_t expected = st.st_size > 0 ? static_cast<std::size_t>(st.st_size) : 0;
  std::size_t have = 0;
  for (;;) {
    const std::size_t room = have <= expected ? expected + 1 - have : std::size_t{1} << 14;
    r.data.resize(have + room);
    ssize_t n = ::read(fd.get(), r.data.data() + have, room);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      r.err = errno;
      r.data.clear();
      return r;
    }
    have += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < room && have == expected) break;
  }
  r.data.resize(have);
  return r;
}

// "removed", or why not: the caller's message ends with it.
std::string remove_file(const fs::path& p) {
  if (::unlink(p.c_str()) == 0 || errno == ENOENT) return "removed";
  return fmt::format("could not remove it: {}", err_text(errno));
}

// Another process may have replaced the file with a good copy (rename) since
// we read the bad one; only the file we judged is removed.
std::string remove_if_same(const fs::path& p, dev_t dev, ino_t ino) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0 || st.st_dev != dev || st.st_ino != ino) return "removed";
  return remove_file(p);
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// 64 lowercase hex digits -> the digest, checked and converted in one pass
// (a hit reads five or six such digests from its entry).
bool lower_hex_to_digest(std::string_view h, Digest& d) {
  if (h.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(h[2 * i]), lo = nibble(h[2 * i + 1]);
    if ((hi | lo) < 0) return false;
    d[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

// Keys become file names; anything but hex could escape the entries dir.
bool valid_key(std::string_view key) { return key.size() >= 3 && key.size() <= 128 && is_lower_hex(key); }

constexpr std::string_view kEntryMagic = "wrt-entry";

json encode_output(const CachedFile& f) {
  json o{{"path", f.path}, {"kind", std::string(output_kind_name(f.kind))}};
  switch (f.kind) {
    case OutputKind::kFile:
      o["digest"] = to_hex(f.digest);
      o["size"] = f.size;
      o["executable"] = f.executable;
      break;
    case OutputKind::kSymlink:
      o["target"] = f.target;
      break;
    case OutputKind::kDir:
      break;
  }
  return o;
}

// The entry file: "wrt-entry 3 <sha256 of body>\n<body>", where the body is
// a line of JSON that names its key, then the inlined blobs' bytes one after
// the other, in the order (and of the sizes) its "inlined" list gives. The
// checksum catches damage anywhere in the body; the key catches an intact
// entry copied or renamed to another key. (JSON as nlohmann dumps it never
// holds a raw newline: one in a string is written "\n".)
std::string encode_entry(const std::string& key_hex, const CacheEntry& e) {
  std::vector<const CachedFile*> sorted;
  for (const auto& f : e.outputs) sorted.push_back(&f);
  // Two writers of one key then write byte-identical entries.
  std::sort(sorted.begin(), sorted.end(), [](const CachedFile* a, const CachedFile* b) { return a->path < b->path; });
  json outputs = json::array();
  for (const CachedFile* f : sorted) outputs.push_back(encode_output(*f));
  std::vector<const InlinedBlob*> blobs;
  for (const auto& b : e.inlined) blobs.push_back(&b);
  std::sort(blobs.begin(), blobs.end(), [](const InlinedBlob* a, const InlinedBlob* b) { return a->digest < b->digest; });
  json inlined = json::array();
  std::size_t tail = 0;
  for (const InlinedBlob* b : blobs) {
    inlined.push_back(json{{"digest", to_hex(b->digest)}, {"size", b->bytes.size()}});
    tail += b->bytes.size();
  }
  json j = json::object();
  j["version"] = kEntryVersion;
  j["key"] = key_hex;
  j["result"] = e.result;
  j["outputs"] = std::move(outputs);
  j["log"] = e.log ? json(to_hex(*e.log)) : json(nullptr);
  if (e.log) {
    j["log_encoding"] = e.log_encoding;
    j["log_truncated"] = e.log_truncated;
  }
  j["inlined"] = std::move(inlined);
  std::string body = j.dump();
  body.reserve(body.size() + 1 + tail);
  body += '\n';
  for (const InlinedBlob* b : blobs) body += b->bytes;
  return fmt::format("{} {} {}\n{}", kEntryMagic, kEntryVersion, to_hex(sha256(body)), body);
}

std::optional<Digest> lower_hex_digest(const json& v) {
  if (!v.is_string()) return std::nullopt;
  Digest d{};
  if (!lower_hex_to_digest(v.get_ref<const std::string&>(), d)) return std::nullopt;
  return d;
}

// Where `digest` is, or would go, in an entry's `inlined` (sorted by digest).
template <typename Blobs>
auto find_inlined(Blobs& blobs, const Digest& digest) {
  return std::lower_bound(blobs.begin(), blobs.end(), digest,
                          [](const InlinedBlob& b, const Digest& x) { return b.digest < x; });
}

// What an entry's line of JSON declares of its inlined blobs: digest and
// size, in the entry's order; their bytes follow the line.
struct InlinedDecl {
  Digest digest{};
  std::uint64_t size = 0;
};

// Reads exactly the JSON encode_entry writes -- nlohmann's dump: members
// sorted by name, no spaces, numbers as plain decimals -- for strings of
// printable ASCII without escapes, checking what read_entry_json checks.
// Anything else (an escape, a byte above 0x7e, a member out of place, a
// number of 20 digits) is not an error here: it returns false and the
// general reader takes the line, with its messages. A hit reads one entry
// per stage; nlohmann's document for it was a third of a restore's CPU.
class CanonicalEntryReader {
 public:
  explicit CanonicalEntryReader(std::string_view line) : s_(line) {}

  bool read(const std::string& key_hex, CacheEntry& e, std::vector<InlinedDecl>& decl) {
    if (!lit("{\"inlined\":[")) return false;
    if (!lit("]")) {
      do {
        InlinedDecl d;
        if (!lit("{\"digest\":") || !hex64(d.digest) || !lit(",\"size\":") || !uint(d.size) || !lit("}")) return false;
        decl.push_back(d);
      } while (lit(","));
      if (!lit("]")) return false;
    }
    std::string_view key;
    if (!lit(",\"key\":") || !str(key) || key != key_hex) return false;
    if (!lit(",\"log\":")) return false;
    if (!lit("null")) {
      Digest log;
      std::string_view enc;
      bool truncated = false;
      if (!hex64(log) || !lit(",\"log_encoding\":") || !str(enc) || (enc != "" && enc != "zstd") ||
          !lit(",\"log_truncated\":") || !boolean(truncated))
        return false;
      e.log = log;
      e.log_encoding = std::string(enc);
      e.log_truncated = truncated;
    }
    if (!lit(",\"outputs\":[")) return false;
    if (!lit("]")) {
      do {
        CachedFile f;
        if (!output(f)) return false;
        if (!e.outputs.empty() && !(e.outputs.back().path < f.path)) return false;
        e.outputs.push_back(std::move(f));
      } while (lit(","));
      if (!lit("]")) return false;
    }
    if (!lit(",\"result\":")) return false;
    const std::size_t from = i_;
    if (!skip_value(0)) return false;
    e.result = json::parse(s_.substr(from, i_ - from), nullptr, /*allow_exceptions=*/false);
    if (e.result.is_discarded()) return false;
    return lit(fmt::format(",\"version\":{}}}", kEntryVersion)) && i_ == s_.size();
  }

 private:
  bool lit(std::string_view x) {
    if (s_.substr(i_, x.size()) != x) return false;
    i_ += x.size();
    return true;
  }
  // A string of printable ASCII without escapes.
  bool str(std::string_view& out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    std::size_t j = i_ + 1;
    for (; j < s_.size() && s_[j] != '"'; ++j)
      if (s_[j] < 0x20 || s_[j] > 0x7e || s_[j] == '\\') return false;
    if (j >= s_.size()) return false;
    out = s_.substr(i_ + 1, j - i_ - 1);
    i_ = j + 1;
    return true;
  }
  bool hex64(Digest& d) {
    std::string_view h;
    return str(h) && lower_hex_to_digest(h, d);
  }
  // 0, or up to 19 digits without a leading zero: always a uint64.
  bool uint(std::uint64_t& v) {
    std::size_t j = i_;
    v = 0;
    while (j < s_.size() && s_[j] >= '0' && s_[j] <= '9' && j - i_ < 20) v = v * 10 + static_cast<std::uint64_t>(s_[j++] - '0');
    const std::size_t n = j - i_;
    if (n == 0 || n > 19 || (n > 1 && s_[i_] == '0')) return false;
    if (j < s_.size() && (s_[j] == '.' || s_[j] == 'e' || s_[j] == 'E' || (s_[j] >= '0' && s_[j] <= '9'))) return false;
    i_ = j;
    return true;
  }
  bool boolean(bool& b) {
    if (lit("true")) return b = true, true;
    if (lit("false")) return b = false, true;
    return false;
  }
  bool output(CachedFile& f) {
    std::string_view path;
    if (lit("{\"digest\":")) {  // a file: digest, executable, kind, path, size
      if (!hex64(f.digest) || !lit(",\"executable\":") || !boolean(f.executable) || !lit(",\"kind\":\"file\"") ||
          !lit(",\"path\":") || !str(path) || !lit(",\"size\":") || !uint(f.size) || !lit("}"))
        return false;
      f.kind = OutputKind::kFile;
    } else if (lit("{\"kind\":\"dir\",\"path\":")) {
      if (!str(path) || !lit("}")) return false;
      f.kind = OutputKind::kDir;
    } else if (lit("{\"kind\":\"symlink\",\"path\":")) {
      std::string_view target;
      if (!str(path) || !lit(",\"target\":") || !str(target) || !lit("}")) return false;
      f.kind = OutputKind::kSymlink;
      f.target = std::string(target);
    } else {
      return false;
    }
    f.path = std::string(path);
    if (!is_clean_relative_path(f.path)) return false;
    if (f.kind == OutputKind::kSymlink) {
      if (!symlink_stays_inside(f.path, f.target)) return false;
      f.digest = symlink_digest(f.target);
    }
    return true;
  }
  // Past one JSON value (nlohmann parses it after): strings skipped whole,
  // brackets counted; at most 64 levels deep.
  bool skip_value(int depth) {
    if (depth > 64 || i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '"') {
      for (std::size_t j = i_ + 1; j < s_.size(); ++j) {
        if (s_[j] == '\\') {
          ++j;
          continue;
        }
        if (s_[j] == '"') {
          i_ = j + 1;
          return true;
        }
      }
      return false;
    }
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++i_;
      if (lit(std::string_view(&close, 1))) return true;
      for (;;) {
        if (c == '{') {
          if (i_ >= s_.size() || s_[i_] != '"' || !skip_value(depth + 1) || !lit(":")) return false;
        }
        if (!skip_value(depth + 1)) return false;
        if (lit(",")) continue;
        return lit(std::string_view(&close, 1));
      }
    }
    // A number or a literal: up to the next delimiter.
    std::size_t j = i_;
    while (j < s_.size() && s_[j] != ',' && s_[j] != '}' && s_[j] != ']' && s_[j] != ':') ++j;
    if (j == i_) return false;
    i_ = j;
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// The general reader of an entry's line of JSON: any valid JSON, with a
// message for what is wrong. Empty when the line is good.
std::optional<std::string> read_entry_json(std::string_view line, const std::string& key_hex, CacheEntry& e,
                                           std::vector<InlinedDecl>& decl) {
  auto fail = [](std::string w) { return std::optional<std::string>(std::move(w)); };
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail("not valid JSON");
  if (!j.is_object()) return fail("not a JSON object");
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() || version->get<std::int64_t>() != kEntryVersion)
    return fail(fmt::format("version is not {}", kEntryVersion));
  auto key = j.find("key");
  if (key == j.end() || !key->is_string() || key->get_ref<const std::string&>() != key_hex)
    return fail("it was written for another key");
  auto result = j.find("result");
  if (result == j.end()) return fail("no \"result\"");
  e.result = *result;
  auto outputs = j.find("outputs");
  if (outputs == j.end() || !outputs->is_array()) return fail("\"outputs\" is not an array");
  for (std::size_t i = 0; i < outputs->size(); ++i) {
    const json& o = (*outputs)[i];
    auto bad = [&](std::string_view what) { return fail(fmt::format("outputs[{}]: {}", i, what)); };
    if (!o.is_object()) return bad("not an object");
    CachedFile f;
    auto path = o.find("path");
    if (path == o.end() || !path->is_string() || !is_clean_relative_path(path->get_ref<const std::string&>()))
      return bad("\"path\" is not a relative path inside the workspace");
    f.path = path->get<std::string>();
    auto kind = o.find("kind");
    if (kind == o.end() || !kind->is_string()) return bad("\"kind\" is missing");
    const auto& k = kind->get_ref<const std::string&>();
    if (k == "file") {
      f.kind = OutputKind::kFile;
      auto digest = o.find("digest");
      std::optional<Digest> d;
      if (digest == o.end() || !(d = lower_hex_digest(*digest))) return bad("\"digest\" is not 64 hex digits");
      f.digest = *d;
      auto size = o.find("size");
      if (size == o.end() || !size->is_number_unsigned()) return bad("\"size\" is not a byte count");
      f.size = size->get<std::uint64_t>();
      auto exec = o.find("executable");
      if (exec == o.end() || !exec->is_boolean()) return bad("\"executable\" is not a boolean");
      f.executable = exec->get<bool>();
    } else if (k == "symlink") {
      f.kind = OutputKind::kSymlink;
      auto target = o.find("target");
      if (target == o.end() || !target->is_string() ||
          !symlink_stays_inside(f.path, target->get_ref<const std::string&>()))
        return bad("\"target\" is not a relative link inside the workspace");
      f.target = target->get<std::string>();
      f.digest = symlink_digest(f.target);
    } else if (k == "dir") {
      f.kind = OutputKind::kDir;
    } else {
      return bad("\"kind\" is not file, symlink or dir");
    }
    if (!e.outputs.empty() && !(e.outputs.back().path < f.path)) return bad("paths are not sorted and unique");
    e.outputs.push_back(std::move(f));
  }
  auto log = j.find("log");
  if (log == j.end()) return fail("no \"log\"");
  if (!log->is_null()) {
    e.log = lower_hex_digest(*log);
    if (!e.log) return fail("\"log\" is not 64 hex digits or null");
    auto enc = j.find("log_encoding");
    if (enc == j.end() || !enc->is_string() || (*enc != "" && *enc != "zstd"))
      return fail("\"log_encoding\" is not \"\" or \"zstd\"");
    e.log_encoding = enc->get<std::string>();
    auto trunc = j.find("log_truncated");
    if (trunc == j.end() || !trunc->is_boolean()) return fail("\"log_truncated\" is not a boolean");
    e.log_truncated = trunc->get<bool>();
  }
  auto inlined = j.find("inlined");
  if (inlined == j.end() || !inlined->is_array()) return fail("\"inlined\" is not an array");
  for (std::size_t i = 0; i < inlined->size(); ++i) {
    const json& b = (*inlined)[i];
    auto bad = [&](std::string_view what) { return fail(fmt::format("inlined[{}]: {}", i, what)); };
    if (!b.is_object()) return bad("not an object");
    auto digest = b.find("digest");
    std::optional<Digest> d;
    if (digest == b.end() || !(d = lower_hex_digest(*digest))) return bad("\"digest\" is not 64 hex digits");
    auto size = b.find("size");
    if (size == b.end() || !size->is_number_unsigned()) return bad("\"size\" is not a byte count");
    decl.push_back(InlinedDecl{*d, size->get<std::uint64_t>()});
  }
  return std::nullopt;
}

// Entries of any other version are treated as corrupt too: a format change
// comes with a new key schema (cache_key.cc), so old entries are never looked
// up, and gc removes them.
std::optional<CacheEntry> decode_entry(const std::string& key_hex, const std::string& text, std::string* why,
                                       bool canonical_first = true) {
  auto fail = [&](std::string w) {
    *why = std::move(w);
    return std::nullopt;
  };
  std::size_t nl = text.find('\n');
  if (nl == std::string::npos) return fail("no header line");
  std::string_view header(text.data(), nl);
  std::string_view body(text.data() + nl + 1, text.size() - nl - 1);
  const std::string want_prefix = fmt::format("{} {} ", kEntryMagic, kEntryVersion);
  if (header.substr(0, want_prefix.size()) != want_prefix)
    return fail(fmt::format("header is not \"{}<checksum>\"", want_prefix));
  std::string_view sum = header.substr(want_prefix.size());
  Digest want{};
  if (!lower_hex_to_digest(sum, want)) return fail("checksum is not 64 hex digits");
  if (sha256(body) != want) return fail("checksum mismatch");
  const std::size_t json_end = body.find('\n');
  if (json_end == std::string_view::npos) return fail("no line of JSON");
  std::string_view tail = body.substr(json_end + 1);
  const std::string_view line = body.substr(0, json_end);
  CacheEntry e;
  std::vector<InlinedDecl> decl;
  if (!canonical_first || !CanonicalEntryReader(line).read(key_hex, e, decl)) {
    e = CacheEntry{};
    decl.clear();
    if (auto bad = read_entry_json(line, key_hex, e, decl)) return fail(std::move(*bad));
  }
  // The inlined blobs: each checked against its digest here, once, so a
  // restore from the entry needs no second pass.
  e.inlined.reserve(decl.size());
  for (std::size_t i = 0; i < decl.size(); ++i) {
    auto bad = [&](std::string_view what) { return fail(fmt::format("inlined[{}]: {}", i, what)); };
    const Digest& d = decl[i].digest;
    const std::uint64_t n = decl[i].size;
    if (n > tail.size()) return bad("its bytes run past the end of the entry");
    if (!e.inlined.empty() && !(e.inlined.back().digest < d)) return bad("digests are not sorted and unique");
    if (sha256(tail.substr(0, n)) != d) return bad("its bytes do not match its digest");
    e.inlined.push_back(InlinedBlob{d, std::string(tail.substr(0, n))});
    e.inlined_bytes += n;
    tail.remove_prefix(n);
  }
  if (!tail.empty()) return fail(fmt::format("{} bytes after the inlined blobs", tail.size()));
  // Which outputs (and log) they are: every inlined blob belongs to one.
  std::vector<bool> used(e.inlined.size(), false);
  auto mark = [&](const Digest& d) -> const InlinedBlob* {
    auto it = find_inlined(e.inlined, d);
    if (it == e.inlined.end() || it->digest != d) return nullptr;
    used[static_cast<std::size_t>(it - e.inlined.begin())] = true;
    return &*it;
  };
  for (auto& f : e.outputs) {
    if (f.kind != OutputKind::kFile) continue;
    const InlinedBlob* b = mark(f.digest);
    f.inlined = b != nullptr;
    if (b && b->bytes.size() != f.size)
      return fail(fmt::format("output {}: its inlined content is not {} bytes", f.path, f.size));
  }
  if (e.log) e.log_inlined = mark(*e.log) != nullptr;
  for (std::size_t i = 0; i < used.size(); ++i)
    if (!used[i]) return fail(fmt::format("inlined[{}] is no output's or log's content", i));
  return e;
}

// What makes two results of one key different for the write-once check:
// the outputs and the status (metrics, durations and logs may vary).
std::vector<std::string> entry_differences(const CacheEntry& kept, const CacheEntry& fresh) {
  std::vector<std::string> diff;
  auto status = [](const CacheEntry& e) { return e.result.is_object() ? e.result.value("status", "") : ""; };
  if (status(kept) != status(fresh)) diff.push_back("status");
  std::map<std::string, const CachedFile*> a, b;
  for (const auto& f : kept.outputs) a[f.path] = &f;
  for (const auto& f : fresh.outputs) b[f.path] = &f;
  for (const auto& [p, f] : a) {
    auto it = b.find(p);
    if (it == b.end() || !same_output(*it->second, *f)) diff.push_back(p);
  }
  for (const auto& [p, f] : b)
    if (!a.count(p)) diff.push_back(p);
  return diff;
}

// Every blob an entry needs from the blob store, each once.
std::vector<std::string> referenced_blobs(const CacheEntry& e) {
  std::vector<std::string> refs;
  for (const auto& f : e.outputs)
    if (f.kind == OutputKind::kFile && !e.inlined_content(f.digest)) refs.push_back(to_hex(f.digest));
  if (e.log && !e.inlined_content(*e.log)) refs.push_back(to_hex(*e.log));
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  return refs;
}

struct StoredFile {
  fs::path path;
  std::string shard;
  std::string name;
  std::uint64_t size = 0;
  timespec mtime{};
};

bool operator<(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec < b.tv_sec : a.tv_nsec < b.tv_nsec;
}

Result<std::vector<std::string>> list_dir(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return names;
    return Error{fmt::format("cannot list {}: {}", dir.string(), ec.message())};
  }
  for (; it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return Error{fmt::format("cannot list {}: {}", dir.string(), ec.message())};
  return names;
}

// Calls `visit` for each regular file under `root`/<shard>/ (flat files
// under `root` when `flat`), holding one directory's names at a time: a
// walk that only sums sizes (stats) never has the whole store in memory
// (20,000 paths were 18 MB, the peak of a 10,000-stage full run; issue 17).
// Files that vanish while listing are skipped: other processes publish and
// readers remove corrupt files concurrently.
template <typename Visit>
Status walk_files(const fs::path& root, bool flat, Visit&& visit) {
  auto visit_dir = [&](const fs::path& dir, const std::string& shard) -> Status {
    auto names = list_dir(dir);
    if (!names) return Error{names.error()};
    for (const auto& name : *names) {
      fs::path p = dir / name;
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      visit(StoredFile{std::move(p), shard, name, static_cast<std::uint64_t>(st.st_size), st.st_mtim});
    }
    return {};
  };
  if (flat) return visit_dir(root, "");
  auto shards = list_dir(root);
  if (!shards) return Error{shards.error()};
  for (const auto& shard : *shards) {
    struct stat st {};
    fs::path d = root / shard;
    if (::lstat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (auto s = visit_dir(d, shard); !s) return s;
  }
  return {};
}

// The same files, listed.
Result<std::vector<StoredFile>> list_files(const fs::path& root, bool flat = false) {
  std::vector<StoredFile> out;
  if (auto s = walk_files(root, flat, [&](StoredFile&& f) { out.push_back(std::move(f)); }); !s)
    return Error{s.error()};
  return out;
}

bool valid_blob_file(const StoredFile& f) {
  return f.name.size() == 64 && is_lower_hex(f.name) && f.shard == f.name.substr(0, 2);
}

bool valid_entry_file(const StoredFile& f) { return valid_key(f.name) && f.shard == f.name.substr(0, 2); }

// rename(2) or link(2) into a shard directory (blobs/ab/, entries/ab/),
// making the directory only when the call says it is missing: a full run
// publishes two or three files per stage, and a mkdir before each that
// almost always finds the directory there was one more system call each.
// Returns 0 or the errno of the last attempt.
template <typename Op>
int into_shard(Op&& op, const fs::path& from, const fs::path& dest) {
  if (op(from.c_str(), dest.c_str()) == 0) return 0;
  if (errno != ENOENT) return errno;
  if (::mkdir(dest.parent_path().c_str(), 0755) != 0 && errno != EEXIST) return ENOENT;
  return op(from.c_str(), dest.c_str()) == 0 ? 0 : errno;
}

// Moves `from` to `dest` unless `dest` exists (then EEXIST): what link(2)
// does for write-once publishing, without the unlink of the temp file
// after it (one system call fewer per stored entry). Falls back to link(2)
// on file systems without RENAME_NOREPLACE; `*linked` then says `from` is
// still there.
int rename_noreplace(const char* from, const char* dest, bool* linked) {
  *linked = false;
  if (::renameat2(AT_FDCWD, from, AT_FDCWD, dest, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  *linked = true;
  return ::link(from, dest);
}

// Holds the store exclusively: in this process via the mutex, against other
// processes by converting this process's shared flock to exclusive.
class ExclusiveLock {
 public:
  ExclusiveLock(std::shared_mutex& mu, int fd) : guard_(mu), fd_(fd) {}
  ~ExclusiveLock() {
    if (held_) flock_retry(fd_, LOCK_SH);
  }
  ExclusiveLock(const ExclusiveLock&) = delete;
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;

  Status acquire(const fs::path& dir) {
    if (fd_ < 0) return Error{fmt::format("cache store {} is not open", dir.string())};
    if (int e = flock_retry(fd_, LOCK_EX)) {
      // flock drops the old lock before taking the new one; get it back.
      flock_retry(fd_, LOCK_SH);
      return Error{fmt::format("cannot lock {}: {}", (dir / "lock").string(), err_text(e))};
    }
    held_ = true;
    return {};
  }

 private:
  std::unique_lock<std::shared_mutex> guard_;
  int fd_;
  bool held_ = false;
};

Status TempFile::publish_into_shard(const fs::path& dest) {
  if (auto s = close(); !s) return s;
  if (int e = into_shard(::rename, path_, dest))
    return Error{fmt::format("cannot write {}: {}", dest.string(), err_text(e))};
  path_.clear();
  return {};
}

// The caller holds State::mu shared for the whole put, so a gc in this
// process cannot run between the existence check and the rename.
Status publish_blob(TempFile& tmp, const fs::path& dest, std::uint64_t size, std::atomic<std::uint64_t>& written) {
  if (auto s = tmp.close(); !s) return s;
  if (::access(dest.c_str(), F_OK) == 0) {
    tmp.discard();
    // Marks the blob as in use by this process so that a gc here before the
    // entry referencing it is published keeps it.
    ::utimensat(AT_FDCWD, dest.c_str(), nullptr, 0);
    return {};
  }
  if (auto s = tmp.publish_into_shard(dest); !s) return s;
  written.fetch_add(size, std::memory_order_relaxed);
  return {};
}

}  // namespace

bool same_output(const CachedFile& a, const CachedFile& b) {
  return a.path == b.path && a.kind == b.kind && a.digest == b.digest && a.size == b.size &&
         a.executable == b.executable && a.target == b.target;
}

bool CacheEntry::offer_inline(const Digest& digest, std::string_view bytes) {
  auto it = find_inlined(inlined, digest);
  if (it != inlined.end() && it->digest == digest) return true;
  if (bytes.size() > kEntryInlineBlob) return false;
  if (inlined_bytes + bytes.size() > kEntryInlineTotal) return false;
  inlined.insert(it, InlinedBlob{digest, std::string(bytes)});
  inlined_bytes += bytes.size();
  return true;
}

const std::string* CacheEntry::inlined_content(const Digest& digest) const {
  auto it = find_inlined(inlined, digest);
  return it != inlined.end() && it->digest == digest ? &it->bytes : nullptr;
}

CacheStore::CacheStore(fs::path dir, std::uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes), state_(std::make_unique<State>()) {}

CacheStore::~CacheStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

fs::path CacheStore::blob_path(const Digest& d) const {
  std::string hex = to_hex(d);
  return dir_ / "blobs" / hex.substr(0, 2) / hex;
}

fs::path CacheStore::entry_path(const std::string& key_hex) const {
  return dir_ / "entries" / key_hex.substr(0, 2) / key_hex;
}

Status CacheStore::open() {
  if (lock_fd_ >= 0) return {};
  for (const char* sub : {"blobs", "entries", "tmp"}) {
    std::error_code ec;
    fs::create_directories(dir_ / sub, ec);
    if (ec) return Error{fmt::format("cannot create cache directory {}: {}", (dir_ / sub).string(), ec.message())};
  }
  fs::path lock = dir_ / "lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  // A store shared read-only still needs the lock; flock works on any fd.
  if (fd < 0 && (errno == EACCES || errno == EROFS)) fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("cannot open {}: {}", lock.string(), err_text(errno))};
  if (int e = flock_retry(fd, LOCK_SH)) {
    ::close(fd);
    return Error{fmt::format("cannot lock {}: {}", lock.string(), err_text(e))};
  }
  lock_fd_ = fd;
  ::clock_gettime(CLOCK_REALTIME, &state_->opened_at);
  // Temp files of writers killed mid-write (kill -9, power loss) are never
  // data: nothing refers to them. Old ones go now, so the next run cleans up
  // after a crash without waiting for a gc.
  if (auto tmp = list_files(dir_ / "tmp", /*flat=*/true))
    for (const auto& t : *tmp)
      if (t.mtime.tv_sec < state_->opened_at.tv_sec - kStaleTempSeconds) ::unlink(t.path.c_str());
  // File timestamps come from a coarse clock and may lag a fine one.
  state_->opened_at.tv_sec -= 2;
  ReadResult mark = read_whole(dir_ / "removals");
  state_->removal_mark = dir_.string();
  state_->removal_mark += '\n';
  state_->removal_mark += mark.err == 0 ? mark.data : std::string("none");
  return {};
}

// A new token, published by rename: a reader sees the old one or the new
// one, and two removers racing both change it. Failing (a read-only store)
// only means other checkouts keep trusting their run index for up to an
// hour, as before; the store path still checks every entry it reads.
void CacheStore::note_removal() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  static std::atomic<std::uint64_t> counter{0};
  const std::string token =
      fmt::format("{}.{:09}.{}.{}\n", now.tv_sec, now.tv_nsec, ::getpid(), counter.fetch_add(1));
  TempFile tmp;
  if (!tmp.create(dir_ / "tmp", "removals.") || !tmp.write(token.data(), token.size()) || !tmp.close()) return;
  (void)tmp.publish(dir_ / "removals");
}

const std::string& CacheStore::removal_mark() const { return state_->removal_mark; }

Result<Digest> CacheStore::put_file(const fs::path& file) {
  std::shared_lock lock(state_->mu);
  FdGuard in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return Error{fmt::format("cannot read {}: {}", file.string(), err_text(errno))};
  TempFile tmp;
  if (auto s = tmp.create(dir_ / "tmp", "blob."); !s) return Error{s.error()};
  auto copied = copy_hashing(in.get(), file, [&](const char* d, std::size_t n) { return tmp.write(d, n); });
  if (!copied) return Error{copied.error()};
  if (auto s = publish_blob(tmp, blob_path(copied->digest), copied->size, state_->written); !s) return Error{s.error()};
  return copied->digest;
}

Result<Digest> CacheStore::put_bytes(std::string_view data) {
  std::shared_lock lock(state_->mu);
  Digest d = sha256(data);
  TempFile tmp;
  if (auto s = tmp.create(dir_ / "tmp", "blob."); !s) return Error{s.error()};
  if (auto s = tmp.write(data.data(), data.size()); !s) return Error{s.error()};
  if (auto s = publish_blob(tmp, blob_path(d), data.size(), state_->written); !s) return Error{s.error()};
  return d;
}

Result<std::unique_ptr<BlobReceiver>> CacheStore::receive_blob() {
  for (int attempt = 0;; ++attempt) {
    fs::path p = dir_ / "tmp" / unique_name("remote.");
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) return std::unique_ptr<BlobReceiver>(new BlobReceiver(*this, std::move(p), fd));
    if (errno != EEXIST || attempt >= 100)
      return Error{fmt::format("cannot create temp file {}: {}", p.string(), err_text(errno))};
  }
}

BlobReceiver::BlobReceiver(CacheStore& store, fs::path path, int fd) : store_(store), path_(std::move(path)), fd_(fd) {}

BlobReceiver::~BlobReceiver() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

Status BlobReceiver::write(const char* data, std::size_t size) {
  if (fd_ < 0) return Error{fmt::format("cannot write {}: already closed", path_.string())};
  if (int e = write_all(fd_, data, size)) return Error{fmt::format("cannot write {}: {}", path_.string(), err_text(e))};
  hash_.update(data, size);
  size_ += size;
  return {};
}

Status BlobReceiver::commit(const Digest& expected) {
  if (fd_ < 0) return Error{fmt::format("cannot write {}: already closed", path_.string())};
  const Digest got = hash_.finish();
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) return Error{fmt::format("cannot write {}: {}", path_.string(), err_text(errno))};
  if (got != expected)
    return Error{fmt::format("received {} bytes that hash to {}, not {}", size_, to_hex(got), to_hex(expected))};
  std::shared_lock lock(store_.state_->mu);
  const fs::path dest = store_.blob_path(expected);
  if (::access(dest.c_str(), F_OK) == 0) {
    ::utimensat(AT_FDCWD, dest.c_str(), nullptr, 0);  // in use: kept by a gc before the entry is published
    return {};  // the destructor removes the temp file
  }
  if (int e = into_shard(::rename, path_, dest))
    return Error{fmt::format("cannot write {}: {}", dest.string(), err_text(e))};
  path_.clear();
  store_.state_->written.fetch_add(size_, std::memory_order_relaxed);
  return {};
}

bool CacheStore::has_blob(const Digest& digest) const { return ::access(blob_path(digest).c_str(), F_OK) == 0; }

namespace {
Error corrupt_blob(const fs::path& blob, const Digest& expected, const Digest& actual, dev_t dev, ino_t ino) {
  return Error{fmt::format("cache blob {} is corrupt ({} hashes to {}); {}", to_hex(expected), blob.string(),
                           to_hex(actual), remove_if_same(blob, dev, ino))};
}

Error open_blob_error(const fs::path& blob, const Digest& digest, int e) {
  if (e == ENOENT) return Error{fmt::format("cache blob {} is missing ({})", to_hex(digest), blob.string())};
  return Error{fmt::format("cannot read cache blob {}: {}", blob.string(), err_text(e))};
}

// A blob open for reading, with the identity a corruption report removes
// it by (remove_if_same).
struct OpenBlob {
  fs::path path;
  int fd = -1;
  struct stat st {};
  OpenBlob() = default;
  OpenBlob(const OpenBlob&) = delete;
  OpenBlob& operator=(const OpenBlob&) = delete;
  ~OpenBlob() {
    if (fd >= 0) ::close(fd);
  }
  Status open(fs::path p, const Digest& digest) {
    path = std::move(p);
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return open_blob_error(path, digest, errno);
    if (::fstat(fd, &st) != 0) return Error{fmt::format("cannot read cache blob {}: {}", path.string(), err_text(errno))};
    return {};
  }
  // Streams the content to `sink`, hashing it: an error (the blob removed,
  // `on_corrupt` called) when it is not `digest`.
  template <typename Sink, typename OnCorrupt>
  Status copy_checked(const Digest& digest, Sink&& sink, OnCorrupt&& on_corrupt) {
    auto copied = copy_hashing(fd, path, std::forward<Sink>(sink));
    if (!copied) return Error{copied.error()};
    if (copied->digest != digest) {
      on_corrupt();
      return corrupt_blob(path, digest, copied->digest, st.st_dev, st.st_ino);
    }
    return {};
  }
};
}  // namespace

Status CacheStore::restore_file(const Digest& digest, const fs::path& dest, bool executable) {
  fs::path parent = dest.parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return Error{fmt::format("cannot create directory {}: {}", parent.string(), ec.message())};
  FdGuard dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return Error{fmt::format("cannot open directory {}: {}", parent.string(), err_text(errno))};
  return restore_file_at(digest, dir.get(), dest.filename().string(), executable, dest.string());
}

namespace {
// Writes an output `name` in `dir_fd` through `fill(fd)`: in place when the
// name is free, else a temp file beside it renamed over it (see
// restore_file_at in the header); removed again when `fill` fails.
template <typename Fill>
Status write_restored(int dir_fd, const std::string& name, bool executable, std::string_view display_path, Fill&& fill,
                      std::optional<struct stat>* written) {
  if (written) written->reset();
  std::string tmp_name;
  int fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  const bool in_place = fd >= 0;
  if (!in_place && errno != EEXIST)
    return Error{fmt::format("cannot write {}: {}", display_path, err_text(errno))};
  for (int attempt = 0; fd < 0; ++attempt) {
    tmp_name = unique_name(kRestoreTempPrefix);
    fd = ::openat(dir_fd, tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && (errno != EEXIST || attempt >= 100))
      return Error{fmt::format("cannot create a temp file beside {}: {}", display_path, err_text(errno))};
  }
  FdGuard out(fd);
  struct Unlink {
    int dir;
    const std::string& name;
    bool armed = true;
    ~Unlink() {
      if (armed) ::unlinkat(dir, name.c_str(), 0);
    }
  } cleanup{dir_fd, in_place ? name : tmp_name};
  if (Status s = fill(out.get()); !s) return s;
  // Explicit mode, independent of the umask and of the blob's own mode.
  if (::fchmod(out.get(), executable ? 0755 : 0644) != 0)
    return Error{fmt::format("cannot set mode of {}: {}", display_path, err_text(errno))};
  if (written && in_place) {
    struct stat st {};
    if (::fstat(out.get(), &st) == 0) *written = st;
  }
  if (!in_place && ::renameat(dir_fd, tmp_name.c_str(), dir_fd, name.c_str()) != 0)
    return Error{fmt::format("cannot write {}: {}", display_path, err_text(errno))};
  cleanup.armed = false;
  return {};
}
}  // namespace

Status CacheStore::restore_file_at(const Digest& digest, int dir_fd, const std::string& name, bool executable,
                                   std::string_view display_path, std::optional<struct stat>* written) {
  std::shared_lock lock(state_->mu);
  OpenBlob in;
  if (Status s = in.open(blob_path(digest), digest); !s) return s;
  return write_restored(dir_fd, name, executable, display_path, [&](int out) -> Status {
    return in.copy_checked(
        digest,
        [&](const char* d, std::size_t n) -> Status {
          if (int e = write_all(out, d, n)) return Error{fmt::format("cannot write {}: {}", display_path, err_text(e))};
          return {};
        },
        [&] { note_removal(); });
  }, written);
}

Status CacheStore::restore_output_at(const CacheEntry& entry, const CachedFile& file, int dir_fd,
                                     const std::string& name, std::optional<struct stat>* written) {
  const std::string* bytes = entry.inlined_content(file.digest);
  if (!bytes) return restore_file_at(file.digest, dir_fd, name, file.executable, file.path, written);
  // Checked against the digest when the entry was read (decode_entry).
  return write_restored(dir_fd, name, file.executable, file.path, [&](int out) -> Status {
    if (int e = write_all(out, bytes->data(), bytes->size()))
      return Error{fmt::format("cannot write {}: {}", file.path, err_text(e))};
    return {};
  }, written);
}

Result<std::string> CacheStore::read_log(const CacheEntry& entry) {
  if (!entry.log) return Error{"the entry has no log"};
  if (const std::string* bytes = entry.inlined_content(*entry.log)) return *bytes;
  return read_blob(*entry.log);
}

Result<std::string> CacheStore::read_blob(const Digest& digest) {
  std::shared_lock lock(state_->mu);
  OpenBlob in;
  if (Status s = in.open(blob_path(digest), digest); !s) return Error{s.error()};
  std::string out;
  out.reserve(static_cast<std::size_t>(in.st.st_size));
  Status s = in.copy_checked(
      digest,
      [&](const char* d, std::size_t n) {
        out.append(d, n);
        return Status{};
      },
      [&] { note_removal(); });
  if (!s) return Error{s.error()};
  return out;
}

Result<PutEntryOutcome> CacheStore::put_entry(const std::string& key_hex, const CacheEntry& entry, bool blobs_checked,
                                              std::string_view encoded) {
  if (!valid_key(key_hex)) return Error{fmt::format("invalid cache key \"{}\"", key_hex)};
  std::shared_lock lock(state_->mu);
  const fs::path dest = entry_path(key_hex);
  // An entry naming a missing blob would only ever be a miss with a warning.
  if (!blobs_checked) {
    for (const auto& hex : referenced_blobs(entry)) {
      fs::path blob = dir_ / "blobs" / hex.substr(0, 2) / hex;
      if (::access(blob.c_str(), F_OK) != 0)
        return Error{fmt::format("cannot write cache entry {}: blob {} is not in the store", dest.string(), blob.string())};
    }
  }
  std::string encoded_here;
  if (encoded.empty()) {
    try {
      encoded_here = encode_entry(key_hex, entry);
    } catch (const json::exception& e) {
      return Error{fmt::format("cannot write cache entry {}: {}", dest.string(), e.what())};
    }
  }
  const std::string_view text = encoded.empty() ? std::string_view(encoded_here) : encoded;
  TempFile tmp;
  if (auto s = tmp.create(dir_ / "tmp", "entry."); !s) return Error{s.error()};
  if (auto s = tmp.write(text.data(), text.size()); !s) return Error{s.error()};
  if (auto s = tmp.close(); !s) return Error{s.error()};
  PutEntryOutcome out;
  // Published only if no entry exists (rename_noreplace): the first writer
  // of a key wins, between threads, processes and hosts sharing the
  // directory.
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool linked = false;
    const int e =
        into_shard([&](const char* from, const char* to) { return rename_noreplace(from, to, &linked); }, tmp.path(), dest);
    if (e == 0) {
      if (!linked) tmp.forget();  // moved: nothing left to remove
      out.stored = true;
      state_->written.fetch_add(text.size(), std::memory_order_relaxed);
      return out;
    }
    if (e != EEXIST) return Error{fmt::format("cannot write {}: {}", dest.string(), err_text(e))};
    ReadResult r = read_whole(dest);
    if (r.err == ENOENT) continue;  // removed meanwhile (gc, a reader that found it corrupt): try again
    std::string why;
    std::optional<CacheEntry> kept;
    if (r.err == 0) kept = decode_entry(key_hex, r.data, &why);
    if (kept) {
      out.differences = entry_differences(*kept, entry);
      return out;
    }
    // A damaged entry is worth nothing; the fresh result replaces it.
    if (auto s = tmp.publish(dest); !s) return Error{s.error()};
    out.stored = true;
    out.replaced_corrupt = true;
    state_->written.fetch_add(text.size(), std::memory_order_relaxed);
    return out;
  }
  return Error{fmt::format("cannot write {}: it keeps disappearing", dest.string())};
}

std::optional<CacheEntry> CacheStore::get_entry(const std::string& key_hex, std::string* warning) {
  std::string ignored;
  std::string& warn = warning ? *warning : ignored;
  warn.clear();
  if (!valid_key(key_hex)) {
    warn = fmt::format("invalid cache key \"{}\"", key_hex);
    return std::nullopt;
  }
  std::shared_lock lock(state_->mu);
  const fs::path p = entry_path(key_hex);
  ReadResult r = read_whole(p);
  if (r.err == ENOENT) return std::nullopt;
  if (r.err) {
    warn = fmt::format("cannot read cache entry {}: {}", p.string(), err_text(r.err));
    return std::nullopt;
  }
  std::string why;
  auto entry = decode_entry(key_hex, r.data, &why);
  if (!entry) {
    warn = fmt::format("cache entry {} is corrupt ({}); {}", p.string(), why, remove_if_same(p, r.dev, r.ino));
    note_removal();
    return std::nullopt;
  }
  for (const auto& hex : referenced_blobs(*entry)) {
    fs::path blob = dir_ / "blobs" / hex.substr(0, 2) / hex;
    if (::access(blob.c_str(), F_OK) != 0) {
      warn = fmt::format("cache entry {} refers to missing blob {}", p.string(), blob.string());
      return std::nullopt;
    }
  }
  // The entry's mtime is the LRU clock gc evicts by; an entry used within
  // the hour is recent already (and gc never runs during a run: the lock),
  // so a fresh checkout does not rewrite the inode of every entry it hits.
  // Failing (a store shared read-only) only makes eviction less accurate.
  if (r.mtime + kTouchIntervalSeconds < state_->opened_at.tv_sec) ::utimensat(AT_FDCWD, p.c_str(), nullptr, 0);
  return entry;
}

bool CacheStore::touch_entry(const std::string& key_hex, const std::vector<Digest>& blobs, bool modify) {
  if (!valid_key(key_hex)) return false;
  std::shared_lock lock(state_->mu);
  for (const Digest& b : blobs)
    if (::access(blob_path(b).c_str(), F_OK) != 0 && errno == ENOENT) return false;
  const fs::path p = entry_path(key_hex);
  if (!modify) return ::access(p.c_str(), F_OK) == 0 || errno != ENOENT;
  return ::utimensat(AT_FDCWD, p.c_str(), nullptr, 0) == 0 || errno != ENOENT;
}

CacheStats CacheStore::stats() const {
  CacheStats s;
  s.max_bytes = max_bytes_;
  // Partial on an error, as before: what could be listed counts.
  (void)walk_files(dir_ / "blobs", false, [&](StoredFile&& f) {
    ++s.blobs;
    s.bytes += f.size;
  });
  (void)walk_files(dir_ / "entries", false, [&](StoredFile&& f) {
    ++s.entries;
    s.bytes += f.size;
  });
  return s;
}

namespace {

// The store's size as last known, kept in `size-estimate` so that a run does
// not walk the whole store to decide whether to gc: a walk is one stat per
// file, seconds for a large shared cache. One line,
// "wrt-size 1 <bytes> <unix time of the last walk>". Each process that
// wrote adds what it wrote; writers racing may lose each other's additions,
// so the figure is re-measured by a walk once it is a day old (and by every
// gc). It only decides when gc runs: no result ever depends on it.
constexpr std::int64_t kSizeEstimateMaxAge = 24 * 3600;

struct SizeEstimate {
  std::uint64_t bytes = 0;
  std::int64_t walked_at = 0;
};

std::optional<SizeEstimate> read_size_estimate(const fs::path& file, std::int64_t now) {
  ReadResult r = read_whole(file);
  if (r.err != 0 || r.data.size() > 100) return std::nullopt;
  unsigned long long bytes = 0;
  long long walked = 0;
  int used = 0;
  if (std::sscanf(r.data.c_str(), "wrt-size 1 %llu %lld\n%n", &bytes, &walked, &used) != 2 ||
      static_cast<std::size_t>(used) != r.data.size())
    return std::nullopt;
  // Stale, or from the future (a clock set back, a hand-made file): walk.
  if (walked > now || walked < now - kSizeEstimateMaxAge) return std::nullopt;
  return SizeEstimate{bytes, walked};
}

void write_size_estimate(const fs::path& dir, std::uint64_t bytes, std::int64_t walked_at) {
  const std::string text = fmt::format("wrt-size 1 {} {}\n", bytes, walked_at);
  TempFile tmp;
  if (!tmp.create(dir / "tmp", "size.") || !tmp.write(text.data(), text.size())) return;
  (void)tmp.publish(dir / "size-estimate");  // best effort: a missing estimate means a walk
}

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

}  // namespace

bool CacheStore::over_limit() const {
  State& st = *state_;
  std::lock_guard lock(st.estimate_mu);
  bool record = false;
  if (!st.have_estimate) {
    const std::int64_t now = unix_now();
    if (auto e = read_size_estimate(dir_ / "size-estimate", now)) {
      // Written before this process wrote anything: all of its writes add.
      st.estimate_base = e->bytes;
      st.walked_at = e->walked_at;
      st.written_at_base = 0;
    } else {
      // The walk sees what this process wrote so far.
      st.written_at_base = st.written.load();
      st.estimate_base = stats().bytes;
      st.walked_at = now;
    }
    st.have_estimate = true;
    record = true;
  }
  // Counted once: later calls add only what was written after this one.
  const std::uint64_t written = st.written.load();
  record = record || written != st.written_at_base;
  st.estimate_base += written - st.written_at_base;
  st.written_at_base = written;
  if (record) write_size_estimate(dir_, st.estimate_base, st.walked_at);
  return st.estimate_base > max_bytes_;
}

Result<GcResult> CacheStore::gc(std::uint64_t max_bytes) {
  ExclusiveLock lock(state_->mu, lock_fd_);
  if (auto s = lock.acquire(dir_); !s) return Error{s.error()};
  auto blobs = list_files(dir_ / "blobs");
  if (!blobs) return Error{blobs.error()};
  auto entries = list_files(dir_ / "entries");
  if (!entries) return Error{entries.error()};

  GcResult r;
  std::string failure;
  auto remove = [&](const fs::path& p) {
    std::string outcome = remove_file(p);
    if (outcome == "removed") return true;
    if (failure.empty()) failure = fmt::format("cannot remove {}: {}", p.string(), outcome.substr(outcome.find(':') + 2));
    return false;
  };
  std::uint64_t stuck = 0;  // bytes of junk that could not be removed

  struct BlobInfo {
    std::uint64_t size = 0;
    std::uint64_t refs = 0;
    bool keep = false;
  };
  std::unordered_map<std::string, BlobInfo> blob_info;
  for (const auto& b : *blobs) {
    r.bytes_before += b.size;
    if (!valid_blob_file(b)) {
      if (remove(b.path)) ++r.blobs_removed;
      else stuck += b.size;
      continue;
    }
    BlobInfo& info = blob_info[b.name];
    info.size = b.size;
    info.keep = !(b.mtime < state_->opened_at);
  }

  struct Live {
    fs::path path;
    std::uint64_t size;
    timespec mtime;
    std::vector<std::string> refs;
  };
  std::vector<Live> live;
  for (const auto& e : *entries) {
    r.bytes_before += e.size;
    std::optional<CacheEntry> entry;
    if (valid_entry_file(e)) {
      ReadResult rd = read_whole(e.path);
      std::string why;
      if (rd.err == 0) entry = decode_entry(e.name, rd.data, &why);
    }
    std::vector<std::string> refs;
    if (entry) refs = referenced_blobs(*entry);
    bool complete = entry && std::all_of(refs.begin(), refs.end(), [&](const auto& h) { return blob_info.count(h); });
    if (!complete) {  // useless: could only ever be a miss
      if (remove(e.path)) ++r.entries_removed;
      else stuck += e.size;
      continue;
    }
    for (const auto& h : refs) ++blob_info[h].refs;
    live.push_back({e.path, e.size, e.mtime, std::move(refs)});
  }
  // Only blobs nobody referenced may be in flight; see State::opened_at.
  for (auto& [hex, info] : blob_info) info.keep = info.keep && info.refs == 0;

  std::uint64_t current = stuck;
  for (const auto& l : live) current += l.size;
  for (const auto& [hex, info] : blob_info)
    if (info.refs > 0 || info.keep) current += info.size;

  std::sort(live.begin(), live.end(), [](const Live& a, const Live& b) {
    if (a.mtime < b.mtime || b.mtime < a.mtime) return a.mtime < b.mtime;
    return a.path < b.path;
  });
  for (const auto& l : live) {
    if (current <= max_bytes) break;
    if (!remove(l.path)) continue;
    ++r.entries_removed;
    current -= l.size;
    for (const auto& h : l.refs) {
      BlobInfo& info = blob_info[h];
      if (--info.refs == 0) current -= info.size;
    }
  }
  // Entries are gone before their blobs, so a crash in between leaves only
  // unreferenced blobs, never an entry without its blobs.
  for (const auto& [hex, info] : blob_info) {
    if (info.refs > 0 || info.keep) continue;
    if (remove(dir_ / "blobs" / hex.substr(0, 2) / hex)) ++r.blobs_removed;
    else current += info.size;
  }

  // Leftovers of crashed writers; the age check also spares a writer that
  // works without having opened the store (and so without the lock).
  if (auto tmp = list_files(dir_ / "tmp", /*flat=*/true)) {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    for (const auto& t : *tmp)
      if (t.mtime.tv_sec < now.tv_sec - kStaleTempSeconds) remove(t.path);
  }

  r.bytes_after = current;
  {
    std::lock_guard g(state_->estimate_mu);
    state_->have_estimate = true;
    state_->estimate_base = current;
    state_->written_at_base = state_->written.load();
    state_->walked_at = unix_now();
    write_size_estimate(dir_, current, state_->walked_at);
  }
  if (r.entries_removed > 0) note_removal();
  if (!failure.empty()) return Error{failure};
  return r;
}

Result<VerifyResult> CacheStore::verify() {
  ExclusiveLock lock(state_->mu, lock_fd_);
  if (auto s = lock.acquire(dir_); !s) return Error{s.error()};
  auto blobs = list_files(dir_ / "blobs");
  if (!blobs) return Error{blobs.error()};
  auto entries = list_files(dir_ / "entries");
  if (!entries) return Error{entries.error()};

  VerifyResult r;
  std::unordered_set<std::string> present;
  for (const auto& b : *blobs) {
    if (!valid_blob_file(b)) {
      r.problems.push_back(fmt::format("unexpected file {} in the blob store; {}", b.path.string(), remove_file(b.path)));
      continue;
    }
    ++r.blobs_checked;
    auto h = hash_file(b.path);
    if (!h) {
      // Unreadable is not proof of corruption (permissions); keep it.
      r.problems.push_back(fmt::format("cannot check cache blob {}", h.error()));
      present.insert(b.name);
      continue;
    }
    std::string actual = to_hex(*h);
    if (actual != b.name) {
      r.problems.push_back(fmt::format("cache blob {} is corrupt ({} hashes to {}); {}", b.name, b.path.string(),
                                       actual, remove_file(b.path)));
      continue;
    }
    present.insert(b.name);
  }
  for (const auto& e : *entries) {
    if (!valid_entry_file(e)) {
      r.problems.push_back(fmt::format("unexpected file {} in the entry store; {}", e.path.string(), remove_file(e.path)));
      continue;
    }
    ++r.entries_checked;
    ReadResult rd = read_whole(e.path);
    if (rd.err) {
      r.problems.push_back(fmt::format("cannot read cache entry {}: {}", e.path.string(), err_text(rd.err)));
      continue;
    }
    std::string why;
    auto entry = decode_entry(e.name, rd.data, &why);
    if (!entry) {
      r.problems.push_back(fmt::format("cache entry {} is corrupt ({}); {}", e.path.string(), why, remove_file(e.path)));
      continue;
    }
    for (const auto& h : referenced_blobs(*entry)) {
      if (present.count(h)) continue;
      r.problems.push_back(fmt::format("cache entry {} refers to missing blob {}; {}", e.path.string(),
                                       (dir_ / "blobs" / h.substr(0, 2) / h).string(), remove_file(e.path)));
      break;
    }
  }
  if (!r.problems.empty()) note_removal();
  return r;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  auto invalid = [&] {
    return Error{fmt::format("invalid size \"{}\" (expected bytes with an optional unit, e.g. 1024, 500MB, 5GiB)", text)};
  };
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);

  using u128 = unsigned __int128;
  constexpr u128 kMax = std::numeric_limits<std::uint64_t>::max();
  std::size_t i = 0;
  u128 whole = 0;
  bool too_large = false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
    if (whole > kMax) {
      too_large = true;
      whole = kMax + 1;  // stays bounded however many digits follow
    }
  }
  if (i == 0) return invalid();
  u128 frac_num = 0, frac_den = 1;
  bool has_fraction = false;
  if (i < s.size() && s[i] == '.') {
    std::size_t start = ++i;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (frac_den < u128{1000000000000000000ull}) {  // more digits than this cannot matter
        frac_num = frac_num * 10 + static_cast<unsigned>(s[i] - '0');
        frac_den *= 10;
      }
    }
    if (i == start) return invalid();
    has_fraction = true;
  }
  while (i < s.size() && s[i] == ' ') ++i;
  std::string unit;
  for (; i < s.size(); ++i) unit += static_cast<char>(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);

  u128 mult = 0;
  static const std::pair<const char*, std::uint64_t> kUnits[] = {
      {"", 1},
      {"b", 1},
      {"k", 1000ull},
      {"kb", 1000ull},
      {"m", 1000000ull},
      {"mb", 1000000ull},
      {"g", 1000000000ull},
      {"gb", 1000000000ull},
      {"t", 1000000000000ull},
      {"tb", 1000000000000ull},
      {"ki", 1ull << 10},
      {"kib", 1ull << 10},
      {"mi", 1ull << 20},
      {"mib", 1ull << 20},
      {"gi", 1ull << 30},
      {"gib", 1ull << 30},
      {"ti", 1ull << 40},
      {"tib", 1ull << 40},
  };
  for (const auto& [name, m] : kUnits)
    if (unit == name) mult = m;
  if (mult == 0) return invalid();
  if (has_fraction && mult == 1) return invalid();  // no fractional bytes
  u128 value = whole * mult + frac_num * mult / frac_den;
  if (too_large || value > kMax) return Error{fmt::format("size \"{}\" is too large", text)};
  return static_cast<std::uint64_t>(value);
}

std::string format_size(std::uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  std::string num = fmt::format("{:.1f}", v);
  if (num == "1024.0" && u + 1 < std::size(kUnits)) {  // 1023.96 KiB rounds up to the next unit
    num = "1.0";
    ++u;
  }
  if (num.size() > 2 && num.compare(num.size() - 2, 2, ".0") == 0) num.resize(num.size() - 2);
  return fmt::format("{} {}", num, kUnits[u]);
}

std::string encode_cache_entry(const std::string& key_hex, const CacheEntry& entry) { return encode_entry(key_hex, entry); }

std::optional<CacheEntry> decode_cache_entry(const std::string& key_hex, const std::string& text, std::string* why) {
  return decode_entry(key_hex, text, why);
}

std::optional<CacheEntry> decode_cache_entry_general(const std::string& key_hex, const std::string& text,
                                                     std::string* why) {
  return decode_entry(key_hex, text, why, /*canonical_first=*/false);
}

std::vector<std::string> cache_entry_blobs(const CacheEntry& entry) { return referenced_blobs(entry); }

}  // namespace wrt
