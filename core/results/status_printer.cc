#include "core/results/status_printer.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <vector>
#include <cstring>

#include <fmt/core.h>

#include "core/results/stage_results.h"

namespace wrt {

namespace {

// The last `lines` lines of a log, as the tool wrote them.
std::string log_tail(const std::filesystem::path& path, std::size_t lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) {
    all.push_back(line);
    if (all.size() > lines) all.erase(all.begin());
  }
  std::string out;
  // As the tool wrote them: problem matchers (GitHub's, an editor's) must
  // see the tool's own lines.
  for (const auto& l : all) out += l + "\n";
  return out;
}

}  // namespace

StatusPrinter::StatusPrinter(std::FILE* out, bool smart, std::size_t total, std::filesystem::path workspace)
    : out_(out), smart_(smart), workspace_(std::move(workspace)), total_(total) {}

void StatusPrinter::run_started(std::size_t stages) {
  std::lock_guard<std::mutex> lock(mu_);
  total_ = stages;
  done_ = 0;
  not_started_ = 0;
  not_started_reason_.clear();
  // On a terminal the line ticks: a long proof must not look frozen.
  if (smart_ && !ticker_.joinable()) {
    stop_ticker_ = false;
    ticker_ = std::thread([this] {
      std::unique_lock<std::mutex> lk(mu_);
      while (!tick_cv_.wait_for(lk, std::chrono::seconds(1), [this] { return stop_ticker_; }))
        if (!running_.empty()) redraw_locked();
    });
  }
}

StatusPrinter::~StatusPrinter() { stop_ticker(); }

void StatusPrinter::stop_ticker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ticker_ = true;
  }
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

bool StatusPrinter::detect_smart_terminal(std::FILE* out) {
  const char* ci = std::getenv("CI");
  if (ci && *ci && std::strcmp(ci, "false") != 0 && std::strcmp(ci, "0") != 0) return false;
  const char* term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return false;
  return ::isatty(fileno(out)) != 0;
}

void StatusPrinter::clear_line_locked() {
  if (smart_ && line_shown_) {
    std::fputs("\r\x1b[K", out_);
    line_shown_ = false;
  }
}

namespace {

// "3s", "1m12s", "2h05m".
std::string short_duration(double secs) {
  const long s = static_cast<long>(secs);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

}  // namespace

void StatusPrinter::redraw_locked() {
  if (!smart_) return;
  int width = 80;
  winsize ws{};
  if (::ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) width = ws.ws_col;
  std::string text = fmt::format("[{}/{}]", done_, total_);
  if (!running_.empty()) {
    // Every running stage that fits, longest-running first (the one people
    // wait for), then "+N" for the rest: "[12/40] prove:memory 1m12s, lint 3s, +2".
    std::vector<std::pair<std::chrono::steady_clock::time_point, const std::string*>> by_age;
    for (const auto& [name, t0] : running_) by_age.emplace_back(t0, &name);
    std::sort(by_age.begin(), by_age.end());
    const auto now = std::chrono::steady_clock::now();
    std::size_t shown = 0;
    for (const auto& [t0, name] : by_age) {
      std::string item = fmt::format("{}{} {}", shown ? ", " : " ", *name,
                                     short_duration(std::chrono::duration<double>(now - t0).count()));
      const std::size_t rest = by_age.size() - shown - 1;
      const std::size_t reserve = rest ? 6 : 0;  // room for ", +NN"
      if (shown > 0 && static_cast<int>(text.size() + item.size() + reserve) > width - 1) break;
      text += item;
      ++shown;
    }
    if (shown < by_age.size()) text += fmt::format(", +{}", by_age.size() - shown);
  }
  if (static_cast<int>(text.size()) > width - 1) text = text.substr(0, static_cast<std::size_t>(width - 4)) + "...";
  std::fputs("\r\x1b[K", out_);
  std::fputs(text.c_str(), out_);
  flush_locked();
  line_shown_ = true;
}

void StatusPrinter::stage_started(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  running_[name] = std::chrono::steady_clock::now();
  redraw_locked();
  // Lines held back by the throttle below go out before a stage that may run long.
  if (!smart_) flush_locked();
}

void StatusPrinter::stage_finished(const StageRecord& rec, const std::string& detail) {
  if (rec.status == "skipped" && rec.reason.rfind("not started: ", 0) == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    if (not_started_++ == 0) not_started_reason_ = rec.reason.substr(13);
    return;
  }
  const std::string& name = rec.name;
  const std::string& status = rec.status;
  const double seconds = rec.duration_s;
  if (is_failure_status(status)) {
    // Read before taking the lock: the log may be large.
    std::string text;
    std::string summary = failure_summary(rec.results, rec.name);
    if (!summary.empty()) text += fmt::format("--- {} ---\n{}", rec.name, summary);
    std::string tail = rec.log.empty() || !log_tails_ ? std::string() : log_tail(workspace_ / rec.log, 20);
    if (!tail.empty()) text += fmt::format("{}--- last lines of {} ---\n{}", text.empty() || text.back() == '\n' ? "" : "\n", rec.log, tail);
    print_finished(name, status, seconds, detail);
    if (!text.empty()) print(text);
    return;
  }
  print_finished(name, status, seconds, detail);
}

void StatusPrinter::print_finished(const std::string& name, const std::string& status, double seconds,
                                    const std::string& detail) {
  const bool notable = status != "passed" && status != "cached";
  const bool cached = status == "cached";
  const bool line = !smart_ || notable;
  // The line but its counter is formatted before the lock is taken: two
  // threads finish thousands of cache hits within milliseconds, and
  // formatting under the lock made them queue on it.
  std::string tail;
  if (line) {
    tail = fmt::format("{:<7} {} ({:.2f}s)", status, name, seconds);
    if (!detail.empty()) {
      tail += ": ";
      tail += detail;
    }
    tail += '\n';
  }
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (!running_.empty()) running_.erase(name);  // a cache hit was never started
  ++done_;
  if (line) {
    clear_line_locked();
    char counter[48];
    auto* end = fmt::format_to_n(counter, sizeof counter - 1, "[{}/{}] ", done_, total_).out;
    std::fwrite(counter, 1, static_cast<std::size_t>(end - counter), out_);
    std::fwrite(tail.data(), 1, tail.size(), out_);
  }
  // Thousands of cache hits finish within milliseconds; writing (or redrawing)
  // for each would cost more than the hits. Cache hits are flushed at most
  // every 50 ms; everything else at once.
  if (!cached || now - last_flush_ >= std::chrono::milliseconds(50)) {
    redraw_locked();
    if (!smart_) flush_locked();
  }
}

void StatusPrinter::flush_locked() {
  std::fflush(out_);
  last_flush_ = std::chrono::steady_clock::now();
}

void StatusPrinter::print(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  clear_line_locked();
  std::fputs(text.c_str(), out_);
  if (text.empty() || text.back() != '\n') std::fputc('\n', out_);
  redraw_locked();
  if (!smart_) flush_locked();
}

void StatusPrinter::finish() {
  stop_ticker();
  std::lock_guard<std::mutex> lock(mu_);
  clear_line_locked();
  // One line for the stages a Ctrl-C or a failure kept from starting.
  if (not_started_) {
    std::fputs(fmt::format("[{}/{}] skipped {} stage{} ({})\n", done_, total_, not_started_, not_started_ == 1 ? "" : "s",
                           not_started_reason_).c_str(),
               out_);
    not_started_ = 0;
  }
  std::fflush(out_);
}

}  // namespace wrt
