// The stage runner: one stage's cache protocol, the half of a run that knows
// about keys and the cache (the scheduler, executor.h, is the other half and
// decides when a stage may start).
//
//   prepare: fingerprint -> key -> hit? restore outputs + replay the result
//            (or, on a dry run, say what would happen)
//   run:     the plugin, with retries and a deadline -> outputs hashed ->
//            result stored, unless it cannot be trusted
//
// Trust rules (a cached result must be as good as a fresh one): a hit must
// restore every declared output, and only declared outputs (output_tree.h);
// a result is not stored when an input changed while the stage ran, when an
// output changed while it was stored, or when an output may not be restored.
//
// Threads: prepare() and run() may be called for different stages at once
// (prepare on TBB threads, run on runner-pool threads); a stage's own calls
// come in order, prepare first. The runner never reads another stage's
// record: what a stage takes from its dependencies comes in as `upstream`.
#pragma once

#include <atomic>
#include <functional>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/cache/cache_key.h"
#include "core/cache/cache_store.h"
#include "core/cache/file_digester.h"
#include "core/cache/key_log.h"
#include "core/cache/run_index.h"
#include "core/config/config.h"
#include "core/config/glob.h"
#include "core/host/host_api.h"
#include "core/host/plugin_host.h"
#include "core/host/plugin_worker.h"
#include "core/results/stage_record.h"
#include "core/results/run_events.h"
#include "core/exec/stage_conditions.h"
#include "core/exec/stage_journal.h"

namespace wrt {

class RemoteCache;
struct RemoteAnswer;

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
  // Where this run happens, for stages with `when` (stage_conditions.h);
  // null: every such stage is skipped ("conditions not evaluated").
  const RunConditions* conditions = nullptr;
  // The shared remote cache (remote_cache.h), asked after a local miss and
  // given what ran here; null = none.
  RemoteCache* remote = nullptr;
};

// The workspace's private state (never shared between checkouts).
struct WorkspaceDirs {
  explicit WorkspaceDirs(const std::filesystem::path& workspace)
      : root(workspace / ".wrt"), logs(root / "logs"), state(root / "state"), key_records(state / "key-records") {}
  std::filesystem::path root;   // <ws>/.wrt
  std::filesystem::path logs;   // <ws>/.wrt/logs
  std::filesystem::path state;  // <ws>/.wrt/state
  std::filesystem::path key_records;  // the key inputs per stage (key_log.h)
};

// What one run shares between its stages. Everything outlives the runner.
struct RunContext {
  const Config& config;
  CacheStore* store;         // null: caching off entirely
  FileDigester& digester;
  RunIndex& index;
  RunObserver& events;       // notes (warnings, one line each)
  const RunOptions& options;
};

// One stage as the scheduler hands it over.
struct StageTask {
  const StageConfig& config;
  const LoadedPlugin& plugin;
  StageRecord& record;  // the runner fills results, key, outputs, reason
};

// A dependency's contribution to the key: its name and output digest.
using Upstream = std::vector<std::pair<std::string, Digest>>;

// What a plugin's fingerprint() said: `fault` when the plugin crashed or
// exited there (a plugin bug: the stage fails, the run goes on); otherwise
// `status` and, unless it passed, `message` -- a configuration error of the
// run (`wrt run` stops with exit 2 before any stage starts).
struct Fingerprint {
  wrt_status status = WRT_STATUS_PASSED;
  std::string fault;
  std::string message;
  std::vector<std::pair<std::string, std::string>> values;
  // The stage's state directories: wrt.toml's `state`, then those the
  // plugin declared (declare_state), normalized, without duplicates.
  std::vector<std::string> state;
  bool never_cache = false;  // the plugin said so (ABI 1.4): like cache = false
  bool config_error() const { return fault.empty() && status != WRT_STATUS_PASSED; }
};

// Where a plugin's fingerprint() and run() execute and what they are told;
// `data_base` is the plugins' data directory root (<cache or .wrt>/plugin-data).
struct PluginEnv {
  std::filesystem::path workspace;
  std::string data_base;
  const std::atomic<bool>* cancel = nullptr;
  WorkerPool* workers = nullptr;  // null: in wrt's process
  std::function<void(const std::string&)> console;
};

// Calls the stage's plugin's fingerprint (in a worker unless it is the
// built-in `command` plugin or `env.workers` is null). Thread-safe.
Fingerprint fingerprint_stage(const StageConfig& sc, const LoadedPlugin& lp, const PluginEnv& env);

// "wrt.toml:12:1: stage 'cov': with.threshold: unknown key (did you mean 'min_line'?)"
std::string config_error_line(const Config& config, const StageConfig& sc, const std::string& message);

// What a local cache miss needs to be concluded after asking the remote
// cache (StageRunner::lookup_remote).
struct RemoteLookup {
  Digest key{};
  std::vector<std::string> inputs;
  std::string why;  // why the key changed, if it did
  // Set when the caller asked the server already (RemoteCache::ask): then
  // lookup_remote() goes on from this answer instead of asking.
  std::shared_ptr<const RemoteAnswer> answer;
};

