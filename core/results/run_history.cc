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
                         {"run_id", o.run_id.empty() ? fmt::format("{}-{}", o.started_at_ms, ::getpid()) : o.run_id},
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
  // Sized once (a full run over 10,000 stages makes this line ~1 MB; issue 17).
  stages.reserve(o.records.size() * 112);
  for (const auto& s : o.records) {
    ++counts[s.status];
    if (s.status != "cached") {
      stages += stages.empty() ? "" : ",";
      // The key's first 16 hex digits: a pass and a failure under one key
      // (same inputs) is what makes a stage flaky.
      stages += nlohmann::json{{"name", s.name},
                               {"status", s.status},
                               {"duration_s", s.duration_s},
                               {"attempts", s.attempts},
                               {"key", s.cache_key.substr(0, 16)}}
                    .dump();
    }
    if (!s.results->metrics.empty()) {
      metrics += metrics.empty() ? "" : ",";
      metrics += nlohmann::json(s.name).dump() + ":" + nlohmann::json(s.results->metrics).dump();
    }
  }
  head["counts"] = counts;
  if (o.remote.used)
    head["remote"] = {{"hits", o.remote.hits},           {"misses", o.remote.misses},   {"uploads", o.remote.uploads},
                      {"bytes_down", o.remote.bytes_down}, {"bytes_up", o.remote.bytes_up}, {"transfer_s", o.remote.transfer_s},
                      {"disabled", o.remote.disabled}};
  // The gate per level, for the dashboard: counts and the first failed
  // stages (the full lists can be thousands of names).
  if (v.gate.is_object() && v.gate.contains("levels") && v.gate["levels"].is_object()) {
    nlohmann::json levels = nlohmann::json::object();
    for (const auto& [level, l] : v.gate["levels"].items()) {
      if (!l.is_object()) continue;
      // Counted where they are, not copied (thousands of names).
      // (A parameter, not a capture: clang 14 cannot capture a structured binding.)
      auto size_of = [](const nlohmann::json& level_json, const char* key) -> std::size_t {
        auto it = level_json.find(key);
        return it != level_json.end() && it->is_array() ? it->size() : 0;
      };
      nlohmann::json first_failed = nlohmann::json::array();
      if (auto f = l.find("failed"); f != l.end() && f->is_array())
        for (std::size_t i = 0; i < f->size() && i < kGateFailedKept; ++i) first_failed.push_back((*f)[i]);
      levels[level] = {{"on_failure", l.value("on_failure", "")},
                       {"verdict", l.value("verdict", "")},
                       {"stages", size_of(l, "stages")},
                       {"failed_count", size_of(l, "failed")},
                       {"failed", first_failed}};
    }
    head["gate_levels"] = levels;
  }
  std::string out = head.dump();
  out.pop_back();  // the closing brace
  out.reserve(out.size() + stages.size() + metrics.size() + 32);
  out.append(",\"stages\":[").append(stages).append("],\"metrics\":{").append(metrics).append("}}");
  return out;
}

Status RunHistory::append(const RunVerdict& v) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", dir_.string(), ec.message())};
  const fs::path f = file(dir_);
  std::string text = line(v);
  text += '\n';
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

namespace {

bool is_string_or_null(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_string() || it->is_null();
}
bool has(const nlohmann::json& j, const char* key, bool (nlohmann::json::*is)() const noexcept, bool required = false) {
  auto it = j.find(key);
  return it == j.end() ? !required : ((*it).*is)();
}
bool all_of(const nlohmann::json& container, bool (*ok)(const nlohmann::json&)) {
  for (const auto& e : container)
    if (!ok(e)) return false;
  return true;
}

}  // namespace

// Readers index records without checking each member's type (a string where
// a number belongs would throw from nlohmann's accessors), so a record is
// taken only when every member it has is of its documented type.
bool RunHistory::well_formed(const nlohmann::json& j) {
  using J = nlohmann::json;
  if (!j.is_object()) return false;
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<long long>() != 1) return false;
  for (const char* k : {"run_id", "finished_at", "commit", "branch", "pipeline", "gate"})
    if (!is_string_or_null(j, k)) return false;
  if (!has(j, "status", &J::is_string, true) || !has(j, "started_at", &J::is_string, true) ||
      !has(j, "duration_s", &J::is_number) || !has(j, "counts", &J::is_object, true) ||
      !has(j, "stages", &J::is_array, true) || !has(j, "metrics", &J::is_object) || !has(j, "gate_levels", &J::is_object))
    return false;
  if (!all_of(j["counts"], [](const J& n) { return n.is_number_unsigned(); })) return false;
  if (!all_of(j["stages"], [](const J& s) {
        return s.is_object() && has(s, "name", &J::is_string, true) && has(s, "status", &J::is_string, true) &&
               has(s, "duration_s", &J::is_number) && has(s, "attempts", &J::is_number_integer) && has(s, "key", &J::is_string);
      }))
    return false;
  if (j.contains("metrics") && !all_of(j["metrics"], [](const J& m) { return m.is_object() && all_of(m, [](const J& x) { return x.is_number(); }); }))
    return false;
  if (j.contains("gate_levels") && !all_of(j["gate_levels"], [](const J& l) {
        return l.is_object() && has(l, "on_failure", &J::is_string) && has(l, "verdict", &J::is_string) &&
               has(l, "stages", &J::is_number_unsigned) && has(l, "failed_count", &J::is_number_unsigned) &&
               has(l, "failed", &J::is_array) && all_of(l.value("failed", J::array()), [](const J& n) { return n.is_string(); });
      }))
    return false;
  return true;
}

std::vector<nlohmann::json> RunHistory::read(const fs::path& dir, std::size_t* skipped) {
  std::vector<nlohmann::json> out;
  std::size_t bad = 0;
  std::ifstream in(file(dir), std::ios::binary);
  for (std::string l; std::getline(in, l);) {
    if (l.empty()) continue;
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (j.is_discarded() || !well_formed(j)) {
      ++bad;
      continue;
    }
    out.push_back(std::move(j));
  }
  if (skipped) *skipped = bad;
  return out;
}

// Reads backwards from the end in blocks until the last line is whole: a
// notifier needs the previous run without reading megabytes of history.
nlohmann::json RunHistory::read_last(const fs::path& dir) {
  std::ifstream in(file(dir), std::ios::binary | std::ios::ate);
  if (!in) return nullptr;
  const std::streamoff size = in.tellg();
  std::string tail;
  constexpr std::streamoff kBlock = 64 << 10;
  std::streamoff pos = size;
  while (pos > 0) {
    const std::streamoff n = std::min(kBlock, pos);
    pos -= n;
    std::string block(static_cast<std::size_t>(n), '\0');
    in.seekg(pos);
    if (!in.read(block.data(), n)) return nullptr;
    tail.insert(0, block);
    // The last non-empty line is whole once a newline precedes it.
    std::size_t end = tail.find_last_not_of('\n');
    if (end == std::string::npos) continue;
    std::size_t nl = tail.rfind('\n', end);
    if (nl == std::string::npos && pos > 0) continue;
    const std::size_t from = nl == std::string::npos ? 0 : nl + 1;
    auto j = nlohmann::json::parse(tail.substr(from, end + 1 - from), nullptr, false);
    // A torn or damaged last line: the one before it is the last record.
    if (j.is_discarded() || !well_formed(j)) {
      tail.erase(from);
      if (tail.empty() && pos == 0) return nullptr;
      continue;
    }
    return j;
  }
  return nullptr;
}

}  // namespace wrt
