#include "plugins/safety-lint/safety_rules.h"

#include <algorithm>
#include <cctype>

#include "plugins/common/workspace_glob.h"

namespace wrt::plugins::safety {

std::optional<Asil> parse_asil(std::string_view text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* prefix : {"ASIL-", "ASIL_", "ASIL "})
    if (t.rfind(prefix, 0) == 0) t.erase(0, 5);
  if (t == "QM") return Asil::kQM;
  if (t.size() == 1 && t[0] >= 'A' && t[0] <= 'D') return static_cast<Asil>(t[0] - 'A' + 1);
  return std::nullopt;
}

std::string asil_name(Asil a) {
  return a == Asil::kQM ? "QM" : std::string(1, static_cast<char>('A' + static_cast<int>(a) - 1));
}

std::string level_name(Level l) {
  return l == Level::kCritical ? "critical" : l == Level::kMajor ? "major" : "minor";
}

namespace {

bool is(const std::vector<Token>& t, std::size_t i, Token::Kind kind, std::string_view text) {
  return i < t.size() && t[i].kind == kind && t[i].text == text;
}
bool punct(const std::vector<Token>& t, std::size_t i, std::string_view p) { return is(t, i, Token::Kind::kPunct, p); }
bool ident(const std::vector<Token>& t, std::size_t i, std::string_view p) { return is(t, i, Token::Kind::kIdent, p); }

// Index just past the `]` closing the attribute whose `[` is at `open`.
std::size_t attribute_end(const std::vector<Token>& t, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < t.size(); ++i) {
    if (punct(t, i, "[")) ++depth;
    if (punct(t, i, "]") && --depth == 0) return i + 1;
  }
  return t.size();
}

// `#[test]`, `#[cfg(test)]`, `#[cfg(all(test, ...))]` — but not `cfg(not(test))`.
bool is_test_attribute(const std::vector<Token>& t, std::size_t open, std::size_t end) {
  if (open + 1 < end && ident(t, open + 1, "test") && end == open + 3) return true;
  if (!(open + 1 < end && ident(t, open + 1, "cfg"))) return false;
  bool test = false, negated = false;
  for (std::size_t i = open + 2; i < end; ++i) {
    if (ident(t, i, "test")) test = true;
    if (ident(t, i, "not")) negated = true;
  }
  return test && !negated;
}

struct Scope {
  std::string function;  // set for a fn body
  bool test = false;     // a #[cfg(test)] / #[test] item body
};

}  // namespace

std::vector<Violation> scan_tokens(const std::vector<Token>& t) {
  std::vector<Violation> out;
  std::vector<Scope> scopes;
  std::string pending_fn;
  bool pending_test = false;
  int paren_depth = 0;  // `;` inside parentheses/brackets does not end an item
  auto current_function = [&]() -> std::string {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
      if (!it->function.empty()) return it->function;
    return {};
  };
  auto in_test = [&] { return std::any_of(scopes.begin(), scopes.end(), [](const Scope& s) { return s.test; }); };
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (punct(t, i, "#") && punct(t, i + 1, "!") && punct(t, i + 2, "[")) {
      std::size_t end = attribute_end(t, i + 2);
      if (scopes.empty() && is_test_attribute(t, i + 2, end)) return {};  // #![cfg(test)]: the file is test code
      i = end - 1;
      continue;
    }
    if (punct(t, i, "#") && punct(t, i + 1, "[")) {
      std::size_t end = attribute_end(t, i + 1);
      if (is_test_attribute(t, i + 1, end)) pending_test = true;
      i = end - 1;
      continue;
    }
    if (punct(t, i, "(") || punct(t, i, "[")) ++paren_depth;
    if ((punct(t, i, ")") || punct(t, i, "]")) && paren_depth > 0) --paren_depth;
    if (ident(t, i, "fn") && i + 1 < t.size() && t[i + 1].kind == Token::Kind::kIdent) pending_fn = t[i + 1].text;
    if (punct(t, i, ";") && paren_depth == 0) {
      pending_fn.clear();  // a declaration without a body
      pending_test = false;
    }
    if (punct(t, i, "{")) {
      scopes.push_back({pending_fn, pending_test});
      pending_fn.clear();
      pending_test = false;
      continue;
    }
    if (punct(t, i, "}")) {
      if (!scopes.empty()) scopes.pop_back();
      continue;
    }
    if (in_test()) continue;
    const Token& tok = t[i];
    if (tok.kind != Token::Kind::kIdent) continue;
    std::string rule;
    if (tok.text == "unsafe" && punct(t, i + 1, "{")) rule = "unsafe-block";
    else if ((tok.text == "panic" || tok.text == "todo" || tok.text == "unimplemented") && punct(t, i + 1, "!") &&
             !(i > 0 && punct(t, i - 1, ".")))
      rule = tok.text;
    else if ((tok.text == "unwrap" || tok.text == "expect") && i > 0 && punct(t, i - 1, ".") && punct(t, i + 1, "("))
      rule = tok.text;
    if (!rule.empty()) out.push_back({rule, tok.line, tok.column, current_function()});
  }
  return out;
}

bool is_test_path(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) break;  // the last component is the file itself
    if (path.substr(start, end - start) == "tests") return true;
    start = end + 1;
  }
  return false;
}

Level severity(const std::string& rule, Asil target) {
  bool cd = target >= Asil::kC;
  if (rule == "unsafe-block") return cd ? Level::kCritical : Level::kMinor;
  if (rule == "panic" || rule == "todo" || rule == "unimplemented")
    return target == Asil::kD ? Level::kCritical : target == Asil::kC ? Level::kMajor : Level::kMinor;
  if (rule == "unwrap" || rule == "expect") return cd ? Level::kMajor : Level::kMinor;
  return Level::kMinor;
}

Asil achieved_asil(Asil target, bool any_critical, bool any_major) {
  if (any_critical) return Asil::kQM;
  if (any_major) return std::min(target, Asil::kB);
  return target;
}

const AllowedUnsafe* find_allowance(const std::vector<AllowedUnsafe>& allow, const std::string& file,
                                    const std::string& function) {
  for (const auto& a : allow) {
    if (a.file != file && !wrt::plugins::glob_match(a.file, file)) continue;
    if (a.function.empty() || a.function == "*" || a.function == function) return &a;
  }
  return nullptr;
}

}  // namespace wrt::plugins::safety
