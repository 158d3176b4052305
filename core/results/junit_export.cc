#include "core/results/junit_export.h"

#include <unistd.h>

#include <fmt/core.h>

#include "core/util/atomic_file.h"

namespace wrt {

namespace {

// XML 1.0 text: the five entities escaped; control characters other than
// tab, newline and carriage return (terminal colours in a log) cannot appear
// in an XML document at all, so they are dropped.
std::string xml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') break;
        out += ch;
    }
  }
  return out;
}

std::string seconds(double s) { return fmt::format("{:.3f}", s < 0 ? 0.0 : s); }

std::string timestamp(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

struct Suite {
  std::string package, name;
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  double time = 0;
  std::string body;
};

void open_suite(std::string& out, const Suite& s, int id, const std::string& stamp, const std::string& host) {
  out += fmt::format(
      "  <testsuite package=\"{}\" id=\"{}\" name=\"{}\" timestamp=\"{}\" hostname=\"{}\" tests=\"{}\" "
      "failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n    <properties/>\n",
      xml(s.package), id, xml(s.name), stamp, xml(host), s.tests, s.failures, s.errors, s.skipped, seconds(s.time));
  out += s.body;
  out += "    <system-out/>\n    <system-err/>\n  </testsuite>\n";
}

// One stage as a test case: what failed is the stage's message (or why it
// was skipped), and the body lists its first findings and failed tests.
void stage_case(Suite& suite, const StageRecord& r) {
  ++suite.tests;
  suite.time += r.duration_s;
  std::string c = fmt::format("    <testcase name=\"{}\" classname=\"wrt.stage\" time=\"{}\"", xml(r.name), seconds(r.duration_s));
  const std::string why = !r.results->message.empty() ? r.results->message : r.reason;
  if (r.status == "failed" || r.status == "timeout") {
    ++suite.failures;
    c += fmt::format(">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n", r.status, xml(why),
                     xml(failure_summary(r.results, r.name)));
  } else if (r.status == "interrupted") {
    ++suite.errors;
    c += fmt::format(">\n      <error type=\"interrupted\" message=\"{}\"/>\n    </testcase>\n", xml(why));
  } else if (r.status == "skipped" || r.status == "pending") {
    ++suite.skipped;
    c += ">\n      <skipped/>\n    </testcase>\n";
  } else {
    c += "/>\n";
  }
  suite.body += c;
}

void test_case(Suite& suite, const TestCaseResult& t) {
  ++suite.tests;
  suite.time += t.duration_s < 0 ? 0 : t.duration_s;
  std::string c = fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"", xml(t.name),
                              xml(t.suite.empty() ? suite.name : t.suite), seconds(t.duration_s));
  if (t.status == "failed") {
    ++suite.failures;
    const std::string first = t.message.substr(0, t.message.find('\n'));
    c += fmt::format(">\n      <failure type=\"failed\" message=\"{}\">{}</failure>\n    </testcase>\n", xml(first),
                     xml(t.message));
  } else if (t.status == "skipped") {
    ++suite.skipped;
    c += ">\n      <skipped/>\n    </testcase>\n";
  } else {
    c += "/>\n";
  }
  suite.body += c;
}

}  // namespace

void JunitExport::run_started(std::size_t) { started_ = std::time(nullptr); }

void JunitExport::run_finished(const RunOutcome& outcome) {
  status_ = write_file_atomically(file_, render(outcome.records, started_ ? started_ : std::time(nullptr)));
}

std::string JunitExport::render(const std::vector<StageRecord>& records, std::time_t started) {
  const std::string stamp = timestamp(started), host = hostname();
  std::vector<Suite> suites;
  suites.push_back({"wrt", "stages", 0, 0, 0, 0, 0, {}});
  for (const auto& r : records) stage_case(suites[0], r);
  for (const auto& r : records) {
    if (r.results->tests.empty()) continue;
    Suite s{"wrt.tests", r.name, 0, 0, 0, 0, 0, {}};
    for (const auto& t : r.results->tests) test_case(s, t);
    suites.push_back(std::move(s));
  }
  // The Ant schema gives <testsuites> no attributes: totals are per suite.
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
  for (std::size_t i = 0; i < suites.size(); ++i) open_suite(out, suites[i], static_cast<int>(i), stamp, host);
  out += "</testsuites>\n";
  return out;
}

}  // namespace wrt
