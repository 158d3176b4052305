#include "core/util/hash.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <vector>
#include <cstring>
#include <fmt/core.h>

#include "core/util/sha256_blocks.h"

namespace wrt {

std::string to_hex(const Digest& digest) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::optional<Digest> digest_from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return d;
}

// Not OpenSSL's EVP, nor its SHA256_* (hash.h, sha256_blocks.h): the
// padding below is FIPS 180-4's, section 5.1.1; blocks go to the process's
// compression function.
Sha256::Sha256() : Sha256(sha256_implementation()) {}

Sha256::Sha256(const Sha256Implementation& impl)
    : blocks_(impl.blocks),
      state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::update(const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  const auto blocks = blocks_;
  std::size_t have = static_cast<std::size_t>(length_ % 64);
  length_ += size;
  if (have > 0) {
    const std::size_t take = std::min(size, 64 - have);
    std::memcpy(buffer_ + have, p, take);
    p += take;
    size -= take;
    have += take;
    if (have < 64) return;
    blocks(state_, buffer_, 1);
  }
  if (size >= 64) {
    blocks(state_, p, size / 64);
    p += size / 64 * 64;
    size %= 64;
  }
  if (size > 0) std::memcpy(buffer_, p, size);
}

void Sha256::update_field(std::string_view data) {
  std::uint64_t n = data.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  update(len, sizeof len);
  update(data);
}

void Sha256::update_field(std::uint64_t n) {
  char digits[20];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;  // 20 digits hold any uint64
  update_field(std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

Digest Sha256::finish() {
  const std::uint64_t bits = length_ * 8;
  // 0x80, zeros up to 56 mod 64, then the length in bits, big-endian.
  unsigned char pad[72] = {0x80};
  const std::size_t have = static_cast<std::size_t>(length_ % 64);
  const std::size_t zeros = have < 56 ? 56 - have : 120 - have;
  for (int i = 0; i < 8; ++i) pad[zeros + static_cast<std::size_t>(i)] = static_cast<unsigned char>(bits >> (56 - 8 * i));
  update(pad, zeros + 8);
  Digest d{};
  for (std::size_t i = 0; i < 8; ++i)
    for (std::size_t b = 0; b < 4; ++b) d[4 * i + b] = static_cast<unsigned char>(state_[i] >> (24 - 8 * b));
  return d;
}

Digest sha256(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

Result<Digest> hash_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("{}: {}", path.string(), std::strerror(errno))};
  Sha256 h;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Error{fmt::format("{}: {}", path.string(), std::strerror(e))};
    }
    h.update(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return h.finish();
}

}  // namespace wrt
