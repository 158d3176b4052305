#include "core/config/glob.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <fmt/core.h>

namespace wrt {

namespace {

// Splits on '/'. A single trailing '/' is dropped so "src/" names the same
// thing as "src"; glob_pattern_error rejects every other empty component.
void split_into(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  if (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.empty()) return;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  split_into(s, out);
  return out;
}

// Index just past the ']' closing the class that opens at p[i] == '[', or
// npos when unclosed. A ']' right after "[" or "[!" is a member, as in fnmatch.
std::size_t class_end(std::string_view p, std::size_t i) {
  std::size_t j = i + 1;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) ++j;
  if (j < p.size() && p[j] == ']') ++j;
  while (j < p.size() && p[j] != ']') ++j;
  return j < p.size() ? j + 1 : std::string_view::npos;
}

// `cls` is the text between '[' and ']'.
bool class_matches(std::string_view cls, char c) {
  bool negate = false;
  std::size_t i = 0;
  if (i < cls.size() && (cls[i] == '!' || cls[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  const auto uc = static_cast<unsigned char>(c);
  while (i < cls.size()) {
    char lo = cls[i];
    if (i + 2 < cls.size() && cls[i + 1] == '-') {
      char hi = cls[i + 2];
      if (static_cast<unsigned char>(lo) <= uc && uc <= static_cast<unsigned char>(hi)) hit = true;
      i += 3;
    } else {
      if (lo == c) hit = true;
      ++i;
    }
  }
  return hit != negate;
}

// One component, no '/'. Classic greedy '*' with backtracking to the last
// star: linear-ish, and correct because every other token eats one char.
bool match_component(std::string_view p, std::string_view s) {
  std::size_t pi = 0, si = 0;
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      char pc = p[pi];
      if (pc == '*') {
        while (pi < p.size() && p[pi] == '*') ++pi;
        star_p = pi;
        star_s = si;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (pc == '[') {
        std::size_t end = class_end(p, pi);
        if (end != std::string_view::npos) {
          if (class_matches(p.substr(pi + 1, end - pi - 2), s[si])) {
            pi = end;
            ++si;
            continue;
          }
        } else if (s[si] == '[') {  // malformed class: '[' is literal
          ++pi;
          ++si;
          continue;
        }
      } else if (pc == s[si]) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool is_globstar(std::string_view c) { return c == "**"; }

// Same backtracking scheme one level up: "**" is the star, every other
// pattern component consumes exactly one path component.
bool match_components(const std::vector<std::string_view>& p, const std::vector<std::string_view>& s) {
  std::size_t pi = 0, si = 0;
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      if (is_globstar(p[pi])) {
        while (pi < p.size() && is_globstar(p[pi])) ++pi;
        star_p = pi;
        star_s = si;
        continue;
      }
      if (match_component(p[pi], s[si])) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && is_globstar(p[pi])) ++pi;
  return pi == p.size();
}

bool component_has_wildcard(std::string_view c) {
  return c.find_first_of("*?[") != std::string_view::npos;
}

std::string strip_trailing_slash(std::string s) {
  if (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string join(const std::string& dir, const char* name) {
  return dir.empty() ? std::string(name) : dir + "/" + name;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  return match_components(split(pattern), split(path));
}

bool has_wildcard(std::string_view pattern) { return component_has_wildcard(pattern); }

std::string glob_pattern_error(std::string_view pattern) {
  if (pattern.empty()) return "empty input pattern";
  // The file system sees a C string: everything after a NUL would vanish, and
  // "\0" would name the workspace itself.
  if (pattern.find('\0') != std::string_view::npos) return "input pattern contains a NUL character";
  if (pattern.front() == '/')
    return fmt::format("input pattern '{}' is absolute; patterns are relative to the workspace", pattern);
  std::string_view body = pattern;
  if (body.back() == '/') body.remove_suffix(1);
  if (body.empty() || body.find("//") != std::string_view::npos)
    return fmt::format("input pattern '{}' has an empty path component", pattern);
  for (std::string_view c : split(body)) {
    if (c == "..") return fmt::format("input pattern '{}' contains '..'; inputs must stay inside the workspace", pattern);
    if (c == ".") return fmt::format("input pattern '{}' contains a '.' component; write the path without it", pattern);
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c[i] != '[') continue;
      std::size_t end = class_end(c, i);
      if (end == std::string_view::npos)
        return fmt::format("input pattern '{}' has an unclosed '[' (a class cannot contain '/')", pattern);
      i = end - 1;
    }
  }
  return {};
}

GlobExpander::GlobExpander(std::filesystem::path workspace, std::vector<std::string> skip_dirs)
    : root_(std::move(workspace)) {
  const std::string root = root_.lexically_normal().string();
  for (std::string d : skip_dirs) {
    // The cache dir setting may be absolute; only a location inside the
    // workspace can ever be walked into, so others are dropped.
    if (!d.empty() && d.front() == '/') {
      std::filesystem::path rel = std::filesystem::path(d).lexically_normal().lexically_relative(root);
      d = rel.empty() ? std::string() : rel.generic_string();
      if (d.empty() || d == "." || d.rfind("..", 0) == 0) continue;
    }
    d = std::filesystem::path(d).lexically_normal().generic_string();
    d = strip_trailing_slash(d);
    if (d.empty() || d == "." || d.rfind("..", 0) == 0) continue;
    skip_.push_back(std::move(d));
  }
  std::sort(skip_.begin(), skip_.end());
}

void GlobExpander::invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  walks_.clear();
}

namespace {

bool is_skipped(const std::vector<std::string>& skip, const std::string& rel) {
  return std::binary_search(skip.begin(), skip.end(), rel);
}

// Unreadable directories are left out rather than failing every pattern that
// happens to share a prefix with them. The walk keeps its own stack of
// directories still to read and closes each one before reading the next, so a
// deep tree costs neither call stack nor one descriptor per level.
void walk(const std::string& abs_root, const std::string& rel_root, const std::vector<std::string>& skip,
          std::vector<std::string>& out) {
  std::vector<std::pair<std::string, std::string>> todo{{abs_root, rel_root}};  // (absolute, relative)
  while (!todo.empty()) {
    auto [abs, rel] = std::move(todo.back());
    todo.pop_back();
    if (abs.find('\0') != std::string::npos) continue;  // the C API would read a different path
    DIR* d = ::opendir(abs.empty() ? "." : abs.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      std::string child_abs = abs + "/" + name;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN || type == DT_LNK) {
        struct stat st;
        if (::lstat(child_abs.c_str(), &st) != 0) continue;
        if (S_ISLNK(st.st_mode)) {
          // A link to a file counts as that file; links to directories are
          // not followed, which rules out cycles.
          if (::stat(child_abs.c_str(), &st) == 0 && S_ISREG(st.st_mode)) out.push_back(join(rel, name));
          continue;
        }
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      }
      if (type == DT_REG) {
        out.push_back(join(rel, name));
      } else if (type == DT_DIR) {
        std::string child_rel = join(rel, name);
        if (!is_skipped(skip, child_rel)) todo.emplace_back(std::move(child_abs), std::move(child_rel));
      }
    }
    ::closedir(d);
  }
}

bool under_skipped(const std::vector<std::string>& skip, const std::string& dir) {
  if (dir.empty()) return false;
  for (std::size_t i = 0;; ++i) {
    i = dir.find('/', i);
    if (is_skipped(skip, dir.substr(0, i))) return true;
    if (i == std::string::npos) return false;
  }
}

}  // namespace

// Caller holds mu_: the returned reference lives only until invalidate().
const std::vector<std::string>& GlobExpander::files_under(const std::string& dir) {
  if (auto it = walks_.find(dir); it != walks_.end()) return it->second;
  std::vector<std::string>& out = walks_[dir];
  if (under_skipped(skip_, dir)) return out;
  if (dir.empty()) {
    walk(root_.string(), dir, skip_, out);
    std::sort(out.begin(), out.end());
    return out;
  }

  // An already walked ancestor holds this directory's files as one sorted
  // run, unless the way down passes a symlinked directory, which that walk
  // did not enter.
  for (std::size_t cut = dir.rfind('/');; cut = dir.rfind('/', cut - 1)) {
    std::string anc = cut == std::string::npos ? std::string() : dir.substr(0, cut);
    auto it = walks_.find(anc);
    if (it != walks_.end()) {
      bool real_dirs = true;
      for (std::size_t i = anc.empty() ? 0 : anc.size() + 1; real_dirs;) {
        std::size_t next = dir.find('/', i);
        struct stat st;
        std::string part = (root_ / dir.substr(0, next)).string();
        if (::lstat(part.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) real_dirs = false;
        if (next == std::string::npos) break;
        i = next + 1;
      }
      if (real_dirs) {
        const std::string prefix = dir + "/";
        const auto& all = it->second;
        auto lo = std::lower_bound(all.begin(), all.end(), prefix);
        auto hi = lo;
        while (hi != all.end() && hi->compare(0, prefix.size(), prefix) == 0) ++hi;
        out.assign(lo, hi);
        return out;
      }
      break;
    }
    if (cut == std::string::npos) break;
  }

  walk((root_ / dir).string(), dir, skip_, out);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> GlobExpander::expand(const std::string& pattern) {
  if (std::string err = glob_pattern_error(pattern); !err.empty()) return Error{err};
  const std::string pat = strip_trailing_slash(pattern);
  std::vector<std::string> result;

  if (!has_wildcard(pat)) {
    struct stat st;
    const std::string abs = (root_ / pat).string();
    if (::stat(abs.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return result;
      return Error{fmt::format("input '{}': {}", pattern, std::strerror(errno))};
    }
    if (S_ISREG(st.st_mode)) {
      result.push_back(pat);
    } else if (S_ISDIR(st.st_mode)) {
      std::lock_guard<std::mutex> lock(mu_);
      result = files_under(pat);
    }
    return result;
  }

  // Only the literal leading directories are walked: "src/**/*.c" reads
  // src and nothing else.
  std::vector<std::string_view> comps = split(pat);
  std::string prefix;
  std::size_t literal = 0;
  while (literal + 1 < comps.size() && !component_has_wildcard(comps[literal])) {
    if (!prefix.empty()) prefix += '/';
    prefix += comps[literal];
    ++literal;
  }
  const bool everything = literal + 1 == comps.size() && comps.back() == "**";

  // Held across the filter too, since invalidate() may free the list.
  std::lock_guard<std::mutex> lock(mu_);
  const std::vector<std::string>& files = files_under(prefix);
  if (everything) return files;
  std::vector<std::string_view> parts;
  for (const std::string& f : files) {
    split_into(f, parts);
    if (match_components(comps, parts)) result.push_back(f);
  }
  return result;
}

}  // namespace wrt
