// CI-native output for GitHub Actions (`GITHUB_ACTIONS=true`, or
// `--ci-format github`): an observer of the run (run_events.h).
//
//  * each stage that ran gets its log in a collapsible group
//    (`::group::STAGE (status)` ... `::endgroup::`), as the tool wrote it,
//    so problem matchers see the tool's own lines;
//  * findings and failed test cases become `::error` / `::warning`
//    annotations (file, line, col, title), deduplicated across stages,
//    errors first, at most 10 of each (GitHub shows no more per step; the
//    rest are counted in the summary); a `warn` safety-gate verdict is a
//    `::warning`;
//  * a Markdown summary is appended to $GITHUB_STEP_SUMMARY (stages,
//    failures with their first findings, the gate per ASIL level,
//    coverage, cache hit rate), kept under GitHub's 1 MiB limit;
//  * `status`, `gate` and `cache_hit_rate` are appended to $GITHUB_OUTPUT.
// Workflow command syntax: docs.github.com, "Workflow commands for GitHub
// Actions" (values escaped as %25 %0D %0A, properties also %3A %2C).
#pragma once

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>

#include "core/results/run_events.h"

namespace wrt {

class GithubOutput final : public RunObserver {
 public:
  // `out` is where workflow commands go (stdout); `workspace` resolves log
  // paths; the two files may be empty (not set).
  GithubOutput(std::FILE* out, std::filesystem::path workspace, std::string step_summary_file,
               std::string output_file);

  static bool detect();  // GITHUB_ACTIONS=true

  void stage_finished(const StageRecord& rec, const std::string& detail) override;
  void run_verdict(const RunVerdict& verdict) override;

  // Escaping for a command's message and for its properties.
  static std::string escape_data(const std::string& s);
  static std::string escape_property(const std::string& s);
  // The annotation lines for a run (at most `cap` errors and `cap` warnings),
  // and how many were left out.
  static std::string annotations(const RunVerdict& v, std::size_t cap, std::size_t* left_out);
  static std::string summary_markdown(const RunVerdict& v, std::size_t left_out);

 private:
  std::FILE* out_;
  std::filesystem::path workspace_;
  std::string summary_file_, output_file_;
  std::mutex mu_;
};

}  // namespace wrt
