#include "core/util/hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
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

namespace {

// OpenSSL 3 looks the algorithm up (under a lock) on every init given
// EVP_sha256(); fetching it once avoids that on every key.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

// Contexts are reused per thread: allocating one per digest was measurable
// when a no-op run computes 20,000 digests.
struct ContextPool {
  std::vector<EVP_MD_CTX*> free;
  ~ContextPool() {
    for (EVP_MD_CTX* c : free) EVP_MD_CTX_free(c);
  }
};
thread_local ContextPool context_pool;

}  // namespace

Sha256::Sha256() {
  EVP_MD_CTX* ctx = nullptr;
  if (!context_pool.free.empty()) {
    ctx = context_pool.free.back();
    context_pool.free.pop_back();
  } else {
    ctx = EVP_MD_CTX_new();
  }
  EVP_DigestInit_ex(ctx, sha256_md(), nullptr);
  ctx_ = ctx;
}

Sha256::~Sha256() {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  if (context_pool.free.size() < 8) context_pool.free.push_back(ctx);
  else EVP_MD_CTX_free(ctx);
}

void Sha256::flush() {
  if (used_ == 0) return;
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), buf_, used_);
  used_ = 0;
}

void Sha256::update(const void* data, std::size_t size) {
  if (size > sizeof buf_ - used_) {
    flush();
    if (size >= sizeof buf_) {
      EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
      return;
    }
  }
  std::memcpy(buf_ + used_, data, size);
  used_ += size;
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
  flush();
  Digest d{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), d.data(), &n);
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
