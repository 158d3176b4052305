#include "core/cache/run_index.h"

#include <stdexcept>

#include <fmt/core.h>

#include "core/util/atomic_file.h"
#include "core/cache/output_tree.h"

namespace wrt {

namespace {

// Payload: i64 logs mtime | str store mark | u64 count | records, each:
//   str stage | u8 has key | [digest key] | i64 touched_at | u8 has entry | [entry]
// entry:
//   u8 has results | [str results (CBOR)] | u64 outputs
//     | (str path | digest | u64 size | u8 flags | u8 kind | str target)...
//     | u8 has log | [digest | str log encoding | u8 log truncated | u8 log inlined]
// flags: 1 executable, 2 inlined (the content is in the store's entry, not
// a blob: CachedFile::inlined).
// "has results" is 0 when the stage reported nothing (no metrics, findings,
// tests, artifacts or message), the common case, which then needs no JSON.
constexpr char kMagic[9] = "WRTINDX\n";
// 3 (no store mark) and 4 (no inlined flags) are read as no index: their
// keys are of older key schemas.
constexpr std::uint32_t kVersion = 5;
constexpr std::size_t kMinRecordBytes = 4 + 1 + 8 + 1;
constexpr std::size_t kMinOutputBytes = 4 + 32 + 8 + 1 + 1 + 4;

bool flag(StateReader& r, bool& v) {
  std::uint8_t b = 0;
  if (!r.get(b) || b > 1) return false;
  v = b == 1;
  return true;
}

bool is_empty(const StageResults& r) {
  return r.metrics.empty() && r.findings.empty() && r.tests.empty() && r.artifacts.empty() && r.message.empty();
}

void put_entry(StateWriter& w, const CacheEntry& e) {
  const nlohmann::json empty = nlohmann::json::object();
  auto it = e.result.is_object() ? e.result.find("results") : e.result.end();
  const nlohmann::json& results = it != e.result.end() ? *it : empty;
  if (is_empty(results_from_json(results))) {
    w.put(static_cast<std::uint8_t>(0));
  } else {
    w.put(static_cast<std::uint8_t>(1));
    std::vector<std::uint8_t> cbor = nlohmann::json::to_cbor(results);
    w.str(std::string_view(reinterpret_cast<const char*>(cbor.data()), cbor.size()));
  }
  w.put(static_cast<std::uint64_t>(e.outputs.size()));
  for (const auto& f : e.outputs) {
    w.str(f.path);
    w.put(f.digest);
    w.put(f.size);
    w.put(static_cast<std::uint8_t>((f.executable ? 1 : 0) | (f.inlined ? 2 : 0)));
    w.put(static_cast<std::uint8_t>(f.kind));
    w.str(f.target);
  }
  w.put(static_cast<std::uint8_t>(e.log ? 1 : 0));
  if (e.log) {
    w.put(*e.log);
    w.str(e.log_encoding);
    w.put(static_cast<std::uint8_t>(e.log_truncated ? 1 : 0));
    w.put(static_cast<std::uint8_t>(e.log_inlined ? 1 : 0));
  }
}

// Reads one entry; with `out` null it only checks the framing (for load()).
bool get_entry(StateReader& r, IndexedEntry* out) {
  bool has_results = false;
  if (!flag(r, has_results)) return false;
  if (has_results) {
    std::string_view cbor;
    if (!r.view(cbor)) return false;
    if (out) {
      auto j = nlohmann::json::from_cbor(cbor.begin(), cbor.end(), /*strict=*/true, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) return false;
      out->results = results_from_json(j);
    }
  }
  std::uint64_t n = 0;
  if (!r.count(n, kMinOutputBytes)) return false;
  if (out) out->outputs.resize(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string_view path;
    Digest digest;
    std::uint64_t size = 0;
    std::uint8_t flags = 0;
    std::uint8_t kind = 0;
    std::string_view target;
    if (!r.view(path) || !is_clean_relative_path(path) || !r.get(digest) || !r.get(size) || !r.get(flags) || flags > 3 ||
        !r.get(kind) || kind > static_cast<std::uint8_t>(OutputKind::kDir) || !r.view(target))
      return false;
    if (out) {
      CachedFile& f = out->outputs[static_cast<std::size_t>(i)];
      f = CachedFile{std::string(path), digest, size, (flags & 1) != 0, static_cast<OutputKind>(kind), std::string(target)};
      f.inlined = (flags & 2) != 0;
    }
  }
  bool has_log = false;
  if (!flag(r, has_log)) return false;
  if (has_log) {
    Digest d{};
    std::string_view enc;
    bool truncated = false;
    bool inlined = false;
    if (!r.get(d) || !r.view(enc) || !flag(r, truncated) || !flag(r, inlined)) return false;
    if (out) {
      out->log = d;
      out->log_encoding = std::string(enc);
      out->log_truncated = truncated;
      out->log_inlined = inlined;
    }
  }
  return true;
}

}  // namespace

RunIndex::RunIndex(std::filesystem::path file) : file_(std::move(file)) {}

void RunIndex::reserve(std::size_t n, std::size_t name_bytes) {
  auto all = records_.all();
  if (all.size() * 2 < n) all.reserve(n, name_bytes);
}

void RunIndex::load(std::string* warning) {
  bool missing = false;
  auto data = read_state_file(file_, &missing);
  if (!data) {
    if (!missing && warning) *warning = fmt::format("{}: cannot read the run index ({}); rebuilding it", file_.string(), data.error());
    dirty_ = !missing;
    return;
  }
  auto all = records_.all();
  all.clear();
  // Once the mtime of .wrt/logs (an indexed hit needed its log file); cached
  // stages' logs are read from the store since, so the slot is unused.
  std::int64_t reserved = 0;
  std::string store_mark;
  auto payload = unseal_state(data->view(), kMagic, kVersion);
  if (!payload && (unseal_state(data->view(), kMagic, 3) || unseal_state(data->view(), kMagic, 4))) {
    // Written by an older wrt, for keys of an older key schema
    // (cache_key.cc) that no run looks up any more: nothing to warn about.
    all.clear();
    dirty_ = true;
    return;
  }
  std::string problem = [&]() -> std::string {
    if (!payload) return payload.error();
    StateReader r(*payload);
    std::uint64_t count = 0;
    if (!r.get(reserved) || !r.str(store_mark) || !r.count(count, kMinRecordBytes))
      return "truncated header";
    all.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      std::string_view stage;
      Record rec;
      bool has_key = false, has_entry = false;
      if (!r.view(stage) || !flag(r, has_key)) return fmt::format("record {} is truncated", i);
      if (has_key) {
        Digest key;
        if (!r.get(key)) return fmt::format("record {} is truncated", i);
        rec.key = key;
      }
      if (!r.get(rec.touched_at) || !flag(r, has_entry)) return fmt::format("record {} is truncated", i);
      if (has_entry) {
        const std::size_t at = payload->size() - r.left();
        if (!get_entry(r, nullptr)) return fmt::format("record {} ({}) has a malformed entry", i, stage);
        rec.mapped = payload->substr(at, payload->size() - r.left() - at);
      }
      all.put(stage, std::move(rec));
    }
    if (r.left() != 0) return fmt::format("{} trailing bytes", r.left());
    return {};
  }();
  if (!problem.empty()) {
    if (warning) *warning = fmt::format("{}: corrupt run index ({}); discarded and rebuilding it", file_.string(), problem);
    all.clear();
    dirty_ = true;
    return;
  }
  // The records' views point into the payload, which lives in *data's
  // buffer: moving the FileBytes keeps that buffer where it is.
  data_ = std::move(*data);
  store_mark_ = std::move(store_mark);
  dirty_ = false;
}

