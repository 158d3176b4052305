// Console output of a run. On a terminal: a live status line like ninja's
// ("[7/40] test (3.1s) …") that is rewritten in place, with only failures,
// warnings and the summary left on screen. Elsewhere (no TTY, or CI=true):
// one plain line per finished stage. Thread-safe.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

namespace wrt {

class StatusPrinter {
 public:
  // `smart` = live status line (terminal, not CI); `verbose` also prints cached stages in smart mode.
  StatusPrinter(std::FILE* out, bool smart, std::size_t total);
  static bool detect_smart_terminal(std::FILE* out);

  void stage_started(const std::string& name);
  // `status` is the report status ("passed", "cached", …).
  void stage_finished(const std::string& name, const std::string& status, double seconds, const std::string& detail);
  // A line that must stay visible (warnings, failure logs).
  void print(const std::string& text);
  // Clears the status line (before the summary).
  void finish();

 private:
  void redraw_locked();
  void clear_line_locked();
  void flush_locked();
  std::FILE* out_;
  bool smart_;
  std::size_t total_;
  std::size_t done_ = 0;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> running_;
  bool line_shown_ = false;
  std::chrono::steady_clock::time_point last_flush_{};
};

}  // namespace wrt
