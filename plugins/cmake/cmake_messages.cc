#include "plugins/cmake/cmake_messages.h"

#include <filesystem>
#include <optional>

#include "plugins/common/tool.h"

namespace wrt::plugins {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

struct Header {
  wrt_severity severity;
  std::string_view rest;  // " at FILE:LINE (cmd):" or ": text"
};

std::optional<Header> header_of(std::string_view line) {
  static constexpr std::pair<std::string_view, wrt_severity> kinds[] = {
      {"CMake Error", WRT_SEVERITY_ERROR},
      {"CMake Deprecation Error", WRT_SEVERITY_ERROR},
      {"CMake Warning (dev)", WRT_SEVERITY_WARNING},
      {"CMake Warning", WRT_SEVERITY_WARNING},
      {"CMake Deprecation Warning", WRT_SEVERITY_WARNING},
  };
  for (const auto& [word, sev] : kinds) {
    if (!starts_with(line, word)) continue;
    std::string_view rest = line.substr(word.size());
    if (starts_with(rest, " at ") || starts_with(rest, ":")) return Header{sev, rest};
  }
  return std::nullopt;
}

}  // namespace

std::vector<Diagnostic> parse_cmake_messages(std::string_view output, const std::string& workspace,
                                             const std::string& source_dir) {
  std::vector<Diagnostic> out;
  auto lines = split_lines(output);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto header = header_of(lines[i]);
    if (!header) continue;
    Diagnostic d;
    d.severity = header->severity;
    d.rule = "cmake";
    std::string_view rest = header->rest;
    std::string text;
    if (starts_with(rest, " at ")) {
      // " at CMakeLists.txt:5 (target_link_libraries):"
      std::string_view where = rest.substr(4);
      if (!where.empty() && where.back() == ':') where.remove_suffix(1);
      if (std::size_t paren = where.rfind(" ("); paren != std::string_view::npos) where = where.substr(0, paren);
      std::size_t colon = where.rfind(':');
      std::string file(where);
      if (colon != std::string_view::npos) {
        std::uint32_t n = 0;
        bool digits = colon + 1 < where.size();
        for (char c : where.substr(colon + 1)) {
          if (c < '0' || c > '9' || n > 100000000) {
            digits = false;
            break;
          }
          n = n * 10 + static_cast<std::uint32_t>(c - '0');
        }
        if (digits) {
          d.line = n;
          file = std::string(where.substr(0, colon));
        }
      }
      std::filesystem::path p(file);
      if (p.is_relative() && !source_dir.empty()) p = std::filesystem::path(source_dir) / p;
      d.file = workspace_relative(p.lexically_normal().generic_string(), workspace);
    } else {
      text = std::string(trim(rest.substr(1)));
    }
    // The explanation: indented lines, possibly split by blank lines, up to
    // the next line that starts in column 1.
    std::size_t j = i + 1;
    for (; j < lines.size(); ++j) {
      std::string_view l = lines[j];
      if (!l.empty() && l[0] != ' ' && l[0] != '\t') break;
      std::string_view t = trim(l);
      if (t.empty()) continue;
      text += (text.empty() ? "" : " ") + std::string(t);
    }
    d.message = text.empty() ? "(no message)" : text;
    out.push_back(std::move(d));
    i = j - 1;
  }
  return out;
}

}  // namespace wrt::plugins
