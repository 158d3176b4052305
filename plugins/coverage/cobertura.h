// Cobertura XML (gcovr --xml, coverage.py, cargo-tarpaulin, llvm-cov via
// converters): reading into the coverage model and writing it.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "plugins/common/tool.h"
#include "plugins/coverage/coverage_data.h"

namespace wrt::plugins::coverage {

// Class filenames that are relative are joined to the first <source> when
// that source is an absolute directory, so paths can be made
// workspace-relative afterwards. Classes naming the same file are merged.
// Branches come from condition-coverage="P% (COVERED/TOTAL)" (Cobertura
// keeps no per-branch counts: the covered ones are recorded as taken once).
// Functions come from <method> elements (their first line's hits).
// Malformed XML, a missing attribute or a bad number is a ParseError with the
// line and column of the offending element.
std::variant<CoverageData, ParseError> parse_cobertura(std::string_view text, const std::string& file_name);

// One <package> per directory, one <class> per file, with <methods>.
std::string write_cobertura(const CoverageData& data);

}  // namespace wrt::plugins::coverage
