#include "core/util/git_head.h"

#include <fstream>
#include <sstream>

namespace wrt {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> first_line(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

bool is_hex_id(const std::string& s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The git directory of the checkout at or above `dir`, and the common
// directory that holds refs (differs for a linked worktree).
std::optional<std::pair<fs::path, fs::path>> git_dirs(fs::path dir) {
  std::error_code ec;
  for (int depth = 0; depth < 64 && !dir.empty(); ++depth) {
    fs::path dot = dir / ".git";
    if (fs::is_directory(dot, ec)) return std::make_pair(dot, dot);
    if (fs::is_regular_file(dot, ec)) {
      auto line = first_line(dot);
      if (!line || line->rfind("gitdir: ", 0) != 0) return std::nullopt;
      fs::path gd = line->substr(8);
      if (gd.is_relative()) gd = dir / gd;
      fs::path common = gd;
      if (auto c = first_line(gd / "commondir")) common = fs::path(*c).is_relative() ? gd / *c : fs::path(*c);
      return std::make_pair(gd, common);
    }
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return std::nullopt;
}

std::optional<std::string> resolve_ref(const fs::path& gitdir, const fs::path& common, const std::string& ref) {
  for (const fs::path& base : {gitdir, common})
    if (auto id = first_line(base / ref); id && is_hex_id(*id)) return id;
  std::ifstream packed(common / "packed-refs");
  std::string line;
  while (std::getline(packed, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '^') continue;
    auto sp = line.find(' ');
    if (sp != std::string::npos && line.substr(sp + 1) == ref && is_hex_id(line.substr(0, sp))) return line.substr(0, sp);
  }
  return std::nullopt;
}

}  // namespace

std::optional<GitHead> read_git_head(const fs::path& workspace) {
  auto dirs = git_dirs(fs::absolute(workspace).lexically_normal());
  if (!dirs) return std::nullopt;
  auto head = first_line(dirs->first / "HEAD");
  if (!head) return std::nullopt;
  GitHead out;
  if (head->rfind("ref: ", 0) == 0) {
    const std::string ref = head->substr(5);
    auto id = resolve_ref(dirs->first, dirs->second, ref);
    if (!id) return std::nullopt;
    out.commit = *id;
    out.branch = ref.rfind("refs/heads/", 0) == 0 ? ref.substr(11) : ref;
  } else if (is_hex_id(*head)) {
    out.commit = *head;
  } else {
    return std::nullopt;
  }
  return out;
}

}  // namespace wrt
