#include "plugins/release/release_logic.h"

#include <algorithm>
#include <cctype>

namespace wrt::plugins::release {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::optional<std::uint64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

std::string Version::to_string() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (!pre.empty()) s += "-" + pre;
  return s;
}

std::optional<Version> parse_version(std::string_view text) {
  text = text.substr(0, text.find('+'));  // build metadata
  std::string_view core = text, pre;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    core = text.substr(0, dash);
    pre = text.substr(dash + 1);
    if (pre.empty()) return std::nullopt;
    for (char c : pre)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) return std::nullopt;
  }
  std::size_t d1 = core.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  std::size_t d2 = core.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  auto a = number(core.substr(0, d1)), b = number(core.substr(d1 + 1, d2 - d1 - 1)), c = number(core.substr(d2 + 1));
  if (!a || !b || !c) return std::nullopt;
  Version v;
  v.major = *a;
  v.minor = *b;
  v.patch = *c;
  v.pre = std::string(pre);
  return v;
}

Commit parse_commit(std::string hash, std::string subject, std::string body) {
  Commit c;
  c.hash = std::move(hash);
  c.subject = std::move(subject);
  c.body = std::move(body);
  std::string_view s = c.subject;
  std::size_t i = 0;
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return c;
  std::string type = lower(s.substr(0, i));
  std::string scope;
  if (i < s.size() && s[i] == '(') {
    std::size_t close = s.find(')', i);
    if (close == std::string_view::npos || close == i + 1) return c;
    scope = std::string(trim(s.substr(i + 1, close - i - 1)));
    if (scope.empty()) return c;
    i = close + 1;
  }
  bool bang = false;
  if (i < s.size() && s[i] == '!') {
    bang = true;
    ++i;
  }
  if (i + 1 >= s.size() || s[i] != ':' || s[i + 1] != ' ') return c;
  std::string description(trim(s.substr(i + 2)));
  if (description.empty()) return c;
  c.conventional = true;
  c.type = type;
  c.scope = scope;
  c.description = description;
  c.breaking = bang;
  for (auto line : split_lines(c.body)) {
    for (std::string_view token : {"BREAKING CHANGE: ", "BREAKING-CHANGE: "}) {
      if (starts_with(line, token)) {
        c.breaking = true;
        if (c.breaking_note.empty()) c.breaking_note = std::string(trim(line.substr(token.size())));
      }
    }
  }
  return c;
}

const char* bump_name(Bump b) {
  switch (b) {
    case Bump::kPatch: return "patch";
    case Bump::kMinor: return "minor";
    case Bump::kMajor: return "major";
    case Bump::kNone: break;
  }
  return "none";
}

Bump compute_bump(const Version& current, const std::vector<Commit>& commits, const BumpRules& rules, bool api_breaking,
                  bool api_feature) {
  if (commits.empty()) return Bump::kNone;
  bool breaking = api_breaking, feature = api_feature;
  for (const auto& c : commits) {
    if (!c.conventional) continue;
    breaking = breaking || c.breaking;
    feature = feature || c.type == "feat";
  }
  // next_version's VersionIncrement::from_conventional_commits.
  if (breaking && (current.major != 0 || rules.breaking_always_bump_major)) return Bump::kMajor;
  const bool feat_bump = feature && (current.major != 0 || rules.features_always_bump_minor);
  const bool breaking_bump = current.major == 0 && current.minor != 0 && breaking;
  if (feat_bump || breaking_bump) return Bump::kMinor;
  return Bump::kPatch;
}

Version apply_bump(const Version& v, Bump b) {
  Version out = v;
  out.pre.clear();
  switch (b) {
    case Bump::kMajor:
      out.major += 1;
      out.minor = 0;
      out.patch = 0;
      break;
    case Bump::kMinor:
      out.minor += 1;
      out.patch = 0;
      break;
    case Bump::kPatch:
      out.patch += 1;
      break;
    case Bump::kNone:
      return v;
  }
  return out;
}

const char* const kChangelogHeader =
    "# Changelog\n"
    "\n"
    "All notable changes to this project will be documented in this file.\n"
    "\n"
    "The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),\n"
    "and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n";

