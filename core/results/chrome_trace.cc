#include "core/results/chrome_trace.h"

#include "core/util/atomic_file.h"

namespace wrt {

std::int64_t ChromeTrace::micros(Clock::time_point t) const {
  return std::chrono::duration_cast<std::chrono::microseconds>(t - t0_).count();
}

void ChromeTrace::run_started(std::size_t stages) {
  std::lock_guard<std::mutex> lock(mu_);
  t0_ = Clock::now();
  events_.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", "wrt run"}}}});
  events_.push_back({{"name", "run"},
                     {"cat", "run"},
                     {"ph", "i"},
                     {"s", "g"},
                     {"ts", 0},
                     {"pid", 1},
                     {"tid", 0},
                     {"args", {{"stages", stages}}}});
}

void ChromeTrace::stage_started(const std::string& stage) {
  std::lock_guard<std::mutex> lock(mu_);
  int slot = 0;
  while (slot < static_cast<int>(slots_.size()) && slots_[static_cast<std::size_t>(slot)]) ++slot;
  if (slot == static_cast<int>(slots_.size())) {
    slots_.push_back(true);
    events_.push_back({{"name", "thread_name"},
                       {"ph", "M"},
                       {"pid", 1},
                       {"tid", slot + 1},
                       {"args", {{"name", "job " + std::to_string(slot + 1)}}}});
  } else {
    slots_[static_cast<std::size_t>(slot)] = true;
  }
  running_[stage] = {Clock::now(), slot};
}

void ChromeTrace::attempt_finished(const std::string& stage, int attempt, const std::string& outcome, double seconds) {
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(stage);
  if (it == running_.end()) return;  // a rebuild of a state directory: not shown
  const auto dur = static_cast<std::int64_t>(seconds * 1e6);
  events_.push_back({{"name", stage + " attempt " + std::to_string(attempt)},
                     {"cat", "attempt"},
                     {"ph", "X"},
                     {"ts", std::max<std::int64_t>(micros(it->second.start), micros(now) - dur)},
                     {"dur", std::max<std::int64_t>(1, dur)},
                     {"pid", 1},
                     {"tid", it->second.slot + 1},
                     {"args", {{"outcome", outcome}}}});
}

void ChromeTrace::stage_finished(const StageRecord& rec, const std::string&) {
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json args = {{"status", rec.status}, {"attempts", rec.attempts}};
  if (!rec.cache_key.empty()) args["cache_key"] = rec.cache_key;
  if (!rec.reason.empty()) args["reason"] = rec.reason;
  auto it = running_.find(rec.name);
  if (it == running_.end()) {  // decided without running: a cache hit, a skip
    events_.push_back({{"name", rec.name},
                       {"cat", rec.status},
                       {"ph", "i"},
                       {"s", "t"},
                       {"ts", micros(now)},
                       {"pid", 1},
                       {"tid", 0},
                       {"args", std::move(args)}});
    return;
  }
  events_.push_back({{"name", rec.name},
                     {"cat", "stage"},
                     {"ph", "X"},
                     {"ts", micros(it->second.start)},
                     {"dur", std::max<std::int64_t>(1, micros(now) - micros(it->second.start))},
                     {"pid", 1},
                     {"tid", it->second.slot + 1},
                     {"args", std::move(args)}});
  slots_[static_cast<std::size_t>(it->second.slot)] = false;
  running_.erase(it);
}

nlohmann::json ChromeTrace::document() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"traceEvents", events_}, {"displayTimeUnit", "ms"}};
}

void ChromeTrace::run_finished(const RunOutcome&) { status_ = write_file_atomically(file_, document().dump(1) + "\n"); }

}  // namespace wrt
