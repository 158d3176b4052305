#include "core/results/sarif.h"

#include <map>

#include "core/util/atomic_file.h"

namespace wrt {
namespace {

const char* const kSarifSchema = "https://json.schemastore.org/sarif-2.1.0.json";
const char* const kSourceRoot = "%SRCROOT%";

std::string sarif_level(const std::string& severity) {
  if (severity == "error" || severity == "note") return severity;
  return "warning";
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

nlohmann::json artifact_location(const std::string& file) {
  std::string path = file;
  while (path.rfind("./", 0) == 0) path.erase(0, 2);
  if (!path.empty() && path.front() == '/') return {{"uri", "file://" + sarif_uri_path(path)}};
  return {{"uri", sarif_uri_path(path)}, {"uriBaseId", kSourceRoot}};
}

nlohmann::json result_of(const Finding& f, const std::string& stage, const std::map<std::string, int>& rule_index) {
  nlohmann::json r;
  if (!f.rule.empty()) {
    r["ruleId"] = f.rule;
    r["ruleIndex"] = rule_index.at(f.rule);
  }
  r["level"] = sarif_level(f.severity);
  // SARIF requires message.text to be non-empty to be useful to viewers.
  r["message"] = {{"text", f.message.empty() ? (f.rule.empty() ? "finding" : f.rule) : f.message}};
  if (!f.file.empty()) {
    nlohmann::json physical = {{"artifactLocation", artifact_location(f.file)}};
    if (f.line > 0) {
      physical["region"] = {{"startLine", f.line}};
      if (f.column > 0) physical["region"]["startColumn"] = f.column;
    }
    r["locations"] = nlohmann::json::array({{{"physicalLocation", physical}}});
  }
  r["properties"] = {{"stage", stage}};
  return r;
}

}  // namespace

std::string sarif_uri_path(const std::string& path) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (is_unreserved(c) || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

nlohmann::json findings_to_sarif(const std::vector<SarifStageFindings>& stages, const std::string& workspace_dir) {
  std::string root = workspace_dir;
  if (root.empty() || root.back() != '/') root.push_back('/');
  const std::string root_uri = "file://" + sarif_uri_path(root);

  // Plugins in order of first appearance, so the log follows the run.
  std::vector<std::string> plugin_order;
  std::map<std::string, std::vector<const SarifStageFindings*>> by_plugin;
  for (const auto& s : stages) {
    if (s.findings.empty()) continue;
    if (!by_plugin.count(s.plugin)) plugin_order.push_back(s.plugin);
    by_plugin[s.plugin].push_back(&s);
  }

  nlohmann::json runs = nlohmann::json::array();
  for (const auto& plugin : plugin_order) {
    const auto& group = by_plugin[plugin];
    nlohmann::json rules = nlohmann::json::array();
    std::map<std::string, int> rule_index;
    nlohmann::json results = nlohmann::json::array();
    nlohmann::json stage_names = nlohmann::json::array();
    for (const auto* s : group) {
      stage_names.push_back(s->stage);
      for (const auto& f : s->findings) {
        if (!f.rule.empty() && !rule_index.count(f.rule)) {
          rule_index[f.rule] = static_cast<int>(rules.size());
          rules.push_back({{"id", f.rule}});
        }
        results.push_back(result_of(f, s->stage, rule_index));
      }
    }
    nlohmann::json driver = {{"name", "wrt/" + plugin}, {"rules", rules}};
    if (!group.front()->plugin_version.empty()) driver["version"] = group.front()->plugin_version;
    runs.push_back({
        {"tool", {{"driver", driver}}},
        {"originalUriBaseIds", {{kSourceRoot, {{"uri", root_uri}}}}},
        {"results", results},
        {"properties", {{"stages", stage_names}}},
    });
  }
  return {{"$schema", kSarifSchema}, {"version", "2.1.0"}, {"runs", runs}};
}

Status write_sarif(const std::string& path, const nlohmann::json& log) {
  return write_file_atomically(path, [&](std::ostream& out) { out << log.dump(2) << '\n'; });
}

}  // namespace wrt
