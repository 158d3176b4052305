#include "core/results/gitlab_output.h"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>

#include <fmt/core.h>

#include "core/results/ci_log.h"
#include "core/util/atomic_file.h"
#include "core/util/hash.h"

namespace wrt {

bool GitlabSections::detect() {
  const char* gl = std::getenv("GITLAB_CI");
  return gl && std::strcmp(gl, "true") == 0;
}

std::string GitlabSections::section_name(const std::string& stage) {
  std::string out = "wrt_";
  for (char c : stage)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-') ? c : '_';
  return out;
}

void GitlabSections::stage_finished(const StageRecord& rec, const std::string& detail) {
  auto log = ci_stage_log(workspace_, rec);
  if (!log) return;
  const long now = static_cast<long>(std::time(nullptr));
  const std::string name = section_name(rec.name);
  // A failed stage's section stays open: that is the log people need.
  const bool collapsed = !is_failure_status(rec.status);
  std::string text = fmt::format("\x1b[0Ksection_start:{}:{}{}\r\x1b[0K{} ({}{})\n", now, name,
                                 collapsed ? "[collapsed=true]" : "", rec.name, rec.status,
                                 detail.empty() ? "" : ": " + detail.substr(0, detail.find('\n')));
  text += *log;
  text += fmt::format("\x1b[0Ksection_end:{}:{}\r\x1b[0K\n", now, name);
  std::lock_guard<std::mutex> lock(mu_);
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
}

nlohmann::json CodeQualityReport::render(const RunOutcome& outcome) {
  nlohmann::json issues = nlohmann::json::array();
  std::set<std::string> seen;
  for (const auto& r : outcome.records)
    for (const auto& f : r.results->findings) {
      const std::string fp = to_hex(sha256(fmt::format("{}\n{}\n{}\n{}", f.file, f.line, f.rule, f.message))).substr(0, 32);
      if (!seen.insert(fp).second) continue;
      const std::string severity = f.severity == "error" ? "major" : f.severity == "warning" ? "minor" : "info";
      issues.push_back({{"description", f.message},
                        {"check_name", f.rule.empty() ? r.name : f.rule},
                        {"fingerprint", fp},
                        {"severity", severity},
                        {"location", {{"path", f.file}, {"lines", {{"begin", std::max<std::uint32_t>(1, f.line)}}}}}});
    }
  return issues;
}

void CodeQualityReport::run_finished(const RunOutcome& outcome) {
  status_ = write_file_atomically(file_, render(outcome).dump(2) + "\n");
}

}  // namespace wrt
