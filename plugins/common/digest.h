// SHA-256 for the built-in plugins (OpenSSL's libcrypto): the digests the
// deploy ledger, the API baselines and the release's API check record.
#pragma once

#include <cstdint>
#include <string>

namespace wrt::plugins {

// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(const std::string& bytes);
// Of a file's content, read in 64 KiB pieces; "" when it cannot be read.
std::string sha256_file(const std::string& path, std::uint64_t* size = nullptr);

}  // namespace wrt::plugins
