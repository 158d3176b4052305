#include "core/results/deployments.h"

#include <fstream>

#include <fmt/core.h>

#include "core/util/hash.h"

namespace wrt {

DeploymentLedger read_deployment_ledger(const std::filesystem::path& file) {
  DeploymentLedger l;
  l.file = file;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    l.problem = fmt::format("{}: no ledger (nothing deployed there yet)", file.string());
    return l;
  }
  std::string prev(64, '0');
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("prev") || !j["prev"].is_string() || !j.contains("environment") ||
        !j["environment"].is_string() || !j.contains("release") || !j["release"].is_string()) {
      l.problem = fmt::format("{}:{}: not a ledger entry", file.string(), n);
      return l;
    }
    if (j["prev"].get<std::string>() != prev) {
      l.problem = fmt::format("{}:{}: the chain is broken (an earlier line was changed, removed or reordered)", file.string(), n);
      return l;
    }
    prev = to_hex(sha256(line));
    l.entries.push_back(std::move(j));
  }
  return l;
}

}  // namespace wrt
