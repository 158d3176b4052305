#include "plugins/cppcheck/cppcheck_xml.h"

#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace wrt::plugins::cppcheck {
namespace {

// pugixml reports positions as byte offsets; people read line:column.
ParseError error_at(std::string_view text, std::ptrdiff_t offset, const std::string& source, std::string message) {
  ParseError e;
  e.file = source;
  e.message = std::move(message);
  if (offset < 0) return e;
  std::size_t end = std::min(static_cast<std::size_t>(offset), text.size());
  e.line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < end; ++i)
    if (text[i] == '\n') {
      ++e.line;
      line_start = i + 1;
    }
  e.column = static_cast<std::uint32_t>(end - line_start + 1);
  return e;
}

// Where an element starts: pugixml's offset_debug() is that of its name,
// one past the '<'.
std::ptrdiff_t element_offset(const pugi::xml_node& node) {
  std::ptrdiff_t offset = node.offset_debug();
  return offset > 0 ? offset - 1 : offset;
}

// nullopt for anything but a plain non-negative decimal that fits.
std::optional<std::uint32_t> parse_uint(std::string_view s) {
  std::uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

CppcheckParseResult parse_cppcheck_xml(std::string_view xml, const std::string& source_name) {
  CppcheckParseResult out;
  auto fail = [&](std::ptrdiff_t offset, std::string message) {
    out.error = error_at(xml, offset, source_name, std::move(message));
    out.report.issues.clear();
    return out;
  };

  if (trim(xml).empty()) return fail(0, "empty report; expected cppcheck's XML (<results version=\"2\">)");

  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) return fail(parsed.offset, std::string("malformed XML: ") + parsed.description());

  pugi::xml_node results = doc.child("results");
  if (!results) {
    pugi::xml_node first = doc.first_child();
    while (first && first.type() != pugi::node_element) first = first.next_sibling();
    return fail(first ? element_offset(first) : 0, "not a cppcheck XML report: no <results> root element");
  }
  if (std::string_view(results.attribute("version").value()) != "2")
    return fail(element_offset(results),
                "unsupported cppcheck XML version \"" + std::string(results.attribute("version").value()) +
                    "\" (expected 2, from --xml-version=2)");
  out.report.cppcheck_version = results.child("cppcheck").attribute("version").value();

  pugi::xml_node errors = results.child("errors");
  if (!errors) return fail(element_offset(results), "cppcheck XML report has no <errors> element");

  for (pugi::xml_node error : errors.children("error")) {
    CppcheckIssue issue;
    issue.id = error.attribute("id").value();
    issue.severity = error.attribute("severity").value();
    issue.message = error.attribute("msg").value();
    if (issue.id.empty() || issue.severity.empty())
      return fail(element_offset(error), "<error> without id or severity attribute");
    if (issue.message.empty()) issue.message = error.attribute("verbose").value();
    issue.cwe = error.attribute("cwe").value();
    if (!issue.cwe.empty() && issue.cwe != "0") issue.message += " [CWE-" + issue.cwe + "]";

    // The first <location> is where cppcheck reports the defect; later ones
    // are the path that leads there (e.g. where the null was assigned).
    if (pugi::xml_node loc = error.child("location")) {
      issue.file = loc.attribute("file").value();
      auto line = parse_uint(loc.attribute("line").value());
      auto column = loc.attribute("column") ? parse_uint(loc.attribute("column").value()) : std::optional<std::uint32_t>(0);
      if (issue.file.empty() || !line || !column)
        return fail(element_offset(loc), "<location> of " + issue.id + " without a valid file, line or column");
      issue.line = *line;
      issue.column = *column;
    }
    out.report.issues.push_back(std::move(issue));
  }
  return out;
}

wrt_severity cppcheck_severity(std::string_view severity) {
  if (severity == "error") return WRT_SEVERITY_ERROR;
  if (severity == "information" || severity == "debug" || severity == "none") return WRT_SEVERITY_NOTE;
  return WRT_SEVERITY_WARNING;
}

bool is_tool_noise(std::string_view id) {
  static constexpr std::array<std::string_view, 7> kNoise = {
      "missingInclude",   "missingIncludeSystem", "checkersReport", "toomanyconfigs",
      "normalCheckLevelMaxBranches", "checkLevelNormal", "purgedConfiguration",
  };
  return std::find(kNoise.begin(), kNoise.end(), id) != kNoise.end();
}

}  // namespace wrt::plugins::cppcheck
