#include "plugins/unsafe-audit/unsafe_lexer.h"

#include <optional>

namespace wrt::plugins::unsafe_audit {
namespace {

struct Token {
  enum class Type { kIdent, kRawIdent, kPunct, kLiteral, kLifetime };
  Type type;
  std::string_view text;
  std::uint32_t line;
  std::uint32_t column;
};

struct LexError {
  std::uint32_t line;
  std::uint32_t column;
  std::string message;
};

bool is_ident_start(unsigned char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }
bool is_ident_char(unsigned char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// Bytes in the UTF-8 sequence that starts with `lead` (1 for invalid leads,
// so malformed input still advances).
std::size_t utf8_length(unsigned char lead) {
  if (lead >= 0xF0 && lead < 0xF8) return 4;
  if (lead >= 0xE0) return lead < 0xF0 ? 3 : 1;
  if (lead >= 0xC0) return 2;
  return 1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> tokens() {
    std::vector<Token> out;
    while (pos_ < src_.size()) {
      unsigned char c = at(0);
      std::size_t start = pos_;
      std::uint32_t line = line_, column = column_;
      auto emit = [&](Token::Type type) { out.push_back({type, src_.substr(start, pos_ - start), line, column}); };
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        advance(1);
      } else if (c == '/' && at(1) == '/') {
        while (pos_ < src_.size() && at(0) != '\n') advance(1);
      } else if (c == '/' && at(1) == '*') {
        block_comment();
      } else if (c == '"') {
        quoted_string();
        emit(Token::Type::kLiteral);
      } else if ((c == 'b' || c == 'c') && at(1) == '"') {
        advance(1);
        quoted_string();
        emit(Token::Type::kLiteral);
      } else if (c == 'b' && at(1) == '\'') {
        advance(1);
        if (!char_literal()) throw LexError{line, column, "malformed byte literal"};
        emit(Token::Type::kLiteral);
      } else if (c == 'r' && raw_string_ahead(1)) {
        advance(1);
        raw_string();
        emit(Token::Type::kLiteral);
      } else if ((c == 'b' || c == 'c') && at(1) == 'r' && raw_string_ahead(2)) {
        advance(2);
        raw_string();
        emit(Token::Type::kLiteral);
      } else if (c == 'r' && at(1) == '#' && is_ident_start(at(2))) {
        advance(2);
        identifier();
        emit(Token::Type::kRawIdent);
      } else if (is_ident_start(c)) {
        identifier();
        emit(Token::Type::kIdent);
      } else if (is_digit(c)) {
        number();
        emit(Token::Type::kLiteral);
      } else if (c == '\'') {
        emit(char_literal() ? Token::Type::kLiteral : Token::Type::kLifetime);
      } else {
        advance(utf8_length(c));
        emit(Token::Type::kPunct);
      }
    }
    return out;
  }

 private:
  unsigned char at(std::size_t k) const {
    return pos_ + k < src_.size() ? static_cast<unsigned char>(src_[pos_ + k]) : '\0';
  }
  bool eof() const { return pos_ >= src_.size(); }

  void advance(std::size_t n) {
    for (; n > 0 && pos_ < src_.size(); --n, ++pos_) {
      unsigned char b = static_cast<unsigned char>(src_[pos_]);
      if (b == '\n') {
        ++line_;
        column_ = 1;
      } else if ((b & 0xC0) != 0x80) {
        ++column_;
      }
    }
  }

  void block_comment() {
    std::uint32_t line = line_, column = column_;
    advance(2);
    int depth = 1;
    while (depth > 0) {
      if (eof()) throw LexError{line, column, "unterminated block comment"};
      if (at(0) == '/' && at(1) == '*') {
        ++depth;
        advance(2);
      } else if (at(0) == '*' && at(1) == '/') {
        --depth;
        advance(2);
      } else {
        advance(1);
      }
    }
  }

  void quoted_string() {
    std::uint32_t line = line_, column = column_;
    advance(1);
    for (;;) {
      if (eof()) throw LexError{line, column, "unterminated string literal"};
      if (at(0) == '\\') {
        advance(2);
      } else if (at(0) == '"') {
        advance(1);
        return;
      } else {
        advance(1);
      }
    }
  }

  // After the prefix at offset `k`: `#`* then `"`.
  bool raw_string_ahead(std::size_t k) const {
    while (at(k) == '#') ++k;
    return at(k) == '"';
  }

  void raw_string() {
    std::uint32_t line = line_, column = column_;
    std::size_t hashes = 0;
    while (at(0) == '#') {
      ++hashes;
      advance(1);
    }
    advance(1);  // the opening quote
    for (;;) {
      if (eof()) throw LexError{line, column, "unterminated raw string literal"};
      if (at(0) == '"') {
        std::size_t n = 0;
        while (n < hashes && at(1 + n) == '#') ++n;
        if (n == hashes) {
          advance(1 + hashes);
          return;
        }
      }
      advance(1);
    }
  }

  void identifier() {
    while (!eof() && is_ident_char(at(0))) advance(utf8_length(at(0)));
  }

  void number() {
    while (!eof() && (is_ident_char(at(0)) || (at(0) == '.' && is_digit(at(1))))) advance(1);
  }

  // At a quote: consumes a char literal and returns true, or consumes a
  // lifetime/label ('a, 'static) and returns false.
  bool char_literal() {
    std::uint32_t line = line_, column = column_;
    if (at(1) == '\\') {
      advance(3);  // quote, backslash, the escaped character
      for (int i = 0; i < 12; ++i) {
        if (eof() || at(0) == '\n') break;
        if (at(0) == '\'') {
          advance(1);
          return true;
        }
        advance(1);
      }
      throw LexError{line, column, "unterminated character literal"};
    }
    std::size_t len = utf8_length(at(1));
    if (at(1) != '\0' && at(1) != '\n' && at(1 + len) == '\'') {
      advance(2 + len);
      return true;
    }
    advance(1);
    identifier();
    return false;
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
};

bool is(const std::vector<Token>& t, std::size_t i, Token::Type type, std::string_view text) {
  return i < t.size() && t[i].type == type && t[i].text == text;
}
bool is_ident(const std::vector<Token>& t, std::size_t i, std::string_view text) {
  return is(t, i, Token::Type::kIdent, text);
}
bool is_punct(const std::vector<Token>& t, std::size_t i, std::string_view text) {
  return is(t, i, Token::Type::kPunct, text);
}

// `fn` at index i declares a function (a name follows) rather than naming
// an fn-pointer type (a parenthesis follows).
bool declares_fn(const std::vector<Token>& t, std::size_t i) {
  return is_ident(t, i, "fn") && i + 1 < t.size() &&
         (t[i + 1].type == Token::Type::kIdent || t[i + 1].type == Token::Type::kRawIdent);
}

std::optional<UnsafeKind> classify(const std::vector<Token>& t, std::size_t i) {
  std::size_t n = i + 1;
  if (is_punct(t, n, "{")) return UnsafeKind::kBlock;
  if (is_punct(t, n, "(")) return UnsafeKind::kAttribute;
  if (is_ident(t, n, "impl")) return UnsafeKind::kImpl;
  if (is_ident(t, n, "trait") || (is_ident(t, n, "auto") && is_ident(t, n + 1, "trait"))) return UnsafeKind::kTrait;
  if (declares_fn(t, n)) return UnsafeKind::kFn;
  if (is_ident(t, n, "extern")) {
    std::size_t k = n + 1;
    if (k < t.size() && t[k].type == Token::Type::kLiteral) ++k;  // the ABI string
    if (declares_fn(t, k)) return UnsafeKind::kFn;
    if (is_punct(t, k, "{")) return UnsafeKind::kExternBlock;
  }
  return std::nullopt;
}

}  // namespace

const char* kind_name(UnsafeKind kind) {
  switch (kind) {
    case UnsafeKind::kBlock: return "block";
    case UnsafeKind::kFn: return "fn";
    case UnsafeKind::kImpl: return "impl";
    case UnsafeKind::kTrait: return "trait";
    case UnsafeKind::kExternBlock: return "extern block";
    case UnsafeKind::kAttribute: return "attribute";
  }
  return "?";
}

std::variant<std::vector<UnsafeUse>, ParseError> find_unsafe(std::string_view source, const std::string& file) {
  std::vector<Token> tokens;
  try {
    tokens = Lexer(source).tokens();
  } catch (const LexError& e) {
    return ParseError{file, e.line, e.column, e.message};
  }
  std::vector<UnsafeUse> uses;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (!is_ident(tokens, i, "unsafe")) continue;
    if (auto kind = classify(tokens, i)) uses.push_back({*kind, tokens[i].line, tokens[i].column});
  }
  return uses;
}

}  // namespace wrt::plugins::unsafe_audit
