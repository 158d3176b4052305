// A small Rust lexer for the safety lint: identifiers and punctuation with
// their positions. Comments (line, nested block, doc), string, byte and raw
// string literals and char literals are consumed and never produce
// identifier tokens, so `"unsafe { }"` in a string is not code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::safety {

struct Token {
  enum class Kind { kIdent, kPunct, kLiteral, kLifetime };
  Kind kind = Kind::kPunct;
  std::string text;  // identifier text or the punctuation character; literals are "" (contents irrelevant)
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

// An unterminated block comment, string or raw string is a ParseError at
// the position where it started.
std::variant<std::vector<Token>, ParseError> lex_rust(std::string_view source, const std::string& file);

}  // namespace wrt::plugins::safety