// What prepare() decided. `status` non-empty: the stage is over (cached,
// failed, or pending on a dry run) and `detail` says why; empty: it must run,
// and `key`/`inputs` are what run() needs.
struct Preparation {
  std::string status;
  std::string detail;
  Digest key{};
  std::vector<std::string> inputs;  // the files hashed for the key, sorted
  std::vector<std::string> state;   // Fingerprint::state
  bool never_cache = false;         // Fingerprint::never_cache
  // What run_context() returns (ABI 1.5); empty: not offered to this stage.
  std::string run_context;
  // Set (and nothing else): a local miss the remote cache may still serve.
  // The caller then calls lookup_remote() on a thread that may wait on the
  // network -- not a TBB one -- which decides as prepare() would have.
  std::shared_ptr<RemoteLookup> remote;
};

// How a run ended: passed | flaky | failed | timeout | interrupted, and a
// line for the status printer.
struct StageEnd {
  std::string status;
  std::string detail;
};

class StageRunner {
 public:
  // Creates .wrt/keys and .wrt/state; opens the workspace directory.
  explicit StageRunner(const RunContext& run);
  ~StageRunner();
  StageRunner(const StageRunner&) = delete;
  StageRunner& operator=(const StageRunner&) = delete;

  // The stage's fingerprint (fingerprint_stage with this run's settings).
  Fingerprint fingerprint(const StageConfig& sc, const LoadedPlugin& lp) const;

  // Key, cache lookup and restore, given the stage's fingerprint (one that
  // did not pass fails the stage). Cheap: never starts a stage process.
  Preparation prepare(const StageTask& task, const Fingerprint& fp, const Upstream& upstream);
  // After prepare() returned a RemoteLookup: asks the remote cache (or
  // takes its answer from the lookup), then serves the stage from the cache
  // or prepares it to run. Blocks on the network, unless the answer is
  // there and not RemoteCache::found().
  Preparation lookup_remote(const StageTask& task, const Fingerprint& fp, const RemoteLookup& lookup);

  // Runs the plugin with retries and stores the result. Blocks on the
  // stage's processes: call it on a thread that may block. `t0` is when the
  // stage became ready (the stored duration counts from there).
  StageEnd run(const StageTask& task, const Preparation& prepared, std::chrono::steady_clock::time_point t0);

  // State directories (Fingerprint::state). Why the state directories
  // `dirs` of `dep` -- whose record in this run is `rec` -- may not be read
  // by a stage that needs it:
  // it was a cache hit, and a state directory is missing or was last
  // produced for another key (a revert, a fresh checkout, a branch switch).
  // Empty when it may (or when the stage ran in this run).
  std::string stale_state(const std::vector<std::string>& dirs, const StageRecord& rec) const;

  // Runs a stage whose result came from the cache again, to regenerate its
  // state directories for its current key; `task.record` is not changed.
  // Stores the result like any run (a different result for the same key is
  // reported as non-deterministic).
  struct Rebuild {
    StageEnd end;
    std::optional<Digest> output_digest;
  };
  Rebuild rebuild_state(const StageTask& task, const Fingerprint& fp, const Upstream& upstream);

  // After the last stage: writes the key records, remembers the state
  // directories' keys and which stages are left interrupted for the next run.
  void end_run();

 private:
  // prepare()'s end, given the entry found for the key (or none).
  Preparation conclude(const StageTask& task, const Fingerprint& fp, const Digest& key, std::vector<std::string> inputs,
                       std::string why, std::optional<CacheEntry> entry);
  std::string record_key(const std::string& name, const KeyInputs& k, const Digest& key, const std::string& key_hex,
                         std::vector<std::string>& changes);
  Result<KeyInputs> key_inputs(const StageTask& task, const std::vector<std::pair<std::string, std::string>>& fingerprints,
                               const Upstream& upstream);
  bool in_place(const CachedFile& f);
  Status check_entry(const StageConfig& sc, const CacheEntry& entry) const;
  Status restore(const CacheEntry& entry, bool* wrote);
  void store_log(CacheEntry& entry, const std::string& log_rel);
  std::optional<IndexedEntry> indexed_hit(const StageConfig& sc, const Digest& key, const std::string& key_hex);
  // Removes the stage's declared outputs (stage_journal.h: what an
  // interrupted run left there must not become part of a result).
  Status clear_outputs(const StageConfig& sc);

  const RunContext run_;
  const std::filesystem::path ws_;
  const WorkspaceDirs dirs_;
  GlobExpander globber_;
  KeyLog key_log_;
  StageJournal journal_;  // stages started and not ended cleanly (stage_journal.h)
  const std::int64_t started_at_s_;
  PluginEnv env_;  // where and how plugin calls run (worker or in-process)
  // The workspace, open: restores and output listings resolve paths below
  // it one component at a time (output_tree.h).
  int ws_fd_ = -1;
  // The cache directory relative to the workspace when it lies inside it
  // (restores never write there), else empty.
  std::string cache_dir_rel_;
  // Stage -> hex key its state directories were last produced for
  // (.wrt/state/state-keys; local to the checkout, like the directories).
  mutable std::mutex state_mu_;
  std::map<std::string, std::string> state_keys_;
  bool state_keys_dirty_ = false;
  // Directories already cleared of restore temp files in this run.
  std::mutex swept_mu_;
  std::unordered_set<std::string> swept_dirs_;
  // True while no stage has run since .wrt/logs was found missing: no stage
  // has a log there, so a hit has no stale one to remove (a fresh checkout
  // would otherwise try one unlink per stage it restores).
  std::atomic<bool> no_logs_yet_{false};
};

}  // namespace wrt
