#include "plugins/common/digest.h"

#include <openssl/evp.h>

#include <fstream>

namespace wrt::plugins {

namespace {

std::string hex(const unsigned char* d, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[d[i] >> 4];
    out += digits[d[i] & 15];
  }
  return out;
}

}  // namespace

std::string sha256_hex(const std::string& bytes) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(bytes.data(), bytes.size(), d, &n, EVP_sha256(), nullptr);
  return hex(d, n);
}

std::string sha256_file(const std::string& path, std::uint64_t* size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  char buf[1 << 16];
  std::uint64_t total = 0;
  while (in) {
    in.read(buf, sizeof buf);
    const auto got = in.gcount();
    if (got > 0) {
      EVP_DigestUpdate(ctx, buf, static_cast<std::size_t>(got));
      total += static_cast<std::uint64_t>(got);
    }
  }
  const bool ok = in.eof();
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx, d, &n);
  EVP_MD_CTX_free(ctx);
  if (!ok) return {};
  if (size) *size = total;
  return hex(d, n);
}

}  // namespace wrt::plugins
