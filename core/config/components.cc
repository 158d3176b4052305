#include "core/config/components.h"

#include <algorithm>
#include <map>

#include <fmt/core.h>

#include "core/config/glob.h"

namespace wrt {

namespace {

void substitute(nlohmann::json& j, const std::string& component) {
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    for (std::size_t at = s.find("{component}"); at != std::string::npos; at = s.find("{component}", at + component.size()))
      s.replace(at, 11, component);
    j = s;
  } else if (j.is_array() || j.is_object()) {
    for (auto& e : j) substitute(e, component);
  }
}

std::string substituted(const std::string& text, const std::string& component) {
  nlohmann::json j = text;
  substitute(j, component);
  return j.get<std::string>();
}

SourcePos key_pos(const StageConfig& s, const char* key) {
  auto it = s.key_pos.find(key);
  return it == s.key_pos.end() ? s.pos : it->pos;
}

nlohmann::json component_json(const ComponentConfig& c) {
  return {{"name", c.name}, {"asil", asil_name(c.asil)}, {"paths", c.paths}, {"requirements", c.requirements}};
}

bool path_matches(const std::string& pattern, const std::string& file) {
  if (has_wildcard(pattern)) return glob_match(pattern, file);
  std::string dir = pattern;
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  return file == dir || file.rfind(dir + "/", 0) == 0;
}

}  // namespace

nlohmann::json profile_json(Asil level, const AsilProfile& p) {
  nlohmann::json j = {{"level", asil_name(level)},
                      {"timeout_minutes", p.timeout_minutes},
                      {"timeout_s", static_cast<std::int64_t>(p.timeout_minutes * 60)},
                      {"priority", p.priority},
                      {"on_failure", p.on_failure}};
  if (p.coverage_target) j["coverage_target"] = *p.coverage_target;
  for (const auto& [k, v] : p.verifier.items()) j[k] = v;
  return j;
}

namespace {

// A stage with an ASIL level gets its profile's timeout (unless it sets one)
// and the profile in its `with` table.
void apply_asil_profile(const Config& cfg, StageConfig& s) {
  if (!s.asil) return;
  if (!s.timeout_minutes) s.timeout_minutes = cfg.profile(*s.asil).timeout_minutes;
  s.with["profile"] = profile_json(*s.asil, cfg.profile(*s.asil));
}

// Replaces each template stage by its instances, one per matching
// component; other stages keep their place.
Status expand_templates(Config& cfg) {
  std::vector<StageConfig> out;
  out.reserve(cfg.stages.size());
  for (auto& tmpl : cfg.stages) {
    if (tmpl.extras().for_each.empty()) {
      apply_asil_profile(cfg, tmpl);
      out.push_back(std::move(tmpl));
      continue;
    }
    if (cfg.components.empty())
      return Error{fmt::format("{}: stage '{}' has for_each = \"component\" but wrt.toml defines no [components]",
                               cfg.where(key_pos(tmpl, "for_each")), tmpl.name)};
    std::vector<std::string> known;
    for (const auto& c : cfg.components) known.push_back(c.name);
    for (const auto& name : tmpl.extras().only_components)
      if (!cfg.find_component(name)) {
        std::string hint = did_you_mean(name, known);
        return Error{fmt::format("{}: stage '{}' names unknown component '{}'{}", cfg.where(key_pos(tmpl, "components")),
                                 tmpl.name, name, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint))};
      }
    auto& names = cfg.groups[tmpl.name];
    for (const auto& c : cfg.components) {
      const auto& only = tmpl.extras().only_components;
      if (!only.empty() && std::find(only.begin(), only.end(), c.name) == only.end()) continue;
      if (tmpl.extras().min_asil && c.asil < *tmpl.extras().min_asil) continue;
      StageConfig inst = tmpl;
      inst.name = tmpl.name + ":" + c.name;
      inst.extras_mut().group = tmpl.name;
      inst.component = c.name;
      inst.extras_mut().for_each.clear();
      inst.extras_mut().only_components.clear();
      inst.extras_mut().min_asil.reset();
      inst.asil = c.asil;
      for (auto& in : inst.inputs) in = substituted(in, c.name);
      inst.inputs.insert(inst.inputs.end(), c.paths.begin(), c.paths.end());
      for (auto& o : inst.outputs) o = substituted(o, c.name);
      substitute(inst.with, c.name);
      inst.with["component"] = component_json(c);
      apply_asil_profile(cfg, inst);
      names.push_back(inst.name);
      out.push_back(std::move(inst));
    }
  }
  cfg.stages = std::move(out);
  return Status::Ok();
}

}  // namespace

