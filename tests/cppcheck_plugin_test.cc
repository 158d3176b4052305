// The cppcheck plugin: its XML parser on reports captured from the real
// cppcheck 2.10 on this machine (tests/data/cppcheck/, produced from the C
// sources next to them), malformed reports, and the real wrt binary running
// the real cppcheck on a temporary workspace.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugins/cppcheck/cppcheck_xml.h"
#include "support.h"

using namespace wrt::test;
using wrt::plugins::cppcheck::CppcheckIssue;
using wrt::plugins::cppcheck::parse_cppcheck_xml;

namespace {

std::string data(const std::string& name) { return read_file(std::string(WRT_TEST_DATA_DIR) + "/cppcheck/" + name); }

const CppcheckIssue& issue(const std::vector<CppcheckIssue>& issues, const std::string& id) {
  for (const auto& i : issues)
    if (i.id == id) return i;
  FAIL("no issue " << id);
  throw 0;
}

// Defects cppcheck reports as errors: out-of-bounds write, null
// dereference, uninitialised read, leak. Plus gets() (a warning).
const char* const kMemoryBugs = R"(#include <stdio.h>
#include <stdlib.h>

int overrun(void) {
  int buf[10];
  buf[10] = 1;
  return buf[0];
}

int null_deref(void) {
  int *p = NULL;
  return *p;
}

int uninit(void) {
  int x;
  return x + 1;
}

void read_line(void) {
  char line[64];
  gets(line);
  puts(line);
}
)";

// Only style/warning-level issues: an unread variable and a const-able
// pointer parameter.
const char* const kStyleOnly = R"(int sum(int *values, int n) {
  int total = 0;
  int unused = 3;
  for (int i = 0; i < n; ++i) total += values[i];
  return total;
}
)";

const char* const kClean = R"(int sum(const int *values, int n) {
  int total = 0;
  for (int i = 0; i < n; ++i) total += values[i];
  return total;
}
)";

void write_workspace(const TempDir& ws, const std::string& with_extra) {
  write_file(ws / "src/memory.c", kMemoryBugs);
  write_file(ws / "wrt.toml", R"(
[project]
name = "cppcheck-e2e"

[stages.cppcheck]
plugin = "cppcheck"
inputs = ["src/**/*.c"]
with = { paths = ["src"], std = "c11")" + with_extra + R"( }
)");
}

nlohmann::json run_and_report(const TempDir& ws, CommandResult* result) {
  *result = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  return nlohmann::json::parse(read_file(ws / "report.json"));
}

nlohmann::json only_stage(const nlohmann::json& report) {
  REQUIRE(report["stages"].size() == 1);
  return report["stages"][0];
}

