// Splitting text into tokens without copying: every token is a view into
// the caller's string, which must outlive the tokens.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace textkit {

// Fields between `delimiter`s, empty fields included ("a,,b" -> "a", "", "b").
std::vector<std::string_view> split(std::string_view text, char delimiter);

// Words separated by runs of whitespace; a double-quoted word may contain
// whitespace and is returned without its quotes.
class Tokenizer {
 public:
  explicit Tokenizer(std::string_view text) : rest_(text) {}

  // The next token, or nullopt at the end of the text.
  std::optional<std::string_view> next();
  // True when a quoted token was not closed before the end of the text.
  bool unterminated_quote() const { return unterminated_quote_; }

 private:
  std::string_view rest_;
  bool unterminated_quote_ = false;
};

// Every token of `text` (see Tokenizer).
std::vector<std::string_view> tokenize(std::string_view text);

}  // namespace textkit
