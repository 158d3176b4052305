// Console output of a run. On a terminal: a live status line like ninja's
// ("[7/40] test (3.1s) …") that is rewritten in place, with only failures,
// warnings and the summary left on screen. Elsewhere (no TTY, or CI=true):
// one plain line per finished stage. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "core/results/run_events.h"

namespace wrt {

// An observer of the run (core/results/run_events.h).
class StatusPrinter final : public RunObserver {
 public:
  // `smart` = live status line (terminal, not CI). A failed stage's log
  // tail is read from `workspace` / its log path.
  StatusPrinter(std::FILE* out, bool smart, std::size_t total, std::filesystem::path workspace = {});
  ~StatusPrinter() override;
  static bool detect_smart_terminal(std::FILE* out);

  void run_started(std::size_t stages) override;
  void stage_started(const std::string& name) override;
  // One line per stage (only the notable ones on a terminal); for a failure
  // also its first findings and failed tests, then the end of its log.
  void stage_finished(const StageRecord& rec, const std::string& detail) override;
  void note(const std::string& text) override { print(text); }
  void run_finished(const RunOutcome&) override { finish(); }
  // A line that must stay visible (warnings, failure logs).
  void print(const std::string& text);
  // Whether a failed stage's log tail follows its summary (off when another
  // observer shows the logs, e.g. GitHub log groups).
  void show_log_tails(bool on) { log_tails_ = on; }
  // Clears the status line (before the summary), stops the ticker and
  // prints one line for the stages that were not started.
  void finish();

 private:
  void print_finished(const std::string& name, const std::string& status, double seconds, const std::string& detail);
  void redraw_locked();
  void stop_ticker();
  void clear_line_locked();
  void flush_locked();
  std::FILE* out_;
  bool smart_;
  std::filesystem::path workspace_;
  bool log_tails_ = true;
  std::size_t total_;
  std::size_t done_ = 0;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> running_;
  bool line_shown_ = false;
  std::size_t not_started_ = 0;  // skipped without starting (Ctrl-C, fail-fast): one line at the end
  std::string not_started_reason_;
  std::thread ticker_;            // redraws the line every second while stages run
  std::condition_variable tick_cv_;
  bool stop_ticker_ = false;
  std::chrono::steady_clock::time_point last_flush_{};
};

}  // namespace wrt
