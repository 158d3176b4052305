#include "core/results/github_output.h"

#include "core/results/ci_log.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include <fmt/core.h>

namespace wrt {

namespace {

constexpr std::size_t kSummaryLimit = 1024 * 1024 - 4096;  // GitHub refuses a step summary over 1 MiB

bool append_file(const std::string& file, const std::string& text) {
  if (file.empty()) return true;
  std::ofstream out(file, std::ios::app | std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

std::string md_cell(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

GithubOutput::GithubOutput(std::FILE* out, std::filesystem::path workspace, std::string step_summary_file,
                           std::string output_file)
    : out_(out), workspace_(std::move(workspace)), summary_file_(std::move(step_summary_file)),
      output_file_(std::move(output_file)) {}

bool GithubOutput::detect() {
  const char* gh = std::getenv("GITHUB_ACTIONS");
  return gh && std::strcmp(gh, "true") == 0;
}

std::string GithubOutput::escape_data(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else out += c;
  }
  return out;
}

std::string GithubOutput::escape_property(const std::string& s) {
  std::string out;
  for (char c : escape_data(s)) {
    if (c == ':') out += "%3A";
    else if (c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

void GithubOutput::stage_finished(const StageRecord& rec, const std::string& detail) {
  auto log = ci_stage_log(workspace_, rec);
  if (!log) return;
  std::string text = fmt::format("::group::{} ({}{})\n", escape_data(rec.name), rec.status,
                                 detail.empty() ? "" : ": " + escape_data(detail.substr(0, detail.find('\n'))));
  text += *log;
  text += "::endgroup::\n";
  std::lock_guard<std::mutex> lock(mu_);
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
}

std::string GithubOutput::annotations(const RunVerdict& v, std::size_t cap, std::size_t* left_out) {
  struct Note {
    bool error;
    std::string file;
    std::uint32_t line, col;
    std::string title, message;
  };
  std::vector<Note> notes;
  std::set<std::tuple<std::string, std::uint32_t, std::uint32_t, std::string>> seen;
  for (const auto& r : v.outcome.records) {
    for (const auto& f : r.results->findings) {
      if (f.severity != "error" && f.severity != "warning") continue;
      // One problem that check, test and clippy all report is one annotation.
      if (!seen.insert({f.file, f.line, f.column, f.message}).second) continue;
      notes.push_back({f.severity == "error", f.file, f.line, f.column,
                       f.rule.empty() ? r.name : fmt::format("{} ({})", f.rule, r.name), f.message});
    }
    for (const auto& t : r.results->tests) {
      if (t.status != "failed") continue;
      std::string title = fmt::format("FAILED {}{}{}", t.suite, t.suite.empty() ? "" : "::", t.name);
      if (!seen.insert({"", 0, 0, title}).second) continue;
      notes.push_back({true, "", 0, 0, title, t.message.empty() ? "test failed" : t.message});
    }
  }
  std::stable_sort(notes.begin(), notes.end(), [](const Note& a, const Note& b) { return a.error && !b.error; });
  std::string out;
  std::size_t errors = 0, warnings = 0, dropped = 0;
  for (const auto& n : notes) {
    std::size_t& count = n.error ? errors : warnings;
    if (count >= cap) {
      ++dropped;
      continue;
    }
    ++count;
    std::string props;
    if (!n.file.empty()) {
      props += "file=" + escape_property(n.file);
      if (n.line) props += fmt::format(",line={}", n.line);
      if (n.line && n.col) props += fmt::format(",col={}", n.col);
    }
    props += std::string(props.empty() ? "" : ",") + "title=" + escape_property(n.title);
    out += fmt::format("::{} {}::{}\n", n.error ? "error" : "warning", props, escape_data(n.message));
  }
  const std::string gate = v.gate.is_object() ? v.gate.value("verdict", "") : "";
  if (gate == "warn") out += "::warning title=safety gate::the safety gate warns: a stage at an ASIL level that only warns failed\n";
  if (gate == "block") out += "::error title=safety gate::the safety gate blocks: a stage at a blocking ASIL level failed\n";
  if (left_out) *left_out = dropped;
  return out;
}

std::string GithubOutput::summary_markdown(const RunVerdict& v, std::size_t left_out) {
  const auto& recs = v.outcome.records;
  std::map<std::string, int> counts;
  for (const auto& r : recs) ++counts[r.status];
  const int cached = counts["cached"];
  const double hit_rate = recs.empty() ? 0 : 100.0 * cached / static_cast<double>(recs.size());
  std::string md = fmt::format("## wrt: {} {}\n\n", v.pipeline, v.status == "passed" ? "passed" : v.status);
  md += fmt::format("{} stages", recs.size());
  for (const auto& [k, n] : counts) md += fmt::format(", {} {}", n, k);
  md += fmt::format(" · cache hit rate {:.0f}% · {:.1f}s\n\n", hit_rate, v.outcome.duration_s);
  if (v.gate.is_object()) {
    md += fmt::format("**Safety gate: {}**\n\n| ASIL | on failure | verdict | stages | failed |\n|---|---|---|---|---|\n",
                      v.gate.value("verdict", ""));
    const nlohmann::json levels = v.gate.value("levels", nlohmann::json::object());
    for (const auto& item : levels.items()) {
      const std::string& level = item.key();
      const nlohmann::json& l = item.value();
      const auto count = [&l](const char* key) { return l.contains(key) && l[key].is_array() ? l[key].size() : 0; };
      if (count("stages") == 0) continue;
      std::string failed;
      if (l.contains("failed") && l["failed"].is_array())
        for (const auto& f : l["failed"]) failed += (failed.empty() ? "" : ", ") + md_cell(f.get<std::string>());
      md += fmt::format("| {} | {} | {} | {} | {} |\n", level, l.value("on_failure", ""), l.value("verdict", ""),
                        count("stages"), failed.empty() ? "0" : fmt::format("{}: {}", count("failed"), failed));
    }
    md += "\n";
  }
  std::string failures;
  for (const auto& r : recs) {
    if (!is_failure_status(r.status)) continue;
    failures += fmt::format("### ✗ {} ({})\n\n", r.name, r.status);
    std::string first = failure_summary(r.results, r.name, 5);
    if (first.empty()) first = r.results->message.empty() ? r.reason : r.results->message;
    failures += "```\n" + first + (first.empty() || first.back() == '\n' ? "" : "\n") + "```\n\n";
  }
  if (!failures.empty()) md += "### Failures\n\n" + failures;
  if (left_out) md += fmt::format("{} more annotation(s) not shown (GitHub shows 10 errors and 10 warnings per step).\n\n", left_out);
  std::string coverage;
  for (const auto& r : recs)
    for (const auto& [name, value] : r.results->metrics)
      if (name.rfind("coverage.", 0) == 0) coverage += fmt::format("| {} | {} | {:.2f} |\n", md_cell(r.name), name, value);
  if (!coverage.empty()) md += "### Coverage\n\n| stage | metric | % |\n|---|---|---|\n" + coverage + "\n";
  md += "### Stages\n\n| stage | status | duration |\n|---|---|---|\n";
  std::string rows;
  for (const auto& r : recs) rows += fmt::format("| {} | {} | {:.2f}s |\n", md_cell(r.name), r.status, r.duration_s);
  if (md.size() + rows.size() > kSummaryLimit) {
    // 10,000 stages do not fit: the ones that did not pass from the cache.
    rows.clear();
    for (const auto& r : recs)
      if (r.status != "cached" && md.size() + rows.size() < kSummaryLimit - 200)
        rows += fmt::format("| {} | {} | {:.2f}s |\n", md_cell(r.name), r.status, r.duration_s);
    rows += fmt::format("\n({} cached stages not listed)\n", cached);
  }
  md += rows;
  if (md.size() > kSummaryLimit) md.resize(kSummaryLimit);
  return md + "\n";
}

void GithubOutput::run_verdict(const RunVerdict& v) {
  std::size_t left_out = 0;
  const std::string notes = annotations(v, 10, &left_out);
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::fputs(notes.c_str(), out_);
    std::fflush(out_);
  }
  append_file(summary_file_, summary_markdown(v, left_out));
  std::size_t cached = 0;
  for (const auto& r : v.outcome.records) cached += r.status == "cached";
  const double rate = v.outcome.records.empty() ? 0 : static_cast<double>(cached) / static_cast<double>(v.outcome.records.size());
  const std::string gate = v.gate.is_object() ? v.gate.value("verdict", "") : "none";
  append_file(output_file_, fmt::format("status={}\ngate={}\ncache_hit_rate={:.3f}\n", v.status, gate, rate));
}

}  // namespace wrt
