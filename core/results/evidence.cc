#include "core/results/evidence.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/cache/cache_store.h"
#include "core/cache/cached_log.h"
#include "core/cache/key_log.h"
#include "core/exec/subprocess.h"
#include "core/results/junit_export.h"
#include "core/results/last_results.h"
#include "core/results/run_history.h"
#include "core/results/trace.h"
#include "core/util/atomic_file.h"
#include "core/util/git_head.h"
#include "core/util/hash.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStatementType = "application/vnd.in-toto+json";
constexpr const char* kProvenance = "provenance.dsse.json";
constexpr const char* kSummary = "verification-summary.dsse.json";
constexpr const char* kManifest = "manifest.json";

Result<std::string> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot read", p.string())};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool tree_dirty(const fs::path& ws) {
  SpawnOptions o;
  o.argv = {"git", "-C", ws.string(), "status", "--porcelain", "--untracked-files=no"};
  o.capture = true;
  o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  SpawnResult r = run_process(o);
  return r.started && r.exit_code == 0 && !r.output.empty();
}

// A path inside the package: relative, no "..", no empty component.
bool safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : fs::path(p))
    if (part == ".." || part == "." || part.empty()) return false;
  return true;
}

// A stage name as a directory name ("prove:memory" stays, "/" cannot occur).
std::string stage_dir(const std::string& name) { return "stages/" + name; }

nlohmann::json statement(const std::vector<std::pair<std::string, std::string>>& subjects, const std::string& predicate_type,
                         nlohmann::json predicate) {
  nlohmann::json subj = nlohmann::json::array();
  for (const auto& [name, digest] : subjects) subj.push_back({{"name", name}, {"digest", {{"sha256", digest}}}});
  return {{"_type", "https://in-toto.io/Statement/v1"},
          {"subject", subj},
          {"predicateType", predicate_type},
          {"predicate", std::move(predicate)}};
}

}  // namespace

