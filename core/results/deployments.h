// `wrt deployments`: reads the deployment ledgers the deploy plugin keeps
// (`<target>/deployments.jsonl`; format in plugins/deploy/ledger.h) and
// checks their hash chain: each line names the SHA-256 of the line before.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wrt {

struct DeploymentLedger {
  std::filesystem::path file;
  std::vector<nlohmann::json> entries;  // in order, up to the first bad line
  std::string problem;                  // "FILE:LINE: why" when the chain is broken
};

DeploymentLedger read_deployment_ledger(const std::filesystem::path& file);

}  // namespace wrt
