#include "core/cache/cache_key.h"

#include <catch2/catch.hpp>

using namespace wrt;

namespace {
const nlohmann::json kMake = {{"run", "make"}};
const nlohmann::json kMakeJ2 = {{"run", "make -j2"}};
const nlohmann::json kNinja = {{"run", "ninja"}};

KeyInputs base() {
  KeyInputs k;
  k.stage = "build";
  k.plugin = "command";
  k.plugin_version = "1.0.0";
  k.abi_major = 1;
  k.with = &kMake;
  k.outputs = {"out/app"};
  k.files = {{"src/a.c", sha256("a")}, {"src/b.c", sha256("b")}};
  k.env = {{"CC", std::string("gcc")}};
  k.fingerprints = {{"gcc", "12.2"}};
  k.upstream = {{"gen", sha256("gen-out")}};
  return k;
}
}  // namespace

TEST_CASE("cache_key: every ingredient changes the key, stage name does not", "[cache_key]") {
  const Digest k0 = compute_key(base());
  CHECK(compute_key(base()) == k0);
  auto differs = [&](auto mutate) {
    KeyInputs k = base();
    mutate(k);
    return compute_key(k) != k0;
  };
  CHECK(differs([](KeyInputs& k) { k.plugin = "cmake"; }));
  CHECK(differs([](KeyInputs& k) { k.plugin_version = "1.0.1"; }));
  CHECK(differs([](KeyInputs& k) { k.abi_minor = 1; }));
  CHECK(differs([](KeyInputs& k) { k.with = &kMakeJ2; }));
  // The same table held elsewhere is the same key.
  const nlohmann::json copy = kMake;
  CHECK_FALSE(differs([&](KeyInputs& k) { k.with = &copy; }));
  CHECK(differs([](KeyInputs& k) { k.outputs.push_back("out/lib"); }));
  CHECK(differs([](KeyInputs& k) { k.files[0].second = sha256("A"); }));
  CHECK(differs([](KeyInputs& k) { k.files[0].first = "src/c.c"; }));
  CHECK(differs([](KeyInputs& k) { k.env[0].second = std::nullopt; }));
  CHECK(differs([](KeyInputs& k) { k.env[0].second = ""; }));
  CHECK(differs([](KeyInputs& k) { k.fingerprints[0].second = "13.1"; }));
  CHECK(differs([](KeyInputs& k) { k.upstream[0].second = sha256("other"); }));
  CHECK_FALSE(differs([](KeyInputs& k) { k.stage = "renamed"; }));
  // Field boundaries are unambiguous.
  CHECK(differs([](KeyInputs& k) { k.files = {{"src/a.cs", sha256("a")}, {"rc/b.c", sha256("b")}}; }));
}

TEST_CASE("cache_key: explain_difference names what changed", "[cache_key]") {
  KeyInputs a = base(), b = base();
  b.files[1].second = sha256("B");
  b.files.push_back({"src/new.c", sha256("n")});
  b.env[0].second = "clang";
  b.upstream[0].second = sha256("x");
  b.with = &kNinja;
  auto diff = explain_difference(key_inputs_to_json(a), key_inputs_to_json(b));
  auto has = [&](const std::string& s) {
    return std::any_of(diff.begin(), diff.end(), [&](const std::string& d) { return d.find(s) != std::string::npos; });
  };
  CHECK(has("input src/b.c changed"));
  CHECK(has("input src/new.c added"));
  CHECK(has("env CC changed: 'gcc' -> 'clang'"));
  CHECK(has("outputs of needed stage gen changed"));
  CHECK(has("config (with) changed"));
  CHECK_FALSE(has("src/a.c"));
  CHECK(explain_difference(key_inputs_to_json(a), key_inputs_to_json(a)).empty());
}

