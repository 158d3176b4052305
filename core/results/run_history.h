// The run history (`.wrt/history/runs.jsonl`): one JSON line per run, what
// `wrt history` lists and trends are drawn from. An observer of the run: it
// appends when the run's verdict is known.
//
// JSON Lines and not SQLite: a record is written once and read in order,
// appending one line is atomic enough for one writer per checkout (the
// workspace lock), a torn last line after a crash is skipped on reading,
// and any tool (jq, a spreadsheet) reads it. Bounded: past `max_bytes`
// the oldest half of the records is dropped (rewritten atomically).
//
// A record keeps what trends need without growing with cached stages:
// {"v": 1, "run_id", "started_at", "finished_at", "duration_s", "commit",
//  "branch", "pipeline", "status", "gate" (verdict or null),
//  "gate_levels": {level: {on_failure, verdict, stages (count),
//  failed_count, failed (the first kGateFailedKept names)}} when a stage
//  carries a level, "counts": {status: n}, "stages": [stages that ran: name, status,
//  duration_s, attempts], "metrics": {stage: {name: value}} (every stage
//  with metrics, cached ones included: their values are current)}.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/run_events.h"
#include "core/util/result.h"

namespace wrt {

class RunHistory final : public RunObserver {
 public:
  static constexpr std::uint64_t kDefaultMaxBytes = 8u << 20;
  static constexpr std::size_t kGateFailedKept = 20;
  explicit RunHistory(std::filesystem::path dir, std::uint64_t max_bytes = kDefaultMaxBytes)
      : dir_(std::move(dir)), max_bytes_(max_bytes) {}

  void run_verdict(const RunVerdict& v) override { status_ = append(v); }
  const Status& status() const { return status_; }

  // The record's JSON line (without the newline).
  static std::string line(const RunVerdict& v);
  Status append(const RunVerdict& v);
  // A record whose members all have their documented types (readers rely
  // on it).
  static bool well_formed(const nlohmann::json& record);
  // Every well-formed record, oldest first; `skipped` counts lines that are
  // not a well-formed record (a torn last line, a damaged or foreign one).
  static std::vector<nlohmann::json> read(const std::filesystem::path& dir, std::size_t* skipped = nullptr);
  // The last well-formed record, reading only the end of the file; null
  // when there is none.
  static nlohmann::json read_last(const std::filesystem::path& dir);
  static std::filesystem::path file(const std::filesystem::path& dir) { return dir / "runs.jsonl"; }

 private:
  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
  Status status_;
};

}  // namespace wrt
