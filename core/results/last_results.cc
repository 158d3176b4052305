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

}  // namespace

Status save_last_results(const fs::path& ws, const std::vector<StageRecord>& records) {
  const std::string digest = contribution_digest(records);
  const fs::path file = state_file(ws);
  {
    std::ifstream in(summary_file(ws), std::ios::binary);
    std::string recorded((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string current = written_identity(file, digest);
    if (!current.empty() && recorded == current) return Status::Ok();
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
    for (const auto& t : rec.results.tests)
      r.tests.push_back({t.suite.empty() ? t.name : t.suite + "/" + t.name, t.status});
    all[rec.name] = std::move(r);
  }
  nlohmann::json j = {{"stages", nlohmann::json::object()}};
  for (const auto& [name, r] : all) {
    nlohmann::json tests = nlohmann::json::array();
    for (const auto& t : r.tests) tests.push_back({{"name", t.name}, {"status", t.status}});
    j["stages"][name] = {{"status", r.status},       {"cache_key", r.cache_key}, {"component", r.component},
                         {"asil", r.asil},           {"finished_at", r.finished_at}, {"tests", tests}};
  }
  if (Status st = write_file_atomically(file, [&](std::ostream& out) { out << j.dump(1) << "\n"; }); !st) return st;
  // Best effort: without the summary the next run simply rewrites the file.
  std::ofstream(summary_file(ws), std::ios::binary | std::ios::trunc) << written_identity(file, digest);
  return Status::Ok();
}

}  // namespace wrt
