// The doxygen plugin: its warning parser on logs captured from the real
// doxygen 1.9.4 (tests/data/doxygen/, README.md there says how), the
// configuration it writes, and the real wrt binary running the real doxygen
// on a small header with documentation mistakes.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "plugins/doxygen/doxygen_warnings.h"
#include "support.h"

using namespace wrt::test;
using wrt::plugins::doxygen::parse_warnings;
using wrt::plugins::doxygen::Warning;
namespace fs = std::filesystem;

namespace {

const std::string kCaptureDir = "/tmp/doxygen-capture";  // where the fixtures were made

std::string data(const std::string& name) { return read_file(std::string(WRT_TEST_DATA_DIR) + "/doxygen/" + name); }

const Warning* find(const std::vector<Warning>& ws, const std::string& needle) {
  for (const auto& w : ws)
    if (w.message.find(needle) != std::string::npos) return &w;
  return nullptr;
}

}  // namespace

TEST_CASE("doxygen: parses the warnings of a real doxygen 1.9.4 log", "[doxygen]") {
  auto ws = parse_warnings(data("warnings-1.9.4.log"), kCaptureDir, kCaptureDir);
  // 12 lines, one of them a continuation; the unknown command is logged 3 times.
  REQUIRE(ws.size() == 9);
  for (const auto& w : ws) {
    CHECK(w.file == "include/mistakes.h");
    CHECK(w.severity == WRT_SEVERITY_WARNING);
    CHECK(w.line > 0);
  }
  const Warning* param = find(ws, "argument 'c' of command @param");
  REQUIRE(param);
  CHECK(param->line == 10);
  CHECK(param->message == "argument 'c' of command @param is not found in the argument list of add(int a, int b)");
  const Warning* undocumented_param = find(ws, "The following parameter");
  REQUIRE(undocumented_param);
  CHECK(undocumented_param->message == "The following parameter of add(int a, int b) is not documented: parameter 'b'");
  const Warning* unknown = find(ws, "Found unknown command '@unknowncommand'");
  REQUIRE(unknown);
  CHECK(unknown->line == 31);
  int unknown_count = 0;
  for (const auto& w : ws) unknown_count += w.message.find("@unknowncommand") != std::string::npos;
  CHECK(unknown_count == 1);
  REQUIRE(find(ws, "Member undocumented(int x) (function)"));
  CHECK(find(ws, "Member undocumented(int x) (function)")->line == 19);
  REQUIRE(find(ws, "Member y (variable) of struct point is not documented."));
  REQUIRE(find(ws, "unable to resolve reference to 'no_such_anchor'"));
  REQUIRE(find(ws, "return type of member sub is not documented"));
  CHECK(find(ws, "return type of member sub is not documented")->line == 16);
}

TEST_CASE("doxygen: configuration warnings without a location, from output and log", "[doxygen]") {
  auto printed = parse_warnings(data("config-output-1.9.4.txt"), kCaptureDir, kCaptureDir);
  REQUIRE(printed.size() == 2);
  CHECK(printed[0].file.empty());
  CHECK(printed[0].line == 0);
  CHECK(printed[0].message == "ignoring unsupported tag 'NO_SUCH_TAG' at line 6, file Doxyfile.config");
  CHECK(printed[1].message == "tag INPUT: input source 'missing_dir' does not exist");

  auto logged = parse_warnings(data("config-warnings-1.9.4.log"), kCaptureDir, kCaptureDir);
  REQUIRE(logged.size() == 8);
  CHECK(logged[0].file.empty());
  CHECK(logged[0].message == "source 'missing_dir' is not a readable file or directory... skipping.");
  CHECK_FALSE(find(logged, "return type of member sub"));  // WARN_NO_PARAMDOC is off in Doxyfile.config
}

TEST_CASE("doxygen: relative paths, errors, noise and a workspace elsewhere", "[doxygen]") {
  auto ws = parse_warnings(
      "Searching for include files...\n"
      "include/a.h:3: error: something is badly wrong\n"
      "  and continues here\n"
      "not a warning: line\n"
      "/elsewhere/b.h:7: warning: outside the workspace\n"
      "c.h:x: warning: not a line number\n",
      "/ws", "/ws/docs");
  REQUIRE(ws.size() == 2);
  CHECK(ws[0].file == "docs/include/a.h");
  CHECK(ws[0].line == 3);
  CHECK(ws[0].severity == WRT_SEVERITY_ERROR);
  CHECK(ws[0].message == "something is badly wrong and continues here");
  CHECK(ws[1].file == "/elsewhere/b.h");
  CHECK(parse_warnings("", "/ws", "/ws").empty());
}

