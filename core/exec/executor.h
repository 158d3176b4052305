// Runs the selected stages as a TBB flow graph: a stage starts when all the
// stages it needs have finished, at most `jobs` at once. For each stage it
// computes the cache key (inputs, env, config, fingerprints, upstream output
// digests), restores outputs and replays the result on a hit, and otherwise
// runs the plugin (with retries and a deadline), then stores the result.
// Trust rules (a cached result must be as good as a fresh one): a hit must
// restore every declared output, and only declared outputs (output_tree.h);
// a result is not stored when an input changed while the stage ran.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cache/cache_key.h"
#include "core/cache/cache_store.h"
#include "core/config/config.h"
#include "core/cache/file_digester.h"
#include "core/config/glob.h"
#include "core/config/graph.h"
#include "core/host/host_api.h"
#include "core/host/plugin_host.h"
#include "core/host/plugin_worker.h"
#include "core/cache/run_index.h"
#include "core/results/status_printer.h"

namespace wrt {

struct StageRecord {
  std::string name;
  std::string plugin;
  // passed | failed | cached | skipped | timeout | flaky | interrupted |
  // pending (dry run: would run)
  std::string status = "pending";
  int attempts = 0;
  double duration_s = 0;
  std::string cache_key;  // hex, empty when not computed
  StageResults results;
  std::string log;        // workspace-relative log path
  std::string reason;     // why it ran, was skipped, or failed (one line)
  std::vector<std::string> key_changes;  // every difference from the last recorded key
  std::vector<CachedFile> outputs;
  std::optional<Digest> output_digest;
  std::optional<Asil> asil;  // the level the safety gate judges this stage at
  std::string component;     // for_each instance: its component
  // A different result was already cached for this key: the stage is not
  // deterministic (the first result stays the cached one).
  bool nondeterministic = false;
  // Why a successful run's result was not stored (empty: stored, or caching off).
  std::string not_stored;
};

struct RunOptions {
  int jobs = 1;
  bool keep_going = false;
  bool read_cache = true;   // --no-cache turns reading off (results are still stored)
  bool dry_run = false;     // compute keys and look up the cache, run and restore nothing
  const std::atomic<bool>* cancel = nullptr;
  std::uint64_t memory_limit = 0;  // bytes the running stages may declare together; 0 = physical memory
  std::uint64_t cached_log_limit = 16ull << 20;  // the end of a stage log kept in the cache (cached_log.h)
  // Plugins other than the built-in `command` run their fingerprint and run
  // in these worker processes (plugin_worker.h); null = all in-process.
  WorkerPool* workers = nullptr;
};

struct RunOutcome {
  std::vector<StageRecord> records;  // in the order given to run()
  double duration_s = 0;
  bool interrupted = false;
  std::uint64_t files_hashed = 0;
};

// The workspace's private state (never shared between checkouts).
struct WorkspaceDirs {
  explicit WorkspaceDirs(const std::filesystem::path& workspace);
  std::filesystem::path root;   // <ws>/.wrt
  std::filesystem::path logs;   // <ws>/.wrt/logs
  std::filesystem::path keys;   // <ws>/.wrt/keys: last key record per stage (wrt explain)
  std::filesystem::path state;  // <ws>/.wrt/state
};

class Executor {
 public:
  // `plugins[i]` is the loaded plugin of graph stage i (null if not selected).
  // `store` may be null (caching off entirely). `digester` and `index` are
  // loaded by the caller (so it can load them while it parses the config)
  // and saved by the caller after run().
  Executor(const Config& config, const Graph& graph, std::vector<const LoadedPlugin*> plugins, CacheStore* store,
           FileDigester& digester, RunIndex& index, StatusPrinter& printer, RunOptions options);

  RunOutcome run(const std::vector<int>& order);

 private:
  struct Impl;
  const Config& config_;
  const Graph& graph_;
  std::vector<const LoadedPlugin*> plugins_;
  CacheStore* store_;
  FileDigester& digester_;
  RunIndex& index_;
  StatusPrinter& printer_;
  RunOptions options_;
};

}  // namespace wrt
