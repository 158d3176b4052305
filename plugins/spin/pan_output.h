// Parsers for what SPIN prints: the verifier's (`./pan`) summary, the
// replay of an error trail (`spin -t -p model.pml`), and the names of the
// `ltl` claims a model declares. Pure functions: text in, structs out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::spin {

// One error pan reported, e.g. "pan:1: assertion violated (in_cs==1) (at depth 7)".
struct PanError {
  std::string kind;  // "assertion violated", "acceptance cycle", "non-progress cycle", "invalid end state", ...
  std::string text;  // the whole line without the "pan:N: " prefix
  std::int64_t depth = -1;
};

struct UnreachedCode {
  std::string proctype;  // "user", or "claim resets" for a never claim
  std::string file;
  std::uint32_t line = 0;
  std::string statement;
};

struct PanReport {
  std::string claim;          // "pan: ltl formula NAME", empty without one
  std::int64_t errors = 0;
  std::int64_t depth_reached = 0;
  std::int64_t states_stored = 0;
  std::int64_t transitions = 0;
  std::vector<PanError> error_lines;
  // The search was cut short by -m: an exhaustive "no error" cannot be claimed.
  bool depth_too_small = false;
  bool out_of_memory = false;
  bool trail_written = false;
  std::vector<UnreachedCode> unreached;
};

// `source` names the text in errors (e.g. "pan output"). A transcript with
// no "State-vector ... errors: N" summary line is an error (pan did not finish).
std::variant<PanReport, ParseError> parse_pan_output(std::string_view text, const std::string& source);

// The first error the trail replay reaches: "spin: model.pml:13, Error: assertion violated".
struct TrailError {
  std::string file;  // as spin printed it (e.g. "mutex.pml", "_spin_nvr.tmp")
  std::uint32_t line = 0;
  std::string message;      // "assertion violated"
  std::string failed_text;  // "assert((in_cs==1))" from "text of failed assertion"
  // The last model line (not the never claim's) the trail executed: where a
  // counterexample to an LTL claim or a deadlock ends in the model.
  std::string last_step_file;
  std::uint32_t last_step_line = 0;
  std::int64_t steps = 0;  // "spin: trail ends after N steps"
  bool cycle = false;      // "<<<<<START OF CYCLE>>>>>"
};
TrailError parse_trail_replay(std::string_view text);

// Names of `ltl NAME { ... }` claims, in declaration order; comments are
// skipped. Unnamed `ltl { }` claims are named "ltl_N" as spin does.
std::vector<std::string> ltl_claim_names(std::string_view model_text);

}  // namespace wrt::plugins::spin
