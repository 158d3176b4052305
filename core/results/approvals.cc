#include "core/results/approvals.h"

#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/util/atomic_file.h"
#include "core/util/dsse.h"
#include "core/util/hash.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

constexpr const char* kApprovalType = "application/vnd.wrt.approval.v1+json";

fs::path absolute_in(const fs::path& ws, const std::string& p) {
  return fs::path(p).is_absolute() ? fs::path(p) : ws / p;
}

std::string str(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

std::string approval_statement(const std::string& environment, const std::string& release, const std::string& commit) {
  return nlohmann::json{{"type", "wrt-approval/v1"}, {"environment", environment}, {"release", release}, {"commit", commit}}
      .dump();
}

Result<Approval> approve_deployment(const Config& config, const std::string& run_id, const fs::path& private_key) {
  if (run_id.empty() || run_id.find('/') != std::string::npos || run_id[0] == '.')
    return Error{fmt::format("'{}' is not a run id (wrt history lists them)", run_id)};
  auto key = Ed25519Key::load_private(private_key);
  if (!key) return Error{key.error()};

  std::vector<std::string> looked;
  for (const auto& sc : config.stages) {
    if (sc.plugin != "deploy" || !sc.with.contains("target") || !sc.with["target"].is_string()) continue;
    const fs::path target = absolute_in(config.workspace, sc.with["target"].get<std::string>()).lexically_normal();
    const fs::path request_file = target / "approvals" / "requests" / (run_id + ".json");
    looked.push_back(request_file.string());
    std::ifstream in(request_file, std::ios::binary);
    if (!in) continue;
    std::stringstream text;
    text << in.rdbuf();
    auto req = nlohmann::json::parse(text.str(), nullptr, false);
    if (req.is_discarded() || !req.is_object()) return Error{fmt::format("{}: not an approval request", request_file.string())};
    if (str(req, "stage") != sc.name) continue;

    Approval a;
    a.stage = sc.name;
    a.environment = str(req, "environment");
    a.release = str(req, "release");
    a.commit = str(req, "commit");
    if (req.contains("artifacts") && req["artifacts"].is_array()) a.artifacts = req["artifacts"].size();
    // What is signed must be what the request shows the approver.
    const std::string statement = approval_statement(a.environment, a.release, a.commit);
    if (str(req, "statement") != statement)
      return Error{fmt::format("{}: its statement does not match its environment, release and commit; not signed",
                               request_file.string())};

    // Which approver holds this key.
    if (!sc.with.contains("approvers") || !sc.with["approvers"].is_object())
      return Error{fmt::format("stage '{}' lists no approvers (with.approvers)", sc.name)};
    std::string names;
    for (const auto& [name, path] : sc.with["approvers"].items()) {
      names += (names.empty() ? "" : ", ") + name;
      if (!path.is_string()) continue;
      auto pub = Ed25519Key::load_public(absolute_in(config.workspace, path.get<std::string>()));
      if (pub && pub->keyid() == key->keyid()) a.approver = name;
    }
    if (a.approver.empty())
      return Error{fmt::format("{} is not the key of an approver of stage '{}' ({})", private_key.string(), sc.name, names)};
    if (a.approver == str(req, "requested_by"))
      return Error{fmt::format("{} asked for this deployment (run {}) and cannot approve it", a.approver, run_id)};

    auto envelope = dsse_sign(kApprovalType, statement, {*key});
    if (!envelope) return Error{envelope.error()};
    a.file = target / "approvals" / to_hex(sha256(statement)) / (a.approver + ".dsse.json");
    a.already = fs::exists(a.file);
    std::error_code ec;
    fs::create_directories(a.file.parent_path(), ec);
    if (Status st = write_file_atomically(a.file, envelope->dump(2) + "\n"); !st) return Error{st.error()};
    return a;
  }
  std::string where;
  for (const auto& l : looked) where += (where.empty() ? "" : ", ") + l;
  return Error{looked.empty() ? std::string("no deploy stage in wrt.toml names a target")
                              : fmt::format("no deployment of run {} waits for approval (looked for {})", run_id, where)};
}

}  // namespace wrt
