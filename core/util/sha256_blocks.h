// The SHA-256 compression function (FIPS 180-4, section 6.2.2) that
// hash.h's Sha256 runs over each 64-byte block, chosen once per process:
//   1. the CPU's SHA extensions (x86 SHA-NI), when it has them: what
//      OpenSSL uses there too, at the same speed;
//   2. else OpenSSL's own (SHA256_Transform, libcrypto loaded on first use:
//      crypto_library.h), which has SSSE3/AVX2 code for such CPUs;
//   3. else a portable C++ one.
// Why not simply OpenSSL's SHA256_*: linking libcrypto cost every run
// ~1.6 MiB of resident memory (issue 17) though most CPUs wrt runs on have
// SHA extensions. Every implementation gives the same digests; the tests
// check each against OpenSSL on inputs of every length class.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wrt {

// Runs `blocks` 64-byte blocks at `data` into `state` (H0..H7).
using Sha256BlocksFn = void (*)(std::uint32_t state[8], const unsigned char* data, std::size_t blocks);

struct Sha256Implementation {
  Sha256BlocksFn blocks;
  const char* name;  // "sha-ni" | "openssl" | "portable"
};

// The one this process uses (decided on first call; thread-safe).
const Sha256Implementation& sha256_implementation();

// Each one, for tests and benchmarks; `blocks` is null where unavailable
// (no SHA extensions; libcrypto cannot be loaded).
Sha256Implementation sha256_shani();
Sha256Implementation sha256_openssl();
Sha256Implementation sha256_portable();

}  // namespace wrt
