#include "core/cache/key_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "core/util/atomic_file.h"

namespace wrt {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kKeyHex = 64;
// Lines are written in batches of about this much (a fresh checkout appends
// one per stage).
constexpr std::size_t kFlushBytes = 256 * 1024;
// The file is rewritten when it is above this size and superseded lines are
// more than half of it.
constexpr std::uint64_t kCompactFloor = 1 << 20;

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// "<key hex> <stage> <json>": the stage name, or empty when the prefix is
// malformed.
std::string_view stage_of(std::string_view line) {
  if (line.size() < kKeyHex + 3 || line[kKeyHex] != ' ') return {};
  std::size_t sp = line.find(' ', kKeyHex + 1);
  if (sp == std::string_view::npos || sp == kKeyHex + 1) return {};
  return line.substr(kKeyHex + 1, sp - kKeyHex - 1);
}

std::string err_text(int e) { return std::strerror(e); }

// The length of `fd`'s content up to and including its last line break
// (0 when it has none), reading backwards from `size`.
Result<std::uint64_t> complete_lines_end(int fd, std::uint64_t size) {
  char buf[65536];
  std::uint64_t end = size;
  while (end > 0) {
    const std::uint64_t n = std::min<std::uint64_t>(end, sizeof buf);
    if (::pread(fd, buf, n, static_cast<off_t>(end - n)) != static_cast<ssize_t>(n)) return Error{err_text(errno)};
    for (std::uint64_t i = n; i > 0; --i)
      if (buf[i - 1] == '\n') return end - n + i;
    end -= n;
  }
  return std::uint64_t{0};
}

}  // namespace

KeyLog::KeyLog(fs::path file) : file_(std::move(file)) {}

KeyLog::~KeyLog() {
  if (fd_ >= 0) ::close(fd_);
}

void KeyLog::load_locked() {
  if (loaded_) return;
  loaded_ = true;
  fd_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return;  // none yet (or unreadable: explain only loses its comparison)
  // Read in chunks (not mapped: a writer truncating a torn last line would
  // fault a reader's mapping), keeping the offset of each stage's latest line.
  // One 64 KiB buffer, grown only for a longer line: the file is ~800 bytes
  // per stage, and a 1 MiB chunk plus a copy of it were ~2 MiB of a content
  // change's peak (issue 17).
  std::vector<char> buf(64 * 1024);
  std::size_t have = 0;      // bytes in buf
  std::uint64_t buf_at = 0;  // file offset of buf[0]
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // one line longer than the buffer
    ssize_t n = ::read(fd_, buf.data() + have, buf.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<std::size_t>(n);
    std::string_view data(buf.data(), have);
    std::size_t pos = 0;
    for (;;) {
      const std::size_t nl = data.find('\n', pos);
      if (nl == std::string_view::npos) break;
      std::string_view line = data.substr(pos, nl - pos);
      std::string_view stage = stage_of(line);
      if (!stage.empty() && line.size() <= UINT32_MAX) {
        Line& l = latest_[stage];
        if (l.size != 0) live_bytes_ -= l.size + 1;
        l = Line{buf_at + pos, static_cast<std::uint32_t>(line.size()), false};
        live_bytes_ += line.size() + 1;
      }
      pos = nl + 1;
    }
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
    buf_at += pos;
  }
  file_size_ = buf_at;  // a torn last line (no line break) is not a record
}

std::optional<nlohmann::json> KeyLog::parse_line(std::string_view line, const std::string& stage) const {
  if (stage_of(line) != stage || !is_hex(line.substr(0, kKeyHex))) return std::nullopt;
  auto j = nlohmann::json::parse(line.substr(kKeyHex + stage.size() + 2), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("stage");
  auto key = j.find("key");
  if (it == j.end() || !it->is_string() || *it != stage) return std::nullopt;
  if (key == j.end() || !key->is_string() || *key != line.substr(0, kKeyHex)) return std::nullopt;
  return j;
}

std::optional<nlohmann::json> KeyLog::latest(const std::string& stage) {
  std::lock_guard<std::mutex> lock(mu_);
  load_locked();
  const Line* found = latest_.find(stage);
  if (!found) return std::nullopt;
  const Line& l = *found;
  if (l.pending) return parse_line(std::string_view(pending_).substr(l.offset, l.size), stage);
  if (fd_ < 0) return std::nullopt;
  std::string buf(l.size, '\0');
  ssize_t n = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(l.offset));
  if (n != static_cast<ssize_t>(buf.size())) return std::nullopt;
  return parse_line(buf, stage);
}

