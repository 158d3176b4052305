// The flawfinder plugin: its CSV parser on a report captured from the real
// flawfinder 2.0.19 on this machine (tests/data/flawfinder/, produced from
// the C sources next to it), malformed CSV, and the real wrt binary running
// the real flawfinder (and cppcheck) on temporary workspaces.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugins/flawfinder/flawfinder_csv.h"
#include "support.h"

using namespace wrt::test;
using wrt::plugins::flawfinder::FlawfinderHit;
using wrt::plugins::flawfinder::parse_flawfinder_csv;

namespace {

const std::string kHeader =
    "File,Line,Column,DefaultLevel,Level,Category,Name,Warning,Suggestion,Note,CWEs,Context,Fingerprint,"
    "ToolVersion,RuleId,HelpUri\r\n";

std::string data(const std::string& name) {
  return read_file(std::string(WRT_TEST_DATA_DIR) + "/flawfinder/" + name);
}

std::vector<FlawfinderHit> hits_named(const std::vector<FlawfinderHit>& hits, const std::string& name) {
  std::vector<FlawfinderHit> out;
  for (const auto& h : hits)
    if (h.name == name) out.push_back(h);
  return out;
}

// gets (level 5), strcpy and sprintf (4), two fixed-size buffers (2).
const char* const kUnsafeInput = R"(#include <stdio.h>
#include <string.h>

void greet(const char *name) {
  char buffer[16];
  strcpy(buffer, name);
  puts(buffer);
}

void read_line(void) {
  char line[64];
  gets(line);
  puts(line);
}

void format(char *out, const char *who) {
  sprintf(out, "hello %s", who);
}
)";

const char* const kSafeInput = R"(#include <stdio.h>

void greet(const char *name) {
  printf("hello %s\n", name);
}
)";

// Defects for cppcheck that flawfinder does not flag.
const char* const kMemoryBugs = R"(#include <stddef.h>

int null_deref(void) {
  int *p = NULL;
  return *p;
}

int uninit(void) {
  int x;
  return x + 1;
}
)";

const char* const kMemoryFixed = R"(int twice(int x) { return 2 * x; }
)";

void write_flawfinder_workspace(const TempDir& ws, const std::string& with_extra) {
  write_file(ws / "src/input.c", kUnsafeInput);
  write_file(ws / "wrt.toml", R"(
[stages.audit]
plugin = "flawfinder"
inputs = ["src/input.c"]
with = { paths = ["src"])" + with_extra + R"( }
)");
}

nlohmann::json run_and_report(const TempDir& ws, CommandResult* result, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run", "--report", (ws / "report.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  *result = run_wrt(args, ws.path());
  return nlohmann::json::parse(read_file(ws / "report.json"));
}

