#include "core/util/crypto_library.h"

#include <dlfcn.h>

#include <type_traits>

#include <fmt/core.h>

namespace wrt {

const CryptoLibrary& crypto_library() {
  static const CryptoLibrary c = [] {
    CryptoLibrary c{};
    // The major version wrt was built against names the soname (3 on Debian 12).
    const std::string soname = fmt::format("libcrypto.so.{}", OPENSSL_VERSION_MAJOR);
    void* h = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      c.error = fmt::format("cannot load {} (Debian package libssl3): {}", soname, e ? e : "not found");
      return c;
    }
    std::string missing;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
      if (!fn && missing.empty()) missing = name;
    };
    sym(c.EVP_PKEY_free, "EVP_PKEY_free");
    sym(c.i2d_PUBKEY, "i2d_PUBKEY");
    sym(c.CRYPTO_free, "CRYPTO_free");
    sym(c.PEM_read_PrivateKey, "PEM_read_PrivateKey");
    sym(c.PEM_read_PUBKEY, "PEM_read_PUBKEY");
    sym(c.EVP_PKEY_get_id, "EVP_PKEY_get_id");
    sym(c.EVP_MD_CTX_new, "EVP_MD_CTX_new");
    sym(c.EVP_MD_CTX_free, "EVP_MD_CTX_free");
    sym(c.EVP_DigestSignInit, "EVP_DigestSignInit");
    sym(c.EVP_DigestSign, "EVP_DigestSign");
    sym(c.EVP_DigestVerifyInit, "EVP_DigestVerifyInit");
    sym(c.EVP_DigestVerify, "EVP_DigestVerify");
    sym(c.SHA256_Transform, "SHA256_Transform");
    if (!missing.empty()) {
      CryptoLibrary none{};
      none.error = fmt::format("{} has no {}", soname, missing);
      return none;
    }
    return c;
  }();
  return c;
}

}  // namespace wrt
