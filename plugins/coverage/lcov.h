// LCOV tracefiles (lcov --capture, llvm-cov export -format=lcov, cargo
// llvm-cov --lcov, tarpaulin): reading into the coverage model and writing it.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "plugins/common/tool.h"
#include "plugins/coverage/coverage_data.h"

namespace wrt::plugins::coverage {

// `file_name` only labels errors. Unknown record types are skipped so newer
// LCOV versions still read; a known record with a malformed value, data
// outside an SF...end_of_record block or a missing end_of_record is a
// ParseError naming the line and the column of the bad field.
std::variant<CoverageData, ParseError> parse_lcov(std::string_view text, const std::string& file_name);

std::string write_lcov(const CoverageData& data);

}  // namespace wrt::plugins::coverage
