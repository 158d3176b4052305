#include "plugins/clang-tidy/compile_database.h"

#include <tuple>
#include "plugins/common/tool.h"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

namespace wrt::plugins {
namespace {

std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool match_from(const std::vector<std::string>& pat, std::size_t pi, const std::vector<std::string>& path,
                std::size_t si) {
  if (pi == pat.size()) return si == path.size();
  if (pat[pi] == "**") {
    for (std::size_t k = si; k <= path.size(); ++k)
      if (match_from(pat, pi + 1, path, k)) return true;
    return false;
  }
  if (si == path.size()) return false;
  if (::fnmatch(pat[pi].c_str(), path[si].c_str(), 0) != 0) return false;
  return match_from(pat, pi + 1, path, si + 1);
}

}  // namespace

bool path_matches(std::string_view pattern, std::string_view path) {
  while (pattern.substr(0, 2) == "./") pattern.remove_prefix(2);
  return match_from(components(pattern), 0, components(path), 0);
}

bool compile_database_files(std::string_view json, const std::string& file, const std::string& workspace,
                            std::vector<std::string>* files, ParseError* error) {
  namespace fs = std::filesystem;
  nlohmann::json db;
  try {
    db = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::parse_error& e) {
    error->file = file;
    // e.byte is 1-based: the position just past the offending character.
    std::tie(error->line, error->column) = wrt::plugins::line_column_of(json, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    if (auto at = what.find("syntax error"); at != std::string::npos) what = what.substr(at);
    error->message = "malformed JSON: " + what;
    return false;
  }
  if (!db.is_array()) {
    *error = ParseError{file, 1, 1, "not a compilation database: expected an array of entries"};
    return false;
  }
  std::set<std::string> out;
  std::size_t index = 0;
  for (const auto& entry : db) {
    ++index;
    if (!entry.is_object() || !entry.contains("file") || !entry["file"].is_string()) {
      *error = ParseError{file, 0, 0, "entry " + std::to_string(index) + " has no \"file\""};
      return false;
    }
    fs::path p = entry["file"].get<std::string>();
    if (p.is_relative() && entry.contains("directory") && entry["directory"].is_string())
      p = fs::path(entry["directory"].get<std::string>()) / p;
    std::string normal = p.lexically_normal().generic_string();
    std::string rel = workspace_relative(normal, workspace);
    if (rel == normal && fs::path(rel).is_absolute()) continue;  // outside the workspace
    if (rel.rfind("../", 0) == 0) continue;
    out.insert(rel);
  }
  files->assign(out.begin(), out.end());
  return true;
}

}  // namespace wrt::plugins
