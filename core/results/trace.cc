#include "core/results/trace.h"

#include <algorithm>
#include <set>

#include <fmt/core.h>
#include <toml++/toml.h>

namespace wrt {

namespace fs = std::filesystem;

namespace {

bool passing(const std::string& status) { return status == "passed" || status == "cached" || status == "flaky"; }

std::string where(const fs::path& file, const toml::source_region& r) {
  return fmt::format("{}:{}:{}", file.string(), r.begin.line, r.begin.column);
}

// A stage's status, or a test's within it ("STAGE/TEST").
EvidenceStatus evidence_status(const Config& cfg, const LastResults& last, const std::string& ref) {
  std::vector<std::string> stages = cfg.resolve_stage_name(ref);
  std::string test;
  if (stages.empty()) {
    auto slash = ref.find('/');
    stages = cfg.resolve_stage_name(ref.substr(0, slash));
    test = ref.substr(slash + 1);
  }
  EvidenceStatus e{ref, "passed"};
  if (stages.empty()) e.status = "not run";
  for (const auto& s : stages) {
    auto it = last.find(s);
    if (it == last.end()) {
      e.status = "not run";
      continue;
    }
    std::string st = it->second.status;
    if (!test.empty()) {
      st = "not run";
      for (const auto& t : it->second.tests) {
        auto dot = t.name.rfind('/');
        if (t.name == test || (dot != std::string::npos && t.name.substr(dot + 1) == test)) st = t.status;
      }
    }
    if (!passing(st)) {
      if (st == "not run" || st == "skipped" || st == "pending") {
        if (e.status == "passed") e.status = "not run";
      } else {
        e.status = "failed";
      }
    }
  }
  return e;
}

}  // namespace

Result<std::vector<Requirement>> load_requirements(const fs::path& file, const Config& cfg) {
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    if (e.source().begin.line == 0) return Error{fmt::format("{}: cannot read: {}", file.string(), e.description())};
    return Error{fmt::format("{}: {}", where(file, e.source()), e.description())};
  }
  std::vector<Requirement> out;
  for (auto&& [k, v] : root)
    if (k.str() != "requirement")
      return Error{fmt::format("{}: unknown key '{}' (requirements are [[requirement]] tables)", where(file, k.source()),
                               k.str())};
  const toml::node* list = root.get("requirement");
  if (!list) return out;
  if (!list->is_array_of_tables()) return Error{fmt::format("{}: 'requirement' must be [[requirement]] tables", where(file, list->source()))};
  std::set<std::string> ids;
  for (const auto& n : *list->as_array()) {
    const auto& t = *n.as_table();
    Requirement r;
    r.pos = {static_cast<std::uint32_t>(t.source().begin.line), static_cast<std::uint32_t>(t.source().begin.column)};
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      if (key == "id" && v.is_string()) r.id = v.as_string()->get();
      else if (key == "title" && v.is_string()) r.title = v.as_string()->get();
      else if (key == "asil" && v.is_string()) {
        auto a = parse_asil(v.as_string()->get());
        if (!a) return Error{fmt::format("{}: asil must be one of QM, A, B, C, D", where(file, v.source()))};
        r.asil = *a;
      } else if (key == "verified_by" && v.is_array()) {
        for (const auto& e : *v.as_array()) {
          if (!e.is_string()) return Error{fmt::format("{}: verified_by must list strings", where(file, e.source()))};
          std::string ref(e.as_string()->get());
          std::string stage = ref.substr(0, ref.find('/'));
          if (cfg.resolve_stage_name(ref).empty() && cfg.resolve_stage_name(stage).empty())
            return Error{fmt::format("{}: verified_by names '{}', but wrt.toml defines no stage '{}'",
                                     where(file, e.source()), ref, stage)};
          r.verified_by.push_back(ref);
        }
      } else if (key == "description" && v.is_string()) {
      } else {
        return Error{fmt::format("{}: unexpected '{}' in [[requirement]] (id, title, asil, verified_by, description)",
                                 where(file, k.source()), key)};
      }
    }
    if (r.id.empty()) return Error{fmt::format("{}: [[requirement]] needs an id", where(file, t.source()))};
    if (!ids.insert(r.id).second) return Error{fmt::format("{}: duplicate requirement id '{}'", where(file, t.source()), r.id)};
    out.push_back(std::move(r));
  }
  return out;
}

