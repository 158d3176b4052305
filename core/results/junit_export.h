// `wrt run --junit FILE`: the run as a JUnit XML report, for CI systems
// that show test results (GitLab, Jenkins, GitHub test-report actions). An
// observer of the run (run_events.h): it writes the file when the run ends.
//
// Layout (valid against the Apache Ant JUnit schema, tests/data/junit/):
//   <testsuites>
//     <testsuite package="wrt" name="stages">      one testcase per stage
//     <testsuite package="wrt.tests" name=STAGE>   the stage's own test cases
// A stage that failed, timed out or was interrupted is a <failure>/<error>;
// a skipped one <skipped/>; a cache hit passes (its test cases are replayed
// from the cache, as the report shows them).
#pragma once

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "core/results/run_events.h"
#include "core/util/result.h"

namespace wrt {

class JunitExport final : public RunObserver {
 public:
  explicit JunitExport(std::filesystem::path file) : file_(std::move(file)) {}

  void run_started(std::size_t stages) override;
  // Writes the file (atomically) from the final records; a failure is kept
  // for status().
  void run_finished(const RunOutcome& outcome) override;

  // The XML for `records` (the stages in order), started at `started`.
  static std::string render(const std::vector<StageRecord>& records, std::time_t started);
  // Why the file could not be written, after run_finished.
  const Status& status() const { return status_; }

 private:
  std::filesystem::path file_;
  std::time_t started_ = 0;
  Status status_;
};

}  // namespace wrt
