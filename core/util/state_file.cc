#include "core/util/state_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/core.h>

namespace wrt {

namespace {

constexpr std::size_t kHeaderSize = 8 + 4 + 4;

}  // namespace

namespace {

constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;

std::uint64_t checksum_start(std::uint64_t n) { return 0x243F6A8885A308D3ull ^ n; }

// The whole 8-byte words of data[0, n): n must be a multiple of 8.
std::uint64_t checksum_words(std::uint64_t h, const char* data, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  return h;
}

// The last 0-7 bytes, and the final mix.
std::uint64_t checksum_end(std::uint64_t h, const char* data, std::size_t n) {
  std::uint64_t tail = 0;
  std::memcpy(&tail, data, n);
  h = (h ^ tail) * kMul;
  h ^= h >> 32;
  h *= kMul;
  h ^= h >> 29;
  return h;
}

// The 16-byte header at `at`: magic, version, reserved.
void write_header(char* at, const char (&magic)[9], std::uint32_t version) {
  const std::uint32_t reserved = 0;
  std::memcpy(at, magic, 8);
  std::memcpy(at + 8, &version, 4);
  std::memcpy(at + 12, &reserved, 4);
}

}  // namespace

std::uint64_t state_checksum(const char* data, std::size_t n) {
  const std::size_t whole = n / 8 * 8;
  return checksum_end(checksum_words(checksum_start(n), data, whole), data + whole, n - whole);
}

SealedStreamWriter::SealedStreamWriter(std::ostream& out, const char (&magic)[9], std::uint32_t version,
                                       std::uint64_t payload_size)
    : out_(out), expected_(kHeaderSize + payload_size), h_(checksum_start(kHeaderSize + payload_size)) {
  buf_.reserve(1 << 16);
  buf_.assign(kHeaderSize, '\0');
  write_header(buf_.data(), magic, version);
}

void SealedStreamWriter::bytes(std::string_view s) {
  buf_.append(s.data(), s.size());
  if (buf_.size() >= (1 << 16)) flush();
}

// Hashes and writes the buffer's whole words; up to 7 bytes stay for later.
void SealedStreamWriter::flush() {
  const std::size_t whole = buf_.size() / 8 * 8;
  h_ = checksum_words(h_, buf_.data(), whole);
  out_.write(buf_.data(), static_cast<std::streamsize>(whole));
  written_ += whole;
  buf_.erase(0, whole);
}

bool SealedStreamWriter::finish() {
  flush();
  if (written_ + buf_.size() != expected_) return false;
  const std::uint64_t sum = checksum_end(h_, buf_.data(), buf_.size());
  buf_.append(reinterpret_cast<const char*>(&sum), 8);
  out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  buf_.clear();
  return static_cast<bool>(out_);
}

std::string seal_state(const char (&magic)[9], std::uint32_t version, std::string_view payload) {
  StateWriter w = StateWriter::for_file();
  w.bytes().reserve(kHeaderSize + payload.size() + 8);
  w.bytes().append(payload.data(), payload.size());
  return std::move(w.seal(magic, version));
}

StateWriter StateWriter::for_file() {
  StateWriter w;
  w.out_.assign(kHeaderSize, '\0');
  return w;
}

std::string& StateWriter::seal(const char (&magic)[9], std::uint32_t version) {
  write_header(out_.data(), magic, version);
  const std::uint64_t sum = state_checksum(out_.data(), out_.size());
  out_.append(reinterpret_cast<const char*>(&sum), 8);
  return out_;
}

Result<std::string_view> unseal_state(std::string_view data, const char (&magic)[9], std::uint32_t version) {
  if (data.size() < kHeaderSize + 8) return Error{"truncated header"};
  if (std::memcmp(data.data(), magic, 8) != 0) return Error{"bad magic"};
  std::uint32_t v = 0;
  std::memcpy(&v, data.data() + 8, 4);
  if (v != version) return Error{fmt::format("unsupported version {} (expected {})", v, version)};
  std::uint64_t stored = 0;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  if (stored != state_checksum(data.data(), data.size() - 8)) return Error{"checksum mismatch (truncated or corrupt)"};
  return data.substr(kHeaderSize, data.size() - kHeaderSize - 8);
}

FileBytes::~FileBytes() {
  if (mapped_) ::munmap(const_cast<char*>(data_), size_);
}

Result<FileBytes> read_state_file(const std::filesystem::path& path, bool* missing) {
  if (missing) *missing = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT && missing) *missing = true;
    return Error{std::strerror(e)};
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Error{std::strerror(e)};
  }
  FileBytes out;
  if (st.st_size > 0) {
    // A file that is replaced meanwhile is renamed over, never rewritten in
    // place (write_state_file), so the mapping stays consistent.
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      return Error{std::strerror(e)};
    }
    out.data_ = static_cast<const char*>(p);
    out.size_ = static_cast<std::size_t>(st.st_size);
    out.mapped_ = true;
  }
  ::close(fd);
  return out;
}

}  // namespace wrt
