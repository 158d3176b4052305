// Parser for CBMC's `--json-ui` output: a JSON array of messages
// ({"messageText", "messageType"}), one {"program": "CBMC x.y"} entry, one
// {"result": [...]} list of properties (property, description, status,
// sourceLocation {file, line, function}, optional trace) and a final
// {"cProverStatus": "success"|"failure"}. Pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::cbmc {

struct Property {
  std::string property;     // "harness.assertion.1", "harness.unwind.0"
  std::string description;  // "assertion x > 0", "unwinding assertion loop 0"
  std::string status;       // SUCCESS, FAILURE, UNKNOWN, ERROR, NOT_CHECKED, ...
  std::string file;
  std::uint32_t line = 0;
  std::string function;
  // Where the counterexample ends (the failing step), when a trace is given.
  std::string trace_file;
  std::uint32_t trace_line = 0;
  std::size_t trace_steps = 0;
  bool unwinding() const { return property.find(".unwind.") != std::string::npos ||
                                  description.find("unwinding assertion") != std::string::npos; }
};

struct CbmcRun {
  std::string program;  // "CBMC 5.95.1 (cbmc-5.95.1)"
  std::vector<Property> properties;
  std::string prover_status;  // "success", "failure", "" when missing (CBMC stopped)
  std::vector<std::string> errors;  // messageType ERROR texts ("file:line: text" when located)
  std::string error_file;           // the first located ERROR message (a parse error)
  std::uint32_t error_line = 0;
  bool out_of_memory = false;
  bool truncated = false;  // the JSON array was never closed (CBMC killed or out of memory)
};

enum class Verdict { kProved, kFailed, kInconclusive };
struct Judgement {
  Verdict verdict = Verdict::kInconclusive;
  std::string reason;  // for kInconclusive: why no proof was reached
};

// FAILURE of a real property fails; FAILURE of unwinding assertions only,
// UNKNOWN/ERROR statuses, running out of memory or a missing final status
// (CBMC stopped) are inconclusive; otherwise proved.
Judgement judge(const CbmcRun& run);

// A document that is not a JSON array is a ParseError at the JSON error's
// line/column.
std::variant<CbmcRun, ParseError> parse_cbmc_json(std::string_view text, const std::string& source);

}  // namespace wrt::plugins::cbmc
