// wrt's SHA-256 (hash.h over sha256_blocks.h) against FIPS 180-4's example
// vectors and against OpenSSL's SHA256(), for every compression function
// this machine can run: a wrong digest would be a wrong cache key.
#include <openssl/sha.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/util/hash.h"
#include "core/util/sha256_blocks.h"

using namespace wrt;

namespace {

std::vector<Sha256Implementation> available() {
  std::vector<Sha256Implementation> out;
  for (auto impl : {sha256_shani(), sha256_openssl(), sha256_portable()})
    if (impl.blocks) out.push_back(impl);
  return out;
}

std::string hex_of(std::string_view data, const Sha256Implementation& impl, std::size_t chunk = 0) {
  Sha256 h(impl);
  if (chunk == 0) {
    h.update(data);
  } else {
    for (std::size_t at = 0; at < data.size(); at += chunk) h.update(data.substr(at, chunk));
  }
  return to_hex(h.finish());
}

std::string openssl_hex(std::string_view data) {
  Digest d{};
  ::SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return to_hex(d);
}

}  // namespace

TEST_CASE("sha256: FIPS 180-4 example vectors, every implementation", "[sha256]") {
  // The portable one always exists; on this machine's CPU and with
  // libcrypto installed the other two must as well (the test says which).
  auto impls = available();
  REQUIRE(impls.size() >= 2);
  for (const auto& impl : impls) {
    INFO(impl.name);
    CHECK(hex_of("", impl) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex_of("abc", impl) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", impl) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(hex_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrst"
                 "nopqrstu",
                 impl) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    CHECK(hex_of(std::string(1000000, 'a'), impl, 4096) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_CASE("sha256: same digests as OpenSSL for every length around the block and padding boundaries", "[sha256]") {
  std::mt19937 rng(20261202);
  std::string data(70000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n <= 200; ++n) lengths.push_back(n);  // 55/56/63/64/119/120/127/128 among them
  for (std::size_t n : {1000u, 4095u, 4096u, 4097u, 65535u, 65536u, 65537u, 70000u}) lengths.push_back(n);
  for (const auto& impl : available()) {
    INFO(impl.name);
    for (std::size_t n : lengths) {
      INFO("length " << n);
      const std::string_view part(data.data(), n);
      const std::string want = openssl_hex(part);
      CHECK(hex_of(part, impl) == want);
      // Fed in pieces that straddle block boundaries.
      for (std::size_t chunk : {1u, 7u, 63u, 64u, 65u, 1000u}) CHECK(hex_of(part, impl, chunk) == want);
    }
  }
}

TEST_CASE("sha256: the process uses the CPU's SHA extensions when it has them, else OpenSSL's", "[sha256]") {
  const auto& chosen = sha256_implementation();
  if (sha256_shani().blocks)
    CHECK(std::string(chosen.name) == "sha-ni");
  else if (sha256_openssl().blocks)
    CHECK(std::string(chosen.name) == "openssl");
  else
    CHECK(std::string(chosen.name) == "portable");
  // And Sha256() is that one: its digest equals OpenSSL's.
  CHECK(to_hex(sha256("wrt")) == openssl_hex("wrt"));
}

TEST_CASE("sha256: the wrt executable does not link libcrypto (it is opened only when needed)", "[sha256]") {
  // readelf (binutils, installed with the compiler) lists the libraries the
  // loader maps at every start.
  std::FILE* p = ::popen("readelf -d '" WRT_BINARY "' 2>&1", "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  REQUIRE(::pclose(p) == 0);
  REQUIRE(out.find("(NEEDED)") != std::string::npos);
  CHECK(out.find("libcrypto") == std::string::npos);
}
