#include "core/report.h"

#include <unistd.h>

#include <fstream>

#include <fmt/core.h>

namespace wrt {

nlohmann::json make_report(const RunOutcome& outcome, const std::string& pipeline, const std::string& status) {
  nlohmann::json j;
  j["wrt_version"] = WRT_VERSION;
  j["pipeline"] = pipeline;
  j["status"] = status;
  j["duration_s"] = outcome.duration_s;
  j["stages"] = nlohmann::json::array();
  for (const auto& r : outcome.records) {
    nlohmann::json s = results_to_json(r.results);
    s["name"] = r.name;
    s["plugin"] = r.plugin;
    s["status"] = r.status;
    s["attempts"] = r.attempts;
    s["duration_s"] = r.duration_s;
    s["cache_key"] = r.cache_key;
    s["reason"] = r.reason;
    s["log"] = r.log;
    nlohmann::json outs = nlohmann::json::array();
    for (const auto& f : r.outputs) outs.push_back(f.path);
    s["outputs"] = outs;
    if (r.output_digest) s["output_digest"] = to_hex(*r.output_digest);
    j["stages"].push_back(std::move(s));
  }
  return j;
}

Status write_report(const std::filesystem::path& file, const nlohmann::json& report) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  std::filesystem::path tmp = file;
  tmp += fmt::format(".tmp.{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error{fmt::format("{}: cannot write report", file.string())};
    out << report.dump(2) << "\n";
    if (!out) return Error{fmt::format("{}: cannot write report", file.string())};
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) return Error{fmt::format("{}: cannot write report: {}", file.string(), ec.message())};
  return Status::Ok();
}

}  // namespace wrt
