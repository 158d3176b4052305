#include "core/results/stage_results.h"

#include <fmt/core.h>

namespace wrt {

nlohmann::json results_to_json(const StageResults& r) {
  nlohmann::json j;
  j["metrics"] = nlohmann::json::object();
  for (const auto& [k, v] : r.metrics) j["metrics"][k] = v;
  j["findings"] = nlohmann::json::array();
  for (const auto& f : r.findings)
    j["findings"].push_back({{"rule", f.rule}, {"severity", f.severity}, {"file", f.file}, {"line", f.line},
                             {"column", f.column}, {"message", f.message}});
  j["tests"] = nlohmann::json::array();
  for (const auto& t : r.tests)
    j["tests"].push_back({{"suite", t.suite}, {"name", t.name}, {"status", t.status}, {"duration_s", t.duration_s},
                          {"message", t.message}});
  j["artifacts"] = nlohmann::json::array();
  for (const auto& a : r.artifacts) j["artifacts"].push_back({{"path", a.path}, {"kind", a.kind}});
  j["message"] = r.message;
  return j;
}

StageResults results_from_json(const nlohmann::json& j) {
  StageResults r;
  if (!j.is_object()) return r;
  auto s = [](const nlohmann::json& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto u = [](const nlohmann::json& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->is_number_unsigned() ? it->get<std::uint32_t>() : 0u;
  };
  if (auto it = j.find("metrics"); it != j.end() && it->is_object())
    for (const auto& [k, v] : it->items())
      if (v.is_number()) r.metrics[k] = v.get<double>();
  if (auto it = j.find("findings"); it != j.end() && it->is_array())
    for (const auto& f : *it)
      if (f.is_object())
        r.findings.push_back({s(f, "rule"), s(f, "severity"), s(f, "file"), u(f, "line"), u(f, "column"),
                              s(f, "message")});
  if (auto it = j.find("tests"); it != j.end() && it->is_array())
    for (const auto& t : *it)
      if (t.is_object()) {
        double d = t.contains("duration_s") && t["duration_s"].is_number() ? t["duration_s"].get<double>() : -1;
        r.tests.push_back({s(t, "suite"), s(t, "name"), s(t, "status"), d, s(t, "message")});
      }
  if (auto it = j.find("artifacts"); it != j.end() && it->is_array())
    for (const auto& a : *it)
      if (a.is_object()) r.artifacts.push_back({s(a, "path"), s(a, "kind")});
  r.message = s(j, "message");
  return r;
}

std::string failure_summary(const StageResults& r, const std::string& stage, std::size_t limit) {
  std::string out;
  std::vector<const Finding*> shown;
  for (const char* severity : {"error", "warning"})
    for (const auto& f : r.findings)
      if (f.severity == severity) shown.push_back(&f);
  std::size_t n = 0;
  for (const Finding* f : shown) {
    if (n++ == limit) break;
    std::string where = f->file.empty() ? std::string("(no file)") : f->file;
    if (f->line) {
      where += fmt::format(":{}", f->line);
      if (f->column) where += fmt::format(":{}", f->column);
    }
    out += fmt::format("    {}: {}: {}{}\n", where, f->severity, f->message, f->rule.empty() ? "" : " [" + f->rule + "]");
  }
  if (shown.size() > limit)
    out += fmt::format("    ... and {} more finding{} (wrt log {})\n", shown.size() - limit,
                       shown.size() - limit == 1 ? "" : "s", stage);
  std::size_t failed = 0;
  for (const auto& t : r.tests) {
    if (t.status != "failed") continue;
    if (failed++ >= limit) continue;
    std::string name = t.suite.empty() ? t.name : t.suite + "::" + t.name;
    std::string first = t.message.substr(0, t.message.find('\n'));
    out += fmt::format("    FAILED {}{}\n", name, first.empty() ? "" : ": " + first);
  }
  if (failed > limit)
    out += fmt::format("    ... and {} more failed test{} (wrt log {})\n", failed - limit, failed - limit == 1 ? "" : "s",
                       stage);
  return out;
}

}  // namespace wrt
