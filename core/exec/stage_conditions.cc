#include "core/exec/stage_conditions.h"

#include <fnmatch.h>

#include <algorithm>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/exec/subprocess.h"
#include "core/util/git_head.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

std::string strip_prefix(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : std::string();
}

bool matches_any(const std::vector<std::string>& patterns, const std::string& value) {
  if (value.empty()) return false;
  for (const auto& p : patterns)
    if (::fnmatch(p.c_str(), value.c_str(), 0) == 0) return true;
  return false;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::vector<std::string> git_tags_at_head(const fs::path& ws) {
  SpawnOptions o;
  o.argv = {"git", "-C", ws.string(), "tag", "--points-at", "HEAD"};
  o.capture = true;
  o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  SpawnResult r = run_process(o);
  std::vector<std::string> tags;
  if (!r.started || r.exit_code != 0) return tags;
  std::size_t start = 0;
  while (start < r.output.size()) {
    std::size_t nl = r.output.find('\n', start);
    if (nl == std::string::npos) nl = r.output.size();
    if (nl > start) tags.push_back(r.output.substr(start, nl - start));
    start = nl + 1;
  }
  return tags;
}

bool has_evidence(const std::string& status) { return status == "passed" || status == "cached" || status == "flaky"; }

}  // namespace

RunConditions detect_run_conditions(const fs::path& ws, const EnvLookup& env, bool need_tags) {
  RunConditions c;
  if (env("GITHUB_ACTIONS") == "true") {
    c.source = "GitHub Actions";
    const std::string ref = env("GITHUB_REF");
    c.branch = strip_prefix(ref, "refs/heads/");
    if (std::string tag = strip_prefix(ref, "refs/tags/"); !tag.empty()) c.tags.push_back(tag);
    // A pull request's ref is refs/pull/N/merge; its branch is the head's.
    if (c.branch.empty() && !env("GITHUB_HEAD_REF").empty()) c.branch = env("GITHUB_HEAD_REF");
    c.event = env("GITHUB_EVENT_NAME");
    return c;
  }
  if (env("GITLAB_CI") == "true") {
    c.source = "GitLab CI";
    c.branch = env("CI_COMMIT_BRANCH");
    if (c.branch.empty()) c.branch = env("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME");
    if (!env("CI_COMMIT_TAG").empty()) c.tags.push_back(env("CI_COMMIT_TAG"));
    c.event = env("CI_PIPELINE_SOURCE");
    return c;
  }
  c.source = "git";
  c.event = "local";
  if (auto head = read_git_head(ws)) c.branch = head->branch;
  if (need_tags) c.tags = git_tags_at_head(ws);
  return c;
}

std::string condition_refusal(const StageConfig& s, const RunConditions& w) {
  const StageCondition& when = s.extras().when;
  if (when.empty()) return {};
  if (!when.branch.empty() && !matches_any(when.branch, w.branch))
    return fmt::format("condition: branch {} is not {} ({})", w.branch.empty() ? "(none: detached or a tag)" : "'" + w.branch + "'",
                       join(when.branch), w.source);
  if (!when.tag.empty()) {
    bool any = false;
    for (const auto& t : w.tags) any |= matches_any(when.tag, t);
    if (!any)
      return fmt::format("condition: {} matches tag {} ({})", w.tags.empty() ? "no tag on this commit" : "no tag of " + join(w.tags),
                         join(when.tag), w.source);
  }
  if (!when.event.empty()) {
    // "manual": the stage (or its for_each group) was named on the command line.
    const bool named = std::find(w.named.begin(), w.named.end(), s.name) != w.named.end() ||
                       (!s.extras().group.empty() && std::find(w.named.begin(), w.named.end(), s.extras().group) != w.named.end());
    bool ok = false;
    for (const auto& e : when.event) ok |= e == "manual" ? named : ::fnmatch(e.c_str(), w.event.c_str(), 0) == 0;
    if (!ok) {
      const bool only_manual = when.event.size() == 1 && when.event[0] == "manual";
      return only_manual ? fmt::format("condition: manual, runs only when named (wrt run --target {})", s.extras().group.empty() ? s.name : s.extras().group)
                         : fmt::format("condition: event '{}' is not {} ({})", w.event, join(when.event), w.source);
    }
  }
  return {};
}

DependencyGate gate_over(const Config& config, const std::vector<const StageRecord*>& deps) {
  DependencyGate g;
  for (int a = kAsilLevels - 1; a >= 0; --a) {
    bool present = false;
    std::vector<std::string> failed;
    for (const auto* r : deps) {
      if (!r->asil || static_cast<int>(*r->asil) != a) continue;
      present = true;
      if (!has_evidence(r->status)) failed.push_back(r->name + " " + r->status);
    }
    if (!present) continue;
    if (g.verdict == "none") g.verdict = "pass";
    const std::string level = asil_name(static_cast<Asil>(a));
    if (failed.empty()) {
      g.levels.emplace_back(level, "pass");
      continue;
    }
    const std::string on_failure = config.profile(static_cast<Asil>(a)).on_failure;
    const std::string level_verdict = on_failure == "allow" ? "pass" : on_failure;
    g.levels.emplace_back(level, level_verdict);
    if (on_failure == "allow") continue;
    if (g.verdict != "block") g.verdict = on_failure;
    if (g.why.empty()) g.why = fmt::format("{} at ASIL {}", join(failed), asil_name(static_cast<Asil>(a)));
  }
  return g;
}

std::string run_context_json(const std::string& run_id, const Config& config, const std::vector<const StageRecord*>& deps) {
  const DependencyGate g = gate_over(config, deps);
  nlohmann::json levels = nlohmann::json::object();
  for (const auto& [level, verdict] : g.levels) levels[level] = verdict;
  nlohmann::json list = nlohmann::json::array();
  for (const auto* r : deps)
    list.push_back({{"name", r->name},
                    {"status", r->status},
                    {"asil", r->asil ? nlohmann::json(asil_name(*r->asil)) : nlohmann::json()},
                    {"key", r->cache_key}});
  return nlohmann::json{{"run_id", run_id}, {"gate", {{"verdict", g.verdict}, {"why", g.why}, {"levels", levels}}},
                        {"dependencies", list}}
      .dump();
}

std::string gate_refusal(const StageConfig& s, const Config& config, const std::vector<const StageRecord*>& deps) {
  if (s.extras().requires_gate.empty() && !s.extras().min_verified_asil) return {};
  const DependencyGate g = gate_over(config, deps);
  const std::string verdict = g.verdict == "none" ? "pass" : g.verdict;
  const std::string& why = g.why;
  if (!s.extras().requires_gate.empty() && verdict != "pass" && !(verdict == "warn" && s.extras().requires_gate == "warn"))
    return fmt::format("gate {} ({}); requires_gate = \"{}\"", verdict, why, s.extras().requires_gate);
  if (s.extras().min_verified_asil) {
    const int min = static_cast<int>(*s.extras().min_verified_asil);
    int verified = 0;
    for (const auto* r : deps) {
      if (!r->asil || static_cast<int>(*r->asil) < min) continue;
      if (!has_evidence(r->status))
        return fmt::format("not verified: {} {} at ASIL {}; min_verified_asil = \"{}\"", r->name, r->status,
                           asil_name(*r->asil), asil_name(*s.extras().min_verified_asil));
      ++verified;
    }
    if (verified == 0)
      return fmt::format("not verified: no stage it depends on carries ASIL {} or above; min_verified_asil = \"{}\"",
                         asil_name(*s.extras().min_verified_asil), asil_name(*s.extras().min_verified_asil));
  }
  return {};
}

}  // namespace wrt
