// Parser for what `cargo kani` prints (Kani 0.56 to 0.67 checked; see
// tests/data/kani/transcripts/README.md for the formats and their origin):
//
//   Checking harness NAME...              one per harness; with `-j N` it and
//   Thread N: Checking harness NAME...    the first line of each result block
//   Thread N:                             carry the worker thread, and blocks
//                                         come in any order
//   RESULTS: Check N: name / - Status / - Description / - Location
//                                         (regular format only; terse has none)
//   SUMMARY: / VERIFICATION RESULT:
//    ** F of N failed (U undetermined,R unreachable)
//    ** S of C cover properties satisfied (K unreachable)
//   Failed Checks: DESCRIPTION            each failed check, with
//    File: "src/lib.rs", line 6, in fn    its location on the next line
//   VERIFICATION:- SUCCESSFUL|FAILED [(should_panic outcome)]
//   CBMC failed [with status N] / CBMC timed out. / CBMC appears to have run out of memory.
//   Manual Harness Summary: / Summary:
//   Verification failed for - NAME
//   Complete - N successfully verified harnesses, M failures, K total.
//   No proof harnesses (functions with #[kani::proof]) were found to verify.
//
// Lines it does not know (CBMC's streamed status lines, cargo's) are
// skipped. What contradicts itself is a ParseError naming the line: a
// harness without a verdict (cut-off output, or --output-format old), a
// failed-check count that differs from the checks listed, a final summary
// that differs from the harnesses' verdicts.
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
  std::string name;    // "lib::harness.assertion.1"; "" when only "Failed Checks:" named it (terse)
  std::string status;  // SUCCESS, FAILURE, UNREACHABLE, UNDETERMINED, SATISFIED, UNSATISFIABLE
  std::string description;
  std::string file;    // as Kani printed it: relative to the Cargo workspace root
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string function;
};

enum class HarnessVerdict { kSuccessful, kFailed, kInconclusive, kUnknown };

struct Harness {
  std::string name;
  std::uint32_t header_line = 0;  // of "Checking harness"
  // Kani's own verdict and the text after it ("encountered one or more
  // panics as expected" for #[kani::should_panic]).
  HarnessVerdict verdict = HarnessVerdict::kUnknown;
  std::string verdict_note;
  std::vector<Check> checks;  // RESULTS, or the "Failed Checks:" lines in terse output
  std::int64_t failed = 0, total = 0, undetermined = 0, unreachable = 0;  // "** F of N failed (...)"
  std::int64_t covers_satisfied = 0, covers_total = 0;
  double seconds = -1;  // "Verification Time: 0.5s"
  // Set when wrt's verdict is kInconclusive: no proof and no refutation
  // (CBMC timed out, ran out of memory or crashed; only unwinding
  // assertions or unsupported constructs failed).
  std::string inconclusive_reason;
};

struct KaniRun {
  std::vector<Harness> harnesses;
  std::optional<std::int64_t> summary_successful, summary_failures, summary_total;
  std::vector<std::string> errors;  // "error: ..." lines (compilation failures)
  bool no_harnesses = false;        // "No proof harnesses ... were found to verify."
};

// A harness Kani calls FAILED is inconclusive for wrt (a resource limit or
// an incomplete model, not a refuted property) when CBMC failed (timeout,
// out of memory, a crash) or when every failed check is an unwinding
// assertion or an unsupported construct.
std::variant<KaniRun, ParseError> parse_kani_output(std::string_view text, const std::string& source);

// Names from `cargo kani list --format json` (kani-list.json):
// "standard-harnesses" and "contract-harnesses" maps of file -> [names].
std::variant<std::vector<std::string>, ParseError> parse_kani_list(std::string_view json, const std::string& source);

}  // namespace wrt::plugins::kani
