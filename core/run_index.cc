#include "core/run_index.h"

#include <fmt/core.h>

#include "core/state_file.h"

namespace wrt {

namespace {

// Payload: i64 logs mtime | u64 count | records, each:
//   str stage | str key hex | i64 touched_at | u8 has entry
//   [ str result (CBOR) | u64 outputs | (str path | digest | u64 size | u8 exec)...
//     | u8 has log | [digest] ]
constexpr char kMagic[9] = "WRTINDX\n";
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kMinRecordBytes = 4 + 4 + 8 + 1;
constexpr std::size_t kMinOutputBytes = 4 + 32 + 8 + 1;

bool safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = p.find('/', start);
    if (p.compare(start, end == std::string::npos ? std::string::npos : end - start, "..") == 0) return false;
    if (end == std::string::npos) return true;
    start = end + 1;
  }
}

bool flag(StateReader& r, bool& v) {
  std::uint8_t b = 0;
  if (!r.get(b) || b > 1) return false;
  v = b == 1;
  return true;
}

void put_entry(StateWriter& w, const CacheEntry& e) {
  std::vector<std::uint8_t> cbor = nlohmann::json::to_cbor(e.result);
  w.str(std::string_view(reinterpret_cast<const char*>(cbor.data()), cbor.size()));
  w.put(static_cast<std::uint64_t>(e.outputs.size()));
  for (const auto& f : e.outputs) {
    w.str(f.path);
    w.put(f.digest);
    w.put(f.size);
    w.put(static_cast<std::uint8_t>(f.executable ? 1 : 0));
  }
  w.put(static_cast<std::uint8_t>(e.log ? 1 : 0));
  if (e.log) w.put(*e.log);
}

// Skips over one encoded entry (validating its framing), for load().
bool skip_entry(StateReader& r) {
  std::string scratch;
  if (!r.str(scratch)) return false;
  std::uint64_t n = 0;
  if (!r.count(n, kMinOutputBytes)) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    Digest d;
    std::uint64_t size;
    std::uint8_t exec;
    if (!r.str(scratch) || !r.get(d) || !r.get(size) || !r.get(exec)) return false;
  }
  std::uint8_t has_log = 0;
  if (!r.get(has_log) || has_log > 1) return false;
  Digest d;
  return has_log == 0 || r.get(d);
}

bool get_entry(StateReader& r, CacheEntry& e) {
  std::string cbor;
  if (!r.str(cbor)) return false;
  e.result = nlohmann::json::from_cbor(cbor, /*strict=*/true, /*allow_exceptions=*/false);
  if (e.result.is_discarded() || !e.result.is_object()) return false;
  std::uint64_t n = 0;
  if (!r.count(n, kMinOutputBytes)) return false;
  e.outputs.resize(static_cast<std::size_t>(n));
  for (auto& f : e.outputs)
    if (!r.str(f.path) || !safe_relative(f.path) || !r.get(f.digest) || !r.get(f.size) || !flag(r, f.executable))
      return false;
  bool has_log = false;
  if (!flag(r, has_log)) return false;
  if (has_log) {
    Digest d{};
    if (!r.get(d)) return false;
    e.log = d;
  }
  return true;
}

}  // namespace

RunIndex::RunIndex(std::filesystem::path file) : file_(std::move(file)) {}

