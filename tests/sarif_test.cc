// SARIF 2.1.0 export of a run's findings: structure, rule indexing, levels,
// URI encoding, the atomic write, and a check of the produced logs against
// the required properties, closed property sets and value constraints of
// the SARIF 2.1.0 schema (for every object kind wrt emits). The last test
// exports the findings of a real wrt run of cppcheck and flawfinder.
#include "core/results/sarif.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <set>

#include "support.h"

using namespace wrt::test;
using wrt::Finding;
using wrt::SarifStageFindings;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// --- a checker for the SARIF 2.1.0 constraints that apply to what we emit ---

struct SarifChecker {
  std::vector<std::string> problems;

  void problem(const std::string& where, const std::string& what) { problems.push_back(where + ": " + what); }

  // The schema sets additionalProperties: false on every object kind below.
  void only(const json& j, const std::string& where, std::set<std::string> allowed) {
    if (!j.is_object()) return problem(where, "must be an object");
    for (const auto& [k, v] : j.items())
      if (!allowed.count(k)) problem(where, "property \"" + k + "\" is not allowed");
  }
  void require(const json& j, const std::string& where, const std::string& key) {
    if (!j.is_object() || !j.contains(key)) problem(where, "required property \"" + key + "\" is missing");
  }
  void string_prop(const json& j, const std::string& where, const std::string& key) {
    if (j.contains(key) && !j[key].is_string()) problem(where, key + " must be a string");
  }

