// What a stage's cache key is made of, its canonical hash, and the
// human-readable difference between two keys (for `wrt explain`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cache/cache_store.h"
#include "core/util/hash.h"

namespace wrt {

struct KeyInputs {
  std::string stage;  // recorded for explain; not hashed (renaming a stage keeps its cache)
  std::string plugin;
  std::string plugin_version;
  std::uint32_t abi_major = 0;
  std::uint32_t abi_minor = 0;
  // The stage's `with` table, not owned (the configuration outlives every
  // key): copying it for each stage was a measurable part of a no-op run.
  const nlohmann::json* with = nullptr;
  std::vector<std::string> outputs;  // declared outputs
  std::vector<std::pair<std::string, Digest>> files;                         // sorted by path
  std::vector<std::pair<std::string, std::optional<std::string>>> env;       // declared order
  std::vector<std::pair<std::string, std::string>> fingerprints;             // sorted
  std::vector<std::pair<std::string, Digest>> upstream;                      // need name -> output digest
};

// SHA-256 over a length-prefixed canonical encoding: the same inputs always
// give the same key, on any machine and in any checkout (paths are
// workspace-relative).
Digest compute_key(const KeyInputs& inputs);

nlohmann::json key_inputs_to_json(const KeyInputs& inputs);

// key_inputs_to_json(inputs).dump(), byte for byte, given the key's hex
// (compute_key's, not computed again), built without a JSON document: a
// restore into a fresh checkout writes one such record per stage, and the
// document and its dump were a sixth of its CPU. tests/cache_key_test.cc
// compares the two.
std::string key_record_text(const KeyInputs& inputs, std::string_view key_hex);

// Appends v.dump() to `out`, byte for byte, without nlohmann's per-character
// escaping state machine for the common values (plain ASCII strings,
// integers); others are handed to dump(). The key hashes this text, so it
// must never differ from dump(): tests/cache_key_test.cc compares the two.
void append_json_dump(std::string& out, const nlohmann::json& v);

// Lines such as "input src/a.c changed", "env CC: 'gcc' -> 'clang'",
// "upstream build: outputs changed", "config (with) changed". Empty when
// the two records describe the same key.
std::vector<std::string> explain_difference(const nlohmann::json& before, const nlohmann::json& now);

// Digest of a set of output files (path + content), what dependents see.
Digest outputs_digest(const std::vector<CachedFile>& outputs);

}  // namespace wrt
