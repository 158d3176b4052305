// The deployment ledger (`<target>/deployments.jsonl`): append-only, one
// JSON line per deployment, each naming the SHA-256 of the line before it
// ("prev"; 64 zeros for the first), so an edited, removed or reordered line
// breaks the chain and is found. A line:
//   {"v": 1, "seq": N, "prev": HEX, "environment", "action": "deploy" |
//    "promote", "release": "sha256:HEX" (over the artifacts' names and
//    digests), "artifacts": [{"name", "sha256", "size"}], "commit",
//    "branch", "stage", "who", "at"}
// `wrt deployments` reads the same format (core/results/deployments.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugins/common/digest.h"

namespace wrt::deploy {

struct Artifact {
  std::string name;    // the file name deployed (a path's last component)
  std::string sha256;  // hex
  std::uint64_t size = 0;
};

using wrt::plugins::sha256_file;  // plugins/common/digest.h
using wrt::plugins::sha256_hex;

// "sha256:HEX" over "name sha256\n" of the artifacts sorted by name.
std::string release_digest(std::vector<Artifact> artifacts);

struct Ledger {
  std::vector<nlohmann::json> entries;
  std::string last_hash;  // of the last line; 64 zeros when empty
  std::string error;      // "line N: ..." when the chain is broken or a line is not an entry
};
Ledger read_ledger(const std::string& path);

// The newest entry for `environment`, or null.
const nlohmann::json* latest_for(const Ledger& ledger, const std::string& environment);

// Appends `entry` (seq and prev filled in) as one line; false on I/O error.
bool append_entry(const std::string& path, Ledger& ledger, nlohmann::json entry);

}  // namespace wrt::deploy