  // RFC 3986 URI-reference characters; '%' only as %HH.
  void uri_reference(const std::string& uri, const std::string& where) {
    static const std::string kAllowed =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=";
    for (std::size_t i = 0; i < uri.size(); ++i) {
      if (uri[i] == '%') {
        if (i + 2 >= uri.size() || !std::isxdigit(static_cast<unsigned char>(uri[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(uri[i + 2])))
          problem(where, "bad percent-escape in \"" + uri + "\"");
        i += 2;
      } else if (kAllowed.find(uri[i]) == std::string::npos) {
        problem(where, "character not allowed in a URI: \"" + uri + "\"");
        return;
      }
    }
  }

  void message(const json& m, const std::string& where) {
    only(m, where, {"text", "markdown", "id", "arguments", "properties"});
    if (!m.contains("text") && !m.contains("id")) problem(where, "message needs text or id");
    string_prop(m, where, "text");
  }

  void artifact_location(const json& a, const std::string& where) {
    only(a, where, {"uri", "uriBaseId", "index", "description", "properties"});
    string_prop(a, where, "uri");
    string_prop(a, where, "uriBaseId");
    if (a.contains("uri") && a["uri"].is_string()) uri_reference(a["uri"].get<std::string>(), where + ".uri");
  }

  void region(const json& r, const std::string& where) {
    only(r, where, {"startLine", "startColumn", "endLine", "endColumn", "charOffset", "charLength", "byteOffset",
                    "byteLength", "snippet", "message", "sourceLanguage", "properties"});
    for (const char* k : {"startLine", "startColumn", "endLine", "endColumn"})
      if (r.contains(k) && (!r[k].is_number_integer() || r[k].get<long>() < 1)) problem(where, std::string(k) + " must be an integer >= 1");
    if (!r.contains("startLine") && !r.contains("charOffset") && !r.contains("byteOffset"))
      problem(where, "a text region needs startLine (or an offset)");
  }

  void result(const json& r, const std::string& where, const json& rules) {
    only(r, where, {"ruleId", "ruleIndex", "rule", "kind", "level", "message", "analysisTarget", "locations", "guid",
                    "correlationGuid", "occurrenceCount", "partialFingerprints", "fingerprints", "stacks", "codeFlows",
                    "graphs", "graphTraversals", "relatedLocations", "suppressions", "baselineState", "rank",
                    "attachments", "hostedViewerUri", "workItemUris", "provenance", "fixes", "taxa", "webRequest",
                    "webResponse", "properties"});
    require(r, where, "message");
    if (r.contains("message")) message(r["message"], where + ".message");
    if (r.contains("level")) {
      static const std::set<std::string> kLevels = {"none", "note", "warning", "error"};
      if (!r["level"].is_string() || !kLevels.count(r["level"].get<std::string>())) problem(where, "bad level");
    }
    if (r.contains("ruleIndex")) {
      if (!r["ruleIndex"].is_number_integer() || r["ruleIndex"].get<long>() < -1) problem(where, "bad ruleIndex");
      else if (r["ruleIndex"].get<long>() >= 0) {
        auto i = r["ruleIndex"].get<std::size_t>();
        if (i >= rules.size()) problem(where, "ruleIndex past the end of rules");
        // §3.27.7: with both present, ruleId equals the indexed rule's id.
        else if (r.value("ruleId", "") != rules[i].value("id", "")) problem(where, "ruleId differs from rules[ruleIndex].id");
      }
    }
    if (r.contains("locations")) {
      if (!r["locations"].is_array()) return problem(where, "locations must be an array");
      for (std::size_t i = 0; i < r["locations"].size(); ++i) {
        std::string lw = where + ".locations[" + std::to_string(i) + "]";
        const json& loc = r["locations"][i];
        only(loc, lw, {"id", "physicalLocation", "logicalLocations", "message", "annotations", "relationships",
                       "properties"});
        if (!loc.contains("physicalLocation")) continue;
        const json& pl = loc["physicalLocation"];
        only(pl, lw + ".physicalLocation", {"address", "artifactLocation", "region", "contextRegion", "properties"});
        if (!pl.contains("address") && !pl.contains("artifactLocation"))
          problem(lw, "physicalLocation needs address or artifactLocation");
        if (pl.contains("artifactLocation")) artifact_location(pl["artifactLocation"], lw + ".artifactLocation");
        if (pl.contains("region")) region(pl["region"], lw + ".region");
      }
    }
  }

  void run(const json& run, const std::string& where) {
    only(run, where, {"tool", "invocations", "conversion", "language", "versionControlProvenance",
                      "originalUriBaseIds", "artifacts", "logicalLocations", "graphs", "results", "automationDetails",
                      "runAggregates", "baselineGuid", "redactionTokens", "defaultEncoding", "defaultSourceLanguage",
                      "newlineSequences", "columnKind", "externalPropertyFileReferences", "threadFlowLocations",
                      "taxonomies", "addresses", "translations", "policies", "webRequests", "webResponses",
                      "specialLocations", "properties"});
    require(run, where, "tool");
    if (!run.contains("tool")) return;
    require(run["tool"], where + ".tool", "driver");
    only(run["tool"], where + ".tool", {"driver", "extensions", "properties"});
    if (!run["tool"].contains("driver")) return;
    const json& driver = run["tool"]["driver"];
    std::string dw = where + ".tool.driver";
    require(driver, dw, "name");
    string_prop(driver, dw, "name");
    string_prop(driver, dw, "version");
    json rules = driver.value("rules", json::array());
    std::set<std::string> ids;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      std::string rw = dw + ".rules[" + std::to_string(i) + "]";
      require(rules[i], rw, "id");
      if (!ids.insert(rules[i].value("id", "")).second) problem(rw, "duplicate rule (rules has uniqueItems)");
    }
    if (run.contains("originalUriBaseIds"))
      for (const auto& [name, loc] : run["originalUriBaseIds"].items()) {
        artifact_location(loc, where + ".originalUriBaseIds." + name);
        // §3.14.14: an absolute URI ending in a slash.
        std::string uri = loc.value("uri", "");
        if (uri.rfind("file:///", 0) != 0 || uri.back() != '/')
          problem(where + ".originalUriBaseIds." + name, "uri must be absolute and end with '/': " + uri);
      }
    if (run.contains("results"))
      for (std::size_t i = 0; i < run["results"].size(); ++i)
        result(run["results"][i], where + ".results[" + std::to_string(i) + "]", rules);
  }

  void log(const json& log) {
    only(log, "sarifLog", {"$schema", "version", "runs", "inlineExternalProperties", "properties"});
    require(log, "sarifLog", "version");
    require(log, "sarifLog", "runs");
    if (log.value("version", "") != "2.1.0") problem("sarifLog", "version must be \"2.1.0\"");
    if (!log.contains("runs") || !log["runs"].is_array()) return problem("sarifLog", "runs must be an array");
    for (std::size_t i = 0; i < log["runs"].size(); ++i) run(log["runs"][i], "runs[" + std::to_string(i) + "]");
  }
};

std::vector<std::string> sarif_problems(const json& log) {
  SarifChecker c;
  c.log(log);
  return c.problems;
}

Finding finding(std::string rule, std::string severity, std::string file, std::uint32_t line, std::uint32_t column,
                std::string message) {
  return Finding{std::move(rule), std::move(severity), std::move(file), line, column, std::move(message)};
}

std::vector<SarifStageFindings> sample() {
  return {
      {"lint-core", "cppcheck", "1.0.0",
       {finding("nullPointer", "error", "src/a.c", 13, 11, "Null pointer dereference: p"),
        finding("constParameter", "warning", "src/a.c", 4, 0, "Parameter 'p' can be const"),
        finding("nullPointer", "error", "src/b.c", 2, 5, "Null pointer dereference: q")}},
      {"build", "command", "1.0.0", {}},
      {"audit", "flawfinder", "1.0.0",
       {finding("FF1014", "error", "src/my file.c", 29, 3, "gets (level 5)"),
        finding("FF1013", "warning", "src/ünï.c", 22, 3, "char (level 2)")}},
      {"lint-tests", "cppcheck", "1.0.0",
       {finding("", "note", "", 0, 0, "cppcheck cannot find all the include files"),
        finding("uninitvar", "error", "tests/t.c", 7, 0, "Uninitialized variable: x")}},
  };
}

}  // namespace

