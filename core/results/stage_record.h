// One stage's record in a run (and the run's records): its status, key, results, outputs and why it
// ran or not. Written by the scheduler and the stage runner (core/exec/),
// read by everything that reports on a run (report, last results, the
// safety gate, the CLI) — which is why it lives here and not in exec/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/cache/cache_store.h"
#include "core/config/config.h"
#include "core/results/stage_results.h"
#include "core/util/hash.h"
#include "core/util/out_of_line.h"

namespace wrt {

// The parts of a record most stages leave empty, kept out of line (issue
// 17: 104 of a record's 432 bytes, for every stage of a run).
struct StageRecordExtras {
  // Dry run (`wrt explain`): every difference from the last recorded key
  // (a real run keeps only the first, in `reason`).
  std::vector<std::string> key_changes;
  // A different result was already cached for this key: the stage is not
  // deterministic (the first result stays the cached one).
  bool nondeterministic = false;
  // Dry run: "pending" only if a stage it needs changes its outputs (early
  // cutoff may keep it cached); false for a definite "would run".
  bool conditional = false;
  bool remote_hit = false;  // cached: the entry came from the remote cache this run
  // Why a successful run's result was not stored (empty: stored, or caching off).
  std::string not_stored;
  // A cache hit whose state directories had to be regenerated for a stage
  // that needed them: why, and how that run ended.
  std::string rebuilt_state;
  bool operator==(const StageRecordExtras&) const = default;
};

struct StageRecord {
  std::string name;
  std::string plugin;
  // passed | failed | cached | skipped | timeout | flaky | interrupted |
  // pending (dry run: would run)
  std::string status = "pending";
  int attempts = 0;
  double duration_s = 0;
  std::string cache_key;  // hex, empty when not computed
  // Most stages report nothing (a cache hit of a plain command): kept out
  // of line, 8 bytes instead of 152 in each of a run's records (issue 17).
  // Read as rec.results->findings, written as rec.results.mut().message.
  OutOfLine<StageResults> results;
  std::string log;        // workspace-relative log path
  std::string reason;     // why it ran, was skipped, or failed (one line)
  std::vector<CachedFile> outputs;
  std::optional<Digest> output_digest;
  std::optional<Asil> asil;  // the level the safety gate judges this stage at
  std::string component;     // for_each instance: its component
  // Read as rec.extras().not_stored, written as rec.extras_mut().not_stored.
  OutOfLine<StageRecordExtras> extra;

  const StageRecordExtras& extras() const { return extra.get(); }
  StageRecordExtras& extras_mut() { return extra.mut(); }
};

// What the remote cache did in a run (remote_cache.h fills it).
struct RemoteFigures {
  bool used = false;
  std::uint64_t hits = 0, misses = 0, uploads = 0, bytes_down = 0, bytes_up = 0;
  double transfer_s = 0;
  bool disabled = false;  // the server failed and the run went on local only
  std::uint64_t bundled = 0;  // hits answered from a batch's bundle, without a request of their own
};

// `wrt run --shard K/N` (sharding.h): which share this run was.
struct ShardFigures {
  int index = 0;  // 1-based; 0 = not sharded
  int count = 0;
  std::vector<std::string> assigned;
  std::string partition;
};

// A whole run: every selected stage's record.
struct RunOutcome {
  std::vector<StageRecord> records;  // in the order given to run()
  double duration_s = 0;
  bool interrupted = false;
  std::uint64_t files_hashed = 0;
  // Wall clock, milliseconds since the epoch (for trends; durations above
  // come from a steady clock).
  std::int64_t started_at_ms = 0;
  std::int64_t finished_at_ms = 0;
  RemoteFigures remote;
  ShardFigures shard;
  std::vector<std::string> merged_from;  // `wrt report merge`: the reports combined
  std::string run_id;  // "STARTED_AT_MS-PID": the history record's id, known to stages (run_context)
  // The checkout's HEAD when the run started (empty outside git; branch
  // empty when detached). Filled by the CLI.
  std::string commit;
  std::string branch;
  // Stages whose plugin rejected their configuration (fingerprint): the run
  // started no stage. One "file:line:col: stage 'x': message" line each.
  std::vector<std::string> config_errors;
};

// A status that fails the run (and, without --keep-going, stops it).
inline bool is_failure_status(const std::string& status) {
  return status == "failed" || status == "timeout" || status == "interrupted";
}

}  // namespace wrt