std::string render_section(const Version& v, const std::string& date, const std::vector<Commit>& commits) {
  static const char* const kGroups[] = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"};
  std::vector<std::string> entries[6];
  for (const auto& c : commits) {
    if (!c.conventional) continue;
    const std::string desc = lower(c.description);
    const bool removes = starts_with(desc, "remove") || starts_with(desc, "drop") || starts_with(desc, "delete");
    int group = -1;
    if (c.type == "security" || (c.type == "fix" && lower(c.scope) == "security")) group = 5;
    else if (c.type == "fix") group = 4;
    else if (c.type == "remove" || ((c.type == "feat" || c.type == "refactor") && removes)) group = 3;
    else if (c.type == "deprecate") group = 2;
    else if (c.type == "feat") group = 0;
    else if (c.type == "perf" || c.type == "refactor" || c.type == "revert") group = 1;
    else if (c.breaking) group = 1;  // a breaking chore or build change still belongs in the changelog
    if (group < 0) continue;
    std::string e = "- ";
    if (c.breaking) e += "**BREAKING:** ";
    if (!c.scope.empty()) e += "**" + c.scope + ":** ";
    e += c.description;
    if (!c.hash.empty()) e += " (" + c.hash.substr(0, 7) + ")";
    e += "\n";
    if (!c.breaking_note.empty() && c.breaking_note != c.description) e += "  - " + c.breaking_note + "\n";
    entries[group].push_back(e);
  }
  std::string out = "## [" + v.to_string() + "] - " + date + "\n\n";
  bool any = false;
  for (int g = 0; g < 6; ++g) {
    if (entries[g].empty()) continue;
    any = true;
    out += std::string("### ") + kGroups[g] + "\n\n";
    for (const auto& e : entries[g]) out += e;
    out += "\n";
  }
  if (!any) out += "No user-facing changes.\n\n";
  return out;
}

TextEdit insert_section(const std::string& existing, const std::string& section, const Version& v) {
  TextEdit out;
  if (trim(existing).empty()) {
    out.text = std::string(kChangelogHeader) + "\n" + section;
    return out;
  }
  const std::string vs = v.to_string();
  std::size_t insert_at = std::string::npos;
  std::size_t pos = 0;
  for (auto line : split_lines(existing)) {
    const std::size_t here = pos;
    pos += line.size() + 1;
    if (!starts_with(line, "## ")) continue;
    std::string_view title = trim(line.substr(3));
    if (starts_with(title, "[" + vs + "]") || title == vs || starts_with(title, vs + " ")) {
      out.error = "the changelog already has a section for " + vs;
      return out;
    }
    if (starts_with(lower(title), "[unreleased]") || lower(title) == "unreleased") continue;
    if (insert_at == std::string::npos) insert_at = here;
  }
  if (insert_at == std::string::npos) {
    out.text = existing;
    if (!out.text.empty() && out.text.back() != '\n') out.text += "\n";
    if (out.text.size() < 2 || out.text.compare(out.text.size() - 2, 2, "\n\n") != 0) out.text += "\n";
    out.text += section;
    while (out.text.size() >= 2 && out.text.compare(out.text.size() - 2, 2, "\n\n") == 0) out.text.pop_back();
    return out;
  }
  out.text = existing.substr(0, insert_at) + section + existing.substr(insert_at);
  return out;
}

std::optional<VersionFile> version_file_kind(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (name == "Cargo.toml") return VersionFile::kCargoToml;
  if (name == "CMakeLists.txt") return VersionFile::kCMakeLists;
  if (name == "VERSION") return VersionFile::kPlain;
  return std::nullopt;
}

