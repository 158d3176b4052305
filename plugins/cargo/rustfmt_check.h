// Parser for `cargo fmt --check` (rustfmt --check) output: one hunk per
// "Diff in FILE:LINE:" header (rustfmt >= 1.5) or "Diff in FILE at line
// LINE:" (older rustfmt), followed by the unified-diff lines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::cargo {

struct FormatDiff {
  std::string file;        // as rustfmt printed it (absolute under cargo fmt)
  std::uint32_t line = 0;  // first line rustfmt would change (the header's line plus leading context)
  std::string hunk;        // the diff lines, colour codes removed
};

// Terminal colour escapes removed: rustfmt colours its diff even into a pipe
// when TERM says the terminal could.
std::string strip_ansi(std::string_view text);

// A "Diff in" header without a line number is a ParseError naming `source`,
// line and column.
std::variant<std::vector<FormatDiff>, ParseError> parse_rustfmt_check(std::string_view text,
                                                                      const std::string& source);

}  // namespace wrt::plugins::cargo
