// gcovr's JSON report (gcovr --json, format version 0.x as written by gcovr
// 5.2): the richest gcovr output (per-branch counts and functions), from
// which the plugin writes LCOV, since gcovr 5.2 has no LCOV writer.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "plugins/common/tool.h"
#include "plugins/coverage/coverage_data.h"

namespace wrt::plugins::coverage {

// Lines gcovr marks "gcovr/noncode" or "gcovr/excluded" are not coverable
// and are left out. Malformed JSON is a ParseError at the line and column of
// the offending byte; a document of the wrong shape names the JSON path.
std::variant<CoverageData, ParseError> parse_gcovr_json(std::string_view text, const std::string& file_name);


}  // namespace wrt::plugins::coverage
