#include "plugins/common/diagnostics.h"

#include <array>
#include <filesystem>
#include <optional>
#include <set>
#include <tuple>

#include "plugins/common/tool.h"

namespace wrt::plugins {
namespace {

// Compilers colour their output when forced to (CLICOLOR_FORCE, ccache,
// -fdiagnostics-color=always) and may wrap options in OSC 8 hyperlinks;
// both would otherwise end up inside file names and rules.
std::string strip_escapes(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\x1b') {
      out += line[i];
      continue;
    }
    if (i + 1 < line.size() && line[i + 1] == '[') {  // CSI: ESC [ params letter
      std::size_t j = i + 2;
      while (j < line.size() && !(line[j] >= '@' && line[j] <= '~')) ++j;
      i = j;
    } else if (i + 1 < line.size() && line[i + 1] == ']') {  // OSC: ends with BEL or ESC backslash
      std::size_t j = i + 2;
      while (j < line.size() && line[j] != '\a' && !(line[j] == '\x1b' && j + 1 < line.size() && line[j + 1] == '\\'))
        ++j;
      i = (j < line.size() && line[j] == '\x1b') ? j + 1 : j;
    }
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::uint32_t to_u32(std::string_view s) {
  std::uint32_t v = 0;
  for (char c : s) v = v * 10 + static_cast<std::uint32_t>(c - '0');
  return v;
}

bool has_space(std::string_view s) { return s.find_first_of(" \t") != std::string_view::npos; }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Lines between which a note cannot belong to the diagnostic before it:
// a new build edge started or the build tool reported a failure.
bool is_progress_line(std::string_view line) {
  if (starts_with(line, "FAILED: ") || starts_with(line, "ninja: ")) return true;
  if (!line.empty() && line[0] == '[') {  // "[3/7] Building ..." (ninja), "[ 42%] Building ..." (make)
    std::size_t close = line.find(']');
    if (close != std::string_view::npos && close < 12) return true;
  }
  // "make[2]: *** [...] Error 1", "gmake: Target 'all' not remade"
  for (std::string_view tool : {"make", "gmake"})
    if (starts_with(line, tool) && line.size() > tool.size() && (line[tool.size()] == '[' || line[tool.size()] == ':'))
      return true;
  return false;
}

struct Marker {
  std::size_t prefix_end;  // where the location prefix ends (npos: no prefix)
  std::size_t message_begin;
  wrt_severity severity;
  bool is_note;
};

// Finds the earliest "<prefix>: <severity>: " in the line (or a line that
// starts with "<severity>: ", as clang and clang-tidy print driver errors).
std::optional<Marker> find_marker(std::string_view line) {
  struct Kind {
    std::string_view word;
    wrt_severity severity;
    bool is_note;
  };
  static constexpr std::array<Kind, 4> kinds{{{"fatal error", WRT_SEVERITY_ERROR, false},
                                              {"error", WRT_SEVERITY_ERROR, false},
                                              {"warning", WRT_SEVERITY_WARNING, false},
                                              {"note", WRT_SEVERITY_NOTE, true}}};
  std::optional<Marker> best;
  for (const auto& k : kinds) {
    std::string head = std::string(k.word) + ": ";
    if (starts_with(line, head)) {
      Marker m{std::string_view::npos, head.size(), k.severity, k.is_note};
      if (!best || best->prefix_end != std::string_view::npos) best = m;
      continue;
    }
    std::string mid = ": " + head;
    std::size_t pos = line.find(mid);
    if (pos == std::string_view::npos || pos == 0) continue;
    if (best && (best->prefix_end == std::string_view::npos || best->prefix_end <= pos)) continue;
    best = Marker{pos, pos + mid.size(), k.severity, k.is_note};
  }
  return best;
}

// "message [-Wfoo]" -> ("message", "-Wfoo"). Only a final bracketed word
// without spaces counts as a rule, so "index [3] out of range" stays whole.
void split_rule(std::string& message, std::string& rule) {
  while (!message.empty() && (message.back() == ' ' || message.back() == '\t')) message.pop_back();
  if (message.empty() || message.back() != ']') return;
  std::size_t open = message.rfind(" [");
  if (open == std::string::npos) return;
  std::string inside = message.substr(open + 2, message.size() - open - 3);
  if (inside.empty() || has_space(inside)) return;
  if (starts_with(inside, "-Werror=")) inside = "-W" + inside.substr(8);
  rule = inside;
  message.erase(open);
}

std::string resolve_file(std::string file, const std::string& workspace, const std::string& tool_cwd) {
  namespace fs = std::filesystem;
  if (file.empty() || file[0] == '<') return file;  // <command-line>, <built-in>, <stdin>
  fs::path p(file);
  if (p.is_relative() && !tool_cwd.empty()) p = fs::path(tool_cwd) / p;
  std::string normal = p.lexically_normal().generic_string();
  return workspace_relative(normal, workspace);
}

// "linkerr.c:(.text+0x5): undefined reference to `nowhere'" — the linker
// names an object-file section, not a source line, so it has no location.
std::optional<Diagnostic> parse_linker_line(std::string_view line) {
  std::size_t sect = line.find(":(.");
  if (sect == std::string_view::npos) return std::nullopt;
  std::size_t close = line.find("): ", sect);
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view what = line.substr(close + 3);
  if (!starts_with(what, "undefined reference to ") && !starts_with(what, "multiple definition of "))
    return std::nullopt;
  Diagnostic d;
  d.severity = WRT_SEVERITY_ERROR;
  d.rule = "ld";
  d.message = std::string(what) + " (in " + std::string(line.substr(0, sect)) + ")";
  return d;
}

std::optional<Diagnostic> parse_line(std::string_view line, const std::string& workspace, const std::string& tool_cwd,
                                     bool* is_note) {
  auto marker = find_marker(line);
  if (!marker) {
    auto linker = parse_linker_line(line);
    if (linker) *is_note = false;
    return linker;
  }
  Diagnostic d;
  d.severity = marker->severity;
  *is_note = marker->is_note;
  d.message = std::string(line.substr(marker->message_begin));
  split_rule(d.message, d.rule);
  if (marker->prefix_end == std::string_view::npos) return d;

  std::string_view prefix = line.substr(0, marker->prefix_end);
  std::vector<std::uint32_t> numbers;  // trailing ":N" parts, last first
  while (numbers.size() < 2) {
    std::size_t colon = prefix.rfind(':');
    if (colon == std::string_view::npos || !all_digits(prefix.substr(colon + 1))) break;
    numbers.push_back(to_u32(prefix.substr(colon + 1)));
    prefix = prefix.substr(0, colon);
  }
  if (numbers.empty()) {
    // "collect2: error: ld returned 1 exit status", "ninja: error: ...": a
    // tool speaking for itself. Anything with spaces is prose that merely
    // contains ": error: " and is not a diagnostic.
    if (prefix.empty() || has_space(prefix)) return std::nullopt;
    d.message = std::string(prefix) + ": " + d.message;
    return d;
  }
  if (prefix.empty() || prefix.front() == ' ' || prefix.front() == '\t') return std::nullopt;
  if (numbers.size() == 2) {
    d.line = numbers[1];
    d.column = numbers[0];
  } else {
    d.line = numbers[0];
  }
  d.file = resolve_file(std::string(prefix), workspace, tool_cwd);
  return d;
}

using DiagnosticKey = std::tuple<std::string, std::uint32_t, std::uint32_t, int, std::string, std::string>;

DiagnosticKey key_of(const Diagnostic& d) {
  return {d.file, d.line, d.column, static_cast<int>(d.severity), d.rule, d.message};
}

std::string location_of(const Diagnostic& d) {
  if (d.file.empty()) return {};
  std::string s = d.file;
  if (d.line) {
    s += ":" + std::to_string(d.line);
    if (d.column) s += ":" + std::to_string(d.column);
  }
  return s;
}

}  // namespace

std::vector<Diagnostic> parse_diagnostics(std::string_view output, const std::string& workspace,
                                          const std::string& tool_cwd) {
  std::vector<Diagnostic> out;
  std::set<DiagnosticKey> seen;
  // Index in `out` of the error/warning that following notes belong to;
  // -1: none; -2: a duplicate whose notes are duplicates too.
  long owner = -1;
  for (std::string_view raw : split_lines(output)) {
    std::string line = strip_escapes(raw);
    if (is_progress_line(line)) {
      owner = -1;
      continue;
    }
    bool is_note = false;
    auto d = parse_line(line, workspace, tool_cwd, &is_note);
    if (!d) continue;
    if (is_note && owner != -1) {
      if (owner >= 0) {
        std::string loc = location_of(*d);
        out[static_cast<std::size_t>(owner)].notes.push_back(loc.empty() ? d->message : loc + ": " + d->message);
      }
      continue;
    }
    if (!seen.insert(key_of(*d)).second) {
      owner = is_note ? -1 : -2;
      continue;
    }
    out.push_back(std::move(*d));
    owner = is_note ? -1 : static_cast<long>(out.size() - 1);
  }
  return out;
}

DiagnosticCounts count_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  DiagnosticCounts c;
  for (const auto& d : diagnostics) {
    if (d.severity == WRT_SEVERITY_ERROR)
      ++c.errors;
    else if (d.severity == WRT_SEVERITY_WARNING)
      ++c.warnings;
    else
      ++c.notes;
  }
  return c;
}

std::string describe(const Diagnostic& d) {
  std::string loc = location_of(d);
  std::string s = loc.empty() ? d.message : loc + ": " + d.message;
  if (!d.rule.empty()) s += " [" + d.rule + "]";
  return s;
}

void merge_diagnostics(std::vector<Diagnostic>& into, std::vector<Diagnostic> more) {
  std::set<DiagnosticKey> seen;
  for (const auto& d : into) seen.insert(key_of(d));
  for (auto& d : more)
    if (seen.insert(key_of(d)).second) into.push_back(std::move(d));
}

}  // namespace wrt::plugins