TEST_CASE("doxygen: the configuration wrt writes", "[doxygen]") {
  using wrt::plugins::doxygen::doxygen_config;
  std::string own = doxygen_config("", {"include", "src dir"}, "/ws/build/doxygen", "demo", "/tmp/w.log");
  CHECK(own.find("INPUT = \"include\" \"src dir\"") != std::string::npos);
  CHECK(own.find("WARN_IF_UNDOCUMENTED = YES") != std::string::npos);
  CHECK(own.find("OUTPUT_DIRECTORY = \"/ws/build/doxygen\"") != std::string::npos);
  CHECK(own.find("WARN_LOGFILE = \"/tmp/w.log\"") != std::string::npos);
  CHECK(own.find("@INCLUDE") == std::string::npos);
  std::string theirs = doxygen_config("/ws/Doxyfile", {}, "", "", "/tmp/w.log");
  CHECK(theirs.find("@INCLUDE = \"/ws/Doxyfile\"") != std::string::npos);
  CHECK(theirs.find("INPUT") == std::string::npos);
  CHECK(theirs.find("OUTPUT_DIRECTORY") == std::string::npos);
  CHECK(theirs.find("WARN_AS_ERROR = NO") != std::string::npos);
  CHECK(wrt::plugins::doxygen::doxyfile_quote("a\"b") == "\"a\\\"b\"");
}

TEST_CASE("doxygen: e2e - real doxygen on a header, warnings as findings and in SARIF", "[doxygen][e2e]") {
  TempDir ws;
  write_file(ws / "include/mistakes.h", data("include/mistakes.h"));
  auto pipeline = [&](const std::string& with) {
    write_file(ws / "wrt.toml", R"(
[stages.docs]
plugin = "doxygen"
inputs = ["include/**"]
outputs = ["build/doxygen"]
with = { )" + with + R"( }
)");
  };
  pipeline(R"(input = ["include"], project_name = "mistakes")");
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);  // warnings do not fail by default
  auto stage = report_stage(read_json(ws / "report.json"), "docs");
  CHECK(stage["status"] == "passed");
  CHECK(stage["metrics"]["warnings"] == 9);
  CHECK(stage["metrics"]["errors"] == 0);
  REQUIRE(stage["findings"].size() == 9);
  bool param = false;
  for (const auto& f : stage["findings"]) {
    CHECK(f["file"] == "include/mistakes.h");
    CHECK(f["rule"] == "doxygen");
    if (f["line"] == 10 && f["message"].get<std::string>().find("argument 'c'") != std::string::npos) param = true;
  }
  CHECK(param);
  CHECK(fs::exists(ws / "build/doxygen/html/index.html"));
  CHECK(stage["message"] == "9 warning(s), 0 error(s)");
  const std::string sarif = read_file(ws / ".wrt/reports/findings.sarif");
  CHECK(sarif.find("argument 'c' of command @param is not found") != std::string::npos);

  // Unchanged: a cache hit that replays the findings.
  r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  stage = report_stage(read_json(ws / "report.json"), "docs");
  CHECK(stage["status"] == "cached");
  CHECK(stage["findings"].size() == 9);

  // fail_on_warnings: the same warnings fail the stage.
  pipeline(R"(input = ["include"], fail_on_warnings = true)");
  r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  CHECK(r.exit_code == 1);
  stage = report_stage(read_json(ws / "report.json"), "docs");
  CHECK(stage["status"] == "failed");
  CHECK(stage["message"].get<std::string>().find("doxygen: 9 warning(s), 0 error(s); first: include/mistakes.h:") == 0);

  // The project's Doxyfile (its warnings settings and a broken INPUT).
  write_file(ws / "Doxyfile", "INPUT = include missing_dir\nQUIET = YES\nGENERATE_LATEX = NO\n"
                              "OUTPUT_DIRECTORY = build/doxygen\nWARN_IF_UNDOCUMENTED = NO\n");
  pipeline(R"(doxyfile = "Doxyfile")");
  r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  stage = report_stage(read_json(ws / "report.json"), "docs");
  bool missing = false, undocumented = false;
  for (const auto& f : stage["findings"]) {
    const std::string m = f["message"];
    missing = missing || m.find("missing_dir") != std::string::npos;
    undocumented = undocumented || m.find("is not documented.") != std::string::npos;
  }
  CHECK(missing);
  CHECK_FALSE(undocumented);  // WARN_IF_UNDOCUMENTED = NO in the project's Doxyfile is honoured
}

TEST_CASE("doxygen: bad configuration is a one-line error before any stage runs", "[doxygen][e2e]") {
  TempDir ws;
  write_file(ws / "include/a.h", "int a(void);\n");
  auto check = [&](const std::string& with, const std::string& expect) {
    write_file(ws / "wrt.toml", "[stages.docs]\nplugin = \"doxygen\"\nwith = { " + with + " }\n");
    auto r = run_wrt({"run"}, ws.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(expect) != std::string::npos);
  };
  check(R"(input = ["include"], fail_on_warning = true)", "with.fail_on_warning: unknown key");
  check(R"(input = ["include"], doxyfile = "Doxyfile")", "set either with.doxyfile");
  check(R"(input = ["include"], fail_on_warnings = "yes")", "with.fail_on_warnings must be true or false");
  check(R"(doxyfile = "Nope")", "with.doxyfile: Nope does not exist");
}
