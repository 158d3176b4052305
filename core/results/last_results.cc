#include "core/results/last_results.h"

#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/util/atomic_file.h"
#include "core/util/hash.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

fs::path state_file(const fs::path& ws) { return ws / ".wrt" / "state" / "last-results.json"; }

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

LastResults load_last_results(const fs::path& ws, std::string* warning) {
  LastResults out;
  std::ifstream in(state_file(ws), std::ios::binary);
  if (!in) return out;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& [name, v] : j.at("stages").items()) {
      LastResult r;
      r.status = v.value("status", "");
      r.cache_key = v.value("cache_key", "");
      r.component = v.value("component", "");
      r.asil = v.value("asil", "");
      r.finished_at = v.value("finished_at", "");
      for (const auto& t : v.value("tests", nlohmann::json::array()))
        r.tests.push_back({t.value("name", ""), t.value("status", "")});
      for (const auto& a : v.value("artifacts", nlohmann::json::array()))
        r.artifacts.push_back({a.value("path", ""), a.value("kind", ""), a.value("sha256", "")});
      r.run_id = v.value("run_id", "");
      out[name] = std::move(r);
    }
  } catch (const std::exception& e) {
    if (warning) *warning = fmt::format("{}: ignored, unreadable: {}", state_file(ws).string(), e.what());
    out.clear();
  }
  return out;
}

namespace {

fs::path summary_file(const fs::path& ws) { return ws / ".wrt" / "state" / "last-results.sum"; }

// What a run contributes to the file, as a digest: a run that would write the
// same statuses, keys and tests as the previous one leaves the file alone
// (on a no-op run over thousands of stages, rewriting it is the costliest step).
std::string contribution_digest(const std::vector<StageRecord>& records) {
  Sha256 h;
  for (const auto& rec : records) {
    if (rec.status == "pending") continue;
    h.update_field(rec.name);
    h.update_field(rec.status);
    h.update_field(rec.cache_key);
    h.update_field(rec.component);
    h.update_field(rec.asil ? asil_name(*rec.asil) : "");
    h.update_field(std::to_string(rec.results.tests.size()));
    for (const auto& t : rec.results.tests) {
      h.update_field(t.suite);
      h.update_field(t.name);
      h.update_field(t.status);
    }
    h.update_field(std::to_string(rec.results.artifacts.size()));
    for (const auto& a : rec.results.artifacts) {
      h.update_field(a.path);
      h.update_field(a.kind);
    }
  }
  return to_hex(h.finish());
}

// The file as last written by us: digest of the contribution plus the file's
// size, mtime and inode, so an edited or replaced file is rewritten.
std::string written_identity(const fs::path& file, const std::string& digest) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) return {};
  return fmt::format("{} {} {}.{} {}\n", digest, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino);
}

// The summary file: the file's identity as written, then "run RUN_ID": the
// last run that wrote or confirmed it.
std::string read_summary(const fs::path& ws) {
  std::ifstream in(summary_file(ws), std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

LastRunIds last_run_ids(const fs::path& ws) {
  LastRunIds ids;
  std::ifstream in(state_file(ws), std::ios::binary);
  if (!in) return ids;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("run_id") || !j["run_id"].is_string()) return ids;
  ids.written_by = j["run_id"].get<std::string>();
  ids.last = ids.written_by;
  // Confirmed by a later run only while the file is the one the summary
  // describes (an edited file is not confirmed by anything).
  const std::string summary = read_summary(ws);
  const auto nl = summary.find('\n');
  if (nl != std::string::npos && summary.compare(nl + 1, 4, "run ") == 0) {
    const std::string identity = summary.substr(0, nl + 1);
    const std::string digest = identity.substr(0, identity.find(' '));
    if (written_identity(state_file(ws), digest) == identity) {
      std::string run = summary.substr(nl + 5);
      while (!run.empty() && (run.back() == '\n' || run.back() == '\r')) run.pop_back();
      if (!run.empty()) ids.last = run;
    }
  }
  return ids;
}

namespace {

std::string summary_text(const std::string& identity, const std::string& run_id) {
  return identity + "run " + run_id + "\n";
}

}  // namespace

Status save_last_results(const fs::path& ws, const std::vector<StageRecord>& records, const std::string& run_id) {
  const std::string digest = contribution_digest(records);
  const fs::path file = state_file(ws);
  {
    const std::string recorded = read_summary(ws);
    const std::string current = written_identity(file, digest);
    if (!current.empty() && recorded.compare(0, current.size(), current) == 0) {
      // The same results again: confirmed by this run, not rewritten.
      std::ofstream(summary_file(ws), std::ios::binary | std::ios::trunc) << summary_text(current, run_id);
      return Status::Ok();
    }
  }
  LastResults all = load_last_results(ws);
  const std::string now = utc_now();
  for (const auto& rec : records) {
    if (rec.status == "pending") continue;
    LastResult r;
    r.status = rec.status;
    r.cache_key = rec.cache_key;
    r.component = rec.component;
    r.asil = rec.asil ? asil_name(*rec.asil) : "";
    r.finished_at = now;
    r.run_id = run_id;
    for (const auto& t : rec.results.tests)
      r.tests.push_back({t.suite.empty() ? t.name : t.suite + "/" + t.name, t.status});
    for (const auto& a : rec.results.artifacts) {
      LastArtifact la{a.path, a.kind, ""};
      for (const auto& o : rec.outputs)
        if (o.path == a.path && o.kind == OutputKind::kFile) la.sha256 = to_hex(o.digest);
      r.artifacts.push_back(std::move(la));
    }
    all[rec.name] = std::move(r);
  }
  nlohmann::json j = {{"run_id", run_id}, {"stages", nlohmann::json::object()}};
  for (const auto& [name, r] : all) {
    nlohmann::json tests = nlohmann::json::array();
    for (const auto& t : r.tests) tests.push_back({{"name", t.name}, {"status", t.status}});
    nlohmann::json stage = {{"status", r.status},       {"cache_key", r.cache_key}, {"component", r.component},
                            {"asil", r.asil},           {"finished_at", r.finished_at}, {"tests", tests},
                            {"run_id", r.run_id}};
    if (!r.artifacts.empty()) {
      nlohmann::json arts = nlohmann::json::array();
      for (const auto& a : r.artifacts) arts.push_back({{"path", a.path}, {"kind", a.kind}, {"sha256", a.sha256}});
      stage["artifacts"] = std::move(arts);
    }
    j["stages"][name] = std::move(stage);
  }
  if (Status st = write_file_atomically(file, [&](std::ostream& out) { out << j.dump(1) << "\n"; }); !st) return st;
  // Best effort: without the summary the next run simply rewrites the file.
  std::ofstream(summary_file(ws), std::ios::binary | std::ios::trunc) << summary_text(written_identity(file, digest), run_id);
  return Status::Ok();
}

}  // namespace wrt
