// Parser for the messages CMake prints while configuring
// ("CMake Error at CMakeLists.txt:5 (target_link_libraries):" followed by
// an indented explanation), so a configure failure names file and line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/diagnostics.h"

namespace wrt::plugins {

// Errors and warnings (including "Warning (dev)" and deprecation messages)
// with rule "cmake". CMake prints files relative to the source directory
// `source_dir` (absolute); they are returned workspace-relative.
std::vector<Diagnostic> parse_cmake_messages(std::string_view output, const std::string& workspace,
                                             const std::string& source_dir);

}  // namespace wrt::plugins
