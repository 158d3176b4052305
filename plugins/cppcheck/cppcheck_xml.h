// Reading cppcheck's XML report (--xml --xml-version=2) into findings.
// Pure: text in, issues or a ParseError naming file:line:column out.
#pragma once

#include <wrt/plugin.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::cppcheck {

struct CppcheckIssue {
  std::string id;        // "nullPointer"
  std::string severity;  // cppcheck's own: error, warning, style, performance, portability, information
  std::string message;   // the short "msg", with " [CWE-476]" appended when cppcheck names one
  std::string file;      // the primary (first) location as cppcheck wrote it; empty when none
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string cwe;       // "476", or empty
};

struct CppcheckReport {
  std::string cppcheck_version;  // from <cppcheck version="..."/>
  std::vector<CppcheckIssue> issues;
};

struct CppcheckParseResult {
  CppcheckReport report;
  std::optional<ParseError> error;  // set: `report` is incomplete and must not be used
};

// `source_name` is the path used in error messages (the report file).
CppcheckParseResult parse_cppcheck_xml(std::string_view xml, const std::string& source_name);

// error -> error; warning, style, performance, portability -> warning;
// information, debug, none -> note. A severity this code does not know (a
// later cppcheck) becomes a warning, so it stays visible without failing
// a default (fail_on = "error") stage.
wrt_severity cppcheck_severity(std::string_view severity);

// True for informational ids that describe cppcheck's own configuration
// or coverage rather than the code (missing system headers, the checkers
// report, too many preprocessor configurations): reporting them as findings
// would make every project "fail" fail_on = "warning" for no code defect.
bool is_tool_noise(std::string_view id);

}  // namespace wrt::plugins::cppcheck
