#include "plugins/deploy/ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "plugins/common/digest.h"

namespace wrt::deploy {

namespace {

const std::string kZero(64, '0');

}  // namespace

std::string release_digest(std::vector<Artifact> artifacts) {
  std::sort(artifacts.begin(), artifacts.end(), [](const Artifact& a, const Artifact& b) { return a.name < b.name; });
  std::string text;
  for (const auto& a : artifacts) text += a.name + " " + a.sha256 + "\n";
  return "sha256:" + sha256_hex(text);
}

Ledger read_ledger(const std::string& path) {
  Ledger l;
  l.last_hash = kZero;
  std::ifstream in(path, std::ios::binary);
  if (!in) return l;
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("prev") || !j["prev"].is_string() || !j.contains("environment") ||
        !j["environment"].is_string() || !j.contains("release") || !j["release"].is_string() || !j.contains("artifacts") ||
        !j["artifacts"].is_array()) {
      l.error = "line " + std::to_string(n) + ": not a ledger entry";
      return l;
    }
    if (j["prev"].get<std::string>() != l.last_hash) {
      l.error = "line " + std::to_string(n) + ": the chain is broken (an earlier line was changed, removed or reordered)";
      return l;
    }
    l.last_hash = sha256_hex(line);
    l.entries.push_back(std::move(j));
  }
  return l;
}

const nlohmann::json* latest_for(const Ledger& ledger, const std::string& environment) {
  for (auto it = ledger.entries.rbegin(); it != ledger.entries.rend(); ++it)
    if ((*it)["environment"] == environment) return &*it;
  return nullptr;
}

bool append_entry(const std::string& path, Ledger& ledger, nlohmann::json entry) {
  entry["v"] = 1;
  entry["seq"] = ledger.entries.size() + 1;
  entry["prev"] = ledger.last_hash;
  const std::string line = entry.dump();
  const std::string text = line + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return false;
  ledger.last_hash = sha256_hex(line);
  ledger.entries.push_back(std::move(entry));
  return true;
}

}  // namespace wrt::deploy
