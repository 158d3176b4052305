// DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1)
// signed with Ed25519 through OpenSSL: what wrt signs its evidence with.
//
// The signature covers PAE(payloadType, payload) =
//   "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
// (LEN as ASCII decimal). An envelope is
//   {"payloadType", "payload" (base64), "signatures": [{"keyid", "sig"}]}
// and may carry several signatures; keyid is the SHA-256 (hex) of the
// public key's DER (SubjectPublicKeyInfo) encoding.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/base64.h"
#include "core/util/result.h"

namespace wrt {

std::string dsse_pae(const std::string& payload_type, const std::string& payload);

// An Ed25519 key from a PEM file: private (PKCS#8, `openssl genpkey
// -algorithm ed25519`) to sign, public (`openssl pkey -pubout`) to verify.
class Ed25519Key {
 public:
  static Result<Ed25519Key> load_private(const std::filesystem::path& pem);
  static Result<Ed25519Key> load_public(const std::filesystem::path& pem);
  const std::string& keyid() const { return keyid_; }
  Result<std::string> sign(const std::string& message) const;  // raw 64-byte signature
  bool verify(const std::string& message, const std::string& signature) const;

 private:
  std::shared_ptr<void> pkey_;  // EVP_PKEY
  std::string keyid_;
};

// The envelope of `payload`, signed by every key (none: unsigned).
Result<nlohmann::json> dsse_sign(const std::string& payload_type, const std::string& payload,
                                 const std::vector<Ed25519Key>& keys);

struct DsseCheck {
  std::string payload;                 // decoded
  std::string payload_type;
  std::vector<std::string> verified;   // keyids whose signature verifies
  std::vector<std::string> problems;   // one line each: malformed, bad signature by a known key
};
// Checks every signature made by one of `keys`; signatures by other keys
// are ignored (neither trusted nor a problem).
DsseCheck dsse_verify(const nlohmann::json& envelope, const std::vector<Ed25519Key>& keys);

}  // namespace wrt
