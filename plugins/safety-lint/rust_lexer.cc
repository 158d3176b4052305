#include "plugins/safety-lint/rust_lexer.h"

#include <cctype>

namespace wrt::plugins::safety {
namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }

}  // namespace

std::variant<std::vector<Token>, ParseError> lex_rust(std::string_view s, const std::string& file) {
  std::vector<Token> out;
  std::size_t i = 0;
  std::uint32_t line = 1, col = 1;
  auto advance = [&](std::size_t n = 1) {
    for (std::size_t k = 0; k < n && i < s.size(); ++k, ++i) {
      if (s[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
  };
  auto at = [&](std::size_t k) { return i + k < s.size() ? s[i + k] : '\0'; };
  while (i < s.size()) {
    char c = s[i];
    std::uint32_t l0 = line, c0 = col;
    if (std::isspace(static_cast<unsigned char>(c))) {
      advance();
    } else if (c == '/' && at(1) == '/') {
      while (i < s.size() && s[i] != '\n') advance();
    } else if (c == '/' && at(1) == '*') {
      int depth = 0;
      do {
        if (at(0) == '/' && at(1) == '*') {
          ++depth;
          advance(2);
        } else if (at(0) == '*' && at(1) == '/') {
          --depth;
          advance(2);
        } else {
          advance();
        }
      } while (depth > 0 && i < s.size());
      if (depth > 0) return ParseError{file, l0, c0, "unterminated block comment"};
    } else if ((c == 'r' && (at(1) == '#' || at(1) == '"')) || (c == 'b' && at(1) == 'r' && (at(2) == '#' || at(2) == '"'))) {
      // Raw string r#"..."# (or br"..."): ends at a quote followed by as many #.
      std::size_t p = c == 'b' ? 2 : 1;
      std::size_t hashes = 0;
      while (at(p + hashes) == '#') ++hashes;
      if (at(p + hashes) != '"') {  // r#ident (raw identifier)
        advance(p + hashes);
        std::size_t start = i;
        while (i < s.size() && ident_char(s[i])) advance();
        out.push_back({Token::Kind::kIdent, std::string(s.substr(start, i - start)), l0, c0});
        continue;
      }
      advance(p + hashes + 1);
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '"') {
          std::size_t k = 0;
          while (k < hashes && at(1 + k) == '#') ++k;
          if (k == hashes) {
            advance(1 + hashes);
            closed = true;
            break;
          }
        }
        advance();
      }
      if (!closed) return ParseError{file, l0, c0, "unterminated raw string"};
      out.push_back({Token::Kind::kLiteral, "", l0, c0});
    } else if (c == '"' || (c == 'b' && at(1) == '"')) {
      advance(c == 'b' ? 2 : 1);
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\') {
          advance(2);
        } else if (s[i] == '"') {
          advance();
          closed = true;
          break;
        } else {
          advance();
        }
      }
      if (!closed) return ParseError{file, l0, c0, "unterminated string literal"};
      out.push_back({Token::Kind::kLiteral, "", l0, c0});
    } else if (c == '\'' || (c == 'b' && at(1) == '\'')) {
      // 'a' / '\n' / b'x' are chars; 'a without a closing quote is a lifetime.
      std::size_t p = c == 'b' ? 2 : 1;
      if (at(p) == '\\') {
        std::size_t k = p + 2;
        while (i + k < s.size() && s[i + k] != '\'' && s[i + k] != '\n') ++k;
        advance(k + 1);
        out.push_back({Token::Kind::kLiteral, "", l0, c0});
      } else if (at(p + 1) == '\'' || (static_cast<unsigned char>(at(p)) >= 0x80)) {
        // one (possibly multi-byte UTF-8) character then a quote
        std::size_t k = p + 1;
        while (i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80) ++k;
        if (at(k) == '\'') {
          advance(k + 1);
          out.push_back({Token::Kind::kLiteral, "", l0, c0});
        } else {
          advance();
          out.push_back({Token::Kind::kLifetime, "'", l0, c0});
        }
      } else {
        advance();
        std::size_t start = i;
        while (i < s.size() && ident_char(s[i])) advance();
        out.push_back({Token::Kind::kLifetime, std::string(s.substr(start, i - start)), l0, c0});
      }
    } else if (ident_start(c)) {
      std::size_t start = i;
      while (i < s.size() && ident_char(s[i])) advance();
      out.push_back({Token::Kind::kIdent, std::string(s.substr(start, i - start)), l0, c0});
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      // 1.0, 0xff_u8, 1e10 — but `x.0.unwrap()` keeps its dots: a digit run
      // swallows a '.' only when a digit follows it.
      while (i < s.size() && (ident_char(s[i]) || (s[i] == '.' && std::isdigit(static_cast<unsigned char>(at(1))))))
        advance();
      out.push_back({Token::Kind::kLiteral, "", l0, c0});
    } else {
      out.push_back({Token::Kind::kPunct, std::string(1, c), l0, c0});
      advance();
    }
  }
  return out;
}

}  // namespace wrt::plugins::safety