Status expand_components(Config& cfg) {
  // Without templates every stage stays where it is: no second array of
  // stage models beside the first (issue 17: memory).
  if (std::none_of(cfg.stages.begin(), cfg.stages.end(), [](const StageConfig& s) { return !s.extras().for_each.empty(); })) {
    for (auto& s : cfg.stages) apply_asil_profile(cfg, s);
  } else if (Status st = expand_templates(cfg); !st) {
    return st;
  }

  // A need on a template means, for an instance of the same component, that
  // component's instance; for anything else, every instance.
  for (auto& s : cfg.stages) {
    if (cfg.groups.empty()) break;  // no templates: every need names a stage
    std::vector<std::string> needs;
    for (const auto& n : s.needs) {
      auto it = cfg.groups.find(n);
      if (it == cfg.groups.end()) {
        needs.push_back(n);
        continue;
      }
      std::string same = n + ":" + s.component;
      if (!s.component.empty() && std::find(it->second.begin(), it->second.end(), same) != it->second.end())
        needs.push_back(same);
      else
        needs.insert(needs.end(), it->second.begin(), it->second.end());
    }
    s.needs = std::move(needs);
  }
  for (auto& p : cfg.pipelines) {
    std::vector<std::string> stages;
    for (const auto& n : p.stages) {
      auto named = cfg.resolve_stage_name(n);
      stages.insert(stages.end(), named.begin(), named.end());
    }
    p.stages = std::move(stages);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> apply_verify_request(Config& cfg, const VerifyRequest& req) {
  for (const auto& name : req.components)
    if (!cfg.find_component(name)) {
      std::vector<std::string> known;
      for (const auto& c : cfg.components) known.push_back(c.name);
      std::string hint = did_you_mean(name, known);
      return Error{fmt::format("unknown component '{}'{}", name, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint))};
    }
  std::vector<std::string> selected;
  const AsilProfile& profile = cfg.profile(req.level);
  for (auto& s : cfg.stages) {
    if (s.extras().group.empty() || !s.asil || *s.asil > req.level) continue;
    if (!req.components.empty() &&
        std::find(req.components.begin(), req.components.end(), s.component) == req.components.end())
      continue;
    s.with["profile"] = profile_json(req.level, profile);
    // The stage keeps an explicit timeout; otherwise the requested profile's.
    if (s.key_pos.find("timeout_minutes") == s.key_pos.end()) s.timeout_minutes = profile.timeout_minutes;
    if (!req.harness.empty()) s.with["harnesses"] = nlohmann::json::array({req.harness});
    selected.push_back(s.name);
  }
  if (selected.empty())
    return Error{fmt::format("no verification stage (for_each = \"component\") covers a component at ASIL {} or below{}",
                             asil_name(req.level), req.components.empty() ? "" : " among the named components")};
  return selected;
}

std::vector<std::string> components_touched(const Config& cfg, const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const auto& c : cfg.components) {
    bool hit = false;
    for (const auto& f : files) {
      for (const auto& p : c.paths)
        if (path_matches(p, f)) {
          hit = true;
          break;
        }
      if (hit) break;
    }
    if (hit) out.push_back(c.name);
  }
  return out;
}

}  // namespace wrt
