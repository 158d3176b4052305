#include "plugins/junit/junit_report.h"

#include <tuple>
#include "plugins/common/tool.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>
#include <cstring>
#include <pugixml.hpp>

namespace wrt::plugins {
namespace {

constexpr std::size_t kMaxMessage = 2000;

std::string first_meaningful_text(std::string_view text) {
  std::string out(trim(text));
  if (out.size() > kMaxMessage) out = out.substr(0, kMaxMessage) + "...";
  return out;
}

bool contains_nocase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  return it != hay.end();
}

// How surely a line of a test program's output says what failed: 2 for a
// runner's own failure marker -- Unity "file:12:name:FAIL: Expected 1 Was
// 2", GoogleTest "Failure" / "[  FAILED  ]", Catch2 "FAILED:", assert(3)
// "Assertion ... failed", Rust "panicked at" -- 1 for a line that merely
// mentions failing or an error (a test's own description may), 0 else.
// Pass lines and zero counts ("0 Failures") are 0.
int failure_evidence(std::string_view line) {
  if (contains_nocase(line, ":pass") || contains_nocase(line, "[  passed  ]") || contains_nocase(line, " 0 failures"))
    return 0;
  for (std::string_view w : {":fail", "failed:", "[  failed  ]", "failure", "assertion", "panicked at"})
    if (contains_nocase(line, w)) return 2;
  for (std::string_view w : {"fail", "error", "assert", "expected"})
    if (contains_nocase(line, w)) return 1;
  return 0;
}

// A test's output reduced to what says why it failed: the lines with the
// surest evidence (up to 10), else its last 20 lines (where runners print
// summaries), never just its first 2000 characters -- those are mostly
// passing checks.
std::string failure_from_output(std::string_view output) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    std::string_view l = trim(output.substr(start, end - start));
    if (!l.empty()) lines.push_back(l);
    start = end + 1;
  }
  std::vector<std::string_view> picked;
  for (int level : {2, 1}) {
    for (auto l : lines)
      if (failure_evidence(l) == level && picked.size() < 10) picked.push_back(l);
    if (!picked.empty()) break;
  }
  if (picked.empty()) picked.assign(lines.size() > 20 ? lines.end() - 20 : lines.begin(), lines.end());
  std::string out;
  for (auto l : picked) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return first_meaningful_text(out);
}

// The failure's own message attribute when the runner filled it in; CTest
// leaves it empty and puts the test's output in <system-out> instead.
std::string failure_message(const pugi::xml_node& testcase, const pugi::xml_node& failure) {
  std::string m = first_meaningful_text(failure.attribute("message").as_string());
  if (m.empty()) m = first_meaningful_text(failure.text().as_string());
  if (m.empty()) m = failure_from_output(testcase.child("system-out").text().as_string());
  if (m.empty()) m = failure_from_output(testcase.child("system-err").text().as_string());
  return m;
}

bool is_skip_marker(std::string_view value) {
  return value == "notrun" || value == "disabled" || value == "skipped" || value == "suppressed";
}

double parse_time(const pugi::xml_node& testcase) {
  const char* t = testcase.attribute("time").as_string(nullptr);
  if (!t || !*t) return -1;
  char* end = nullptr;
  double v = std::strtod(t, &end);
  if (end == t || v < 0) return -1;
  return v;
}

JUnitCase to_case(const pugi::xml_node& testcase, const std::string& suite_name) {
  JUnitCase c;
  c.name = testcase.attribute("name").as_string();
  c.suite = testcase.attribute("classname").as_string();
  if (c.suite.empty() || c.suite == c.name) c.suite = suite_name;
  c.duration_s = parse_time(testcase);
  pugi::xml_node failure = testcase.child("failure");
  if (!failure) failure = testcase.child("error");
  if (failure) {
    c.status = WRT_TEST_FAILED;
    c.message = failure_message(testcase, failure);
    return c;
  }
  pugi::xml_node skipped = testcase.child("skipped");
  if (skipped || is_skip_marker(testcase.attribute("status").as_string()) ||
      is_skip_marker(testcase.attribute("result").as_string())) {
    c.status = WRT_TEST_SKIPPED;
    if (skipped) {
      c.message = first_meaningful_text(skipped.attribute("message").as_string());
      if (c.message.empty()) c.message = first_meaningful_text(skipped.text().as_string());
    }
  }
  return c;
}

void collect(const pugi::xml_node& node, const std::string& suite_name, std::vector<JUnitCase>* cases) {
  for (pugi::xml_node child : node.children()) {
    if (std::strcmp(child.name(), "testcase") == 0) {
      cases->push_back(to_case(child, suite_name));
    } else if (std::strcmp(child.name(), "testsuite") == 0 || std::strcmp(child.name(), "testsuites") == 0) {
      std::string inner = child.attribute("name").as_string();
      collect(child, inner.empty() ? suite_name : inner, cases);
    }
  }
}

}  // namespace

bool parse_junit(std::string_view xml, const std::string& file, std::vector<JUnitCase>* cases, ParseError* error) {
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) {
    error->file = file;
    std::tie(error->line, error->column) = wrt::plugins::line_column_of(xml, r.offset < 0 ? 0 : static_cast<std::size_t>(r.offset));
    error->message = std::string("malformed XML: ") + r.description();
    return false;
  }
  pugi::xml_node root = doc.document_element();
  std::string root_name = root.name();
  if (root_name != "testsuites" && root_name != "testsuite") {
    error->file = file;
    std::ptrdiff_t at = root ? root.offset_debug() : 0;
    std::tie(error->line, error->column) = wrt::plugins::line_column_of(xml, at < 0 ? 0 : static_cast<std::size_t>(at));
    error->message =
        root ? "not a JUnit report: the root element is <" + root_name + ">, expected <testsuites> or <testsuite>"
             : "not a JUnit report: no root element";
    return false;
  }
  std::vector<JUnitCase> out;
  // A bare <testsuite> root is itself a suite; wrap the walk so its name applies.
  pugi::xml_node holder = doc;
  collect(holder, "", &out);
  *cases = std::move(out);
  return true;
}

}  // namespace wrt::plugins
