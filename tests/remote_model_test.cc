// The parsed wrt.toml as the remote cache keeps it (core/cache/remote_model.h):
// a model is opened only when a trusted key signed it for this build and
// this text and its bytes are the signed ones; everything a hostile server
// or runner could change instead is refused with a reason.
#include "core/cache/remote_model.h"

#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "core/cache/remote_entry.h"
#include "core/util/base64.h"
#include "support.h"

using namespace wrt::test;

namespace {

struct Keys {
  TempDir dir;
  Keys() {
    ed25519_keypair(dir.path(), "ci");
    ed25519_keypair(dir.path(), "mallory");
  }
  wrt::Ed25519Key priv(const std::string& name) const { return *wrt::Ed25519Key::load_private(dir / (name + ".pem")); }
  wrt::Ed25519Key pub(const std::string& name) const { return *wrt::Ed25519Key::load_public(dir / (name + ".pub")); }
};

const wrt::Digest kBuild = wrt::sha256(std::string("wrt build"));
const wrt::Digest kText = wrt::sha256(std::string("[stages.a]\n"));

// A model's bytes: any bytes do (the format is the config cache's), with
// every byte value and long enough to compress.
std::string model_bytes() {
  std::string m;
  for (int i = 0; i < 40000; ++i) m.push_back(static_cast<char>(i % 251));
  return m;
}

}  // namespace

TEST_CASE("remote model: sealed by a trusted key, opened to the same bytes, and its key names build and text",
          "[remote-model]") {
  Keys keys;
  const std::string model = model_bytes();
  auto object = wrt::seal_remote_model(keys.priv("ci"), kBuild, kText, model);
  REQUIRE(object);
  CHECK(object->rfind("wrt-remote-model 1 ", 0) == 0);
  CHECK(object->size() < model.size());  // packed
  auto opened = wrt::open_remote_model(*object, {keys.pub("mallory"), keys.pub("ci")}, kBuild, kText);
  REQUIRE(opened);
  CHECK(*opened == model);

  const std::string key = wrt::remote_model_key(kBuild, kText);
  CHECK(key.size() == 64);
  CHECK(key != wrt::remote_model_key(wrt::sha256(std::string("another build")), kText));
  CHECK(key != wrt::remote_model_key(kBuild, wrt::sha256(std::string("another text"))));
  CHECK(key == wrt::remote_model_key(kBuild, kText));
}

TEST_CASE("remote model: another signer, build or text, an altered or cut object is refused with why",
          "[remote-model]") {
  Keys keys;
  const std::string model = model_bytes();
  const std::string object = *wrt::seal_remote_model(keys.priv("ci"), kBuild, kText, model);
  auto refused = [&](const std::string& o, const std::vector<wrt::Ed25519Key>& trusted, const wrt::Digest& build,
                     const wrt::Digest& text) {
    auto r = wrt::open_remote_model(o, trusted, build, text);
    REQUIRE_FALSE(r);
    return r.error();
  };
  CHECK(refused(object, {keys.pub("mallory")}, kBuild, kText) == "not signed by a trusted key");
  CHECK(refused(object, {}, kBuild, kText) == "not signed by a trusted key");
  const std::string by_mallory = *wrt::seal_remote_model(keys.priv("mallory"), kBuild, kText, model);
  CHECK(refused(by_mallory, {keys.pub("ci")}, kBuild, kText) == "not signed by a trusted key");
  CHECK(refused(object, {keys.pub("ci")}, wrt::sha256(std::string("x")), kText) == "it was made by another wrt build");
  CHECK(refused(object, {keys.pub("ci")}, kBuild, wrt::sha256(std::string("x"))) ==
        "it was made from another wrt.toml");

  // One byte of the packed model changed: its digest is not the signed one.
  std::string altered = object;
  altered[altered.size() - 10] ^= 1;
  CHECK(refused(altered, {keys.pub("ci")}, kBuild, kText) == "its model does not match its signed digest");
  const std::size_t header_end = object.find('\n') + 1;
  // Truncations and a padded object: sizes do not add up.
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, header_end, header_end + 10, object.size() - 1}) {
    const std::string why = refused(object.substr(0, cut), {keys.pub("ci")}, kBuild, kText);
    CHECK((why == "no wrt-remote-model 1 header" || why == "its header is malformed" ||
           why == "its sizes do not add up to its length (truncated or padded)"));
  }
  CHECK(refused(object + "x", {keys.pub("ci")}, kBuild, kText) ==
        "its sizes do not add up to its length (truncated or padded)");
  CHECK(refused("wrt-remote-model 1 012 3\nabc", {keys.pub("ci")}, kBuild, kText) == "its header is malformed");
  CHECK(refused("wrt-remote-model 1 3 0\nabc", {keys.pub("ci")}, kBuild, kText) ==
        "its statement is not a DSSE envelope");
  // A genuine entry's batch statement (another payload type) is no model statement.
  auto entry_envelope = wrt::dsse_sign("application/vnd.wrt.cache-batch.v1", "{}", {keys.priv("ci")});
  REQUIRE(entry_envelope);
  const std::string st = entry_envelope->dump();
  CHECK(refused("wrt-remote-model 1 " + std::to_string(st.size()) + " 0\n" + st, {keys.pub("ci")}, kBuild, kText) ==
        "its statement is not a wrt config model statement");
}

TEST_CASE("remote model: a signed statement whose blob is no zstd frame, or states a size over the limit, is refused",
          "[remote-model]") {
  Keys keys;
  // Signed honestly, but over bytes that are not a packed model.
  auto seal_raw = [&](const std::string& blob) {
    const nlohmann::json statement = {{"build", wrt::to_hex(kBuild)},
                                      {"text", wrt::to_hex(kText)},
                                      {"model", wrt::to_hex(wrt::sha256(blob))},
                                      {"modelSize", blob.size()}};
    auto env = wrt::dsse_sign(wrt::kRemoteModelType, statement.dump(), {keys.priv("ci")});
    REQUIRE(env);
    const std::string s = env->dump();
    return "wrt-remote-model 1 " + std::to_string(s.size()) + " " + std::to_string(blob.size()) + "\n" + s + blob;
  };
  auto plain = wrt::open_remote_model(seal_raw("not zstd at all"), {keys.pub("ci")}, kBuild, kText);
  REQUIRE_FALSE(plain);
  CHECK(plain.error() == "its model cannot be unpacked: it is not a zstd frame stating its size");
  // A zstd frame header claiming 1 GiB (magic, descriptor with an 8-byte size).
  std::string huge("\x28\xb5\x2f\xfd\xe0", 5);
  const std::uint64_t size = 1ull << 30;
  for (int i = 0; i < 8; ++i) huge.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  huge += std::string(8, '\0');
  auto big = wrt::open_remote_model(seal_raw(huge), {keys.pub("ci")}, kBuild, kText);
  REQUIRE_FALSE(big);
  CHECK(big.error().rfind("its model cannot be unpacked: ", 0) == 0);
  // A statement missing a field.
  auto env = wrt::dsse_sign(wrt::kRemoteModelType, R"({"build":"00"})", {keys.priv("ci")});
  const std::string s = env->dump();
  auto malformed = wrt::open_remote_model("wrt-remote-model 1 " + std::to_string(s.size()) + " 0\n" + s,
                                          {keys.pub("ci")}, kBuild, kText);
  REQUIRE_FALSE(malformed);
  CHECK(malformed.error() == "its signed statement is malformed (build, text, model, modelSize)");
}
