// The results vocabulary: what a stage reports (metrics, findings, test
// cases, artifacts, a message) and its JSON form. Shared by the plugin host
// (which collects it), the cache and run index (which store it), and the
// report, SARIF and last-results writers (which show it); none of those
// needs the plugin host to name a finding.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wrt {

struct Finding {
  std::string rule;
  std::string severity;  // "note" | "warning" | "error"
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;
  bool operator==(const Finding&) const = default;
};

struct TestCaseResult {
  std::string suite;
  std::string name;
  std::string status;  // "passed" | "failed" | "skipped" | "flaky"
  double duration_s = -1;
  std::string message;
  bool operator==(const TestCaseResult&) const = default;
};

struct Artifact {
  std::string path;
  std::string kind;
  bool operator==(const Artifact&) const = default;
};

// Everything a stage reports; stored in cache entries and the JSON report.
struct StageResults {
  std::map<std::string, double> metrics;
  std::vector<Finding> findings;
  std::vector<TestCaseResult> tests;
  std::vector<Artifact> artifacts;
  std::string message;
  bool operator==(const StageResults&) const = default;
};

nlohmann::json results_to_json(const StageResults& r);

// What a failed stage shows first on the terminal, before its log tail:
// errors, then warnings, as `file:line:col: severity: message [rule]`, and
// failed test cases as `FAILED suite::name: first line of the message`; at
// most `limit` of each, then "... and N more (wrt log STAGE)". Empty when
// the results hold neither.
std::string failure_summary(const StageResults& r, const std::string& stage, std::size_t limit = 10);
StageResults results_from_json(const nlohmann::json& j);  // tolerant: ignores bad fields

}  // namespace wrt
