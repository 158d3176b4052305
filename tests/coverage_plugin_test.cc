// The coverage plugin: LCOV / Cobertura / gcovr JSON parsers and writers on
// real captures (tests/data/coverage: gcovr 5.2, lcov 1.16 and llvm-cov 14
// run on tests/data/coverage/src), malformed input, path globs, and the
// real wrt binary driving gcovr on a gcc --coverage build.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugins/coverage/cobertura.h"
#include "plugins/coverage/gcovr_json.h"
#include "plugins/coverage/lcov.h"
#include "plugins/common/workspace_glob.h"
#include "plugins/common/tool.h"
#include "support.h"

using namespace wrt::plugins::coverage;
using wrt::plugins::ParseError;
using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

std::string data_file(const std::string& name) { return read_file(fs::path(WRT_TEST_DATA_DIR) / "coverage" / name); }

template <typename T>
T ok(std::variant<T, ParseError> r) {
  if (auto* e = std::get_if<ParseError>(&r)) FAIL("unexpected parse error: " << e->to_string());
  return std::get<T>(r);
}

template <typename T>
ParseError err(std::variant<T, ParseError> r) {
  REQUIRE(std::holds_alternative<ParseError>(r));
  return std::get<ParseError>(r);
}

const FileCoverage& file(const CoverageData& d, const std::string& path) {
  for (const auto& f : d.files)
    if (f.path == path) return f;
  FAIL("no file " << path);
  throw 0;
}

}  // namespace

TEST_CASE("coverage: LCOV parser reads a real lcov 1.16 capture", "[coverage]") {
  auto d = ok(parse_lcov(data_file("lcov-1.16.info"), "lcov-1.16.info"));
  REQUIRE(d.files.size() == 2);
  const auto& calc = file(d, "src/core/calc.c");
  auto s = summarize(calc);
  CHECK(s.lines.total == 9);
  CHECK(s.lines.covered == 6);
  CHECK(s.branches.total == 10);
  CHECK(s.branches.covered == 4);
  CHECK(s.functions.total == 3);
  CHECK(s.functions.covered == 2);
  CHECK(calc.line_hits.at(11) == 0);
  REQUIRE(calc.branches.at(11).size() == 2);
  CHECK_FALSE(calc.branches.at(11)[0].taken.has_value());  // "-": line never ran
  auto total = summarize(d);
  CHECK(total.lines.total == 14);
  CHECK(total.lines.covered == 11);
  CHECK(total.lines.percent() == Approx(78.571).epsilon(1e-3));
}

TEST_CASE("coverage: LCOV parser reads a real llvm-cov 14 export and its totals agree", "[coverage]") {
  auto d = ok(parse_lcov(data_file("llvm-cov-14.info"), "llvm-cov-14.info"));
  auto s = summarize(file(d, "src/core/calc.c"));
  // The file's own LF/LH/BRF/BRH/FNF/FNH for calc.c.
  CHECK(s.lines.total == 11);
  CHECK(s.lines.covered == 7);
  CHECK(s.branches.total == 10);
  CHECK(s.branches.covered == 4);
  CHECK(s.functions.total == 3);
  CHECK(s.functions.covered == 2);
}

TEST_CASE("coverage: Cobertura parser reads a real gcovr 5.2 report", "[coverage]") {
  auto d = ok(parse_cobertura(data_file("gcovr-5.2.cobertura.xml"), "gcovr-5.2.cobertura.xml"));
  REQUIRE(d.files.size() == 2);
  auto total = summarize(d);
  // The report's own lines-covered/valid and branches-covered/valid.
  CHECK(total.lines.covered == 11);
  CHECK(total.lines.total == 14);
  CHECK(total.branches.covered == 5);
  CHECK(total.branches.total == 12);
  CHECK(file(d, "src/core/calc.c").branches.at(10).size() == 4);
}

TEST_CASE("coverage: gcovr JSON parser skips non-code lines and keeps functions", "[coverage]") {
  auto d = ok(parse_gcovr_json(data_file("gcovr-5.2.json"), "gcovr-5.2.json"));
  auto total = summarize(d);
  CHECK(total.lines.total == 14);
  CHECK(total.lines.covered == 11);
  CHECK(total.branches.total == 12);
  CHECK(total.branches.covered == 5);
  CHECK(total.functions.total == 4);
  CHECK(total.functions.covered == 3);
  const auto& calc = file(d, "src/core/calc.c");
  CHECK(calc.line_hits.count(2) == 0);  // gcovr/noncode
  bool never_called_found = false;
  for (const auto& f : calc.functions)
    if (f.name == "never_called") {
      never_called_found = true;
      CHECK(f.hits == 0);
      CHECK(f.line == 15);
    }
  CHECK(never_called_found);
}

