// A stage's log as kept in the cache: the last `limit` bytes of the log
// file (a marker line says how much was dropped), zstd-compressed. A 200 MB
// log of a chatty tool is then a few MB in the store, not a second copy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace wrt {

inline constexpr std::uint64_t kDefaultCachedLogLimit = 16ull << 20;  // 16 MiB

struct EncodedLog {
  std::string bytes;       // the blob to store
  std::string encoding;    // "zstd"
  bool truncated = false;  // the start of the log was dropped
};

// Reads the end of `file` (at most `limit` bytes, starting at a line break
// when one is near) and compresses it. Error names the file.
Result<EncodedLog> encode_log(const std::filesystem::path& file, std::uint64_t limit);

// The log text of a stored blob. `max_size` bounds what a (possibly hostile)
// blob may expand to. Error says why (unknown encoding, corrupt frame, too large).
Result<std::string> decode_log(std::string_view blob, std::string_view encoding, std::uint64_t max_size);

class CacheStore;

// The log stored with the cache entry of `key_hex` (a cached stage's log:
// stage_runner.h does not write it into .wrt/logs), read through the store
// (which checks the blob's digest) and decoded; `limit` is the configured
// cached_log_limit. Error says why: no such entry, an entry without a log,
// a missing or damaged blob.
Result<std::string> read_cached_log(CacheStore& store, const std::string& key_hex, std::uint64_t limit);

}  // namespace wrt