Result<EvidenceSummary> write_evidence(const Config& cfg, const fs::path& out, const std::vector<Ed25519Key>& keys,
                                       CacheStore* store) {
  const fs::path ws = cfg.workspace;
  const fs::path dot = ws / ".wrt";
  EvidenceSummary sum;
  sum.dir = out;
  const nlohmann::json run = RunHistory::read_last(dot / "history");
  if (!run.is_object()) return Error{"no run recorded (.wrt/history/runs.jsonl): run `wrt run` first"};
  const std::string run_commit = run["commit"].is_string() ? run["commit"].get<std::string>() : "";
  if (auto head = read_git_head(ws)) {
    if (run_commit != head->commit)
      return Error{fmt::format("the last run was for commit {}, HEAD is {}: evidence is for the commit that was run; "
                               "run `wrt run` first",
                               run_commit.empty() ? "(none)" : run_commit.substr(0, 12), head->commit.substr(0, 12))};
    sum.commit = head->commit;
    sum.dirty = tree_dirty(ws);
  }
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_empty(out, ec))
    return Error{fmt::format("{} exists and is not empty: evidence goes into a new directory", out.string())};
  fs::create_directories(out, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", out.string(), ec.message())};

  std::map<std::string, std::string> files;  // package path -> content
  auto add = [&](const std::string& path, std::string content) { files[path] = std::move(content); };
  auto copy = [&](const fs::path& from, const std::string& to) -> Status {
    auto text = read_all(from);
    if (!text) return Error{text.error()};
    add(to, std::move(*text));
    return Status::Ok();
  };

  add("run.json", run.dump(2) + "\n");
  if (Status s = copy(cfg.file, "wrt.toml"); !s) return Error{s.error()};

  // The stages of the last run: their last result was written by it.
  std::string warning;
  LastResults last = load_last_results(ws, &warning);
  if (!warning.empty()) return Error{warning};
  // Which results the last run wrote or confirmed (last_results.h).
  const LastRunIds ids = last_run_ids(ws);
  if (ids.last != run.value("run_id", ""))
    return Error{fmt::format("the results of the last run ({}) are not the ones recorded in .wrt/state/last-results.json "
                             "({}): run `wrt run` again",
                             run.value("run_id", ""), ids.last.empty() ? "none" : ids.last)};
  LastResults included;
  KeyLog key_records(dot / "state" / "key-records");
  nlohmann::json results = {{"stages", nlohmann::json::object()}};
  for (const auto& [name, r] : last) {
    if (r.run_id != ids.written_by) {
      sum.excluded.push_back(fmt::format("{}: not part of the last run (its last result is from {})", name, r.finished_at));
      continue;
    }
    nlohmann::json key_inputs;  // the key record's input digests
    if (auto j = key_records.latest(name)) {
      if (j->contains("files") && (*j)["files"].is_object()) key_inputs = (*j)["files"];
      if (!r.cache_key.empty() && j->value("key", "") != r.cache_key)
        return Error{fmt::format("{}: the key record of stage '{}' does not match its last result; run `wrt run` again",
                                 key_records.file().string(), name)};
      add(stage_dir(name) + "/key.json", j->dump(1));
    } else if (!r.cache_key.empty()) {
      // Not silently: without it the package cannot say what the result's
      // key was computed from. (A workspace run by a wrt from before the
      // key-records file, or the file removed: the next change of the key
      // writes it.)
      sum.excluded.push_back(fmt::format("{}: no key record in {}: its input digests are not in the package", name,
                                         key_records.file().string()));
    }
    if (r.status == "cached") {
      // The log stored with the cached result (stage_runner.h), read through
      // the store, which checks it against its digest.
      Result<std::string> text = Error{"no cache directory to read it from"};
      if (store) text = read_cached_log(*store, r.cache_key, cfg.settings.cached_log_limit);
      if (text)
        add(stage_dir(name) + "/log.txt", std::move(*text));
      else
        sum.excluded.push_back(fmt::format("{}: the log of its cached result: {}", name, text.error()));
    } else if (fs::exists(dot / "logs" / (name + ".log"), ec)) {
      if (Status s = copy(dot / "logs" / (name + ".log"), stage_dir(name) + "/log.txt"); !s) return Error{s.error()};
    }
    // Reports the stage produced or read (coverage LCOV/Cobertura, trails),
    // when they are declared outputs or key inputs whose recorded digest the
    // file still has.
    for (const auto& a : r.artifacts) {
      const fs::path file = ws / a.path;
      std::string digest = a.sha256;
      if (digest.empty() && key_inputs.is_object() && key_inputs.contains(a.path) && key_inputs[a.path].is_string())
        digest = key_inputs[a.path].get<std::string>();
      if (digest.empty()) {
        sum.excluded.push_back(fmt::format("{}: artifact {} is neither a declared output nor an input of the stage; its "
                                           "content is vouched for by nothing",
                                           name, a.path));
        continue;
      }
      auto text = read_all(file);
      if (!text || to_hex(sha256(*text)) != digest) {
        sum.excluded.push_back(fmt::format("{}: artifact {} is missing or changed since the run", name, a.path));
        continue;
      }
      if (a.path.find("..") != std::string::npos || fs::path(a.path).is_absolute()) continue;
      add(stage_dir(name) + "/artifacts/" + a.path, std::move(*text));
    }
    nlohmann::json tests = nlohmann::json::array();
    for (const auto& t : r.tests) tests.push_back({{"name", t.name}, {"status", t.status}});
    results["stages"][name] = {{"status", r.status}, {"cache_key", r.cache_key}, {"component", r.component},
                               {"asil", r.asil},     {"finished_at", r.finished_at}, {"tests", tests}};
    sum.stages.push_back(name);
    included[name] = r;
  }
  add("last-results.json", results.dump(2) + "\n");
  // The same results as JUnit XML (junit_export.h), for tools that read it.
  {
    std::vector<StageRecord> records;
    for (const auto& [name, r] : included) {
      StageRecord rec;
      rec.name = name;
      rec.status = r.status;
      rec.component = r.component;
      for (const auto& t : r.tests) {
        TestCaseResult tc;
        const auto slash = t.name.find('/');
        tc.suite = slash == std::string::npos ? "" : t.name.substr(0, slash);
        tc.name = slash == std::string::npos ? t.name : t.name.substr(slash + 1);
        tc.status = t.status;
        rec.results.mut().tests.push_back(std::move(tc));
      }
      records.push_back(std::move(rec));
    }
    std::tm started{};
    const std::string at = run.value("started_at", "");
    ::strptime(at.c_str(), "%Y-%m-%dT%H:%M:%S", &started);
    add("junit.xml", JunitExport::render(records, ::timegm(&started)));
  }
  if (fs::exists(dot / "reports", ec))
    for (auto it = fs::recursive_directory_iterator(dot / "reports", ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string rel = fs::relative(it->path(), dot / "reports").string();
      if (Status s = copy(it->path(), "reports/" + rel); !s) return Error{s.error()};
    }
  if (fs::exists(ws / "requirements.toml", ec)) {
    auto reqs = load_requirements(ws / "requirements.toml", cfg);
    if (!reqs) return Error{reqs.error()};
    add("trace.json", trace_to_json(build_trace(cfg, *reqs, included)).dump(2) + "\n");
  }

  // summary.md, for the person who opens the package.
  sum.gate = run["gate"].is_string() ? run["gate"].get<std::string>() : "";
  std::string md = fmt::format("# Certification evidence: {}\n\n", cfg.project_name.empty() ? ws.filename().string() : cfg.project_name);
  md += fmt::format("- commit: {}{}\n- run: {} ({}, started {})\n- safety gate: {}\n", sum.commit.empty() ? "(not a git checkout)" : sum.commit,
                    sum.dirty ? " (with uncommitted changes to tracked files)" : "", run.value("run_id", ""),
                    run.value("status", ""), run.value("started_at", ""), sum.gate.empty() ? "no stage carries an ASIL level" : sum.gate);
  if (run.contains("gate_levels") && run["gate_levels"].is_object())
    for (const auto& [level, l] : run["gate_levels"].items())
      if (l.value("stages", 0) > 0)
        md += fmt::format("  - ASIL {}: {} ({} stages, {} without passing evidence)\n", level, l.value("verdict", ""),
                          l.value("stages", 0), l.value("failed_count", 0));
  md += "\n## Stages\n\n| stage | component | ASIL | status |\n|---|---|---|---|\n";
  for (const auto& [name, r] : included)
    md += fmt::format("| {} | {} | {} | {} |\n", name, r.component.empty() ? "-" : r.component, r.asil.empty() ? "-" : r.asil, r.status);
  if (!sum.excluded.empty()) {
    md += "\n## Left out\n\n";
    for (const auto& e : sum.excluded) md += "- " + e + "\n";
  }
  add("summary.md", md);

  // The manifest, then the statements over every file and the manifest.
  // The commit is in the manifest (itself a signed subject) so that a
  // certification deploy can check the package is for what it deploys.
  nlohmann::json manifest = {{"commit", sum.commit.empty() ? nlohmann::json() : nlohmann::json(sum.commit)},
                             {"files", nlohmann::json::array()}};
  std::vector<std::pair<std::string, std::string>> subjects;
  for (const auto& [path, content] : files) {
    const std::string digest = to_hex(sha256(content));
    manifest["files"].push_back({{"path", path}, {"sha256", digest}, {"size", content.size()}});
    subjects.emplace_back(path, digest);
  }
  const std::string manifest_text = manifest.dump(2) + "\n";
  subjects.emplace_back(kManifest, to_hex(sha256(manifest_text)));
  files[kManifest] = manifest_text;

  nlohmann::json deps = nlohmann::json::array();
  if (!sum.commit.empty()) deps.push_back({{"uri", "git+file://" + ws.string()}, {"digest", {{"gitCommit", sum.commit}}}});
  nlohmann::json provenance = statement(
      subjects, "https://slsa.dev/provenance/v1",
      {{"buildDefinition",
        {{"buildType", "https://github.com/wrt-ci/wrt/run/v1"},
         {"externalParameters", {{"pipeline", run.value("pipeline", "")}, {"config", "wrt.toml"}}},
         {"internalParameters", {{"wrt_version", WRT_VERSION}, {"dirty", sum.dirty}}},
         {"resolvedDependencies", deps}}},
       {"runDetails",
        {{"builder", {{"id", "https://github.com/wrt-ci/wrt@" WRT_VERSION}}},
         {"metadata",
          {{"invocationId", run.value("run_id", "")},
           {"startedOn", run.value("started_at", "")},
           {"finishedOn", run["finished_at"].is_string() ? run["finished_at"] : nlohmann::json("")}}}}}});
  nlohmann::json levels = nlohmann::json::array();
  if (run.contains("gate_levels") && run["gate_levels"].is_object())
    for (const auto& [level, l] : run["gate_levels"].items())
      if (l.value("stages", 0) > 0 && l.value("failed_count", 0) == 0) levels.push_back("WRT_ASIL_" + level + "_VERIFIED");
  nlohmann::json vsa = statement(
      subjects, "https://slsa.dev/verification_summary/v1",
      {{"verifier", {{"id", "https://github.com/wrt-ci/wrt@" WRT_VERSION}}},
       {"timeVerified", run["finished_at"].is_string() ? run["finished_at"] : nlohmann::json("")},
       {"resourceUri", sum.commit.empty() ? "file://" + ws.string() : "git+file://" + ws.string() + "@" + sum.commit},
       {"policy", {{"uri", "wrt.toml"}, {"digest", {{"sha256", to_hex(sha256(files["wrt.toml"]))}}}}},
       {"verificationResult", sum.gate.empty() || sum.gate == "pass" ? "PASSED" : "FAILED"},
       {"verifiedLevels", levels},
       {"slsaVersion", "1.0"}});
  for (const auto& [name, st] : {std::pair{kProvenance, provenance}, std::pair{kSummary, vsa}}) {
    auto env = dsse_sign(kStatementType, st.dump(), keys);
    if (!env) return Error{env.error()};
    files[name] = env->dump(2) + "\n";
  }
  sum.signatures = keys.size();
  for (const auto& [path, content] : files)
    if (Status s = write_file_atomically(out / path, content); !s) return Error{s.error()};
  sum.files = files.size();
  return sum;
}

EvidenceCheck verify_evidence(const fs::path& dir, const std::vector<Ed25519Key>& keys) {
  EvidenceCheck c;
  auto manifest_text = read_all(dir / kManifest);
  if (!manifest_text) {
    c.problems.push_back(fmt::format("{}: missing", (dir / kManifest).string()));
    return c;
  }
  auto manifest = nlohmann::json::parse(*manifest_text, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("files") || !manifest["files"].is_array()) {
    c.problems.push_back(fmt::format("{}: not a wrt evidence manifest", (dir / kManifest).string()));
    return c;
  }
  std::set<std::string> listed = {kManifest, kProvenance, kSummary};
  std::map<std::string, std::string> digests;  // what the manifest says
  for (const auto& f : manifest["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("sha256") || !f["sha256"].is_string()) {
      c.problems.push_back(fmt::format("{}: an entry without path and sha256", (dir / kManifest).string()));
      continue;
    }
    const std::string path = f["path"];
    if (!safe_relative(path)) {
      c.problems.push_back(fmt::format("{}: unsafe path '{}'", (dir / kManifest).string(), path));
      continue;
    }
    listed.insert(path);
    digests[path] = f["sha256"];
    auto content = read_all(dir / path);
    if (!content) {
      c.problems.push_back(fmt::format("{}: missing", (dir / path).string()));
      continue;
    }
    ++c.files_checked;
    if (to_hex(sha256(*content)) != f["sha256"].get<std::string>())
      c.problems.push_back(fmt::format("{}: altered (its SHA-256 differs from the manifest's)", (dir / path).string()));
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) continue;
    const std::string rel = fs::relative(it->path(), dir).string();
    if (!listed.count(rel)) c.problems.push_back(fmt::format("{}: not in the manifest", it->path().string()));
  }
  // Each statement must be signed by a given key and cover exactly this
  // manifest and its files.
  const std::string manifest_digest = to_hex(sha256(*manifest_text));
  std::map<std::string, int> signed_both;
  for (const char* name : {kProvenance, kSummary}) {
    const fs::path p = dir / name;
    auto text = read_all(p);
    if (!text) {
      c.problems.push_back(fmt::format("{}: missing", p.string()));
      continue;
    }
    auto env = nlohmann::json::parse(*text, nullptr, false);
    DsseCheck d = dsse_verify(env, keys);
    for (const auto& pr : d.problems) c.problems.push_back(fmt::format("{}: {}", p.string(), pr));
    if (d.verified.empty() && d.problems.empty())
      c.problems.push_back(fmt::format("{}: unsigned (no signature by the given key{})", p.string(), keys.size() == 1 ? "" : "s"));
    for (const auto& k : std::set<std::string>(d.verified.begin(), d.verified.end())) ++signed_both[k];
    if (d.payload.empty()) continue;
    auto st = nlohmann::json::parse(d.payload, nullptr, false);
    if (!st.is_object() || st.value("_type", "") != "https://in-toto.io/Statement/v1" || !st.contains("subject") ||
        !st["subject"].is_array()) {
      c.problems.push_back(fmt::format("{}: the payload is not an in-toto Statement v1", p.string()));
      continue;
    }
    std::map<std::string, std::string> subjects;
    for (const auto& s : st["subject"])
      if (s.is_object() && s.contains("name") && s["name"].is_string() && s.contains("digest") && s["digest"].is_object() &&
          s["digest"].contains("sha256") && s["digest"]["sha256"].is_string())
        subjects[s["name"].get<std::string>()] = s["digest"]["sha256"].get<std::string>();
    std::map<std::string, std::string> expected = digests;
    expected[kManifest] = manifest_digest;
    if (subjects != expected) c.problems.push_back(fmt::format("{}: its subjects are not this manifest and its files", p.string()));
  }
  for (const auto& [k, n] : signed_both)
    if (n == 2) c.signers.push_back(k);
  return c;
}

}  // namespace wrt