nlohmann::json stage_of(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

const nlohmann::json* finding(const nlohmann::json& stage, const std::string& rule) {
  for (const auto& f : stage["findings"])
    if (f["rule"] == rule) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("flawfinder: parses a real CSV report", "[flawfinder]") {
  auto parsed = parse_flawfinder_csv(data("hits.csv"), "hits.csv");
  REQUIRE_FALSE(parsed.error);
  REQUIRE(parsed.hits.size() == 7);

  auto gets = hits_named(parsed.hits, "gets");
  REQUIRE(gets.size() == 1);
  CHECK(gets[0].file == "src/buggy.c");
  CHECK(gets[0].line == 29);
  CHECK(gets[0].column == 3);
  CHECK(gets[0].level == 5);
  CHECK(gets[0].category == "buffer");
  CHECK(gets[0].rule_id == "FF1014");
  CHECK(gets[0].warning == "Does not check for buffer overflows (CWE-120, CWE-20).");  // quoted, with a comma
  CHECK(gets[0].cwes == "CWE-120, CWE-20");
  CHECK(gets[0].suggestion == "Use fgets() instead.");

  auto strcpy_hits = hits_named(parsed.hits, "strcpy");
  REQUIRE(strcpy_hits.size() == 1);
  CHECK(strcpy_hits[0].rule_id == "FF1001");
  CHECK(strcpy_hits[0].level == 4);
  CHECK(strcpy_hits[0].suggestion == "Consider using snprintf, strcpy_s, or strlcpy (warning: strncpy easily misused).");

  auto sprintf_hits = hits_named(parsed.hits, "sprintf");  // its Context field holds doubled quotes
  REQUIRE(sprintf_hits.size() == 1);
  CHECK(sprintf_hits[0].line == 34);
  CHECK(sprintf_hits[0].rule_id == "FF1015");

  CHECK(hits_named(parsed.hits, "char").size() == 2);

  // A file name with a comma and quotes, quoted by flawfinder's CSV writer.
  auto system_hits = hits_named(parsed.hits, "system");
  REQUIRE(system_hits.size() == 1);
  CHECK(system_hits[0].file == "src/odd, \"name\".c");
  CHECK(system_hits[0].line == 5);
  CHECK(system_hits[0].cwes == "CWE-78");
}

TEST_CASE("flawfinder: rule and message of a hit", "[flawfinder]") {
  auto parsed = parse_flawfinder_csv(data("hits.csv"), "hits.csv");
  REQUIRE_FALSE(parsed.error);
  auto strcpy_hit = hits_named(parsed.hits, "strcpy").at(0);
  CHECK(wrt::plugins::flawfinder::hit_rule(strcpy_hit) == "FF1001");
  CHECK(wrt::plugins::flawfinder::hit_message(strcpy_hit) ==
        "strcpy (level 4): Does not check for buffer overflows when copying to destination [MS-banned] (CWE-120). "
        "Consider using snprintf, strcpy_s, or strlcpy (warning: strncpy easily misused).");

  FlawfinderHit old_style = strcpy_hit;
  old_style.rule_id.clear();
  old_style.warning = "Does not check for buffer overflows.";
  CHECK(wrt::plugins::flawfinder::hit_rule(old_style) == "strcpy");
  CHECK(wrt::plugins::flawfinder::hit_message(old_style).find("(CWE-120)") != std::string::npos);
}

TEST_CASE("flawfinder: header-only report (no hits) and LF line ends", "[flawfinder]") {
  auto empty = parse_flawfinder_csv(kHeader, "r.csv");
  REQUIRE_FALSE(empty.error);
  CHECK(empty.hits.empty());

  std::string lf = data("hits.csv");
  for (std::size_t p; (p = lf.find("\r\n")) != std::string::npos;) lf.erase(p, 1);
  auto parsed = parse_flawfinder_csv(lf, "hits.csv");
  REQUIRE_FALSE(parsed.error);
  CHECK(parsed.hits.size() == 7);
}

TEST_CASE("flawfinder: malformed CSV is an error naming file:line:column", "[flawfinder]") {
  const std::string row_start = "src/a.c,3,5,4,4,buffer,strcpy,";
  SECTION("empty output") {
    auto parsed = parse_flawfinder_csv("", "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.error->to_string().rfind("r.csv:1:1: empty output", 0) == 0);
  }
  SECTION("wrong header (flawfinder's text output)") {
    auto parsed = parse_flawfinder_csv("Flawfinder version 2.0.19, (C) 2001-2019 David A. Wheeler.\n", "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.error->line == 1);
    CHECK(parsed.error->message.find("header") != std::string::npos);
  }
  SECTION("header without a needed column") {
    auto parsed = parse_flawfinder_csv("File,Line,Column,Level\r\n", "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.error->message.find("\"Category\"") != std::string::npos);
  }
  SECTION("unclosed quote points at the opening quote") {
    auto parsed = parse_flawfinder_csv(kHeader + row_start + "\"Does not check,\r\n", "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.hits.empty());
    CHECK(parsed.error->line == 2);
    CHECK(parsed.error->column == row_start.size() + 1);
    CHECK(parsed.error->message == "unclosed quote");
  }
  SECTION("text after a closing quote") {
    auto parsed = parse_flawfinder_csv(kHeader + row_start + "\"a\"b,,,,,,,,,\r\n", "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.error->line == 2);
    CHECK(parsed.error->column == row_start.size() + 4);
  }
  SECTION("a quote inside an unquoted field") {
    auto parsed = parse_flawfinder_csv(kHeader + "src/a\"b.c,1,1,1,1,c,n,w,s,,,,,,,\r\n", "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.error->line == 2);
    CHECK(parsed.error->column == 6);
  }
  SECTION("too few fields") {
    auto parsed = parse_flawfinder_csv(kHeader + "src/a.c,3,5\r\n", "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.error->line == 2);
    CHECK(parsed.error->message.find("3 fields") != std::string::npos);
  }
  SECTION("non-numeric line, after a quoted field spanning two lines") {
    std::string csv = kHeader + row_start + "\"two\nlines\",s,,CWE-1,ctx,fp,2.0.19,FF1,uri\r\n" +
                      "src/b.c,x9,1,1,1,c,n,w,s,,,,,,,\r\n";
    auto parsed = parse_flawfinder_csv(csv, "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.error->line == 4);
    CHECK(parsed.error->column == 9);
    CHECK(parsed.error->message.find("\"x9\"") != std::string::npos);
  }
  SECTION("level out of range") {
    auto parsed = parse_flawfinder_csv(kHeader + "src/a.c,1,1,4,7,c,n,w,s,,,,,,,\r\n", "r.csv");
    REQUIRE(parsed.error);
    CHECK(parsed.error->column == 15);
  }
}

TEST_CASE("flawfinder: e2e - unsafe calls fail the stage, level decides error or warning", "[flawfinder]") {
  TempDir ws;
  write_flawfinder_workspace(ws, "");
  CommandResult r;
  auto stage = stage_of(run_and_report(ws, &r), "audit");
  INFO(r.out << r.err << stage.dump(2));
  CHECK(r.exit_code == 1);
  CHECK(stage["plugin"] == "flawfinder");
  CHECK(stage["status"] == "failed");
  CHECK(stage["metrics"]["hits"] == 5);
  CHECK(stage["metrics"]["hits.level4plus"] == 3);
  CHECK(stage["metrics"]["errors"] == 3);
  CHECK(stage["metrics"]["warnings"] == 2);

  const auto* gets = finding(stage, "FF1014");
  REQUIRE(gets);
  CHECK((*gets)["severity"] == "error");
  CHECK((*gets)["file"] == "src/input.c");
  CHECK((*gets)["line"] == 12);
  CHECK((*gets)["column"] == 3);
  CHECK((*gets)["message"].get<std::string>().rfind("gets (level 5): ", 0) == 0);
  CHECK((*gets)["message"].get<std::string>().find("CWE-120") != std::string::npos);
  REQUIRE(finding(stage, "FF1001"));
  CHECK((*finding(stage, "FF1001"))["line"] == 6);
  REQUIRE(finding(stage, "FF1015"));
  CHECK((*finding(stage, "FF1015"))["line"] == 17);
  REQUIRE(finding(stage, "FF1013"));
  CHECK((*finding(stage, "FF1013"))["severity"] == "warning");
}

TEST_CASE("flawfinder: e2e - min_level, fail_level, fail_on and max_warnings", "[flawfinder]") {
  TempDir ws;
  CommandResult r;
  SECTION("min_level = 4 leaves out the level-2 hits") {
    write_flawfinder_workspace(ws, ", min_level = 4");
    auto stage = stage_of(run_and_report(ws, &r), "audit");
    CHECK(stage["metrics"]["hits"] == 3);
    CHECK_FALSE(finding(stage, "FF1013"));
  }
  SECTION("fail_level = 5: only gets is an error") {
    write_flawfinder_workspace(ws, ", fail_level = 5");
    auto stage = stage_of(run_and_report(ws, &r), "audit");
    CHECK(stage["metrics"]["errors"] == 1);
    CHECK(stage["metrics"]["warnings"] == 4);
    CHECK((*finding(stage, "FF1001"))["severity"] == "warning");
    CHECK(stage["status"] == "failed");
  }
  SECTION("fail_on = never passes") {
    write_flawfinder_workspace(ws, ", fail_on = \"never\"");
    auto stage = stage_of(run_and_report(ws, &r), "audit");
    CHECK(r.exit_code == 0);
    CHECK(stage["status"] == "passed");
    CHECK(stage["findings"].size() == 5);
  }
  SECTION("max_warnings below the warning count fails with no errors") {
    write_flawfinder_workspace(ws, ", max_warnings = 1");
    write_file(ws / "src/input.c", "void f(void) {\n  char a[4];\n  char b[4];\n  (void)a; (void)b;\n}\n");
    auto stage = stage_of(run_and_report(ws, &r), "audit");
    INFO(stage.dump(2));
    CHECK(stage["metrics"]["errors"] == 0);
    CHECK(stage["metrics"]["warnings"] == 2);
    CHECK(stage["status"] == "failed");
    CHECK(stage["message"].get<std::string>().find("max_warnings = 1") != std::string::npos);
  }
  SECTION("min_level out of range is a configuration error") {
    write_flawfinder_workspace(ws, ", min_level = 9");
    auto stage = stage_of(run_and_report(ws, &r), "audit");
    CHECK(r.exit_code != 0);
    CHECK(stage["status"] == "failed");
    CHECK(stage["message"].get<std::string>().find("with.min_level must be a flawfinder risk level from 0 to 5") !=
          std::string::npos);
  }
  SECTION("a missing path is an error, not a clean pass") {
    write_flawfinder_workspace(ws, "");
    write_file(ws / "wrt.toml", "[stages.audit]\nplugin = \"flawfinder\"\nwith = { paths = [\"srcx\"] }\n");
    auto stage = stage_of(run_and_report(ws, &r), "audit");
    CHECK(r.exit_code != 0);
    CHECK(stage["message"].get<std::string>().find("with.paths: srcx does not exist") != std::string::npos);
  }
}

TEST_CASE("flawfinder + cppcheck: e2e - both stages fail, fixes re-run only the stage whose inputs changed, then all cached",
          "[flawfinder][cppcheck]") {
  TempDir ws;
  write_file(ws / "src/input.c", kUnsafeInput);
  write_file(ws / "src/memory.c", kMemoryBugs);
  write_file(ws / "wrt.toml", R"(
[project]
name = "audit"

[stages.cppcheck]
plugin = "cppcheck"
inputs = ["src/memory.c"]
with = { paths = ["src/memory.c"], std = "c11" }

[stages.flawfinder]
plugin = "flawfinder"
inputs = ["src/input.c"]
with = { paths = ["src/input.c"] }
)");
  CommandResult r;
  auto rep = run_and_report(ws, &r, {"--keep-going"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto cpp = stage_of(rep, "cppcheck");
  auto ff = stage_of(rep, "flawfinder");
  CHECK(cpp["status"] == "failed");
  CHECK(ff["status"] == "failed");
  REQUIRE(finding(cpp, "nullPointer"));
  CHECK((*finding(cpp, "nullPointer"))["file"] == "src/memory.c");
  CHECK((*finding(cpp, "nullPointer"))["line"] == 5);
  REQUIRE(finding(cpp, "uninitvar"));
  CHECK((*finding(cpp, "uninitvar"))["line"] == 10);
  CHECK(cpp["metrics"]["errors"] == 2);
  CHECK(ff["metrics"]["hits.level4plus"] == 3);

  write_file(ws / "src/memory.c", kMemoryFixed);
  rep = run_and_report(ws, &r, {"--keep-going"});
  CHECK(stage_of(rep, "cppcheck")["status"] == "passed");
  CHECK(stage_of(rep, "cppcheck")["metrics"]["errors"] == 0);
  CHECK(stage_of(rep, "flawfinder")["status"] == "failed");  // failures are never cached: it ran again

  write_file(ws / "src/input.c", kSafeInput);
  rep = run_and_report(ws, &r, {"--keep-going"});
  CHECK(r.exit_code == 0);
  CHECK(stage_of(rep, "cppcheck")["status"] == "cached");  // its input did not change
  CHECK(stage_of(rep, "flawfinder")["status"] == "passed");
  CHECK(stage_of(rep, "flawfinder")["metrics"]["hits"] == 0);

  rep = run_and_report(ws, &r);
  CHECK(r.exit_code == 0);
  CHECK(stage_of(rep, "cppcheck")["status"] == "cached");
  CHECK(stage_of(rep, "flawfinder")["status"] == "cached");
}
