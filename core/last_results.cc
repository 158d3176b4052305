#include "core/last_results.h"

#include <unistd.h>

#include <ctime>
#include <fstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

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

Status save_last_results(const fs::path& ws, const std::vector<StageRecord>& records) {
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
  fs::path file = state_file(ws);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  fs::path tmp = file;
  tmp += fmt::format(".tmp.{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump(1) << "\n";
    if (!out) return Error{fmt::format("{}: cannot write", tmp.string())};
  }
  fs::rename(tmp, file, ec);
  if (ec) return Error{fmt::format("{}: cannot write: {}", file.string(), ec.message())};
  return Status::Ok();
}

}  // namespace wrt
