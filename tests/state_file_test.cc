#include "core/util/state_file.h"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

using namespace wrt;

namespace {
const char kMagic[9] = "WRTTEST1";
}

TEST_CASE("state file: a sealed file written in pieces is the file seal_state makes, and opens again",
          "[state-file]") {
  // Sizes around the 8-byte words of the checksum and the 64 KiB pieces.
  for (std::size_t size : {0, 1, 7, 8, 9, 15, 16, 17, 65535, 65536, 65537, 200003}) {
    INFO(size);
    std::string payload(size, '\0');
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>((i * 131 + 7) & 0xff);
    std::ostringstream out;
    SealedStreamWriter w(out, kMagic, 3, size);
    // Written in uneven pieces, as the stat cache writes entries.
    std::size_t at = 0;
    for (std::size_t piece = 1; at < size; piece = piece * 3 % 1000 + 1) {
      const std::size_t n = std::min(piece, size - at);
      w.bytes(std::string_view(payload).substr(at, n));
      at += n;
    }
    REQUIRE(w.finish());
    const std::string file = out.str();
    CHECK(file == seal_state(kMagic, 3, payload));
    auto back = unseal_state(file, kMagic, 3);
    REQUIRE(back.ok());
    CHECK(*back == payload);
  }
}

TEST_CASE("state file: a streamed file whose payload is not the size announced is refused", "[state-file]") {
  std::ostringstream shorter, longer;
  SealedStreamWriter a(shorter, kMagic, 1, 10);
  a.bytes("123456789");
  CHECK_FALSE(a.finish());
  SealedStreamWriter b(longer, kMagic, 1, 10);
  b.bytes("12345678901");
  CHECK_FALSE(b.finish());
}
