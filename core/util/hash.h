// SHA-256 digests for cache keys and content addressing (OpenSSL's SHA-256,
// which uses the CPU's SHA extensions where present).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace wrt {

using Digest = std::array<std::uint8_t, 32>;

// Lower-case hex, 64 characters.
std::string to_hex(const Digest& digest);
// Inverse of to_hex; nullopt unless `hex` is exactly 64 hex digits.
std::optional<Digest> digest_from_hex(std::string_view hex);

// Incremental hasher. Not thread-safe; use one per thread.
class Sha256 {
 public:
  Sha256();
  ~Sha256() = default;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Appends a length prefix then the bytes, so that field boundaries in a
  // canonical encoding cannot be confused ("ab"+"c" vs "a"+"bc").
  void update_field(std::string_view data);
  // Same bytes as update_field(std::to_string(n)), without the string.
  void update_field(std::uint64_t n);
  // Ends the hash; the object may not be used afterwards.
  Digest finish();

 private:
  // OpenSSL's SHA256_CTX (hash.cc checks the size), kept here so that a
  // digest allocates nothing.
  alignas(8) unsigned char ctx_[112];
};

Digest sha256(std::string_view data);

// Digest of a file's content. Error names the file and the errno text.
Result<Digest> hash_file(const std::filesystem::path& path);

}  // namespace wrt
