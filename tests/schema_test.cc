// `wrt schema`: a JSON Schema of wrt.toml generated from the description the
// loader checks keys against (core/config/config_schema.h). The shipped
// wrt.toml files validate against it, and every key it lists is one the
// loader reads, so the schema and the loader cannot drift apart.
#include <functional>

#include <catch2/catch.hpp>

#include "core/config/config.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

nlohmann::json schema_json() {
  TempDir ws;
  auto s = run_wrt({"schema"}, ws.path());
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  return nlohmann::json::parse(s.out);  // throws (fails the test) if not JSON
}

CommandResult validate(const fs::path& schema, const std::vector<std::string>& files) {
  // python3 from PATH: scripts/setup.sh installs it with python3-jsonschema.
  std::vector<std::string> argv = {"python3", std::string(WRT_SOURCE_DIR) + "/tests/validate_toml_schema.py",
                                   schema.string()};
  argv.insert(argv.end(), files.begin(), files.end());
  return run_command(argv);
}

// A value of the type `s` describes: the first enum value or anyOf branch,
// the minimum, a one-element list, an empty table.
nlohmann::json sample(const nlohmann::json& s) {
  if (s.contains("enum")) return s["enum"][0];
  if (s.contains("anyOf")) return sample(s["anyOf"][0]);
  const std::string type = s.value("type", "");
  if (type == "string") return "x";
  if (type == "integer") return s.value("minimum", 1);
  if (type == "number") return 1;
  if (type == "boolean") return true;
  if (type == "array") return nlohmann::json::array({sample(s["items"])});
  return nlohmann::json::object();
}

// `v` as a TOML value: JSON strings, numbers, booleans and arrays are TOML
// too; objects become inline tables.
std::string toml_value(const nlohmann::json& v) {
  if (v.is_object()) {
    std::string out;
    for (const auto& [k, x] : v.items()) out += (out.empty() ? "" : ", ") + k + " = " + toml_value(x);
    return "{ " + out + " }";
  }
  if (v.is_array()) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + toml_value(x);
    return "[" + out + "]";
  }
  return v.dump();
}

// One document per key of the schema, at any depth: the key with a sample
// value, inside the tables that lead to it (a named table gets the name "s").
void documents(const nlohmann::json& s, const std::string& path, const std::function<nlohmann::json(nlohmann::json)>& wrap,
               std::vector<std::pair<std::string, nlohmann::json>>& out) {
  if (s.contains("patternProperties")) {
    const auto& inner = s["patternProperties"].begin().value();
    documents(inner, path + ".NAME", [&](nlohmann::json v) { return wrap(nlohmann::json{{"s", v}}); }, out);
    return;
  }
  if (!s.contains("properties")) return;
  for (const auto& [key, sub] : s["properties"].items()) {
    const std::string p = path.empty() ? key : path + "." + key;
    auto wrap_key = [&wrap, key = key](nlohmann::json v) { return wrap(nlohmann::json{{key, v}}); };
    if (sub.contains("properties") || sub.contains("patternProperties")) {
      documents(sub, p, wrap_key, out);
    } else {
      out.emplace_back(p, wrap_key(sample(sub)));
    }
  }
}

}  // namespace

TEST_CASE("schema: wrt schema prints a draft-07 JSON Schema of wrt.toml", "[schema][e2e]") {
  const nlohmann::json s = schema_json();
  CHECK(s["$schema"] == "http://json-schema.org/draft-07/schema#");
  CHECK(s["type"] == "object");
  CHECK(s["additionalProperties"] == false);
  for (const char* table : {"project", "settings", "stages", "pipelines", "components", "asil", "notify"}) {
    INFO(table);
    CHECK(s["properties"].contains(table));
  }
  const auto& stage = s["properties"]["stages"]["patternProperties"].begin().value();
  CHECK(stage["properties"]["with"]["type"] == "object");  // plugin-specific: any table
  CHECK_FALSE(stage["properties"]["with"].contains("additionalProperties"));
  CHECK(stage["properties"]["priority"]["enum"] == nlohmann::json({"low", "normal", "high", "critical"}));
  CHECK(s["properties"]["asil"]["properties"]["D"]["properties"]["on_failure"]["enum"] ==
        nlohmann::json({"allow", "warn", "block"}));
  CHECK(stage["properties"]["asil"]["anyOf"][0]["enum"] == nlohmann::json({"QM", "A", "B", "C", "D"}));
  CHECK(s["properties"]["settings"]["properties"]["max_parallel_jobs"]["type"] == "integer");
  CHECK(s["properties"]["pipelines"]["patternProperties"].begin().value()["required"] == nlohmann::json({"stages"}));
  CHECK(stage["title"] == "[stages.NAME]");  // as wrt's error messages name it
  // Descriptions are what an editor shows on hover.
  CHECK_FALSE(stage["properties"]["needs"]["description"].get<std::string>().empty());
}