namespace {

TextEdit set_cargo_version(const std::string& content, const Version& v) {
  TextEdit out;
  std::string table;
  bool inherited = false;
  int replaced = 0;
  std::size_t pos = 0;
  std::string result;
  for (auto line : split_lines(content)) {
    std::string l(line);
    pos += line.size() + 1;
    std::string_view t = trim(line);
    if (starts_with(t, "[")) {
      const bool array = starts_with(t, "[[");
      std::size_t close = t.find(']');
      table = array || close == std::string_view::npos ? std::string("[array]") : std::string(trim(t.substr(1, close - 1)));
    } else if (table == "package" || table == "workspace.package") {
      if (starts_with(t, "version")) {
        std::string_view rest = trim(t.substr(7));
        if (starts_with(rest, ".workspace") || (starts_with(rest, "=") && trim(rest.substr(1)).find("workspace") != std::string_view::npos &&
                                                 starts_with(trim(rest.substr(1)), "{"))) {
          inherited = true;
        } else if (starts_with(rest, "=")) {
          std::string_view value = trim(rest.substr(1));
          if (!value.empty() && (value[0] == '"' || value[0] == '\'')) {
            const char q = value[0];
            std::size_t end = value.find(q, 1);
            if (end != std::string_view::npos) {
              if (out.old_version.empty()) out.old_version = std::string(value.substr(1, end - 1));
              std::size_t start_in_line = l.find(q, l.find('='));
              std::size_t end_in_line = l.find(q, start_in_line + 1);
              l = l.substr(0, start_in_line + 1) + v.to_string() + l.substr(end_in_line);
              ++replaced;
            }
          }
        }
      }
    }
    result += l;
    if (pos <= content.size()) result += "\n";
  }
  if (replaced == 0) {
    out.error = inherited ? "the package version is inherited from the workspace (version.workspace = true); list the "
                            "workspace's Cargo.toml with [workspace.package] version instead"
                          : "no version = \"...\" in [package] or [workspace.package]";
    return out;
  }
  out.text = result;
  return out;
}

TextEdit set_cmake_version(const std::string& content, const Version& v) {
  TextEdit out;
  const std::size_t n = content.size();
  std::size_t i = 0;
  while (i < n) {
    char c = content[i];
    if (c == '#') {  // a comment to the end of the line
      while (i < n && content[i] != '\n') ++i;
      continue;
    }
    if (c == '"') {  // a quoted argument
      ++i;
      while (i < n && content[i] != '"') i += content[i] == '\\' ? 2 : 1;
      ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t start = i;
      while (i < n && (std::isalnum(static_cast<unsigned char>(content[i])) || content[i] == '_')) ++i;
      const bool word_start = start == 0 || !(std::isalnum(static_cast<unsigned char>(content[start - 1])) || content[start - 1] == '_');
      if (!word_start || lower(std::string_view(content).substr(start, i - start)) != "project") continue;
      std::size_t j = i;
      while (j < n && (content[j] == ' ' || content[j] == '\t')) ++j;
      if (j >= n || content[j] != '(') continue;
      // The arguments of project(...): find VERSION and the token after it.
      std::size_t k = j + 1;
      bool after_version = false;
      while (k < n && content[k] != ')') {
        if (std::isspace(static_cast<unsigned char>(content[k]))) {
          ++k;
          continue;
        }
        if (content[k] == '#') {
          while (k < n && content[k] != '\n') ++k;
          continue;
        }
        std::size_t ts = k;
        if (content[k] == '"') {
          ++k;
          while (k < n && content[k] != '"') ++k;
          ++k;
        } else {
          while (k < n && !std::isspace(static_cast<unsigned char>(content[k])) && content[k] != ')') ++k;
        }
        std::string token = content.substr(ts, k - ts);
        if (after_version) {
          const bool quoted = token.size() >= 2 && token.front() == '"';
          out.old_version = quoted ? token.substr(1, token.size() - 2) : token;
          out.text = content.substr(0, ts) + (quoted ? "\"" + v.to_string() + "\"" : v.to_string()) + content.substr(k);
          return out;
        }
        after_version = token == "VERSION";
      }
      out.error = "project() has no VERSION argument (add VERSION 0.0.0 for the release to update)";
      return out;
    }
    ++i;
  }
  out.error = "no project() call";
  return out;
}

}  // namespace

TextEdit set_version(VersionFile kind, const std::string& content, const Version& v) {
  switch (kind) {
    case VersionFile::kCargoToml: return set_cargo_version(content, v);
    case VersionFile::kCMakeLists: return set_cmake_version(content, v);
    case VersionFile::kPlain: break;
  }
  TextEdit out;
  out.old_version = std::string(trim(content));
  out.text = v.to_string() + "\n";
  return out;
}

}  // namespace wrt::plugins::release