const nlohmann::json* finding(const nlohmann::json& stage, const std::string& rule) {
  for (const auto& f : stage["findings"])
    if (f["rule"] == rule) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("cppcheck: parses a real report of memory and buffer defects", "[cppcheck]") {
  auto parsed = parse_cppcheck_xml(data("buggy.xml"), "buggy.xml");
  REQUIRE_FALSE(parsed.error);
  CHECK(parsed.report.cppcheck_version == "2.10");
  REQUIRE(parsed.report.issues.size() == 6);

  const auto& null = issue(parsed.report.issues, "nullPointer");
  CHECK(null.severity == "error");
  CHECK(null.file == "src/buggy.c");
  CHECK(null.line == 13);  // the dereference, not the later <location> where p was assigned
  CHECK(null.column == 11);
  CHECK(null.cwe == "476");
  CHECK(null.message == "Null pointer dereference: p [CWE-476]");

  const auto& overrun = issue(parsed.report.issues, "arrayIndexOutOfBounds");
  CHECK(overrun.line == 7);
  CHECK(overrun.column == 6);
  CHECK(overrun.message == "Array 'buf[10]' accessed at index 10, which is out of bounds. [CWE-788]");  // &apos; decoded

  CHECK(issue(parsed.report.issues, "uninitvar").line == 18);
  CHECK(issue(parsed.report.issues, "memleak").line == 40);
  CHECK(issue(parsed.report.issues, "getsCalled").severity == "warning");
  CHECK(issue(parsed.report.issues, "unassignedVariable").severity == "style");
}

TEST_CASE("cppcheck: informational report - noise has no location, inline suppression honoured", "[cppcheck]") {
  auto parsed = parse_cppcheck_xml(data("information.xml"), "information.xml");
  REQUIRE_FALSE(parsed.error);
  REQUIRE(parsed.report.issues.size() == 2);
  const auto& missing = issue(parsed.report.issues, "missingInclude");
  CHECK(missing.severity == "information");
  CHECK(missing.file.empty());
  CHECK(missing.line == 0);
  CHECK(wrt::plugins::cppcheck::is_tool_noise(missing.id));
  CHECK_FALSE(wrt::plugins::cppcheck::is_tool_noise("constParameter"));
  for (const auto& i : parsed.report.issues) CHECK(i.id != "nullPointer");  // cppcheck-suppress in info.c
}

TEST_CASE("cppcheck: performance issue from a C++ file", "[cppcheck]") {
  auto parsed = parse_cppcheck_xml(data("perf.xml"), "perf.xml");
  REQUIRE_FALSE(parsed.error);
  REQUIRE(parsed.report.issues.size() == 1);
  CHECK(parsed.report.issues[0].id == "passedByValue");
  CHECK(parsed.report.issues[0].severity == "performance");
  CHECK(parsed.report.issues[0].file == "src/perf.cpp");
  CHECK(parsed.report.issues[0].line == 3);
}

TEST_CASE("cppcheck: severity mapping", "[cppcheck]") {
  using wrt::plugins::cppcheck::cppcheck_severity;
  CHECK(cppcheck_severity("error") == WRT_SEVERITY_ERROR);
  for (const char* s : {"warning", "style", "performance", "portability", "someFutureSeverity"})
    CHECK(cppcheck_severity(s) == WRT_SEVERITY_WARNING);
  CHECK(cppcheck_severity("information") == WRT_SEVERITY_NOTE);
}

TEST_CASE("cppcheck: malformed reports are errors naming file:line:column", "[cppcheck]") {
  SECTION("truncated in the middle of an element") {
    std::string xml = data("buggy.xml");
    xml.resize(xml.find("<error id=\"memleak\"") + 30);
    auto parsed = parse_cppcheck_xml(xml, "report.xml");
    REQUIRE(parsed.error);
    CHECK(parsed.report.issues.empty());
    CHECK(parsed.error->file == "report.xml");
    CHECK(parsed.error->line == 11);  // the line the truncation is on
    CHECK(parsed.error->column > 0);
    CHECK(parsed.error->to_string().rfind("report.xml:11:", 0) == 0);
  }
  SECTION("empty") {
    auto parsed = parse_cppcheck_xml("", "report.xml");
    REQUIRE(parsed.error);
    CHECK(parsed.error->to_string() == "report.xml:1:1: empty report; expected cppcheck's XML (<results version=\"2\">)");
  }
  SECTION("another XML document") {
    auto parsed = parse_cppcheck_xml("<?xml version=\"1.0\"?>\n<checkstyle version=\"4.3\"/>\n", "report.xml");
    REQUIRE(parsed.error);
    CHECK(parsed.error->line == 2);
    CHECK(parsed.error->column == 1);
  }
  SECTION("XML version 1 (without --xml-version=2)") {
    auto parsed = parse_cppcheck_xml("<?xml version=\"1.0\"?>\n<results>\n<error file=\"a.c\" line=\"1\"/>\n</results>\n",
                                     "report.xml");
    REQUIRE(parsed.error);
    CHECK(parsed.error->message.find("version") != std::string::npos);
  }
  SECTION("location with a non-numeric line") {
    auto parsed = parse_cppcheck_xml(
        "<results version=\"2\"><errors>\n<error id=\"x\" severity=\"error\" msg=\"m\">\n"
        "  <location file=\"a.c\" line=\"seven\" column=\"1\"/>\n</error></errors></results>",
        "report.xml");
    REQUIRE(parsed.error);
    CHECK(parsed.error->line == 3);
    CHECK(parsed.error->column == 3);
  }
  SECTION("error without a severity") {
    auto parsed = parse_cppcheck_xml("<results version=\"2\"><errors><error id=\"x\" msg=\"m\"/></errors></results>",
                                     "report.xml");
    REQUIRE(parsed.error);
    CHECK(parsed.error->line == 1);
    CHECK(parsed.error->column == 30);  // the '<' of <error
  }
}

TEST_CASE("cppcheck: e2e - real defects fail the stage with located findings and metrics", "[cppcheck]") {
  TempDir ws;
  write_workspace(ws, "");
  CommandResult r;
  auto stage = only_stage(run_and_report(ws, &r));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(stage["plugin"] == "cppcheck");
  CHECK(stage["status"] == "failed");
  CHECK(stage["message"].get<std::string>().find("error") != std::string::npos);

  const auto* null = finding(stage, "nullPointer");
  REQUIRE(null);
  CHECK((*null)["severity"] == "error");
  CHECK((*null)["file"] == "src/memory.c");
  CHECK((*null)["line"] == 12);
  CHECK((*null)["message"].get<std::string>().find("CWE-476") != std::string::npos);
  REQUIRE(finding(stage, "arrayIndexOutOfBounds"));
  CHECK((*finding(stage, "arrayIndexOutOfBounds"))["line"] == 6);
  REQUIRE(finding(stage, "uninitvar"));
  CHECK((*finding(stage, "uninitvar"))["line"] == 17);
  REQUIRE(finding(stage, "getsCalled"));
  CHECK((*finding(stage, "getsCalled"))["severity"] == "warning");

  CHECK(stage["metrics"]["errors"] == 3);
  CHECK(stage["metrics"]["warnings"].get<double>() >= 1);
  CHECK(stage["metrics"].contains("notes"));
}

TEST_CASE("cppcheck: e2e - fail_on = never passes, second run is cached with the same findings", "[cppcheck]") {
  TempDir ws;
  write_workspace(ws, ", fail_on = \"never\"");
  CommandResult r1;
  auto first = only_stage(run_and_report(ws, &r1));
  INFO(r1.out << r1.err);
  CHECK(r1.exit_code == 0);
  CHECK(first["status"] == "passed");
  CHECK(first["metrics"]["errors"] == 3);

  CommandResult r2;
  auto second = only_stage(run_and_report(ws, &r2));
  CHECK(r2.exit_code == 0);
  CHECK(second["status"] == "cached");
  CHECK(second["findings"] == first["findings"]);
  CHECK(second["metrics"] == first["metrics"]);
}

TEST_CASE("cppcheck: e2e - max_warnings counts style issues", "[cppcheck]") {
  TempDir ws;
  write_workspace(ws, ", max_warnings = 1");
  write_file(ws / "src/memory.c", kStyleOnly);
  CommandResult r;
  auto stage = only_stage(run_and_report(ws, &r));
  INFO(r.out << r.err << stage.dump(2));
  CHECK(stage["metrics"]["errors"] == 0);
  REQUIRE(stage["metrics"]["warnings"] == 2);  // unreadVariable + constParameter
  CHECK(stage["status"] == "failed");
  CHECK(stage["message"].get<std::string>().find("max_warnings = 1") != std::string::npos);

  write_workspace(ws, ", max_warnings = 2");
  write_file(ws / "src/memory.c", kStyleOnly);
  stage = only_stage(run_and_report(ws, &r));
  CHECK(stage["status"] == "passed");
  CHECK(r.exit_code == 0);
}

TEST_CASE("cppcheck: e2e - a clean file passes with zero counts", "[cppcheck]") {
  TempDir ws;
  write_workspace(ws, ", fail_on = \"warning\"");
  write_file(ws / "src/memory.c", kClean);
  CommandResult r;
  auto stage = only_stage(run_and_report(ws, &r));
  INFO(r.out << r.err << stage.dump(2));
  CHECK(stage["status"] == "passed");
  CHECK(stage["findings"].empty());
  CHECK(stage["metrics"]["errors"] == 0);
  CHECK(stage["metrics"]["warnings"] == 0);
}

TEST_CASE("cppcheck: e2e - bad configuration is a one-line stage error", "[cppcheck]") {
  TempDir ws;
  SECTION("unknown check group") {
    write_workspace(ws, ", enable = \"warning,stlye\"");
    CommandResult r;
    auto stage = only_stage(run_and_report(ws, &r));
    CHECK(r.exit_code != 0);
    CHECK(stage["status"] == "failed");
    CHECK(stage["message"].get<std::string>().find("\"stlye\" is not a cppcheck check group") != std::string::npos);
  }
  SECTION("unknown key") {
    write_workspace(ws, ", surpress = [\"nullPointer\"]");
    CommandResult r;
    auto stage = only_stage(run_and_report(ws, &r));
    CHECK(r.exit_code != 0);
    CHECK(stage["message"].get<std::string>().find("with.surpress: unknown key (did you mean 'suppress'?)") != std::string::npos);
  }
  SECTION("missing path") {
    write_file(ws / "wrt.toml", "[stages.lint]\nplugin = \"cppcheck\"\nwith = { paths = [\"nope\"] }\n");
    CommandResult r;
    auto stage = only_stage(run_and_report(ws, &r));
    CHECK(r.exit_code != 0);
    CHECK(stage["message"].get<std::string>().find("with.paths: nope does not exist") != std::string::npos);
  }
}

TEST_CASE("cppcheck: e2e - suppress and a compilation database", "[cppcheck]") {
  TempDir ws;
  write_file(ws / "src/memory.c", kMemoryBugs);
  write_file(ws / "compile_commands.json",
             nlohmann::json::array({{{"directory", (ws / "src").string()},
                                     {"command", "cc -c memory.c -o memory.o"},
                                     {"file", (ws / "src/memory.c").string()}}})
                 .dump());
  write_file(ws / "wrt.toml", R"(
[stages.cppcheck]
plugin = "cppcheck"
inputs = ["src/*.c", "compile_commands.json"]
with = { project = "compile_commands.json", suppress = ["nullPointer", "uninitvar", "arrayIndexOutOfBounds"] }
)");
  CommandResult r;
  auto stage = only_stage(run_and_report(ws, &r));
  INFO(r.out << r.err << stage.dump(2));
  CHECK(stage["status"] == "passed");
  CHECK_FALSE(finding(stage, "nullPointer"));
  REQUIRE(finding(stage, "getsCalled"));
  CHECK((*finding(stage, "getsCalled"))["file"] == "src/memory.c");  // the database names it by absolute path
}

TEST_CASE("cppcheck: e2e - inline_suppressions honours cppcheck-suppress comments", "[cppcheck]") {
  TempDir ws;
  write_workspace(ws, ", inline_suppressions = true");
  std::string source = kMemoryBugs;
  source.replace(source.find("  return *p;"), 0, "  // cppcheck-suppress nullPointer\n");
  write_file(ws / "src/memory.c", source);
  CommandResult r;
  auto stage = only_stage(run_and_report(ws, &r));
  INFO(r.out << r.err << stage.dump(2));
  CHECK_FALSE(finding(stage, "nullPointer"));
  CHECK(finding(stage, "uninitvar"));
  CHECK(stage["metrics"]["errors"] == 2);
}
