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
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/util/hash.h"
#include "core/util/result.h"

namespace wrt {

// Like load_config(file); reads and refreshes `cache_file` when it can. A
// missing, stale or corrupt cache is silently rebuilt (it is a cache); a cache
// that cannot be written is ignored.
//
// `shared_dir` (optional; the cache directory): where models are also kept
// by wrt.toml's content, `config/<sha256 of the wrt build and the text's
// digest>`, so that a fresh checkout of the same wrt.toml elsewhere (a CI
// job with a restored cache) skips the parse: a 10,000-stage wrt.toml takes
// ~0.4 s to parse, a fifth of such a checkout's restore (issue 17). The copy
// is checked like the state file (sealed; made by this wrt build, for text
// with this digest) and written only where the directory already exists.
// Whoever can write the cache directory is trusted with it, as with the
// cache's entries.
// Where a loaded model came from (`source`, optional: tests and the debug
// log); `text_digest` (optional): the SHA-256 of the wrt.toml it was made
// from (remote_model.h keys models by it).
enum class ConfigSource {
  kStateCache,          // the state file, its stat vouching for wrt.toml
  kStateCacheSameText,  // the state file, wrt.toml read and its digest equal
  kShared,              // the shared copy in `shared_dir`
  kParsed,              // wrt.toml parsed
  kRemote,              // `remote` gave it
};
// `remote` (optional): asked for the model of wrt.toml's text when there
// is no copy here, before parsing it (a run: the remote cache,
// remote_model.h). It answers with a verified model (encode_config()
// bytes, and the model they decode to) or nullopt; its model is then kept
// here like a parsed one.
struct RemoteModel {
  std::string encoding;
  Config model;
};
using RemoteModelSource = std::function<std::optional<RemoteModel>(const Digest& text_digest, std::string_view text)>;
Result<Config> load_config_cached(const std::filesystem::path& file, const std::filesystem::path& cache_file,
                                  const std::filesystem::path& shared_dir = {}, ConfigSource* source = nullptr,
                                  const RemoteModelSource& remote = {}, Digest* text_digest = nullptr);

// Shares the model `cache_file` holds for `file` (made by this wrt) into
// `shared_dir`, if that has no copy yet: for a run whose load parsed
// wrt.toml before the cache directory existed (its first run), once the
// run has made it.
void share_config_model(const std::filesystem::path& file, const std::filesystem::path& cache_file,
                        const std::filesystem::path& shared_dir);

// The model's encoding, without the seal (exposed for the round-trip test).
// `portable`: without its file and workspace paths (the only absolute
// ones), as another machine gets it (remote_model.h).
std::string encode_config(const Config& config, bool portable = false);
Result<Config> decode_config(std::string_view payload);

}  // namespace wrt
