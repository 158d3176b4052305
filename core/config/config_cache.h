// A binary cache of the parsed, validated wrt.toml, so a no-op run does not
// pay for TOML parsing (a 10,000-stage wrt.toml takes longer to parse than
// ninja takes for the whole no-op build).
//
// The cache file (.wrt/state/config-cache, sealed by state_file.h) holds the
// model together with what it was made from: the SHA-256 of wrt.toml's bytes,
// its absolute path, and the identity of the wrt executable that parsed it
// (path, size, mtime), so an edited wrt.toml or a rebuilt wrt re-parses.
// Only valid configurations are cached; errors are reported by the parser
// every time.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/util/result.h"

namespace wrt {

// Like load_config(file); reads and refreshes `cache_file` when it can. A
// missing, stale or corrupt cache is silently rebuilt (it is a cache); a cache
// that cannot be written is ignored.
Result<Config> load_config_cached(const std::filesystem::path& file, const std::filesystem::path& cache_file);

// The model's encoding, without the seal (exposed for the round-trip test).
std::string encode_config(const Config& config);
Result<Config> decode_config(std::string_view payload);

}  // namespace wrt
