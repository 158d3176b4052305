// Reading flawfinder's CSV report (--csv) into hits. Pure: text in, hits
// or a ParseError naming file:line:column out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::flawfinder {

struct FlawfinderHit {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  int level = 0;           // 0 (no risk) .. 5 (maximum risk), after flawfinder's adjustments
  std::string category;    // "buffer", "shell", "format", ...
  std::string name;        // the flagged function or construct: "strcpy"
  std::string warning;     // "Does not check for buffer overflows ... (CWE-120)."
  std::string suggestion;  // "Consider using snprintf, ..."
  std::string note;
  std::string cwes;        // "CWE-120, CWE-20"
  std::string rule_id;     // "FF1001"
};

struct FlawfinderParseResult {
  std::vector<FlawfinderHit> hits;
  std::optional<ParseError> error;  // set: `hits` is incomplete and must not be used
};

// `source_name` is the path used in error messages (the report file).
FlawfinderParseResult parse_flawfinder_csv(std::string_view csv, const std::string& source_name);

// The finding text: "strcpy (level 4): Does not check ... (CWE-120). Consider
// using ...", with the CWEs appended when the warning does not name them.
std::string hit_message(const FlawfinderHit& hit);

// The rule of a hit: its stable RuleId ("FF1001") or, from a flawfinder
// that predates rule ids, the flagged name.
std::string hit_rule(const FlawfinderHit& hit);

}  // namespace wrt::plugins::flawfinder
