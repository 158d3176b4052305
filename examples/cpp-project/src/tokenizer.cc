#include "textkit/tokenizer.h"

namespace textkit {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::vector<std::string_view> split(std::string_view text, char delimiter) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(delimiter, start);
    if (end == std::string_view::npos) {
      fields.push_back(text.substr(start));
      return fields;
    }
    fields.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::optional<std::string_view> Tokenizer::next() {
  std::size_t begin = 0;
  while (begin < rest_.size() && is_space(rest_[begin])) ++begin;
  rest_.remove_prefix(begin);
  if (rest_.empty()) return std::nullopt;

  if (rest_.front() == '"') {
    const std::size_t close = rest_.find('"', 1);
    if (close == std::string_view::npos) {
      unterminated_quote_ = true;
      const std::string_view token = rest_.substr(1);
      rest_ = {};
      return token;
    }
    const std::string_view token = rest_.substr(1, close - 1);
    rest_.remove_prefix(close + 1);
    return token;
  }

  std::size_t end = 0;
  while (end < rest_.size() && !is_space(rest_[end])) ++end;
  const std::string_view token = rest_.substr(0, end);
  rest_.remove_prefix(end);
  return token;
}

std::vector<std::string_view> tokenize(std::string_view text) {
  std::vector<std::string_view> tokens;
  Tokenizer tokenizer(text);
  while (auto token = tokenizer.next()) tokens.push_back(*token);
  return tokens;
}

}  // namespace textkit
