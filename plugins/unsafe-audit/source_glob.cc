#include "plugins/unsafe-audit/source_glob.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace wrt::plugins::unsafe_audit {
namespace {

namespace fs = std::filesystem;

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool has_wildcard(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// `[...]` at p[0]; sets `matched` and returns the index after `]`, or 0 when
// the class is unterminated (then '[' is a literal character).
std::size_t match_class(std::string_view p, char c, bool& matched) {
  std::size_t i = 1;
  bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  bool hit = false;
  bool first = true;
  for (; i < p.size() && (p[i] != ']' || first); first = false) {
    char lo = p[i];
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hit = hit || (c >= lo && c <= p[i + 2]);
      i += 3;
    } else {
      hit = hit || c == lo;
      ++i;
    }
  }
  if (i >= p.size()) return 0;
  matched = hit != negate;
  return i + 1;
}

bool match_component(std::string_view p, std::string_view s) {
  if (p.empty()) return s.empty();
  if (p[0] == '*') {
    for (std::size_t k = 0; k <= s.size(); ++k)
      if (match_component(p.substr(1), s.substr(k))) return true;
    return false;
  }
  if (s.empty()) return false;
  if (p[0] == '?') return match_component(p.substr(1), s.substr(1));
  if (p[0] == '[') {
    bool matched = false;
    if (std::size_t next = match_class(p, s[0], matched))
      return matched && match_component(p.substr(next), s.substr(1));
  }
  return p[0] == s[0] && match_component(p.substr(1), s.substr(1));
}

bool match_components(const std::vector<std::string_view>& p, std::size_t pi,
                      const std::vector<std::string_view>& s, std::size_t si) {
  if (pi == p.size()) return si == s.size();
  if (p[pi] == "**") {
    for (std::size_t k = si; k <= s.size(); ++k)
      if (match_components(p, pi + 1, s, k)) return true;
    return false;
  }
  return si < s.size() && match_component(p[pi], s[si]) && match_components(p, pi + 1, s, si + 1);
}

bool skipped_directory(const fs::path& dir) {
  std::string name = dir.filename().string();
  std::error_code ec;
  return (!name.empty() && name[0] == '.') || fs::exists(dir / "CACHEDIR.TAG", ec);
}

// Every regular file below `dir`, as paths relative to `root`.
void walk(const fs::path& root, const fs::path& dir, std::vector<std::string>& out) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) {
      if (skipped_directory(it->path())) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out.push_back(it->path().lexically_relative(root).generic_string());
  }
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  return match_components(components(pattern), 0, components(path), 0);
}

std::vector<std::string> expand_sources(const fs::path& root, const std::vector<std::string>& patterns) {
  std::set<std::string> selected;
  for (const std::string& raw : patterns) {
    fs::path normal = fs::path(raw).lexically_normal();
    std::string pattern = normal.generic_string();
    while (!pattern.empty() && pattern.back() == '/') pattern.pop_back();
    if (normal.is_absolute() || pattern == ".." || pattern.rfind("../", 0) == 0)
      throw std::runtime_error("with.paths: \"" + raw + "\" is outside the workspace");
    if (pattern.empty() || pattern == ".") pattern = "**/*.rs";
    if (!has_wildcard(pattern)) {
      std::error_code ec;
      fs::path p = root / pattern;
      if (fs::is_directory(p, ec)) {
        std::vector<std::string> files;
        walk(root, p, files);
        for (auto& f : files)
          if (f.size() > 3 && f.compare(f.size() - 3, 3, ".rs") == 0) selected.insert(f);
      } else if (fs::is_regular_file(p, ec)) {
        selected.insert(pattern);
      } else {
        throw std::runtime_error("with.paths: \"" + raw + "\" does not exist");
      }
      continue;
    }
    // Walk only below the pattern's literal leading directories.
    std::vector<std::string_view> parts = components(pattern);
    fs::path base = root;
    for (std::size_t i = 0; i + 1 < parts.size() && !has_wildcard(parts[i]); ++i) base /= std::string(parts[i]);
    std::error_code ec;
    if (!fs::is_directory(base, ec)) continue;
    std::vector<std::string> files;
    walk(root, base, files);
    for (auto& f : files)
      if (glob_match(pattern, f)) selected.insert(f);
  }
  return {selected.begin(), selected.end()};
}

}  // namespace wrt::plugins::unsafe_audit
