#include "core/util/hash.h"

#include <fcntl.h>
// Only this file uses them (see below).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>
#include <cstring>
#include <fmt/core.h>

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

// OpenSSL's SHA-256 functions, not EVP: EVP's first digest initialises the
// library (reads openssl.cnf, loads the default provider, registers ~2,000
// error strings), which a run over 10,000 stages paid for with ~2 MiB of
// resident memory (libcrypto's pages and its heap) and nothing else: the
// provider's SHA-256 is these same functions (issue 17: memory). They are
// deprecated in OpenSSL 3.0, not removed; should a release remove them, this
// file fails to build rather than change a digest.
namespace {
SHA256_CTX* ctx_of(unsigned char* storage) { return reinterpret_cast<SHA256_CTX*>(storage); }
}  // namespace

Sha256::Sha256() {
  static_assert(sizeof(SHA256_CTX) <= sizeof ctx_ && alignof(SHA256_CTX) <= 8);
  SHA256_Init(ctx_of(ctx_));
}

void Sha256::update(const void* data, std::size_t size) { SHA256_Update(ctx_of(ctx_), data, size); }

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
  Digest d{};
  SHA256_Final(d.data(), ctx_of(ctx_));
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
