// The parsed wrt.toml through the remote cache: a fresh checkout with an
// empty local cache (a new CI runner) gets the configuration model a
// trusted writer made from the same text with the same wrt build, instead
// of parsing it (~0.2-0.4 s for 10,000 stages, a fifth of such a restore;
// bench/README.md). Bazel's remote analysis cache is the same idea.
//
// Where: `<base>/ac/<remote_model_key(build, text)>`, keyed by the SHA-256
// of the wrt executable's bytes (not its path: another runner's copy of the
// same build must match, a rebuilt wrt must not) and of wrt.toml's bytes.
// What:
//
//   wrt-remote-model 1 <statement bytes> <blob bytes>\n<statement><blob>
//
// - statement: a DSSE envelope (dsse.h) of type kRemoteModelType over
//   {"build": hex, "text": hex, "model": sha256 hex of the blob,
//   "modelSize": n}, signed by the writer;
// - blob: one zstd frame (stating its size, at most kMaxRemoteModel) of
//   the model as encode_config() writes it (config_cache.h).
//
// Trust: a reader needs the trusted keys before it has the model, so they
// come from wrt.toml's [settings] read alone (peek_settings(), config.h);
// when those cannot be read alone the model is not fetched. A model is
// used only if its statement verifies against one of those keys, names
// this build and this text, and the blob hashes to the signed digest; the
// caller then also requires the model's own settings to name the same
// remote cache and keys it was checked with. Anything else is a miss: the
// text is parsed, as without a remote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/dsse.h"
#include "core/util/hash.h"
#include "core/util/result.h"

namespace wrt {

inline constexpr const char* kRemoteModelType = "application/vnd.wrt.config-model.v1";
inline constexpr std::string_view kRemoteModelMagic = "wrt-remote-model 1 ";
// A model of 10,000 stages is ~4 MB (~0.25 MB packed); 256 MiB allows
// pipelines far beyond 100,000 stages.
inline constexpr std::uint64_t kMaxRemoteModel = 256u << 20;

// The SHA-256 of the running wrt executable's bytes (/proc/self/exe),
// computed once; nullopt when it cannot be read.
std::optional<Digest> wrt_build_digest();
// The same of any file (tests: the wrt binary they run).
std::optional<Digest> file_sha256(const std::string& path);

// The remote key (hex) of the model made by `build` from text `text`.
std::string remote_model_key(const Digest& build, const Digest& text);

// The object stored under that key: `model` (encode_config() bytes)
// packed, described and signed by `signer`.
Result<std::string> seal_remote_model(const Ed25519Key& signer, const Digest& build, const Digest& text,
                                      std::string_view model);

// The model's encode_config() bytes out of a stored object, or an error
// saying why it is not usable (malformed, not signed by `trusted`, made by
// another build or from another text, blob altered).
Result<std::string> open_remote_model(std::string_view object, const std::vector<Ed25519Key>& trusted,
                                      const Digest& build, const Digest& text);

// GETs `<base>/ac/<key>` and opens it: the model's bytes, or nullopt --
// with `refused` set when the server sent one that open_remote_model()
// refused (a warning: someone may be poisoning the cache), `failed` when
// the server failed (no answer, an error status). A missing model sets
// neither.
std::optional<std::string> fetch_remote_model(const std::string& base, const std::vector<std::string>& headers,
                                              const std::vector<Ed25519Key>& trusted, const Digest& build,
                                              const Digest& text, std::string* refused, std::string* failed);

}  // namespace wrt
