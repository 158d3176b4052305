#include "core/cache/remote_model.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <zstd.h>

#include <nlohmann/json.hpp>

#include "core/cache/remote_entry.h"
#include "core/util/http_client.h"

namespace wrt {

namespace {

std::string model_url(const std::string& base, const Digest& build, const Digest& text) {
  return base + "/ac/" + remote_model_key(build, text);
}

}  // namespace

std::optional<Digest> file_sha256(const std::string& path) {
  // In pieces: the executable is a few MB, not worth holding at once.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  Sha256 h;
  char buf[64 << 10];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    h.update(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return h.finish();
}

std::optional<Digest> wrt_build_digest() {
  static const std::optional<Digest> digest = file_sha256("/proc/self/exe");
  return digest;
}

std::string remote_model_key(const Digest& build, const Digest& text) {
  return to_hex(sha256(fmt::format("{}\n{}\n{}\n", kRemoteModelType, to_hex(build), to_hex(text))));
}

Result<std::string> seal_remote_model(const Ed25519Key& signer, const Digest& build, const Digest& text,
                                      std::string_view model) {
  // Level 3: packed once per wrt.toml text (and build), by the run that
  // puts it; ~1/15 of the model's size.
  // Streamed into a buffer that grows as needed: a bound-sized one would
  // add the model's size again to the uploading run's peak memory.
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  if (!cctx) return Error{"cannot compress the config model: out of memory"};
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, 17);  // its buffers ~128 KiB, not the model's size
  ZSTD_CCtx_setPledgedSrcSize(cctx.get(), model.size());  // the frame states its size (unpack_remote_frame)
  std::string blob;
  ZSTD_inBuffer in{model.data(), model.size(), 0};
  for (;;) {
    const std::size_t at = blob.size();
    blob.resize(at + (64u << 10));
    ZSTD_outBuffer out{blob.data() + at, blob.size() - at, 0};
    const std::size_t left = ZSTD_compressStream2(cctx.get(), &out, &in, ZSTD_e_end);
    if (ZSTD_isError(left)) return Error{fmt::format("cannot compress the config model: {}", ZSTD_getErrorName(left))};
    blob.resize(at + out.pos);
    if (left == 0) break;
  }
  const nlohmann::json statement = {{"build", to_hex(build)},
                                    {"text", to_hex(text)},
                                    {"model", to_hex(sha256(blob))},
                                    {"modelSize", blob.size()}};
  auto envelope = dsse_sign(kRemoteModelType, statement.dump(), {signer});
  if (!envelope) return Error{envelope.error()};
  const std::string signed_statement = envelope->dump();
  std::string out = fmt::format("{}{} {}\n", kRemoteModelMagic, signed_statement.size(), blob.size());
  out += signed_statement;
  out += blob;
  return out;
}

Result<std::string> open_remote_model(std::string_view object, const std::vector<Ed25519Key>& trusted,
                                      const Digest& build, const Digest& text) {
  if (object.substr(0, kRemoteModelMagic.size()) != kRemoteModelMagic) return Error{"no wrt-remote-model 1 header"};
  std::size_t at = kRemoteModelMagic.size();
  std::uint64_t statement_size = 0, blob_size = 0;
  const std::string_view head = object.substr(0, at + 2 * 21);
  if (!read_frame_number(head, at, ' ', statement_size) || !read_frame_number(head, at, '\n', blob_size))
    return Error{"its header is malformed"};
  if (statement_size == 0 || statement_size > kMaxRemoteStatement) return Error{"its statement size is out of range"};
  const std::uint64_t rest = object.size() - at;
  if (blob_size > rest || statement_size + blob_size != rest)
    return Error{"its sizes do not add up to its length (truncated or padded)"};
  const std::string_view statement_bytes = object.substr(at, statement_size);
  const std::string_view blob = object.substr(at + statement_size);
  auto envelope = nlohmann::json::parse(statement_bytes, nullptr, false);
  if (!envelope.is_object()) return Error{"its statement is not a DSSE envelope"};
  DsseCheck check = dsse_verify(envelope, trusted);
  if (check.payload_type != kRemoteModelType) return Error{"its statement is not a wrt config model statement"};
  if (check.verified.empty())
    return Error{check.problems.empty() ? "not signed by a trusted key" : check.problems.front()};
  auto body = nlohmann::json::parse(check.payload, nullptr, false);
  auto hex_field = [&](const char* name) -> std::optional<Digest> {
    if (!body.is_object()) return std::nullopt;
    auto it = body.find(name);
    if (it == body.end() || !it->is_string()) return std::nullopt;
    return digest_from_hex(it->get<std::string>());
  };
  const auto signed_build = hex_field("build");
  const auto signed_text = hex_field("text");
  const auto signed_model = hex_field("model");
  auto size = body.is_object() ? body.find("modelSize") : body.end();
  if (!signed_build || !signed_text || !signed_model || size == body.end() || !size->is_number_unsigned())
    return Error{"its signed statement is malformed (build, text, model, modelSize)"};
  if (*signed_build != build) return Error{"it was made by another wrt build"};
  if (*signed_text != text) return Error{"it was made from another wrt.toml"};
  if (size->get<std::uint64_t>() != blob.size() || sha256(blob) != *signed_model)
    return Error{"its model does not match its signed digest"};
  std::string why;
  auto model = unpack_remote_frame(blob, kMaxRemoteModel, &why);
  if (!model) return Error{fmt::format("its model cannot be unpacked: {}", why)};
  return std::move(*model);
}

std::optional<std::string> fetch_remote_model(const std::string& base, const std::vector<std::string>& headers,
                                              const std::vector<Ed25519Key>& trusted, const Digest& build,
                                              const Digest& text, std::string* refused, std::string* failed) {
  HttpRequest req;
  req.url = model_url(base, build, text);
  req.headers = headers;
  // Shorter than a run's requests: it holds up the whole run, and a server
  // this slow to send ~0.25 MB would cost more than the parse it saves.
  req.timeout = std::chrono::milliseconds(10000);
  req.max_body = kMaxRemoteModel + kMaxRemoteStatement + 64;
  HttpResponse r = http_request(req);
  if (r.status == 404 || r.status == 204) return std::nullopt;
  if (r.status != 200) {
    *failed = r.status == 0 ? fmt::format("no answer ({})", r.error) : fmt::format("HTTP {}", r.status);
    return std::nullopt;
  }
  if (r.truncated) {
    *refused = "it is larger than a model may be";
    return std::nullopt;
  }
  auto model = open_remote_model(r.body, trusted, build, text);
  if (!model) {
    *refused = model.error();
    return std::nullopt;
  }
  return std::move(*model);
}

}  // namespace wrt
