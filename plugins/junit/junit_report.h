// Parser for JUnit XML test reports as written by CTest (--output-junit),
// Catch2 (-r junit), GoogleTest (--gtest_output=xml), cargo2junit and most
// other test runners: <testsuites>/<testsuite> (nested to any depth) holding
// <testcase classname name time> with <failure>, <error> or <skipped>.
#pragma once

#include <wrt/plugin.h>

#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins {

struct JUnitCase {
  std::string suite;  // classname, else the enclosing <testsuite name>
  std::string name;
  wrt_test_status status = WRT_TEST_PASSED;
  double duration_s = -1;  // < 0: the report gave no time
  std::string message;     // why it failed or was skipped; may be empty
};

// Parses `xml` (the content of `file`, which is used only in errors).
// Returns false and fills `error` ("file:line:col: <what>") when the XML is
// malformed or its root is neither <testsuites> nor <testsuite>.
bool parse_junit(std::string_view xml, const std::string& file, std::vector<JUnitCase>* cases, ParseError* error);


}  // namespace wrt::plugins
