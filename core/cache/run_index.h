// The last-run index of a workspace (.wrt/state/run-index): for every stage,
// the key of its last run and, when that run succeeded, its cache entry
// (result, output digests, log blob). One file read at start-up replaces one
// key file and one cache-entry file per stage, which is what makes a no-op
// run over thousands of stages cheap.
//
// Trust rule (used by the executor): an indexed entry may stand in for the
// store's entry of the same key only when every output it lists is already in
// the workspace with the recorded digest, since then nothing has to be read
// from the store. Anything else goes to the store, which checks its blobs.
// The index is private to one checkout, like the stat cache; it is sealed
// (state_file.h), and a corrupt one is discarded with a warning.
#pragma once

#include <cstdint>
#include <filesystem>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/cache/cache_store.h"
#include "core/util/hash.h"
#include "core/results/stage_results.h"
#include "core/util/result.h"
#include "core/util/sharded_map.h"
#include "core/util/state_file.h"

namespace wrt {

// What a cache hit needs of an entry: the stage's reported results (status,
// attempts and timing of the original run are not replayed), its outputs and
// its log blob.
struct IndexedEntry {
  StageResults results;
  std::vector<CachedFile> outputs;
  std::optional<Digest> log;
  std::string log_encoding;
  bool log_truncated = false;
  bool log_inlined = false;  // inside the store's entry, not a blob (CacheEntry)
};

class RunIndex {
 public:
  explicit RunIndex(std::filesystem::path file);

  // Reads the file; missing is fine, unreadable or corrupt is discarded and
  // `warning` says why. Call once, before any other method.
  void load(std::string* warning);
  // Writes the file (temp + rename) if anything changed.
  Status save();

  // All thread-safe.
  // Key of the stage's last run; nullopt when none is recorded.
  std::optional<Digest> last_key(const std::string& stage) const;
  bool is_last_key(const std::string& stage, const Digest& key) const;
  void set_last_key(const std::string& stage, const Digest& key);
  // The indexed entry of `stage` if it was recorded for `key`. Entries stay
  // encoded (in the mapped file) until asked for, so stages a run does not
  // touch cost only their bytes; a stage that reported nothing decodes
  // without parsing any JSON.
  std::optional<IndexedEntry> entry(const std::string& stage, const Digest& key) const;
  // Records the successful run (or cache hit) of `stage` under `key`.
  void set_entry(const std::string& stage, const Digest& key, const CacheEntry& entry);
  // Forgets the entry (the stage failed or is not cacheable); keeps the key.
  void drop_entry(const std::string& stage);
  // Seconds since the epoch when the store's copy of the entry was last
  // marked as used (0 = unknown), for LRU touches at most once an hour.
  std::int64_t touched_at(const std::string& stage) const;
  void set_touched_at(const std::string& stage, std::int64_t when);
  // Binds the index to the store it is used with (CacheStore::removal_mark).
  // When the mark differs from the recorded one — another cache directory,
  // or entries were removed since (gc, verify, corruption) — every
  // touched_at is forgotten, so the next hit of each stage checks that the
  // store still holds its entry instead of trusting it for up to an hour.
  void adopt_store_mark(const std::string& mark);
  // Room for about `n` stages when fewer than half are known (a first run);
  // see FileDigester::reserve. `name_bytes`: their names' length in all.
  void reserve(std::size_t n, std::size_t name_bytes = 0);

 private:
  struct Record {
    std::optional<Digest> key;
    // The encoded entry: a view into the loaded file, or `owned` once set
    // in this run. Empty = none.
    std::string_view mapped;
    std::string owned;
    bool is_owned = false;
    std::int64_t touched_at = 0;
    std::string_view entry() const { return is_owned ? std::string_view(owned) : mapped; }
    void clear_entry() {
      mapped = {};
      owned.clear();
      is_owned = false;
    }
  };
  std::filesystem::path file_;
  FileBytes data_;  // the loaded file; records' `mapped` views point into it
  // By stage name; sharded as every stage asks several times per run, from
  // all threads at once. A stage's record is only changed by that stage's
  // own (one-at-a-time) calls, or with every shard locked.
  ShardedMap<Record> records_;
  std::string store_mark_;  // guarded by records_.all()
  std::atomic<bool> dirty_{false};
};

}  // namespace wrt
