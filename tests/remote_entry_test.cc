// The framing of a remote cache entry (core/cache/remote_entry.h): what a
// hostile server can send is refused unless it is exactly the framing.
#include "core/cache/remote_entry.h"

#include <catch2/catch.hpp>

#include <string>

#include "core/util/hash.h"

namespace {

wrt::RemoteEntry sample(std::vector<wrt::Digest>& proof) {
  proof = {wrt::sha256(std::string("a")), wrt::sha256(std::string("b"))};
  wrt::RemoteEntry e;
  e.statement = R"({"payloadType":"application/vnd.wrt.cache-batch.v1","payload":"e30=","signatures":[]})";
  e.index = 5;
  e.proof = proof;
  static const char bytes[] = "wrt-entry 3 0123\n{\"outputs\":[]}\n\x00\xff binary\n";
  static const std::string payload(bytes, sizeof bytes - 1);
  e.payload = payload;
  return e;
}

}  // namespace

TEST_CASE("remote entry: encode and decode round-trip, binary bytes and all", "[remote-entry]") {
  std::vector<wrt::Digest> proof;
  const wrt::RemoteEntry e = sample(proof);
  const std::string body = wrt::encode_remote_entry(e);
  CHECK(body.rfind("wrt-remote-entry 1 " + std::to_string(e.statement.size()) + " 5 2 " + std::to_string(e.payload.size()) + "\n", 0) == 0);
  std::string why;
  auto back = wrt::decode_remote_entry(body, &why);
  REQUIRE(back);
  CHECK(back->statement == e.statement);
  CHECK(back->index == 5);
  CHECK(back->proof == proof);
  CHECK(back->payload == e.payload);
  CHECK(back->payload.size() == 42);  // past the NUL byte
  // No proof (a batch of one) and index 0.
  wrt::RemoteEntry one = e;
  one.index = 0;
  one.proof.clear();
  const std::string alone_body = wrt::encode_remote_entry(one);  // the views point into it
  auto alone = wrt::decode_remote_entry(alone_body, &why);
  REQUIRE(alone);
  CHECK(alone->proof.empty());
  CHECK(alone->payload == e.payload);
}

TEST_CASE("remote entry: every truncation and any padding is refused", "[remote-entry]") {
  std::vector<wrt::Digest> proof;
  const std::string body = wrt::encode_remote_entry(sample(proof));
  std::string why;
  for (std::size_t n = 0; n < body.size(); ++n) {
    INFO(n);
    CHECK_FALSE(wrt::decode_remote_entry(body.substr(0, n), &why));
  }
  CHECK_FALSE(wrt::decode_remote_entry(body + "x", &why));
  CHECK(why == "its sizes do not add up to its length (truncated or padded)");
}

TEST_CASE("remote entry: a malformed header is refused, naming what is wrong", "[remote-entry]") {
  std::vector<wrt::Digest> proof;
  const wrt::RemoteEntry e = sample(proof);
  const std::string tail = std::string(e.statement) + std::string(64, 'p') + std::string(e.payload);
  const std::string st = std::to_string(e.statement.size());
  const std::string sizes = " 2 " + std::to_string(e.payload.size()) + "\n";
  struct Case {
    std::string body, why;
  };
  const Case cases[] = {
      {"", "no wrt-remote-entry 1 header"},
      {R"({"payloadType":"application/vnd.wrt.cache-entry.v1","payload":"","batch":{}})", "no wrt-remote-entry 1 header"},
      {"wrt-remote-entry 2 " + st + " 5" + sizes + tail, "no wrt-remote-entry 1 header"},
      {"wrt-remote-entry 1 0" + st + " 5" + sizes + tail, "its header is malformed"},
      {"wrt-remote-entry 1 +" + st + " 5" + sizes + tail, "its header is malformed"},
      {"wrt-remote-entry 1 " + st + "  5" + sizes + tail, "its header is malformed"},
      {"wrt-remote-entry 1 " + st + " 5 2 " + std::to_string(e.payload.size()) + " \n" + tail, "its header is malformed"},
      {"wrt-remote-entry 1 " + st + " 99999999999999999999" + sizes + tail, "its header is malformed"},
      {"wrt-remote-entry 1 " + st + " 5" + sizes.substr(0, sizes.size() - 1) + "\r\n" + tail, "its header is malformed"},
      {"wrt-remote-entry 1 0 5 2 " + std::to_string(tail.size() - 64) + "\n" + std::string(64, 'p') + tail.substr(0, tail.size() - 64),
       "its statement size is out of range"},
      {"wrt-remote-entry 1 " + st + " 5 65 " + std::to_string(e.payload.size()) + "\n" + tail, "its proof is longer than any batch needs"},
      {"wrt-remote-entry 1 " + st + " 5 2 9999999999999999999\n" + tail, "its sizes do not add up to its length (truncated or padded)"},
      {"wrt-remote-entry 1 " + std::to_string(e.statement.size() + 1) + " 5" + sizes + tail, "its sizes do not add up to its length (truncated or padded)"},
  };
  for (const auto& c : cases) {
    INFO(c.body.substr(0, 60));
    std::string why;
    CHECK_FALSE(wrt::decode_remote_entry(c.body, &why));
    CHECK(why == c.why);
  }
  // The well-formed one among them decodes.
  std::string why;
  CHECK(wrt::decode_remote_entry("wrt-remote-entry 1 " + st + " 5" + sizes + tail, &why));
}