Status RunIndex::save() {
  // Written straight to the file, stage by stage (see FileDigester::save).
  auto all = records_.all();
  if (!dirty_) return Status::Ok();
  std::uint64_t payload = 8 + 4 + store_mark_.size() + 8;
  all.for_each([&](std::string_view stage, const Record& rec) {
    payload += 4 + stage.size() + 1 + (rec.key ? 32 : 0) + sizeof rec.touched_at + 1 + rec.entry().size();
  });
  Status st = write_file_atomically(file_, [&](std::ostream& out) {
    SealedStreamWriter w(out, kMagic, kVersion, payload);
    w.put(std::int64_t{0});  // reserved (see load)
    w.str(store_mark_);
    w.put(static_cast<std::uint64_t>(all.size()));
    all.for_each([&](std::string_view stage, const Record& rec) {
      w.str(stage);
      w.put(static_cast<std::uint8_t>(rec.key ? 1 : 0));
      if (rec.key) w.put(*rec.key);
      w.put(rec.touched_at);
      const std::string_view entry = rec.entry();
      w.put(static_cast<std::uint8_t>(entry.empty() ? 0 : 1));
      w.bytes(entry);
    });
    if (!w.finish()) throw std::runtime_error("the records changed size while written");
  });
  if (!st) return Error{fmt::format("cannot write the run index: {}", st.error())};
  dirty_ = false;
  return Status::Ok();
}

