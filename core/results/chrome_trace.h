// `wrt run --trace FILE`: the run in the Chrome trace-event format (JSON),
// what `bazel --profile` and ninja's `.ninja_log` converters give: open it
// in Perfetto (ui.perfetto.dev) or chrome://tracing. An observer of the run
// (run_events.h).
//
// One complete event ("ph":"X") per stage that ran, on one track ("tid")
// per job slot: a stage takes the lowest slot free when it starts, so the
// tracks show how busy the job limit was. A cache hit is an instant event
// ("ph":"i") on track 0 when it was decided. Each attempt is a slice
// nested in its stage's ("cat":"attempt", "STAGE attempt N"). Times are microseconds from
// the start of the run. Each event's args carry status and cache key.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/run_events.h"
#include "core/util/result.h"

namespace wrt {

class ChromeTrace final : public RunObserver {
 public:
  explicit ChromeTrace(std::filesystem::path file) : file_(std::move(file)) {}

  void run_started(std::size_t stages) override;
  void stage_started(const std::string& stage) override;
  void attempt_finished(const std::string& stage, int attempt, const std::string& outcome, double seconds) override;
  void stage_finished(const StageRecord& rec, const std::string& detail) override;
  void run_finished(const RunOutcome& outcome) override;

  // The document so far ({"traceEvents": [...], "displayTimeUnit": "ms"}).
  nlohmann::json document() const;
  const Status& status() const { return status_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::int64_t micros(Clock::time_point t) const;
  std::filesystem::path file_;
  mutable std::mutex mu_;
  Clock::time_point t0_ = Clock::now();
  struct Running {
    Clock::time_point start;
    int slot = 0;
  };
  std::map<std::string, Running> running_;
  std::vector<bool> slots_;  // true: taken
  nlohmann::json events_ = nlohmann::json::array();
  Status status_;
};

}  // namespace wrt