TraceMatrix build_trace(const Config& cfg, const std::vector<Requirement>& reqs, const LastResults& last) {
  TraceMatrix m;
  for (const auto& r : reqs) {
    RequirementStatus rs;
    rs.requirement = &r;
    std::vector<std::string> refs = r.verified_by;
    for (const auto& c : cfg.components)
      if (std::find(c.requirements.begin(), c.requirements.end(), r.id) != c.requirements.end())
        for (const auto& s : cfg.stages)
          if (s.component == c.name && std::find(refs.begin(), refs.end(), s.name) == refs.end()) refs.push_back(s.name);
    bool failed = false, all = !refs.empty();
    for (const auto& ref : refs) {
      rs.evidence.push_back(evidence_status(cfg, last, ref));
      failed |= rs.evidence.back().status == "failed";
      all &= rs.evidence.back().status == "passed";
    }
    rs.status = failed ? "failing" : all ? "verified" : "not covered";
    LevelCoverage& lc = m.levels[static_cast<int>(r.asil)];
    ++lc.requirements_total;
    if (rs.status == "verified") ++lc.requirements_verified;
    m.requirements.push_back(std::move(rs));
  }
  for (const auto& c : cfg.components) {
    LevelCoverage& lc = m.levels[static_cast<int>(c.asil)];
    ++lc.components_total;
    bool any = false, ok = true;
    for (const auto& s : cfg.stages) {
      if (s.component != c.name) continue;
      any = true;
      auto it = last.find(s.name);
      ok &= it != last.end() && passing(it->second.status);
    }
    if (any && ok) ++lc.components_verified;
  }
  return m;
}

namespace {

std::string percent(int part, int whole) {
  if (whole == 0) return "-";
  return fmt::format("{:.0f}% ({}/{})", 100.0 * part / whole, part, whole);
}

}  // namespace

std::string trace_to_markdown(const TraceMatrix& m) {
  std::string out = "| Requirement | ASIL | Title | Evidence | Status |\n|---|---|---|---|---|\n";
  for (const auto& rs : m.requirements) {
    std::string ev;
    for (const auto& e : rs.evidence) ev += fmt::format("{}{} ({})", ev.empty() ? "" : ", ", e.ref, e.status);
    if (ev.empty()) ev = "—";
    out += fmt::format("| {} | {} | {} | {} | {} |\n", rs.requirement->id, asil_name(rs.requirement->asil),
                       rs.requirement->title, ev, rs.status);
  }
  out += "\n| ASIL | Requirements verified | Components verified |\n|---|---|---|\n";
  for (int a = 0; a < kAsilLevels; ++a) {
    const LevelCoverage& l = m.levels[a];
    if (l.requirements_total == 0 && l.components_total == 0) continue;
    out += fmt::format("| {} | {} | {} |\n", asil_name(static_cast<Asil>(a)),
                       percent(l.requirements_verified, l.requirements_total),
                       percent(l.components_verified, l.components_total));
  }
  return out;
}

nlohmann::json trace_to_json(const TraceMatrix& m) {
  nlohmann::json reqs = nlohmann::json::array();
  for (const auto& rs : m.requirements) {
    nlohmann::json ev = nlohmann::json::array();
    for (const auto& e : rs.evidence) ev.push_back({{"ref", e.ref}, {"status", e.status}});
    reqs.push_back({{"id", rs.requirement->id},
                    {"title", rs.requirement->title},
                    {"asil", asil_name(rs.requirement->asil)},
                    {"status", rs.status},
                    {"evidence", ev}});
  }
  nlohmann::json cov = nlohmann::json::object();
  for (int a = 0; a < kAsilLevels; ++a) {
    const LevelCoverage& l = m.levels[a];
    auto share = [](int part, int whole) -> nlohmann::json {
      return {{"verified", part}, {"total", whole}, {"percent", whole ? 100.0 * part / whole : 0.0}};
    };
    cov[asil_name(static_cast<Asil>(a))] = {{"requirements", share(l.requirements_verified, l.requirements_total)},
                                             {"components", share(l.components_verified, l.components_total)}};
  }
  return {{"requirements", reqs}, {"coverage", cov}};
}

}  // namespace wrt