std::optional<Digest> RunIndex::last_key(const std::string& stage) const {
  auto shard = records_.shard(stage);
  auto* found = shard->find(stage);
  return !found ? std::nullopt : found->key;
}

bool RunIndex::is_last_key(const std::string& stage, const Digest& key) const {
  auto shard = records_.shard(stage);
  auto* found = shard->find(stage);
  return found && found->key == key;
}

void RunIndex::set_last_key(const std::string& stage, const Digest& key) {
  auto shard = records_.shard(stage);
  Record& rec = (*shard)[stage];
  if (rec.key == key) return;
  rec.key = key;
  rec.clear_entry();
  rec.touched_at = 0;
  dirty_ = true;
}

std::optional<IndexedEntry> RunIndex::entry(const std::string& stage, const Digest& key) const {
  // Decoded outside the lock. A view into the loaded file stays valid for
  // the index's life; bytes set in this run are copied, since a later
  // set_entry() of the stage frees them.
  std::string_view bytes;
  std::string copy;
  {
    auto shard = records_.shard(stage);
    auto* found = shard->find(stage);
    if (!found || found->key != key || found->entry().empty()) return std::nullopt;
    if (found->is_owned) {
      copy = found->owned;
      bytes = copy;
    } else {
      bytes = found->mapped;
    }
  }
  StateReader r(bytes);
  IndexedEntry e;
  if (!get_entry(r, &e) || r.left() != 0) return std::nullopt;
  return e;
}

void RunIndex::set_entry(const std::string& stage, const Digest& key, const CacheEntry& entry) {
  StateWriter w;
  put_entry(w, entry);
  auto shard = records_.shard(stage);
  Record& rec = (*shard)[stage];
  rec.key = key;
  rec.owned = std::move(w.bytes());
  rec.owned.shrink_to_fit();  // kept for the run: its capacity was grown by doubling
  rec.is_owned = true;
  rec.mapped = {};
  dirty_ = true;
}

void RunIndex::drop_entry(const std::string& stage) {
  auto shard = records_.shard(stage);
  auto* found = shard->find(stage);
  if (!found || found->entry().empty()) return;
  found->clear_entry();
  dirty_ = true;
}

std::int64_t RunIndex::touched_at(const std::string& stage) const {
  auto shard = records_.shard(stage);
  auto* found = shard->find(stage);
  return !found ? 0 : found->touched_at;
}

void RunIndex::set_touched_at(const std::string& stage, std::int64_t when) {
  auto shard = records_.shard(stage);
  auto* found = shard->find(stage);
  if (!found || found->touched_at == when) return;
  found->touched_at = when;
  dirty_ = true;
}

}  // namespace wrt

namespace wrt {

void RunIndex::adopt_store_mark(const std::string& mark) {
  auto all = records_.all();
  if (store_mark_ == mark) return;
  all.for_each([](std::string_view, Record& rec) { rec.touched_at = 0; });
  store_mark_ = mark;
  dirty_ = true;
}

}  // namespace wrt