void KeyLog::append(const std::string& stage, const std::string& key_hex, const nlohmann::json& record) {
  append_text(stage, key_hex, record.dump());
}

void KeyLog::append_text(const std::string& stage, const std::string& key_hex, std::string_view record) {
  std::string text;
  text.reserve(key_hex.size() + stage.size() + record.size() + 3);
  text += key_hex;
  text += ' ';
  text += stage;
  text += ' ';
  text += record;
  text += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  load_locked();
  Line& l = latest_[stage];
  if (l.size != 0) live_bytes_ -= l.size + 1;
  l = Line{pending_.size(), static_cast<std::uint32_t>(text.size() - 1), true};
  live_bytes_ += text.size();
  pending_ += text;
  pending_stages_.push_back(stage);
  // Best effort, like every key record: a failed write shows in flush().
  if (pending_.size() >= kFlushBytes) (void)write_pending_locked();
}

Status KeyLog::write_pending_locked() {
  if (pending_.empty()) return Status::Ok();
  int fd = ::open(file_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(file_.parent_path(), ec);
    fd = ::open(file_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  if (fd < 0) return Error{fmt::format("cannot write {}: {}", file_.string(), err_text(errno))};
  struct stat st {};
  std::uint64_t base = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  if (base > 0) {
    // A run killed mid-line left a torn line: it goes, so that the next
    // line starts at a line boundary (one writer at a time: the lock).
    if (Result<std::uint64_t> end = complete_lines_end(fd, base); !end) {
      ::close(fd);
      return Error{fmt::format("cannot write {}: {}", file_.string(), end.error())};
    } else if (*end != base) {
      if (::ftruncate(fd, static_cast<off_t>(*end)) != 0) {
        int e = errno;
        ::close(fd);
        return Error{fmt::format("cannot write {}: {}", file_.string(), err_text(e))};
      }
      base = *end;
    }
  }
  const std::string& data = pending_;
  const char* p = data.data();
  std::size_t left = data.size();
  int err = 0;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (err != 0) {
    // The lines stay pending (latest() still answers from memory); a torn
    // write is skipped when the file is next read.
    return Error{fmt::format("cannot write {}: {}", file_.string(), err_text(err))};
  }
  for (const auto& stage : pending_stages_) {
    Line* l = latest_.find(stage);
    if (l && l->pending) {
      l->offset += base;
      l->pending = false;
    }
  }
  pending_stages_.clear();
  pending_.clear();
  file_size_ = base + data.size();
  if (fd_ < 0) fd_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  return Status::Ok();
}

Status KeyLog::compact_locked() {
  std::vector<Line*> lines;  // valid while nothing is inserted (the lock is held)
  lines.reserve(latest_.size());
  latest_.for_each([&](std::string_view, Line& l) { lines.push_back(&l); });
  std::vector<std::uint64_t> offsets(lines.size());
  std::string buf;
  Status s = write_file_atomically(file_, [&](std::ostream& out) {
    std::uint64_t at = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const Line& l = *lines[i];
      buf.resize(l.size);
      if (::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(l.offset)) != static_cast<ssize_t>(buf.size()))
        throw std::runtime_error("cannot read " + file_.string());
      out << buf << '\n';
      offsets[i] = at;
      at += l.size + 1;
    }
  });
  if (!s) return s;
  int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("cannot read {}: {}", file_.string(), err_text(errno))};
  ::close(fd_);
  fd_ = fd;
  for (std::size_t i = 0; i < lines.size(); ++i) lines[i]->offset = offsets[i];
  file_size_ = live_bytes_;
  return Status::Ok();
}

Status KeyLog::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!loaded_) return Status::Ok();  // nothing read, nothing appended
  if (Status s = write_pending_locked(); !s) return s;
  if (fd_ >= 0 && file_size_ > kCompactFloor && file_size_ > 2 * live_bytes_) return compact_locked();
  return Status::Ok();
}

}  // namespace wrt