TEST_CASE("cache_key: outputs_digest depends on paths, content and mode", "[cache_key]") {
  std::vector<CachedFile> o{{"out/a", sha256("a"), 1, false}};
  Digest d = outputs_digest(o);
  auto o2 = o;
  o2[0].executable = true;
  CHECK(outputs_digest(o2) != d);
  o2 = o;
  o2[0].path = "out/b";
  CHECK(outputs_digest(o2) != d);
  CHECK(outputs_digest(o) == d);
}

TEST_CASE("cache_key: the key of a known stage is pinned (a change would orphan every cache)", "[cache_key]") {
  // Captured with the encoding of 2026-12-02 (wrt-key-v4: remote entries
  // framed as remote_entry.h says; v3 before, whose key was f50a3078...,
  // and v2, 6499d017...). A `with` table with
  // escapes, unicode, floats and nesting goes through every path of the text
  // that is hashed (append_json_dump).
  const nlohmann::json with = nlohmann::json::parse(
      R"({"run":"cc -o \"out\" a.c\n","args":["x",1,-2,3.5,true,null,{"k\u00e9y":"v\\w"}],"n":18446744073709551615})");
  KeyInputs k = base();
  CHECK(to_hex(compute_key(k)) == "e564551dcd582c4c0268099085513d9aa364f3e0ff1c9cd4931d9f158c4c2eb0");
  k.with = &with;
  CHECK(to_hex(compute_key(k)) == "fa6497a0f9d767b1a11bd138ef40b4d2e91ddccb4fc9e4eb2665ab4fe3a207d5");
}

TEST_CASE("cache_key: the text a with table is hashed as is its dump(), whatever it holds", "[cache_key]") {
  const char* docs[] = {
      R"(null)",
      R"({})",
      R"([])",
      R"({"run":"make"})",
      R"({"run":"say \"hi\"\\ there\ttab\u0001\u001f\u007f"})",
      R"({"résumé":"naïve ✓ 𝄞","z":{"a":[1,-1,0,9223372036854775807,-9223372036854775808,18446744073709551615]}})",
      R"({"f":[0.1,1e300,-2.5,1.0,3.14159265358979,1e-7]})",
      R"({"b":[true,false,null],"nested":[[[]],[{}],{"x":{"y":{"z":"deep"}}}]})",
      R"({"key \"quoted\"":1,"back\\slash":2,"ctl\n":3})",
  };
  for (const char* doc : docs) {
    INFO(doc);
    const nlohmann::json v = nlohmann::json::parse(doc);
    std::string text = "prefix:";
    append_json_dump(text, v);
    CHECK(text == "prefix:" + v.dump());
  }
}

TEST_CASE("cache_key: key_record_text is key_inputs_to_json's dump, byte for byte", "[cache_key]") {
  auto same = [](const KeyInputs& k) {
    const std::string want = key_inputs_to_json(k).dump();
    const std::string got = key_record_text(k, to_hex(compute_key(k)));
    CHECK(got == want);
    CHECK(nlohmann::json::parse(got) == key_inputs_to_json(k));
  };
  same(base());
  KeyInputs empty;
  same(empty);  // no with table: null; every map empty
  KeyInputs k = base();
  const nlohmann::json odd = {{"run", "echo \"é\\t\x01\""}, {"n", -3}, {"f", 1.5}, {"list", {1, "x", nullptr, true}}};
  k.with = &odd;
  k.stage = "st\"age\\é";
  k.plugin_version = "1.0\n";
  k.outputs = {"out/ü", "out/\"q\"", "a"};
  // Unsorted and repeated names: the record holds each name once, the last.
  k.env = {{"ZZ", std::nullopt}, {"CC", std::string("gcc")}, {"CC", std::string("clang")}, {"Ä", std::string("\x7f")}};
  k.files = {{"src/b.c", sha256("b")}, {"src/a.c", sha256("a")}, {"src/a.c", sha256("a2")}};
  k.fingerprints = {{"z", "1"}, {"a", "2\t"}, {"a", "3"}};
  k.upstream = {{"u2", sha256("2")}, {"u1", sha256("1")}, {"u2", sha256("3")}};
  same(k);
}
