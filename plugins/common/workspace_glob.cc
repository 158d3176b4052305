#include "plugins/common/workspace_glob.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

namespace fs = std::filesystem;

namespace wrt::plugins {
namespace {

std::vector<std::string_view> components(std::string_view p) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t slash = p.find('/', start);
    if (slash == std::string_view::npos) slash = p.size();
    if (slash > start && p.substr(start, slash - start) != ".") out.push_back(p.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool component_match(std::string_view pat, std::string_view s) {
  if (pat.empty()) return s.empty();
  char c = pat.front();
  if (c == '*') {
    for (std::size_t i = 0; i <= s.size(); ++i)
      if (component_match(pat.substr(1), s.substr(i))) return true;
    return false;
  }
  if (s.empty()) return false;
  if (c == '?') return component_match(pat.substr(1), s.substr(1));
  if (c == '[') {
    std::size_t close = pat.find(']', 1);
    if (close != std::string_view::npos) {
      std::string_view set = pat.substr(1, close - 1);
      bool negate = !set.empty() && (set.front() == '!' || set.front() == '^');
      if (negate) set.remove_prefix(1);
      bool in = false;
      for (std::size_t i = 0; i < set.size(); ++i) {
        if (i + 2 < set.size() && set[i + 1] == '-') {
          in = in || (s.front() >= set[i] && s.front() <= set[i + 2]);
          i += 2;
        } else {
          in = in || s.front() == set[i];
        }
      }
      return in != negate && component_match(pat.substr(close + 1), s.substr(1));
    }
  }
  return c == s.front() && component_match(pat.substr(1), s.substr(1));
}

bool match_from(const std::vector<std::string_view>& pat, std::size_t pi, const std::vector<std::string_view>& path,
                std::size_t si) {
  if (pi == pat.size()) return si == path.size();
  if (pat[pi] == "**") {
    for (std::size_t k = si; k <= path.size(); ++k)
      if (match_from(pat, pi + 1, path, k)) return true;
    return false;
  }
  return si < path.size() && component_match(pat[pi], path[si]) && match_from(pat, pi + 1, path, si + 1);
}

bool has_wildcard(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  return match_from(components(pattern), 0, components(path), 0);
}

std::vector<std::string> expand_globs(const std::string& workspace, const std::vector<std::string>& patterns) {
  std::set<std::string> found;
  for (const auto& pattern : patterns) {
    auto parts = components(pattern);
    // Walk only below the literal leading directories of the pattern.
    std::string base;
    std::size_t literal = 0;
    while (literal + 1 < parts.size() && !has_wildcard(parts[literal])) {
      base += (base.empty() ? "" : "/") + std::string(parts[literal]);
      ++literal;
    }
    if (!has_wildcard(pattern)) {
      std::error_code ec;
      if (fs::is_regular_file(fs::path(workspace) / pattern, ec)) {
        std::string rel;
        for (auto p : parts) rel += (rel.empty() ? "" : "/") + std::string(p);
        found.insert(rel);
      }
      continue;
    }
    fs::path root = fs::path(workspace) / base;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) continue;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string rel = fs::relative(it->path(), workspace, ec).generic_string();
      if (it->is_directory(ec)) {
        if (rel == ".wrt" || rel == ".git") it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && glob_match(pattern, rel)) found.insert(rel);
    }
  }
  return {found.begin(), found.end()};
}

}  // namespace wrt::plugins
