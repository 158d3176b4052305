// The safety lint's rules over lexed Rust: what counts as a violation,
// how severe it is for the component's target ASIL, and the ASIL the code
// actually achieves. Pure functions.
//
// Counted (outside test code): `unsafe { ... }` blocks ("unsafe-block"),
// `panic!` ("panic"), `todo!` ("todo"), `unimplemented!` ("unimplemented"),
// `.unwrap()` ("unwrap"), `.expect(` ("expect"). `unsafe fn`/`unsafe impl`
// declarations are not counted: the blocks that call into them are.
//
// Test code is exempt: files with a `tests` path component, items under
// `#[cfg(test)]` (e.g. `mod tests { ... }`) and `#[test]` functions, and a
// whole file with the inner attribute `#![cfg(test)]`.
//
// Severity by target ASIL:
//   rule                          QM     A      B      C         D
//   unsafe-block (not allowed)    minor  minor  minor  critical  critical
//   panic / todo / unimplemented  minor  minor  minor  major     critical
//   unwrap / expect               minor  minor  minor  major     major
// An `unsafe` block in a function on the allow list is reported as a note
// and never affects the achieved ASIL.
//
// Achieved ASIL: any critical finding caps the component at QM; any major
// finding caps it at B; minor findings do not lower it. The stage fails
// when the achieved ASIL is below the target.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/safety-lint/rust_lexer.h"

namespace wrt::plugins::safety {

enum class Asil { kQM = 0, kA = 1, kB = 2, kC = 3, kD = 4 };
// "QM", "A".."D", also "ASIL-D"/"asil_d"/"d"; nullopt otherwise.
std::optional<Asil> parse_asil(std::string_view text);
std::string asil_name(Asil asil);  // "QM", "A", ... "D"

enum class Level { kMinor, kMajor, kCritical };
std::string level_name(Level level);

struct Violation {
  std::string rule;  // unsafe-block, panic, todo, unimplemented, unwrap, expect
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string function;  // enclosing fn, "" at module level
};

// Violations in non-test code, in source order.
std::vector<Violation> scan_tokens(const std::vector<Token>& tokens);

// True for workspace-relative paths with a `tests` directory component.
bool is_test_path(std::string_view path);

Level severity(const std::string& rule, Asil target);
Asil achieved_asil(Asil target, bool any_critical, bool any_major);

struct AllowedUnsafe {
  std::string file;      // workspace-relative path or glob
  std::string function;  // "" or "*" = any function in the file
  std::string reason;
  std::string asil_justification;
};
const AllowedUnsafe* find_allowance(const std::vector<AllowedUnsafe>& allow, const std::string& file,
                                    const std::string& function);

}  // namespace wrt::plugins::safety