TEST_CASE("sarif: log structure - one run per plugin with findings, schema and version", "[sarif]") {
  json log = wrt::findings_to_sarif(sample(), "/work/ws");
  CHECK(log["version"] == "2.1.0");
  CHECK(log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json");
  REQUIRE(log["runs"].size() == 2);  // the command stage has no findings: no run

  const json& cpp = log["runs"][0];
  CHECK(cpp["tool"]["driver"]["name"] == "wrt/cppcheck");
  CHECK(cpp["tool"]["driver"]["version"] == "1.0.0");
  CHECK(cpp["results"].size() == 5);  // both cppcheck stages share the run
  CHECK(cpp["properties"]["stages"] == json::array({"lint-core", "lint-tests"}));
  CHECK(cpp["results"][0]["properties"]["stage"] == "lint-core");
  CHECK(cpp["results"][4]["properties"]["stage"] == "lint-tests");
  CHECK(cpp["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///work/ws/");

  const json& ff = log["runs"][1];
  CHECK(ff["tool"]["driver"]["name"] == "wrt/flawfinder");
  CHECK(ff["results"].size() == 2);
  CHECK(sarif_problems(log).empty());
}

TEST_CASE("sarif: rules are the distinct rule names and ruleIndex points at them", "[sarif]") {
  json log = wrt::findings_to_sarif(sample(), "/work/ws");
  const json& cpp = log["runs"][0];
  const json& rules = cpp["tool"]["driver"]["rules"];
  REQUIRE(rules.size() == 3);
  CHECK(rules[0]["id"] == "nullPointer");
  CHECK(rules[1]["id"] == "constParameter");
  CHECK(rules[2]["id"] == "uninitvar");
  for (const auto& r : cpp["results"]) {
    if (!r.contains("ruleId")) {
      CHECK_FALSE(r.contains("ruleIndex"));
      continue;
    }
    REQUIRE(r["ruleIndex"].get<std::size_t>() < rules.size());
    CHECK(rules[r["ruleIndex"].get<std::size_t>()]["id"] == r["ruleId"]);
  }
  CHECK(cpp["results"][2]["ruleIndex"] == 0);  // the second nullPointer reuses the rule
}

TEST_CASE("sarif: levels, regions and findings without a file", "[sarif]") {
  json log = wrt::findings_to_sarif(sample(), "/work/ws");
  const json& results = log["runs"][0]["results"];
  CHECK(results[0]["level"] == "error");
  CHECK(results[1]["level"] == "warning");
  CHECK(results[3]["level"] == "note");
  CHECK(results[0]["message"]["text"] == "Null pointer dereference: p");

  const json& pl = results[0]["locations"][0]["physicalLocation"];
  CHECK(pl["artifactLocation"]["uri"] == "src/a.c");
  CHECK(pl["artifactLocation"]["uriBaseId"] == "%SRCROOT%");
  CHECK(pl["region"]["startLine"] == 13);
  CHECK(pl["region"]["startColumn"] == 11);

  CHECK_FALSE(results[1]["locations"][0]["physicalLocation"]["region"].contains("startColumn"));  // column 0
  CHECK_FALSE(results[3].contains("locations"));  // no file
  CHECK_FALSE(results[3].contains("ruleId"));

  std::vector<SarifStageFindings> no_line = {{"s", "p", "", {finding("r", "warning", "README.md", 0, 0, "m")}}};
  json nl = wrt::findings_to_sarif(no_line, "/w");
  CHECK_FALSE(nl["runs"][0]["results"][0]["locations"][0]["physicalLocation"].contains("region"));
  CHECK_FALSE(nl["runs"][0]["tool"]["driver"].contains("version"));  // unknown version left out
  CHECK(sarif_problems(nl).empty());
}

TEST_CASE("sarif: file paths become RFC 3986 percent-encoded URIs", "[sarif]") {
  CHECK(wrt::sarif_uri_path("src/my file.c") == "src/my%20file.c");
  CHECK(wrt::sarif_uri_path("src/ünï.c") == "src/%C3%BCn%C3%AF.c");
  CHECK(wrt::sarif_uri_path("a%b#c?d:e.c") == "a%25b%23c%3Fd%3Ae.c");
  CHECK(wrt::sarif_uri_path("keep-._~/AZaz09") == "keep-._~/AZaz09");

  json log = wrt::findings_to_sarif(sample(), "/home/me/my proj");
  CHECK(log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///home/me/my%20proj/");
  const json& ff = log["runs"][1]["results"];
  CHECK(ff[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/my%20file.c");
  CHECK(ff[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/%C3%BCn%C3%AF.c");
  CHECK(sarif_problems(log).empty());

  std::vector<SarifStageFindings> outside = {
      {"s", "p", "1", {finding("r", "error", "/usr/include/stdio.h", 1, 1, "m"), finding("r", "error", "./src/x.c", 1, 1, "m")}}};
  json o = wrt::findings_to_sarif(outside, "/w/");
  const json& a0 = o["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
  CHECK(a0["uri"] == "file:///usr/include/stdio.h");
  CHECK_FALSE(a0.contains("uriBaseId"));
  CHECK(o["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/x.c");
  CHECK(o["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///w/");
}

TEST_CASE("sarif: no findings is a valid log with no runs", "[sarif]") {
  json log = wrt::findings_to_sarif({{"build", "command", "1.0.0", {}}}, "/w");
  CHECK(log["runs"] == json::array());
  CHECK(sarif_problems(log).empty());
}

TEST_CASE("sarif: the schema checker rejects logs that break SARIF 2.1.0", "[sarif]") {
  json good = wrt::findings_to_sarif(sample(), "/w");
  REQUIRE(sarif_problems(good).empty());

  json no_message = good;
  no_message["runs"][0]["results"][0].erase("message");
  CHECK_FALSE(sarif_problems(no_message).empty());

  json bad_index = good;
  bad_index["runs"][0]["results"][0]["ruleIndex"] = 1;
  CHECK_FALSE(sarif_problems(bad_index).empty());

  json bad_level = good;
  bad_level["runs"][1]["results"][0]["level"] = "fatal";
  CHECK_FALSE(sarif_problems(bad_level).empty());

  json raw_space = good;
  raw_space["runs"][1]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "src/my file.c";
  CHECK_FALSE(sarif_problems(raw_space).empty());

  json zero_line = good;
  zero_line["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0;
  CHECK_FALSE(sarif_problems(zero_line).empty());

  json extra = good;
  extra["runs"][0]["results"][0]["stage"] = "lint";  // wrt data belongs in the properties bag
  CHECK_FALSE(sarif_problems(extra).empty());

  json no_driver_name = good;
  no_driver_name["runs"][0]["tool"]["driver"].erase("name");
  CHECK_FALSE(sarif_problems(no_driver_name).empty());
}

TEST_CASE("sarif: write_sarif writes atomically and creates the report directory", "[sarif]") {
  TempDir dir;
  fs::path target = dir / ".wrt/reports/findings.sarif";
  json log = wrt::findings_to_sarif(sample(), dir.path().string());
  wrt::Status s = wrt::write_sarif(target.string(), log);
  REQUIRE(s.ok());
  CHECK(json::parse(read_file(target)) == log);

  json empty = wrt::findings_to_sarif({}, dir.path().string());
  REQUIRE(wrt::write_sarif(target.string(), empty).ok());  // replaces the old log
  CHECK(json::parse(read_file(target)) == empty);
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(target.parent_path())) {
    ++files;
    CHECK(e.path().filename() == "findings.sarif");  // no temp file left behind
  }
  CHECK(files == 1);

  write_file(dir / "blocker", "a file, not a directory");
  wrt::Status bad = wrt::write_sarif((dir / "blocker/findings.sarif").string(), log);
  CHECK_FALSE(bad.ok());
  CHECK(bad.error().find("blocker") != std::string::npos);
}

TEST_CASE("sarif: findings of a real cppcheck and flawfinder run export as a valid log", "[sarif][cppcheck][flawfinder]") {
  TempDir ws;
  write_file(ws / "src/my file.c",
             "#include <stdio.h>\n#include <stddef.h>\nint f(void) {\n  int *p = NULL;\n  return *p;\n}\n"
             "void g(void) {\n  char line[8];\n  gets(line);\n}\n");
  write_file(ws / "wrt.toml", R"(
[stages.cppcheck]
plugin = "cppcheck"
inputs = ["src/*.c"]
with = { paths = ["src"], fail_on = "never" }

[stages.flawfinder]
plugin = "flawfinder"
inputs = ["src/*.c"]
with = { paths = ["src"], fail_on = "never" }
)");
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json report = json::parse(read_file(ws / "report.json"));
  std::vector<SarifStageFindings> stages;
  for (const auto& s : report["stages"])
    stages.push_back({s["name"].get<std::string>(), s["plugin"].get<std::string>(), "1.0.0",
                      wrt::results_from_json(s).findings});
  json log = wrt::findings_to_sarif(stages, ws.path().string());
  INFO(log.dump(2));
  CHECK(sarif_problems(log).empty());
  REQUIRE(log["runs"].size() == 2);
  bool saw_null = false, saw_gets = false;
  for (const auto& run : log["runs"])
    for (const auto& res : run["results"]) {
      const json& pl = res["locations"][0]["physicalLocation"];
      CHECK(pl["artifactLocation"]["uri"] == "src/my%20file.c");
      if (res.value("ruleId", "") == "nullPointer") saw_null = pl["region"]["startLine"] == 5 && res["level"] == "error";
      if (res.value("ruleId", "") == "FF1014") saw_gets = pl["region"]["startLine"] == 9 && res["level"] == "error";
    }
  CHECK(saw_null);
  CHECK(saw_gets);
}
