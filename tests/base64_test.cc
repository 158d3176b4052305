// base64 as DSSE envelopes carry it (core/util/base64.h). Vectors: RFC 4648,
// section 10 (https://www.rfc-editor.org/rfc/rfc4648#section-10).
#include "core/util/base64.h"

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("base64: RFC 4648 section 10 vectors, both ways", "[base64]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(wrt::base64_encode(plain) == encoded);
    auto back = wrt::base64_decode(encoded);
    REQUIRE(back.ok());
    CHECK(*back == plain);
  }
}

TEST_CASE("base64: every byte value round-trips, and the URL-safe alphabet decodes the same", "[base64]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string std_form = wrt::base64_encode(all);
  auto back = wrt::base64_decode(std_form);
  REQUIRE(back.ok());
  CHECK(*back == all);
  std::string url_form = std_form;
  for (char& c : url_form) c = c == '+' ? '-' : c == '/' ? '_' : c;
  REQUIRE(url_form != std_form);  // both 62 and 63 occur
  auto url_back = wrt::base64_decode(url_form);
  REQUIRE(url_back.ok());
  CHECK(*url_back == all);
}

TEST_CASE("base64: malformed input is an error naming what is wrong", "[base64]") {
  CHECK_THAT(wrt::base64_decode("Zm9v!").error(), Catch::Contains("invalid character 0x21"));
  CHECK_THAT(wrt::base64_decode("Zm 9v").error(), Catch::Contains("invalid character 0x20"));
  CHECK_THAT(wrt::base64_decode(std::string("Zm\x80v", 4)).error(), Catch::Contains("invalid character 0x80"));
  CHECK_THAT(wrt::base64_decode("Zg==Zg==").error(), Catch::Contains("data after padding"));
  CHECK_THAT(wrt::base64_decode("Z===").error(), Catch::Contains("too much padding"));
}
