#include "plugins/junit/junit_report.h"

#include <tuple>
#include "plugins/common/tool.h"

#include <cstdlib>
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

// The failure's own message attribute when the runner filled it in; CTest
// leaves it empty and puts the test's output in <system-out> instead.
std::string failure_message(const pugi::xml_node& testcase, const pugi::xml_node& failure) {
  std::string m = first_meaningful_text(failure.attribute("message").as_string());
  if (m.empty()) m = first_meaningful_text(failure.text().as_string());
  if (m.empty()) m = first_meaningful_text(testcase.child("system-out").text().as_string());
  if (m.empty()) m = first_meaningful_text(testcase.child("system-err").text().as_string());
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
