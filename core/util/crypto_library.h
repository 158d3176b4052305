// libcrypto (OpenSSL 3), opened with dlopen on first use rather than linked:
// loading it cost every wrt start ~1.6 MiB of resident memory (its
// relocated data and the pages the loader touches; issue 17), while only
// signing and verifying (DSSE envelopes: remote cache entries, evidence)
// and SHA-256 on a CPU without SHA extensions (sha256_blocks.h) need it.
// Like curl_library.h. The OpenSSL headers give the types; no symbol of
// libcrypto is linked.
#pragma once

// SHA256_Transform is deprecated in OpenSSL 3.0 (still exported).
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cstdio>
#include <string>

namespace wrt {

struct CryptoLibrary {
  // Each pointer has the type the header declares (decltype names the
  // function without using it, so nothing is linked).
  decltype(&::EVP_PKEY_free) EVP_PKEY_free;
  decltype(&::i2d_PUBKEY) i2d_PUBKEY;
  decltype(&::CRYPTO_free) CRYPTO_free;
  decltype(&::PEM_read_PrivateKey) PEM_read_PrivateKey;
  decltype(&::PEM_read_PUBKEY) PEM_read_PUBKEY;
  decltype(&::EVP_PKEY_get_id) EVP_PKEY_get_id;
  decltype(&::EVP_MD_CTX_new) EVP_MD_CTX_new;
  decltype(&::EVP_MD_CTX_free) EVP_MD_CTX_free;
  decltype(&::EVP_DigestSignInit) EVP_DigestSignInit;
  decltype(&::EVP_DigestSign) EVP_DigestSign;
  decltype(&::EVP_DigestVerifyInit) EVP_DigestVerifyInit;
  decltype(&::EVP_DigestVerify) EVP_DigestVerify;
  // One SHA-256 block into ctx->h (deprecated in 3.0, still exported): the
  // fallback compression function of sha256_blocks.h.
  decltype(&::SHA256_Transform) SHA256_Transform;
  std::string error;  // why it could not be loaded; the pointers are then null
};

// The library, loaded once (thread-safe).
const CryptoLibrary& crypto_library();

}  // namespace wrt