TEST_CASE("coverage: LCOV writer round-trips through the parser and lcov's own summary accepts it", "[coverage]") {
  auto d = ok(parse_gcovr_json(data_file("gcovr-5.2.json"), "gcovr-5.2.json"));
  std::string text = write_lcov(d);
  CHECK(text.find("SF:src/core/calc.c\n") != std::string::npos);
  CHECK(text.find("FNDA:0,never_called\n") != std::string::npos);
  CHECK(text.find("LF:9\nLH:6\nend_of_record") != std::string::npos);
  auto back = ok(parse_lcov(text, "written.info"));
  auto a = summarize(d), b = summarize(back);
  CHECK(b.lines.total == a.lines.total);
  CHECK(b.lines.covered == a.lines.covered);
  CHECK(b.branches.total == a.branches.total);
  CHECK(b.branches.covered == a.branches.covered);
  CHECK(b.functions.covered == a.functions.covered);

  // The real lcov tool must read what we write.
  TempDir dir;
  write_file(dir / "written.info", text);
  auto r = run_command({"lcov", "--summary", (dir / "written.info").string(), "--rc", "lcov_branch_coverage=1"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK((r.out + r.err).find("lines......: 78.6% (11 of 14 lines)") != std::string::npos);
  CHECK((r.out + r.err).find("functions..: 75.0% (3 of 4 functions)") != std::string::npos);
}

TEST_CASE("coverage: Cobertura writer round-trips lines, branches and functions", "[coverage]") {
  auto d = ok(parse_lcov(data_file("lcov-1.16.info"), "lcov-1.16.info"));
  std::string xml = write_cobertura(d);
  CHECK(xml.find("filename=\"src/core/calc.c\"") != std::string::npos);
  CHECK(xml.find("condition-coverage=\"50% (2/4)\"") != std::string::npos);
  auto back = ok(parse_cobertura(xml, "written.xml"));
  auto a = summarize(d), b = summarize(back);
  CHECK(b.lines.total == a.lines.total);
  CHECK(b.lines.covered == a.lines.covered);
  CHECK(b.branches.total == a.branches.total);
  CHECK(b.branches.covered == a.branches.covered);
  CHECK(b.functions.total == a.functions.total);
  CHECK(b.functions.covered == a.functions.covered);
}

TEST_CASE("coverage: Cobertura relative filenames are joined to an absolute <source>", "[coverage]") {
  auto d = ok(parse_cobertura(R"(<?xml version="1.0"?>
<coverage><sources><source>/ws/proj</source></sources><packages><package name="p"><classes>
<class name="a" filename="src/a.rs"><lines><line number="1" hits="2"/><line number="2" hits="0"/></lines></class>
</classes></package></packages></coverage>)",
                              "t.xml"));
  REQUIRE(d.files.size() == 1);
  CHECK(d.files[0].path == "/ws/proj/src/a.rs");
  CHECK(summarize(d).lines.covered == 1);
}

TEST_CASE("coverage: malformed LCOV names file, line and column", "[coverage]") {
  auto e = err(parse_lcov("TN:\nSF:a.c\nDA:3,1\nDA:4,x\nend_of_record\n", "bad.info"));
  CHECK(e.to_string() == "bad.info:4:6: bad hit count \"x\"");
  e = err(parse_lcov("SF:a.c\nBRDA:4,0,zero,1\nend_of_record\n", "bad.info"));
  CHECK(e.line == 2);
  CHECK(e.column == 10);
  e = err(parse_lcov("SF:a.c\nDA:1,1\n", "trunc.info"));
  CHECK(e.line == 1);
  CHECK(e.message.find("no end_of_record") != std::string::npos);
  e = err(parse_lcov("DA:1,1\n", "orphan.info"));
  CHECK(e.to_string() == "orphan.info:1:1: DA record outside an SF ... end_of_record block");
  e = err(parse_lcov("SF:a.c\nSF:b.c\nend_of_record\n", "nested.info"));
  CHECK(e.line == 2);
  e = err(parse_lcov("SF:a.c\ngarbage\nend_of_record\n", "g.info"));
  CHECK(e.line == 2);
  CHECK(e.column == 1);
  // Unknown record types from newer lcov versions are not errors.
  CHECK(std::holds_alternative<CoverageData>(parse_lcov("SF:a.c\nFNL:0,1,2\nDA:1,1\nend_of_record\n", "new.info")));
}

TEST_CASE("coverage: malformed Cobertura names file, line and column", "[coverage]") {
  auto e = err(parse_cobertura("<coverage>\n  <packages>\n    <package></oops>\n", "bad.xml"));
  CHECK(e.file == "bad.xml");
  CHECK(e.line == 3);
  CHECK(e.column > 1);
  CHECK(e.message.find("malformed XML") != std::string::npos);
  e = err(parse_cobertura("<coverage><packages><package><classes>\n<class filename=\"a.c\"><lines>\n"
                          "  <line number=\"1\" hits=\"1\" branch=\"true\" condition-coverage=\"half\"/>\n"
                          "</lines></class></classes></package></packages></coverage>",
                          "cc.xml"));
  CHECK(e.line == 3);
  CHECK(e.column == 4);
  CHECK(e.message.find("condition-coverage") != std::string::npos);
  e = err(parse_cobertura("<report/>", "other.xml"));
  CHECK(e.message.find("no <coverage> root") != std::string::npos);
}

TEST_CASE("coverage: malformed gcovr JSON names line and column", "[coverage]") {
  auto e = err(parse_gcovr_json("{\n  \"files\": [\n    {\"file\": \"a.c\",,}\n  ]\n}\n", "bad.json"));
  CHECK(e.file == "bad.json");
  CHECK(e.line == 3);
  CHECK(e.column == 20);
  e = err(parse_gcovr_json("{\"files\": [{\"file\": \"a.c\", \"lines\": [{\"line_number\": 1, \"count\": -3}]}]}", "neg.json"));
  CHECK(e.message.find("$.files[0].lines[0].count") != std::string::npos);
}

TEST_CASE("coverage: path globs follow the wrt.toml input rules", "[coverage]") {
  CHECK(wrt::plugins::glob_match("src/core/**", "src/core/calc.c"));
  CHECK(wrt::plugins::glob_match("src/core/**", "src/core/deep/x.c"));
  CHECK_FALSE(wrt::plugins::glob_match("src/core/**", "src/util/main.c"));
  CHECK(wrt::plugins::glob_match("src/*/main.c", "src/util/main.c"));
  CHECK_FALSE(wrt::plugins::glob_match("src/*.c", "src/util/main.c"));
  CHECK(wrt::plugins::glob_match("**/*.c", "a.c"));
  CHECK(wrt::plugins::glob_match("src/[a-c]*/*.c", "src/core/calc.c"));
  CHECK_FALSE(wrt::plugins::glob_match("src/[!c]*/*.c", "src/core/calc.c"));
}

// ---- end to end: the real wrt binary, gcc --coverage and gcovr ----

namespace {

nlohmann::json stage_report(const TempDir& ws, const std::string& name) {
  auto rep = nlohmann::json::parse(read_file(ws / "report.json"));
  for (const auto& s : rep["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

// The same two-file program the captures come from, built by a wrt stage.
void write_coverage_workspace(const TempDir& ws, const std::string& coverage_with) {
  for (const char* f : {"src/core/calc.c", "src/core/calc.h", "src/util/main.c"})
    write_file(ws / f, data_file(f));
  write_file(ws / "wrt.toml", R"(
[project]
name = "cov"

[stages.test]
inputs = ["src/**"]
outputs = ["obj"]
with = { run = "mkdir -p obj && gcc --coverage -O0 -c src/core/calc.c -o obj/calc.o && gcc --coverage -O0 -c src/util/main.c -o obj/main.o && gcc --coverage obj/calc.o obj/main.o -o obj/app && ./obj/app" }

[stages.coverage]
plugin = "coverage"
needs = ["test"]
inputs = ["src/**"]
outputs = ["coverage/lcov.info", "coverage/cobertura.xml"]
with = )" + coverage_with + "\n");
}

bool has_artifact(const nlohmann::json& st, const std::string& path, const std::string& kind) {
  for (const auto& a : st["artifacts"])
    if (a.dump().find(path) != std::string::npos && a.dump().find(kind) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("coverage: e2e gcovr on a gcc --coverage build reports figures and writes LCOV and Cobertura", "[coverage]") {
  TempDir ws;
  write_coverage_workspace(
      ws, R"({ build_dir = "obj", min_line = 70, paths = { core = "src/core/**", util = "src/util/**" }, min_line_paths = { util = 100 } })");
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto st = stage_report(ws, "coverage");
  CHECK(st["status"] == "passed");
  const auto& m = st["metrics"];
  CHECK(m["coverage.line"].get<double>() == Approx(100.0 * 11 / 14));
  CHECK(m["coverage.branch"].get<double>() == Approx(100.0 * 5 / 12));
  CHECK(m["coverage.function"].get<double>() == Approx(75.0));
  CHECK(m["lines.total"].get<double>() == 14);
  CHECK(m["coverage.line.core"].get<double>() == Approx(100.0 * 6 / 9));
  CHECK(m["coverage.line.util"].get<double>() == Approx(100.0));
  CHECK(has_artifact(st, "coverage/lcov.info", "lcov"));
  CHECK(has_artifact(st, "coverage/cobertura.xml", "cobertura"));
  CHECK(st["message"].get<std::string>().find("line 78.57%") != std::string::npos);

  auto lcov = ok(parse_lcov(read_file(ws / "coverage/lcov.info"), "lcov.info"));
  CHECK(summarize(file(lcov, "src/core/calc.c")).functions.total == 3);
  auto xml = ok(parse_cobertura(read_file(ws / "coverage/cobertura.xml"), "cobertura.xml"));
  CHECK(summarize(xml).lines.covered == 11);
}

TEST_CASE("coverage: e2e thresholds fail with the figure and threshold named", "[coverage]") {
  TempDir ws;
  write_coverage_workspace(ws, R"({ build_dir = "obj", min_line = 100, paths = { core = "src/core/**" }, min_branch_paths = { core = 90 } })");
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto st = stage_report(ws, "coverage");
  CHECK(st["status"] == "failed");
  std::string msg = st["message"];
  CHECK(msg.find("line coverage 78.57% (11/14) is below min_line = 100.00%") != std::string::npos);
  CHECK(msg.find("branch coverage of core 40.00% (4/10) is below min_branch_paths.core = 90.00%") != std::string::npos);
  // The reports are written even when a threshold fails, for the CI to show.
  CHECK(fs::exists(ws / "coverage/lcov.info"));
}

TEST_CASE("coverage: e2e gcovr exclude regexes narrow the data", "[coverage]") {
  TempDir ws;
  write_coverage_workspace(ws, R"({ build_dir = "obj", exclude = ["src/util/.*"] })");
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto st = stage_report(ws, "coverage");
  CHECK(st["metrics"]["lines.total"].get<double>() == 9);
  CHECK(read_file(ws / "coverage/lcov.info").find("main.c") == std::string::npos);
}

TEST_CASE("coverage: e2e an existing llvm-cov LCOV file is converted to Cobertura", "[coverage]") {
  TempDir ws;
  write_file(ws / "llvm/lcov.info", data_file("llvm-cov-14.info"));
  write_file(ws / "wrt.toml", R"(
[project]
name = "conv"

[stages.coverage]
plugin = "coverage"
inputs = ["llvm/lcov.info"]
outputs = ["out/cov.xml"]
with = { lcov = "llvm/lcov.info", cobertura_out = "out/cov.xml", min_function = 80 }
)");
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto st = stage_report(ws, "coverage");
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().find("function coverage 75.00% (3/4) is below min_function = 80.00%") != std::string::npos);
  CHECK(st["metrics"]["functions.total"].get<double>() == 4);
  CHECK(st["metrics"]["functions.covered"].get<double>() == 3);
  CHECK(has_artifact(st, "llvm/lcov.info", "lcov"));
  CHECK(has_artifact(st, "out/cov.xml", "cobertura"));
  auto xml = ok(parse_cobertura(read_file(ws / "out/cov.xml"), "cov.xml"));
  CHECK(summarize(xml).functions.covered == 3);
}

TEST_CASE("coverage: e2e bad configuration is a run error (exit 2), malformed input a stage error, each naming the problem", "[coverage]") {
  TempDir ws;
  write_file(ws / "bad.info", "SF:a.c\nDA:1,many\nend_of_record\n");
  write_file(ws / "wrt.toml", R"(
[project]
name = "bad"

[stages.malformed]
plugin = "coverage"
inputs = ["bad.info"]
with = { lcov = "bad.info" }
)");
  auto r = run_wrt({"run", "-k", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(stage_report(ws, "malformed")["message"].get<std::string>().find("bad.info:2:6: bad hit count") != std::string::npos);

  write_file(ws / "wrt.toml", "[stages.nobuild]\nplugin = \"coverage\"\nwith = { root = \".\" }\n");
  auto nobuild = run_wrt({"run"}, ws.path());
  CHECK(nobuild.exit_code == 2);
  CHECK_THAT(nobuild.err, Catch::Contains("stage 'nobuild': coverage with gcovr needs with.build_dir"));
}
