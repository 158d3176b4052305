// Parser for the diagnostics GCC, Clang and clang-tidy print
// (`file:line[:col]: severity: message [option-or-check]`), as they appear
// interleaved with ninja/make progress output in a build log.
#pragma once

#include <wrt/plugin.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wrt::plugins {

struct Diagnostic {
  std::string file;        // workspace-relative when inside the workspace; "" for tool-level errors (linker)
  std::uint32_t line = 0;  // 1-based; 0 = unknown
  std::uint32_t column = 0;
  wrt_severity severity = WRT_SEVERITY_WARNING;
  std::string rule;     // "-Wunused-variable", "bugprone-use-after-move", "ld"; may be empty
  std::string message;  // without the trailing [rule]
  // Notes the compiler attached to this diagnostic ("'y' was declared
  // here", clang-analyzer path steps), as "file:line:col: text". They are
  // context for the diagnostic, not findings of their own.
  std::vector<std::string> notes;
};

struct DiagnosticCounts {
  std::int64_t errors = 0;
  std::int64_t warnings = 0;
  std::int64_t notes = 0;
};

// Every diagnostic in `output`, in order of first appearance, each once:
// the same header warning reached from many translation units (or from
// several clang-tidy batches) is one finding. Relative paths are resolved
// against `tool_cwd` (the directory the compiler ran in) and then made
// relative to `workspace`; files outside the workspace stay absolute.
// A `note:` directly following an error or warning is attached to it; a
// note with nothing before it is a diagnostic of severity note. Progress
// and noise lines (`[3/7] Building ...`, `FAILED: ...`, compiler command
// lines, `make[2]: *** ... Error 1`, source excerpts with carets) are
// skipped. Never throws on odd input: unrecognised lines are ignored.
std::vector<Diagnostic> parse_diagnostics(std::string_view output, const std::string& workspace,
                                          const std::string& tool_cwd);

DiagnosticCounts count_diagnostics(const std::vector<Diagnostic>& diagnostics);

// "src/a.c:4:7: unused variable 'z' [-Wunused-variable]" — for stage messages.
std::string describe(const Diagnostic& d);

// Merges `more` into `into`, dropping diagnostics `into` already has.
void merge_diagnostics(std::vector<Diagnostic>& into, std::vector<Diagnostic> more);

}  // namespace wrt::plugins