TEST_CASE("remote bundle: encode and decode round-trip, and every truncation, padding and malformed part is refused",
          "[remote-entry]") {
  std::vector<wrt::Digest> proof;
  const wrt::RemoteEntry e = sample(proof);
  const std::string k1 = wrt::to_hex(wrt::sha256(std::string("k1"))), k2 = wrt::to_hex(wrt::sha256(std::string("k2")));
  const std::string second = "wrt-entry 3\n{}\n";
  const std::string body = wrt::encode_remote_bundle({{k1, e.payload}, {k2, second}});
  CHECK(body.rfind("wrt-remote-bundle 1 2\n" + k1 + " " + std::to_string(e.payload.size()) + "\n", 0) == 0);
  std::string why;
  auto back = wrt::decode_remote_bundle(body, &why);
  REQUIRE(back);
  REQUIRE(back->size() == 2);
  CHECK((*back)[0].key_hex == k1);
  CHECK((*back)[0].payload == e.payload);  // NUL byte and all
  CHECK((*back)[1].key_hex == k2);
  CHECK((*back)[1].payload == second);
  const std::string empty_body = wrt::encode_remote_bundle({});
  auto empty = wrt::decode_remote_bundle(empty_body, &why);
  REQUIRE(empty);
  CHECK(empty->empty());

  for (std::size_t n = 0; n < body.size(); ++n) {
    INFO(n);
    CHECK_FALSE(wrt::decode_remote_bundle(body.substr(0, n), &why));
  }
  CHECK_FALSE(wrt::decode_remote_bundle(body + "x", &why));
  CHECK(why == "bytes follow its last entry");

  struct Case {
    std::string body, why;
  };
  const Case cases[] = {
      {"wrt-remote-bundle 2 1\nabc 0\n", "no wrt-remote-bundle 1 header"},
      {"wrt-remote-bundle 1 01\nabc 0\n", "its header is malformed"},
      {"wrt-remote-bundle 1 -1\nabc 0\n", "its header is malformed"},
      {"wrt-remote-bundle 1 2\nabc 0\n", "it claims more entries than it can hold"},
      {"wrt-remote-bundle 1 99999999999999999\nabc 0\n", "it claims more entries than it can hold"},
      {"wrt-remote-bundle 1 1\nABC 0\n", "an entry's key is malformed"},
      {"wrt-remote-bundle 1 1\nab 10\n", "an entry's key is malformed"},
      {"wrt-remote-bundle 1 1\n" + std::string(129, 'a') + " 0\n", "an entry's key is malformed"},
      {"wrt-remote-bundle 1 1\nabc  0\n", "an entry's size is malformed"},
      {"wrt-remote-bundle 1 1\nabc 00\n", "an entry's size is malformed"},
      {"wrt-remote-bundle 1 1\nabc 5\nabcd", "an entry is cut short"},
  };
  for (const auto& c : cases) {
    INFO(c.body.substr(0, 60));
    CHECK_FALSE(wrt::decode_remote_bundle(c.body, &why));
    CHECK(why == c.why);
  }
  CHECK(wrt::decode_remote_bundle("wrt-remote-bundle 1 1\nabc 0\n", &why));
  CHECK(wrt::decode_remote_bundle("wrt-remote-bundle 1 1\n" + std::string(128, 'a') + " 0\n", &why));
}

TEST_CASE("remote bundle: packed as one zstd frame, and anything else is refused when unpacked", "[remote-entry]") {
  const std::string plain = wrt::encode_remote_bundle({{std::string(64, 'a'), std::string(5000, 'x')}});
  const std::string packed = wrt::pack_remote_bundle(plain);
  CHECK(packed.size() < plain.size() / 10);
  std::string why;
  auto back = wrt::unpack_remote_bundle(packed, &why);
  REQUIRE(back);
  CHECK(*back == plain);
  CHECK_FALSE(wrt::unpack_remote_bundle(plain, &why));
  CHECK(why == "it is not a zstd frame stating its size");
  CHECK_FALSE(wrt::unpack_remote_bundle(packed + "x", &why));
  CHECK(why == "bytes follow its zstd frame");
  for (std::size_t n = 0; n < packed.size(); ++n) {
    INFO(n);
    CHECK_FALSE(wrt::unpack_remote_bundle(packed.substr(0, n), &why));
  }
  // A frame stating more than a bundle may hold is not decompressed.
  const std::string huge = wrt::pack_remote_bundle(std::string(wrt::kMaxRemoteBundle + 1, 'z'));
  CHECK_FALSE(wrt::unpack_remote_bundle(huge, &why));
  CHECK(why == "it is larger than it may be");
}
