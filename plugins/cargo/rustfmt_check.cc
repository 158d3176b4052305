#include "plugins/cargo/rustfmt_check.h"

#include <charconv>
#include <optional>

namespace wrt::plugins::cargo {
namespace {

std::optional<std::uint32_t> to_line(std::string_view digits) {
  std::uint32_t n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || p != digits.data() + digits.size() || n == 0) return std::nullopt;
  return n;
}

}  // namespace

std::string strip_ansi(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\x1b') {
      out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '[') {  // CSI: ESC [ params final-byte
      i += 2;
      while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) ++i;
    } else if (i + 2 < text.size() && (text[i + 1] == '(' || text[i + 1] == ')')) {  // charset: ESC ( B
      i += 2;
    } else if (i + 1 < text.size()) {
      i += 1;
    }
  }
  return out;
}

std::variant<std::vector<FormatDiff>, ParseError> parse_rustfmt_check(std::string_view text,
                                                                      const std::string& source) {
  std::vector<FormatDiff> diffs;
  std::string clean = strip_ansi(text);
  bool seen_change = false;  // in the current hunk
  std::uint32_t context_before = 0;
  std::uint32_t line_no = 0;
  for (std::string_view line : split_lines(clean)) {
    ++line_no;
    constexpr std::string_view kHeader = "Diff in ";
    if (line.substr(0, kHeader.size()) == kHeader) {
      std::string_view rest = line.substr(kHeader.size());
      if (!rest.empty() && rest.back() == ':') rest.remove_suffix(1);
      FormatDiff d;
      std::optional<std::uint32_t> n;
      if (std::size_t at = rest.rfind(" at line "); at != std::string_view::npos) {
        d.file = std::string(rest.substr(0, at));
        n = to_line(rest.substr(at + 9));
      } else if (std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
        d.file = std::string(rest.substr(0, colon));
        n = to_line(rest.substr(colon + 1));
      }
      if (!n || d.file.empty())
        return ParseError{source, line_no, static_cast<std::uint32_t>(kHeader.size()) + 1,
                          "rustfmt diff header without FILE:LINE: " + std::string(line)};
      d.line = *n;
      diffs.push_back(std::move(d));
      seen_change = false;
      context_before = 0;
      continue;
    }
    if (diffs.empty()) continue;  // rustfmt's warnings before the first hunk
    FormatDiff& d = diffs.back();
    if (!seen_change) {
      if (!line.empty() && (line[0] == '-' || line[0] == '+')) {
        seen_change = true;
        d.line += context_before;
      } else {
        ++context_before;
      }
    }
    d.hunk += line;
    d.hunk += '\n';
  }
  return diffs;
}

}  // namespace wrt::plugins::cargo
