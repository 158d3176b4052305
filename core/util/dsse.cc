#include "core/util/dsse.h"


#include <cstdio>

#include <fmt/core.h>

#include "core/util/crypto_library.h"
#include "core/util/hash.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

std::shared_ptr<void> own(EVP_PKEY* k) {
  return std::shared_ptr<void>(k, [](void* p) { crypto_library().EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
}

// keyid: SHA-256 of the public key's DER SubjectPublicKeyInfo.
std::string keyid_of(EVP_PKEY* k) {
  const CryptoLibrary& lib = crypto_library();
  unsigned char* der = nullptr;
  int n = lib.i2d_PUBKEY(k, &der);
  if (n <= 0) return {};
  std::string id = to_hex(sha256(std::string_view(reinterpret_cast<char*>(der), static_cast<std::size_t>(n))));
  lib.CRYPTO_free(der, OPENSSL_FILE, OPENSSL_LINE);
  return id;
}

Result<std::shared_ptr<void>> read_pem(const fs::path& pem, bool priv) {
  const CryptoLibrary& lib = crypto_library();
  if (!lib.error.empty()) return Error{fmt::format("{}: {}", pem.string(), lib.error)};
  std::FILE* f = std::fopen(pem.c_str(), "r");
  if (!f) return Error{fmt::format("{}: cannot read the key", pem.string())};
  EVP_PKEY* k = priv ? lib.PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : lib.PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!k) return Error{fmt::format("{}: not a PEM {} key", pem.string(), priv ? "private" : "public")};
  auto owned = own(k);
  if (lib.EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) return Error{fmt::format("{}: not an Ed25519 key", pem.string())};
  return owned;
}

}  // namespace

std::string dsse_pae(const std::string& type, const std::string& body) {
  return fmt::format("DSSEv1 {} {} {} ", type.size(), type, body.size()) + body;
}

Result<Ed25519Key> Ed25519Key::load_private(const fs::path& pem) {
  auto k = read_pem(pem, true);
  if (!k) return Error{k.error()};
  Ed25519Key key;
  key.pkey_ = *k;
  key.keyid_ = keyid_of(static_cast<EVP_PKEY*>(key.pkey_.get()));
  return key;
}

Result<Ed25519Key> Ed25519Key::load_public(const fs::path& pem) {
  auto k = read_pem(pem, false);
  if (!k) return Error{k.error()};
  Ed25519Key key;
  key.pkey_ = *k;
  key.keyid_ = keyid_of(static_cast<EVP_PKEY*>(key.pkey_.get()));
  return key;
}

Result<std::string> Ed25519Key::sign(const std::string& message) const {
  // A key exists only once libcrypto was loaded (read_pem).
  const CryptoLibrary& lib = crypto_library();
  if (!lib.error.empty() || !pkey_) return Error{"Ed25519 signing failed: " + (pkey_ ? lib.error : "no key")};
  EVP_MD_CTX* ctx = lib.EVP_MD_CTX_new();
  std::string sig(64, '\0');
  std::size_t len = sig.size();
  // Ed25519 signs the message itself: no digest is named.
  bool ok = ctx && lib.EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(pkey_.get())) == 1 &&
            lib.EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  lib.EVP_MD_CTX_free(ctx);
  if (!ok) return Error{"Ed25519 signing failed (a public key given where a private one is needed?)"};
  sig.resize(len);
  return sig;
}

bool Ed25519Key::verify(const std::string& message, const std::string& signature) const {
  const CryptoLibrary& lib = crypto_library();
  if (!lib.error.empty() || !pkey_) return false;
  EVP_MD_CTX* ctx = lib.EVP_MD_CTX_new();
  bool ok = ctx && lib.EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(pkey_.get())) == 1 &&
            lib.EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  lib.EVP_MD_CTX_free(ctx);
  return ok;
}

Result<nlohmann::json> dsse_sign(const std::string& type, const std::string& payload, const std::vector<Ed25519Key>& keys) {
  nlohmann::json sigs = nlohmann::json::array();
  const std::string pae = dsse_pae(type, payload);
  for (const auto& k : keys) {
    auto s = k.sign(pae);
    if (!s) return Error{s.error()};
    sigs.push_back({{"keyid", k.keyid()}, {"sig", base64_encode(*s)}});
  }
  return nlohmann::json{{"payloadType", type}, {"payload", base64_encode(payload)}, {"signatures", sigs}};
}

DsseCheck dsse_verify(const nlohmann::json& env, const std::vector<Ed25519Key>& keys) {
  DsseCheck c;
  if (!env.is_object() || !env.contains("payloadType") || !env["payloadType"].is_string() || !env.contains("payload") ||
      !env["payload"].is_string() || !env.contains("signatures") || !env["signatures"].is_array()) {
    c.problems.push_back("not a DSSE envelope (payloadType, payload, signatures)");
    return c;
  }
  c.payload_type = env["payloadType"].get<std::string>();
  auto payload = base64_decode(env["payload"].get<std::string>());
  if (!payload) {
    c.problems.push_back("payload: " + payload.error());
    return c;
  }
  c.payload = *payload;
  const std::string pae = dsse_pae(c.payload_type, c.payload);
  for (const auto& s : env["signatures"]) {
    if (!s.is_object() || !s.contains("sig") || !s["sig"].is_string()) {
      c.problems.push_back("a signature without 'sig'");
      continue;
    }
    auto sig = base64_decode(s["sig"].get<std::string>());
    const std::string keyid = s.contains("keyid") && s["keyid"].is_string() ? s["keyid"].get<std::string>() : "";
    for (const auto& k : keys) {
      // keyid is a hint; a signature is tried against every key it may be for.
      if (!keyid.empty() && keyid != k.keyid()) continue;
      if (sig && k.verify(pae, *sig)) c.verified.push_back(k.keyid());
      else if (!keyid.empty()) c.problems.push_back(fmt::format("the signature by key {} does not verify", keyid.substr(0, 16)));
    }
  }
  return c;
}

}  // namespace wrt
