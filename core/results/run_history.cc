#include "core/results/run_history.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include <fmt/core.h>

#include "core/results/report.h"
#include "core/util/atomic_file.h"

namespace wrt {

namespace fs = std::filesystem;

// Built as text, one stage at a time: a 10,000-stage run's record is ~1 MB,
// and a JSON document of it would cost the run ~10 MB of peak memory.
std::string RunHistory::line(const RunVerdict& v) {
  const RunOutcome& o = v.outcome;
  nlohmann::json head = {{"v", 1},
                         {"run_id", fmt::format("{}-{}", o.started_at_ms, ::getpid())},
                         {"started_at", iso8601_ms(o.started_at_ms)},
                         {"finished_at", iso8601_ms(o.finished_at_ms)},
                         {"duration_s", o.duration_s},
                         {"commit", o.commit.empty() ? nlohmann::json() : nlohmann::json(o.commit)},
                         {"branch", o.branch.empty() ? nlohmann::json() : nlohmann::json(o.branch)},
                         {"pipeline", v.pipeline},
                         {"status", v.status},
                         {"gate", v.gate.is_object() && v.gate.contains("verdict") ? v.gate["verdict"] : nlohmann::json()}};
  std::map<std::string, int> counts;
  std::string stages, metrics;
  for (const auto& s : o.records) {
    ++counts[s.status];
    if (s.status != "cached") {
      stages += stages.empty() ? "" : ",";
      stages += nlohmann::json{{"name", s.name}, {"status", s.status}, {"duration_s", s.duration_s}, {"attempts", s.attempts}}
                    .dump();
    }
    if (!s.results.metrics.empty()) {
      metrics += metrics.empty() ? "" : ",";
      metrics += nlohmann::json(s.name).dump() + ":" + nlohmann::json(s.results.metrics).dump();
    }
  }
  head["counts"] = counts;
  std::string out = head.dump();
  out.pop_back();  // the closing brace
  out += ",\"stages\":[" + stages + "],\"metrics\":{" + metrics + "}}";
  return out;
}

Status RunHistory::append(const RunVerdict& v) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", dir_.string(), ec.message())};
  const fs::path f = file(dir_);
  const std::string text = line(v) + "\n";
  // Over the bound: keep the newer half, then append.
  if (auto size = fs::file_size(f, ec); !ec && size + text.size() > max_bytes_) {
    std::vector<std::string> lines;
    std::ifstream in(f, std::ios::binary);
    for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
    std::string kept;
    for (std::size_t i = lines.size() / 2; i < lines.size(); ++i) kept += lines[i] + "\n";
    while (!kept.empty() && kept.size() + text.size() > max_bytes_) kept.erase(0, kept.find('\n') + 1);
    if (Status s = write_file_atomically(f, kept + text); !s) return s;
    return Status::Ok();
  }
  int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Error{fmt::format("cannot write {}: {}", f.string(), std::strerror(errno))};
  // One write of the whole line: O_APPEND places it atomically at the end.
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    return Error{fmt::format("cannot write {}: {}", f.string(), n < 0 ? std::strerror(err) : "short write")};
  return Status::Ok();
}

std::vector<nlohmann::json> RunHistory::read(const fs::path& dir, std::size_t* skipped) {
  std::vector<nlohmann::json> out;
  std::size_t bad = 0;
  std::ifstream in(file(dir), std::ios::binary);
  for (std::string l; std::getline(in, l);) {
    if (l.empty()) continue;
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("v", 0) != 1) {
      ++bad;
      continue;
    }
    out.push_back(std::move(j));
  }
  if (skipped) *skipped = bad;
  return out;
}

}  // namespace wrt