TEST_CASE("schema: every shipped wrt.toml validates against the schema", "[schema][e2e]") {
  TempDir tmp;
  write_file(tmp / "wrt.schema.json", schema_json().dump(2));
  std::vector<std::string> files = {std::string(WRT_SOURCE_DIR) + "/wrt.toml"};
  for (const auto& e : fs::directory_iterator(fs::path(WRT_SOURCE_DIR) / "examples"))
    if (fs::exists(e.path() / "wrt.toml")) files.push_back((e.path() / "wrt.toml").string());
  REQUIRE(files.size() >= 5);  // the repository's own and four examples
  auto v = validate(tmp / "wrt.schema.json", files);
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  for (const auto& f : files) CHECK(v.out.find(f + ": checked with Draft7Validator") != std::string::npos);

  // The templates `wrt init` writes validate too.
  TempDir ws;
  write_file(ws / "CMakeLists.txt", "project(p)\n");
  REQUIRE(run_wrt({"init"}, ws.path()).exit_code == 0);
  auto vi = validate(tmp / "wrt.schema.json", {(ws / "wrt.toml").string()});
  INFO(vi.out << vi.err);
  CHECK(vi.exit_code == 0);
}

TEST_CASE("schema: every key the schema lists is one the loader reads", "[schema][e2e]") {
  const nlohmann::json s = schema_json();
  std::vector<std::pair<std::string, nlohmann::json>> docs;
  documents(s, "", [](nlohmann::json v) { return v; }, docs);
  // 3 project + 12 settings + 20 stage (+ 3 in its when) + 2 pipeline + 4 component
  // + 5x5 asil + 12 notify keys (2 + webhook 3 + email 3 + github 4).
  CHECK(docs.size() == 81);
  for (const auto& [path, doc] : docs) {
    std::string text;
    for (const auto& [k, v] : doc.items()) text += k + " = " + toml_value(v) + "\n";
    INFO(path << "\n" << text);
    auto c = wrt::parse_config(text, "/ws/wrt.toml");
    // Some samples break other rules (a pipeline naming stage "x", components
    // without for_each); what matters is that no key is unknown or unread.
    if (!c) {
      CHECK(c.error().find("unknown key") == std::string::npos);
      CHECK(c.error().find("does not read it") == std::string::npos);
    }
  }
  // The sample mechanism itself can fail: a key that the schema does not list.
  auto bad = wrt::parse_config("settings = { max_paralel_jobs = 1 }\n", "/ws/wrt.toml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().find("unknown key 'max_paralel_jobs' in [settings] (did you mean 'max_parallel_jobs'?)") !=
        std::string::npos);
}

TEST_CASE("schema: an unknown key is rejected by both the schema and the loader", "[schema][e2e]") {
  TempDir tmp;
  write_file(tmp / "wrt.schema.json", schema_json().dump(2));
  for (const std::string& text :
       {std::string("[settings]\nmax_paralel_jobs = 2\n"), std::string("[stages.a]\nplugn = \"command\"\n"),
        std::string("[asil.D]\non_fail = \"block\"\n"), std::string("[bogus]\n")}) {
    INFO(text);
    TempDir ws;
    write_file(ws / "wrt.toml", text);
    auto v = validate(tmp / "wrt.schema.json", {(ws / "wrt.toml").string()});
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("Additional properties are not allowed") != std::string::npos);
    auto l = run_wrt({"list"}, ws.path());
    CHECK(l.exit_code == 2);
    CHECK(l.err.find("unknown key") != std::string::npos);
  }
}
