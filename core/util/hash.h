// SHA-256 digests for cache keys and content addressing (FIPS 180-4; the
// compression function is the CPU's SHA extensions where present, else
// OpenSSL's: sha256_blocks.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/result.h"
#include "core/util/sha256_blocks.h"

namespace wrt {

using Digest = std::array<std::uint8_t, 32>;

// Lower-case hex, 64 characters.
std::string to_hex(const Digest& digest);
// Inverse of to_hex; nullopt unless `hex` is exactly 64 hex digits.
std::optional<Digest> digest_from_hex(std::string_view hex);

// Incremental hasher. Not thread-safe; use one per thread.
class Sha256 {
 public:
  // With the process's compression function (sha256_implementation()), or
  // a given one (tests compare them).
  Sha256();
  explicit Sha256(const Sha256Implementation& impl);
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
  Sha256BlocksFn blocks_;
  std::uint32_t state_[8];
  std::uint64_t length_ = 0;     // bytes hashed so far
  unsigned char buffer_[64];     // a block's first length_ % 64 bytes
};

Digest sha256(std::string_view data);

// Digest of a file's content. Error names the file and the errno text.
Result<Digest> hash_file(const std::filesystem::path& path);

}  // namespace wrt
