// Parser for cargo's `--message-format=json` output as the cargo plugin
// captures it: cargo's JSON messages on stdout interleaved with its human
// status lines on stderr (and, for `cargo test`, libtest's human output).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::cargo {

// One top-level rustc/clippy/rustdoc diagnostic (a "compiler-message").
struct Diagnostic {
  enum class Level { kError, kWarning };
  Level level = Level::kWarning;
  std::string code;     // "unused_variables", "clippy::unwrap_used", "E0308"; "" when rustc gave none
  std::string message;  // first line, without the rendered source excerpt
  std::string file;     // primary span's file as cargo wrote it (relative to the cargo workspace root); "" if none
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string rendered;  // rustc's human rendering, for the log
  bool operator==(const Diagnostic&) const = default;
};

// A "compiler-artifact": what a target produced.
struct Artifact {
  std::string target_name;
  std::vector<std::string> kinds;      // "lib", "bin", "test", ...
  std::vector<std::string> filenames;  // absolute
  std::string executable;              // absolute; "" when the artifact is no executable
  bool test_profile = false;           // built for `cargo test`/`cargo bench`
};

struct CargoOutput {
  // Errors and warnings only, in order, without duplicates: cargo test
  // compiles a library twice (lib and lib test) and rustc reports the same
  // warning from both. Notes and "failure-note" summaries are dropped.
  std::vector<Diagnostic> diagnostics;
  std::vector<Artifact> artifacts;
  bool build_finished = false;  // a "build-finished" message was seen
  bool build_succeeded = false; // its "success"
  // Human lines starting with "error" (cargo's own errors such as a broken
  // manifest, which are not JSON), in order.
  std::vector<std::string> error_lines;

  std::int64_t error_count() const;
  std::int64_t warning_count() const;
};

// Lines beginning with `{"reason":` are cargo messages and must be valid
// JSON objects of the documented shape; a malformed one is a ParseError
// naming `source`, the line and the column. Every other line is human text.
std::variant<CargoOutput, ParseError> parse_cargo_output(std::string_view text, const std::string& source);

}  // namespace wrt::plugins::cargo
