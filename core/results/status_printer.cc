#include "core/results/status_printer.h"

#include <sys/ioctl.h>
#include <unistd.h>

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

void StatusPrinter::redraw_locked() {
  if (!smart_) return;
  std::string text = fmt::format("[{}/{}]", done_, total_);
  if (!running_.empty()) {
    // Show the longest-running stage first: that is the one people wait for.
    auto oldest = running_.begin();
    for (auto it = running_.begin(); it != running_.end(); ++it)
      if (it->second < oldest->second) oldest = it;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - oldest->second).count();
    text += fmt::format(" {} ({:.1f}s)", oldest->first, secs);
    if (running_.size() > 1) text += fmt::format(" +{} running", running_.size() - 1);
  }
  int width = 80;
  winsize ws{};
  if (::ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) width = ws.ws_col;
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
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase(name);
  ++done_;
  bool notable = status != "passed" && status != "cached";
  if (!smart_ || notable) {
    clear_line_locked();
    std::string line = fmt::format("[{}/{}] {:<7} {} ({:.2f}s)", done_, total_, status, name, seconds);
    if (!detail.empty()) line += ": " + detail;
    std::fputs((line + "\n").c_str(), out_);
  }
  // Thousands of cache hits finish within milliseconds; writing (or redrawing)
  // for each would cost more than the hits. Cache hits are flushed at most
  // every 50 ms; everything else at once.
  const auto now = std::chrono::steady_clock::now();
  if (status != "cached" || now - last_flush_ >= std::chrono::milliseconds(50)) {
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
  std::lock_guard<std::mutex> lock(mu_);
  clear_line_locked();
  std::fflush(out_);
}

}  // namespace wrt
