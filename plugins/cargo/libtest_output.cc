#include "plugins/cargo/libtest_output.h"

#include <charconv>

namespace wrt::plugins::cargo {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// "     Running unittests src/lib.rs (target/debug/deps/x-0123)" -> "unittests src/lib.rs"
std::optional<std::string> suite_header(std::string_view line) {
  std::string_view t = trim(line);
  if (starts_with(t, "Running ") && t.size() != line.size()) {
    t.remove_prefix(8);
    std::size_t paren = t.rfind(" (");
    return std::string(paren == std::string_view::npos ? t : t.substr(0, paren));
  }
  if (starts_with(t, "Doc-tests ") && t.size() != line.size()) return "doc-tests " + std::string(trim(t.substr(10)));
  return std::nullopt;
}

std::optional<LibtestCase> result_line(std::string_view line) {
  if (!starts_with(line, "test ")) return std::nullopt;
  std::size_t dots = line.rfind(" ... ");
  if (dots == std::string_view::npos || dots <= 5) return std::nullopt;
  LibtestCase c;
  c.name = std::string(line.substr(5, dots - 5));
  std::string_view outcome = line.substr(dots + 5);
  if (outcome == "ok") {
    c.outcome = LibtestCase::Outcome::kPassed;
  } else if (outcome == "FAILED") {
    c.outcome = LibtestCase::Outcome::kFailed;
  } else if (starts_with(outcome, "ignored")) {
    c.outcome = LibtestCase::Outcome::kIgnored;
    if (starts_with(outcome, "ignored, ")) c.message = std::string(outcome.substr(9));
  } else if (starts_with(outcome, "bench:")) {
    // "bench:       1,234 ns/iter (+/- 56)"
    std::string digits;
    for (char ch : trim(outcome.substr(6))) {
      if (ch >= '0' && ch <= '9') digits += ch;
      else if (ch == '.') digits += ch;
      else if (ch != ',') break;
    }
    double ns = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ns);
    if (ec == std::errc() && p != digits.data()) c.bench_ns_per_iter = ns;
  } else {
    return std::nullopt;  // e.g. "test x has been running for over 60 seconds"
  }
  return c;
}

// "test result: ok. 6 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s"
std::optional<std::uint32_t> read_totals(std::string_view line, LibtestTotals& totals) {
  std::string_view rest = line.substr(13);
  std::size_t dot = rest.find(". ");
  if (dot == std::string_view::npos || (rest.substr(0, dot) != "ok" && rest.substr(0, dot) != "FAILED"))
    return 14;
  rest.remove_prefix(dot + 2);
  LibtestTotals parsed;
  int fields = 0;
  while (!rest.empty()) {
    std::size_t semi = rest.find(';');
    std::string_view field = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    if (starts_with(field, "finished in ")) continue;
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), n);
    auto column = static_cast<std::uint32_t>(field.data() - line.data()) + 1;
    if (ec != std::errc() || p == field.data() || *p != ' ') return column;
    std::string_view what = field.substr(static_cast<std::size_t>(p - field.data()) + 1);
    if (what == "passed") parsed.passed = n;
    else if (what == "failed") parsed.failed = n;
    else if (what == "ignored") parsed.ignored = n;
    else if (what == "measured") parsed.measured = n;
    else if (what == "filtered out") parsed.filtered_out = n;
    else return column;
    ++fields;
  }
  if (fields < 3) return static_cast<std::uint32_t>(line.size()) + 1;
  totals.passed += parsed.passed;
  totals.failed += parsed.failed;
  totals.ignored += parsed.ignored;
  totals.measured += parsed.measured;
  totals.filtered_out += parsed.filtered_out;
  return std::nullopt;
}

// The part of a failure section worth showing: the panic location and
// message, without the backtrace and its hints.
std::string failure_message(const std::vector<std::string_view>& lines) {
  std::string msg;
  for (std::string_view l : lines) {
    if (starts_with(l, "stack backtrace:")) break;
    if (starts_with(l, "note: run with `RUST_BACKTRACE") || starts_with(l, "note: Some details are omitted")) continue;
    if (msg.empty() && trim(l).empty()) continue;
    msg += l;
    msg += '\n';
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

}  // namespace

std::variant<LibtestRun, ParseError> parse_libtest_output(std::string_view text, const std::string& source) {
  LibtestRun run;
  std::string suite;
  std::size_t suite_begin = 0;  // index of the current suite's first case
  std::string failing;          // test whose "---- NAME stdout ----" section is open
  std::vector<std::string_view> section;

  auto close_section = [&] {
    if (failing.empty()) return;
    for (std::size_t i = run.cases.size(); i > suite_begin; --i) {
      LibtestCase& c = run.cases[i - 1];
      if (c.name == failing) {
        c.message = failure_message(section);
        break;
      }
    }
    failing.clear();
    section.clear();
  };

  std::uint32_t line_no = 0;
  for (std::string_view line : split_lines(text)) {
    ++line_no;
    if (starts_with(line, "{\"reason\":")) continue;
    if (starts_with(line, "---- ") && line.size() > 17 && line.substr(line.size() - 12) == " stdout ----") {
      close_section();
      failing = std::string(line.substr(5, line.size() - 17));
      continue;
    }
    if (line == "failures:" || starts_with(line, "test result: ")) close_section();
    if (!failing.empty()) {
      section.push_back(line);
      continue;
    }
    if (auto s = suite_header(line)) {
      suite = *s;
      suite_begin = run.cases.size();
    } else if (auto c = result_line(line)) {
      c->suite = suite;
      run.cases.push_back(std::move(*c));
    } else if (starts_with(line, "test result: ")) {
      if (auto column = read_totals(line, run.totals))
        return ParseError{source, line_no, *column, "unexpected libtest summary: " + std::string(line)};
      ++run.binaries;
    }
  }
  close_section();
  return run;
}

}  // namespace wrt::plugins::cargo
