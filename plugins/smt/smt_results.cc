#include "plugins/smt/smt_results.h"

#include <cctype>

namespace wrt::plugins::smt {
namespace {

// Walks SMT-LIB text tracking line/column, skipping comments, strings and
// |quoted symbols| so that parentheses inside them do not count.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  std::size_t pos() const { return pos_; }
  std::uint32_t line() const { return line_; }
  std::uint32_t column() const { return column_; }
  void advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++pos_;
  }
  // Skips a string ("" escapes a quote) or |symbol| starting at the cursor;
  // false when it is not closed.
  bool skip_quoted() {
    char close = peek() == '"' ? '"' : '|';
    advance();
    while (!done()) {
      if (peek() == close) {
        advance();
        if (close == '"' && !done() && peek() == '"') {
          advance();
          continue;
        }
        return true;
      }
      advance();
    }
    return false;
  }
  std::string_view comment_to_eol() {
    std::size_t start = pos_;
    while (!done() && peek() != '\n') advance();
    return text_.substr(start, pos_ - start);
  }
  std::string_view slice(std::size_t from) const { return text_.substr(from, pos_ - from); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
};

std::string unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '|')) s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// Splits a top-level command "(set-info :name x)" into words (no nesting).
std::vector<std::string_view> words_of(std::string_view command) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < command.size()) {
    while (i < command.size() && (std::isspace(static_cast<unsigned char>(command[i])) || command[i] == '(' ||
                                  command[i] == ')'))
      ++i;
    std::size_t start = i;
    if (i < command.size() && (command[i] == '"' || command[i] == '|')) {
      char close = command[i++];
      while (i < command.size() && command[i] != close) ++i;
      if (i < command.size()) ++i;
    } else {
      while (i < command.size() && !std::isspace(static_cast<unsigned char>(command[i])) && command[i] != '(' &&
             command[i] != ')')
        ++i;
    }
    if (i > start) out.push_back(command.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::variant<std::vector<Obligation>, ParseError> find_obligations(std::string_view text, const std::string& file) {
  std::vector<Obligation> out;
  std::string pending_name;
  Cursor c(text);
  int depth = 0;
  std::size_t command_start = 0;
  std::uint32_t open_line = 0, open_col = 0;
  while (!c.done()) {
    char ch = c.peek();
    if (ch == ';') {
      std::string_view comment = trim(c.comment_to_eol().substr(1));
      if (depth == 0 && comment.substr(0, 5) == "@name") pending_name = std::string(trim(comment.substr(5)));
      continue;
    }
    if (ch == '"' || ch == '|') {
      std::uint32_t l = c.line(), col = c.column();
      if (!c.skip_quoted())
        return ParseError{file, l, col, std::string("unterminated ") + (ch == '"' ? "string" : "quoted symbol")};
      continue;
    }
    if (ch == '(') {
      if (depth == 0) {
        command_start = c.pos();
        open_line = c.line();
        open_col = c.column();
      }
      ++depth;
    } else if (ch == ')') {
      if (depth == 0) return ParseError{file, c.line(), c.column(), "unbalanced ')'"};
      --depth;
      if (depth == 0) {
        c.advance();
        auto words = words_of(c.slice(command_start));
        if (words.empty()) continue;
        if (words[0] == "check-sat" || words[0] == "check-sat-assuming") {
          Obligation o;
          o.line = open_line;
          o.name = pending_name.empty() ? file + "#" + std::to_string(out.size() + 1) : pending_name;
          pending_name.clear();
          out.push_back(std::move(o));
        } else if (words[0] == "get-model" && !out.empty()) {
          out.back().wants_model = true;
        } else if (words[0] == "set-info" && words.size() >= 3 && words[1] == ":name") {
          pending_name = unquote(words[2]);
        }
        continue;
      }
    }
    c.advance();
  }
  if (depth > 0) return ParseError{file, open_line, open_col, "unbalanced '(': command is never closed"};
  return out;
}

std::vector<ObligationResult> match_answers(std::string_view output, const std::vector<Obligation>& obligations,
                                            const std::string& expect) {
  std::vector<ObligationResult> results;
  for (const auto& o : obligations) results.push_back(ObligationResult{o, Verdict::kInconclusive, "", "", ""});
  std::size_t next = 0;  // the first obligation still waiting for its answer
  bool timed_out = false;
  Cursor c(output);
  while (!c.done()) {
    char ch = c.peek();
    if (std::isspace(static_cast<unsigned char>(ch))) {
      c.advance();
      continue;
    }
    if (ch == '(') {
      std::size_t start = c.pos();
      int depth = 0;
      while (!c.done()) {
        if (c.peek() == '"' || c.peek() == '|') {
          c.skip_quoted();
          continue;
        }
        if (c.peek() == '(') ++depth;
        if (c.peek() == ')' && --depth == 0) {
          c.advance();
          break;
        }
        c.advance();
      }
      std::string_view sexpr = c.slice(start);
      auto words = words_of(sexpr.substr(0, 16));
      bool is_error = !words.empty() && words[0] == "error";
      // A response after an answer and before the next one belongs to the
      // previous obligation when it asked for a model.
      bool for_previous = next > 0 && results[next - 1].obligation.wants_model && results[next - 1].model.empty();
      if (is_error) {
        auto q = sexpr.find('"');
        auto e = sexpr.rfind('"');
        std::string msg = q != e ? std::string(sexpr.substr(q + 1, e - q - 1)) : std::string(sexpr);
        if (for_previous) results[next - 1].model = "(error) " + msg;
        else if (next < results.size()) {
          if (results[next].error.empty()) results[next].error = msg;
        } else if (!results.empty() && results.back().error.empty()) {
          results.back().error = msg;
        }
      } else if (for_previous) {
        results[next - 1].model = std::string(sexpr);
      }
      continue;
    }
    std::size_t start = c.pos();
    while (!c.done() && !std::isspace(static_cast<unsigned char>(c.peek()))) c.advance();
    std::string_view word = c.slice(start);
    if (word == "sat" || word == "unsat" || word == "unknown" || word == "timeout") {
      if (word == "timeout") timed_out = true;
      if (next < results.size()) results[next++].answer = std::string(word);
      continue;
    }
    // Anything else is a diagnostic line; only a timeout notice matters.
    std::size_t line_start = start;
    while (!c.done() && c.peek() != '\n') c.advance();
    if (c.slice(line_start).find("interrupted by timeout") != std::string_view::npos) timed_out = true;
  }
  for (auto& r : results) {
    if (!r.error.empty()) r.verdict = Verdict::kError;
    else if (r.answer == expect) r.verdict = Verdict::kProved;
    else if (r.answer == "sat" || r.answer == "unsat") r.verdict = Verdict::kCounterexample;
    else {
      r.verdict = Verdict::kInconclusive;
      if (r.answer.empty()) r.answer = timed_out ? "timeout" : "";
    }
  }
  return results;
}

}  // namespace wrt::plugins::smt
