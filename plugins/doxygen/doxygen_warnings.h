// The doxygen plugin's pure logic: doxygen's warnings (its WARN_LOGFILE and
// what it prints while reading the configuration) parsed into findings, and
// the configuration wrt gives doxygen.
#pragma once

#include <wrt/plugin.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wrt::plugins::doxygen {

struct Warning {
  std::string file;        // workspace-relative when inside the workspace; "" for configuration warnings
  std::uint32_t line = 0;  // 0 = unknown
  wrt_severity severity = WRT_SEVERITY_WARNING;
  std::string message;     // continuation lines joined with a space ("... not documented: parameter 'b'")
};

// Lines in doxygen's default WARN_FORMAT ("$file:$line: $text", $text
// starting "warning: " or "error: "), and configuration warnings without a
// location ("warning: tag INPUT: input source 'x' does not exist"). An
// indented line continues the previous warning; other lines are ignored.
// Relative paths are taken relative to `tool_cwd`, then made relative to
// `workspace`. Identical warnings (doxygen repeats some, once per pass) are
// reported once, in order of first appearance.
std::vector<Warning> parse_warnings(std::string_view text, const std::string& workspace, const std::string& tool_cwd);

// The configuration wrt runs doxygen with. With `doxyfile` (absolute) it
// @INCLUDEs it and overrides only what wrt needs: WARN_LOGFILE, WARN_FORMAT,
// WARN_AS_ERROR = NO (wrt decides the stage's status), and OUTPUT_DIRECTORY
// when `output_dir` is set. Without one it is a minimal configuration for
// `inputs`: recursive, HTML only, every documentation warning on.
std::string doxygen_config(const std::string& doxyfile, const std::vector<std::string>& inputs,
                           const std::string& output_dir, const std::string& project_name,
                           const std::string& warn_logfile);

// A value quoted for a Doxyfile ("a b" -> "\"a b\"").
std::string doxyfile_quote(const std::string& value);

}  // namespace wrt::plugins::doxygen
