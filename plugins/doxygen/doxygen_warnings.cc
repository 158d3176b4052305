#include "plugins/doxygen/doxygen_warnings.h"

#include <cctype>
#include <filesystem>
#include <set>
#include <tuple>

#include "plugins/common/tool.h"

namespace wrt::plugins::doxygen {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// "warning: text" / "error: text" -> severity and text.
bool severity_prefix(std::string_view s, wrt_severity* sev, std::string_view* text) {
  if (starts_with(s, "warning: ")) {
    *sev = WRT_SEVERITY_WARNING;
    *text = s.substr(9);
    return true;
  }
  if (starts_with(s, "error: ")) {
    *sev = WRT_SEVERITY_ERROR;
    *text = s.substr(7);
    return true;
  }
  return false;
}

}  // namespace

std::vector<Warning> parse_warnings(std::string_view text, const std::string& workspace, const std::string& tool_cwd) {
  std::vector<Warning> out;
  std::set<std::tuple<std::string, std::uint32_t, std::string>> seen;
  bool open = false;  // the last line was a warning that may continue
  auto close = [&] {
    if (!open) return;
    open = false;
    Warning& w = out.back();
    if (!seen.insert({w.file, w.line, w.message}).second) out.pop_back();
  };
  for (auto raw : wrt::plugins::split_lines(text)) {
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (open && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      auto t = wrt::plugins::trim(line);
      if (!t.empty()) out.back().message += " " + std::string(t);
      continue;
    }
    close();
    wrt_severity sev = WRT_SEVERITY_WARNING;
    std::string_view msg;
    Warning w;
    if (severity_prefix(line, &sev, &msg)) {
      w.severity = sev;
      w.message = std::string(wrt::plugins::trim(msg));
    } else {
      // FILE:LINE: warning: text (FILE may itself contain ':').
      std::size_t at = std::string_view::npos;
      for (std::string_view marker : {": warning: ", ": error: "}) {
        std::size_t p = line.find(marker);
        if (p != std::string_view::npos && (at == std::string_view::npos || p < at)) at = p;
      }
      if (at == std::string_view::npos) continue;
      std::string_view loc = line.substr(0, at);
      std::size_t colon = loc.rfind(':');
      if (colon == std::string_view::npos || colon == 0) continue;
      std::string_view num = loc.substr(colon + 1);
      std::uint32_t n = 0;
      bool digits = !num.empty();
      for (char c : num) {
        if (!std::isdigit(static_cast<unsigned char>(c))) digits = false;
        else n = n * 10 + static_cast<std::uint32_t>(c - '0');
      }
      if (!digits) continue;
      severity_prefix(line.substr(at + 2), &sev, &msg);
      std::string file(loc.substr(0, colon));
      if (file != "<unknown>" && !std::filesystem::path(file).is_absolute() && !tool_cwd.empty())
        file = (std::filesystem::path(tool_cwd) / file).lexically_normal().string();
      w.file = file == "<unknown>" ? std::string() : wrt::plugins::workspace_relative(file, workspace);
      w.line = n;
      w.severity = sev;
      w.message = std::string(wrt::plugins::trim(msg));
    }
    out.push_back(std::move(w));
    open = true;
  }
  close();
  return out;
}

std::string doxyfile_quote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string doxygen_config(const std::string& doxyfile, const std::vector<std::string>& inputs,
                           const std::string& output_dir, const std::string& project_name,
                           const std::string& warn_logfile) {
  std::string c = "# Written by wrt's doxygen plugin for one run.\n";
  if (!doxyfile.empty()) {
    c += "@INCLUDE = " + doxyfile_quote(doxyfile) + "\n";
  } else {
    c += "INPUT = ";
    for (const auto& i : inputs) c += doxyfile_quote(i) + " ";
    c += "\nRECURSIVE = YES\n"
         "GENERATE_HTML = YES\n"
         "GENERATE_LATEX = NO\n"
         "QUIET = YES\n"
         "WARNINGS = YES\n"
         "WARN_IF_UNDOCUMENTED = YES\n"
         "WARN_IF_DOC_ERROR = YES\n"
         "WARN_NO_PARAMDOC = YES\n";
    if (!project_name.empty()) c += "PROJECT_NAME = " + doxyfile_quote(project_name) + "\n";
  }
  if (!output_dir.empty()) c += "OUTPUT_DIRECTORY = " + doxyfile_quote(output_dir) + "\n";
  c += "WARN_LOGFILE = " + doxyfile_quote(warn_logfile) + "\n";
  c += "WARN_FORMAT = \"$file:$line: $text\"\n";
  c += "WARN_AS_ERROR = NO\n";
  return c;
}

}  // namespace wrt::plugins::doxygen
