// CI-native output for GitLab CI (`GITLAB_CI=true`, or `--ci-format
// gitlab`), an observer of the run (run_events.h): each stage that ran gets
// its log in a collapsible section, as the tool wrote it
// (docs.gitlab.com, "CI/CD job logs: custom collapsible sections":
// ESC[0Ksection_start:UNIX_TIME:NAME[collapsed=true]\rESC[0KHEADER ...
// ESC[0Ksection_end:UNIX_TIME:NAME\rESC[0K). The findings go to a Code
// Quality report (`--codequality FILE`, any CI): a JSON array of
// {description, check_name, fingerprint, severity, location: {path,
// lines: {begin}}} (docs.gitlab.com, "Code Quality": the CodeClimate
// subset GitLab reads). The JUnit report is `--junit FILE`.
#pragma once

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/results/run_events.h"
#include "core/util/result.h"

namespace wrt {

class GitlabSections final : public RunObserver {
 public:
  GitlabSections(std::FILE* out, std::filesystem::path workspace) : out_(out), workspace_(std::move(workspace)) {}
  static bool detect();  // GITLAB_CI=true
  void stage_finished(const StageRecord& rec, const std::string& detail) override;
  // "prove:memory" -> "prove_memory" (section names allow [A-Za-z0-9_.-]).
  static std::string section_name(const std::string& stage);

 private:
  std::FILE* out_;
  std::filesystem::path workspace_;
  std::mutex mu_;
};

class CodeQualityReport final : public RunObserver {
 public:
  explicit CodeQualityReport(std::filesystem::path file) : file_(std::move(file)) {}
  void run_finished(const RunOutcome& outcome) override;
  // Deduplicated by fingerprint (stage-independent: file, line, rule, message).
  static nlohmann::json render(const RunOutcome& outcome);
  const Status& status() const { return status_; }

 private:
  std::filesystem::path file_;
  Status status_;
};

}  // namespace wrt