void RunIndex::load(std::string* warning) {
  bool missing = false;
  auto data = read_state_file(file_, &missing);
  std::string_view bytes = data ? data->view() : std::string_view();
  if (!data) {
    if (!missing && warning) *warning = fmt::format("{}: cannot read the run index ({}); rebuilding it", file_.string(), data.error());
    std::lock_guard<std::mutex> lock(mu_);
    dirty_ = !missing;
    return;
  }
  std::unordered_map<std::string, Record> loaded;
  std::int64_t logs_mtime = 0;
  std::string problem = [&]() -> std::string {
    auto payload = unseal_state(bytes, kMagic, kVersion);
    if (!payload) return payload.error();
    StateReader r(*payload);
    std::uint64_t count = 0;
    if (!r.get(logs_mtime) || !r.count(count, kMinRecordBytes)) return "truncated header";
    loaded.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      std::string stage;
      Record rec;
      bool has_entry = false;
      if (!r.str(stage) || !r.str(rec.key_hex) || !r.get(rec.touched_at) || !flag(r, has_entry))
        return fmt::format("record {} is truncated", i);
      if (has_entry) {
        const std::size_t at = payload->size() - r.left();
        if (!skip_entry(r)) return fmt::format("record {} ({}) has a malformed entry", i, stage);
        rec.entry.assign(payload->substr(at, payload->size() - r.left() - at));
      }
      loaded.insert_or_assign(std::move(stage), std::move(rec));
    }
    if (r.left() != 0) return fmt::format("{} trailing bytes", r.left());
    return {};
  }();
  std::lock_guard<std::mutex> lock(mu_);
  if (!problem.empty()) {
    if (warning) *warning = fmt::format("{}: corrupt run index ({}); discarded and rebuilding it", file_.string(), problem);
    records_.clear();
    dirty_ = true;
    return;
  }
  records_ = std::move(loaded);
  logs_mtime_ns_ = logs_mtime;
  dirty_ = false;
}

Status RunIndex::save() {
  StateWriter w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!dirty_) return Status::Ok();
    w.put(logs_mtime_ns_);
    w.put(static_cast<std::uint64_t>(records_.size()));
    for (const auto& [stage, rec] : records_) {
      w.str(stage);
      w.str(rec.key_hex);
      w.put(rec.touched_at);
      w.put(static_cast<std::uint8_t>(rec.entry.empty() ? 0 : 1));
      w.bytes() += rec.entry;
    }
    dirty_ = false;
  }
  Status st = write_state_file(file_, seal_state(kMagic, kVersion, w.bytes()));
  if (!st) {
    std::lock_guard<std::mutex> lock(mu_);
    dirty_ = true;
    return Error{fmt::format("cannot write the run index: {}", st.error())};
  }
  return Status::Ok();
}

std::string RunIndex::last_key(const std::string& stage) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(stage);
  return it == records_.end() ? std::string() : it->second.key_hex;
}

void RunIndex::set_last_key(const std::string& stage, const std::string& key_hex) {
  std::lock_guard<std::mutex> lock(mu_);
  Record& rec = records_[stage];
  if (rec.key_hex == key_hex) return;
  rec.key_hex = key_hex;
  rec.entry.clear();
  rec.touched_at = 0;
  dirty_ = true;
}

std::optional<CacheEntry> RunIndex::entry(const std::string& stage, const std::string& key_hex) const {
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(stage);
    if (it == records_.end() || it->second.key_hex != key_hex || it->second.entry.empty()) return std::nullopt;
    bytes = it->second.entry;
  }
  StateReader r(bytes);
  CacheEntry e;
  if (!get_entry(r, e) || r.left() != 0) return std::nullopt;
  return e;
}

void RunIndex::set_entry(const std::string& stage, const std::string& key_hex, const CacheEntry& entry) {
  std::lock_guard<std::mutex> lock(mu_);
  StateWriter w;
  put_entry(w, entry);
  Record& rec = records_[stage];
  rec.key_hex = key_hex;
  rec.entry = std::move(w.bytes());
  dirty_ = true;
}

void RunIndex::drop_entry(const std::string& stage) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(stage);
  if (it == records_.end() || it->second.entry.empty()) return;
  it->second.entry.clear();
  dirty_ = true;
}

std::int64_t RunIndex::touched_at(const std::string& stage) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(stage);
  return it == records_.end() ? 0 : it->second.touched_at;
}

void RunIndex::set_touched_at(const std::string& stage, std::int64_t when) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(stage);
  if (it == records_.end() || it->second.touched_at == when) return;
  it->second.touched_at = when;
  dirty_ = true;
}

std::int64_t RunIndex::logs_mtime_ns() const {
  std::lock_guard<std::mutex> lock(mu_);
  return logs_mtime_ns_;
}

void RunIndex::set_logs_mtime_ns(std::int64_t ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (logs_mtime_ns_ == ns) return;
  logs_mtime_ns_ = ns;
  dirty_ = true;
}

}  // namespace wrt
