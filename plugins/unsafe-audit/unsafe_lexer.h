// Finds `unsafe` code in Rust source text: a small lexer that skips
// comments (line, block, nested block), string literals (plain, byte, C,
// raw with any number of #), char and byte literals and lifetimes, so only
// the keyword `unsafe` in code counts, and classifies what it introduces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::unsafe_audit {

enum class UnsafeKind {
  kBlock,        // unsafe { ... }
  kFn,           // unsafe fn f(), unsafe extern "C" fn f()
  kImpl,         // unsafe impl Send for T {}
  kTrait,        // unsafe trait T {}, unsafe auto trait
  kExternBlock,  // unsafe extern "C" { ... } (Rust 2024)
  kAttribute,    // #[unsafe(no_mangle)]
};

// "block", "fn", "impl", "trait", "extern block", "attribute".
const char* kind_name(UnsafeKind kind);

struct UnsafeUse {
  UnsafeKind kind;
  std::uint32_t line = 0;    // 1-based, of the `unsafe` keyword
  std::uint32_t column = 0;  // 1-based, in characters
  bool operator==(const UnsafeUse&) const = default;
};

// `unsafe fn(..)` pointer types declare no unsafe code and are not counted.
// An unterminated comment, string or char literal is a ParseError naming
// `file` and where the construct began.
std::variant<std::vector<UnsafeUse>, ParseError> find_unsafe(std::string_view source, const std::string& file);

}  // namespace wrt::plugins::unsafe_audit
