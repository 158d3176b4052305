// The run as a stream of events (ninja's `Status`, in wrt). The scheduler
// and the stage runner emit them and know nothing of who listens; the
// terminal status line, CI output, exports, history and notifications are
// each an observer of their own. Thread rules: events come from any thread
// (TBB workers, runner threads), concurrently for different stages, so
// every observer must be thread-safe; the events of one stage come in
// order (started before finished), and run_started / run_finished come
// from the thread that called Executor::run, before and after all others.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/stage_record.h"

namespace wrt {

// What the run came to, once the CLI has judged it (after run_finished).
struct RunVerdict {
  const RunOutcome& outcome;
  std::string pipeline;     // the pipeline's name, or a label for the selection
  std::string status;       // passed | failed | interrupted
  nlohmann::json gate;      // gate_to_json(), or null when no stage carries a level
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // Before any stage; `stages` is how many the run reports.
  virtual void run_started(std::size_t stages) { (void)stages; }
  // A stage's processes are about to start (never sent for cache hits).
  virtual void stage_started(const std::string& stage) { (void)stage; }
  // One attempt of a running stage ended (a stage with retries has
  // several): "passed", "failed", "retry", "timeout" or "interrupted", and
  // how long it took.
  virtual void attempt_finished(const std::string& stage, int attempt, const std::string& outcome, double seconds) {
    (void)stage;
    (void)attempt;
    (void)outcome;
    (void)seconds;
  }
  // A stage is over: `rec` is final (status, duration, results, log).
  // `detail` is the one line shown with its status.
  virtual void stage_finished(const StageRecord& rec, const std::string& detail) {
    (void)rec;
    (void)detail;
  }
  // A line for the person running wrt that must stay visible: a warning,
  // a state directory being rebuilt.
  virtual void note(const std::string& text) { (void)text; }
  // After the last stage.
  virtual void run_finished(const RunOutcome& outcome) { (void)outcome; }
  // The run's status and safety-gate verdict (not sent for dry runs or
  // configuration errors).
  virtual void run_verdict(const RunVerdict& verdict) { (void)verdict; }
};

// Fans every event out to its observers, in the order they were added.
// The observers outlive it; add them all before the run starts.
class RunEvents final : public RunObserver {
 public:
  void add(RunObserver& o) { observers_.push_back(&o); }
  void run_started(std::size_t stages) override {
    for (auto* o : observers_) o->run_started(stages);
  }
  void stage_started(const std::string& stage) override {
    for (auto* o : observers_) o->stage_started(stage);
  }
  void attempt_finished(const std::string& stage, int attempt, const std::string& outcome, double seconds) override {
    for (auto* o : observers_) o->attempt_finished(stage, attempt, outcome, seconds);
  }
  void stage_finished(const StageRecord& rec, const std::string& detail) override {
    for (auto* o : observers_) o->stage_finished(rec, detail);
  }
  void note(const std::string& text) override {
    for (auto* o : observers_) o->note(text);
  }
  void run_finished(const RunOutcome& outcome) override {
    for (auto* o : observers_) o->run_finished(outcome);
  }
  void run_verdict(const RunVerdict& verdict) override {
    for (auto* o : observers_) o->run_verdict(verdict);
  }

 private:
  std::vector<RunObserver*> observers_;
};

}  // namespace wrt
