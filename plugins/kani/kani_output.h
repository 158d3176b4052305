// Parser for `cargo kani`'s regular text output: per harness a
// "Checking harness NAME..." header, the RESULTS list of checks, SUMMARY
// ("** N of M failed"), "Failed Checks:" with locations, the
// "VERIFICATION:- SUCCESSFUL|FAILED" verdict and "Verification Time", and
// at the end "Complete - N successfully verified harnesses, M failures, K total."
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::kani {

struct Check {
  std::string name;  // "lib::harness.assertion.1"
  std::string status;  // SUCCESS, FAILURE, UNREACHABLE, UNDETERMINED
  std::string description;
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string function;
};

enum class HarnessVerdict { kSuccessful, kFailed, kInconclusive, kUnknown };

struct Harness {
  std::string name;
  HarnessVerdict verdict = HarnessVerdict::kUnknown;
  std::vector<Check> checks;
  std::int64_t failed = 0, total = 0, undetermined = 0, unreachable = 0;  // from "** N of M failed (...)"
  double seconds = -1;  // "Verification Time: 0.5s"
  std::string inconclusive_reason;  // set when the verdict is kInconclusive
};

struct KaniRun {
  std::vector<Harness> harnesses;
  std::optional<std::int64_t> summary_successful, summary_failures, summary_total;
  std::vector<std::string> errors;  // "error: ..." lines outside harnesses (compilation failures)
  bool no_harnesses = false;  // "No proof harnesses (functions with #[kani::proof]) were found to verify."
};

// A FAILED harness counts as inconclusive (not disproved) when everything
// that failed is an unwinding assertion, or CBMC timed out / ran out of
// memory, or checks stayed UNDETERMINED. Malformed check blocks are a
// ParseError at their line.
std::variant<KaniRun, ParseError> parse_kani_output(std::string_view text, const std::string& source);

// Names from `cargo kani list --format json` (kani-list.json):
// "standard-harnesses" and "contract-harnesses" maps of file -> [names].
std::variant<std::vector<std::string>, ParseError> parse_kani_list(std::string_view json, const std::string& source);

}  // namespace wrt::plugins::kani
