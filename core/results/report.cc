#include "core/results/report.h"

#include <algorithm>
#include <ctime>

#include <fmt/core.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include "core/util/atomic_file.h"

namespace wrt {

nlohmann::json stage_report(const StageRecord& r) {
  nlohmann::json s = results_to_json(r.results);
  s["name"] = r.name;
  s["plugin"] = r.plugin;
  s["status"] = r.status;
  s["attempts"] = r.attempts;
  s["duration_s"] = r.duration_s;
  s["cache_key"] = r.cache_key;
  s["reason"] = r.reason;
  s["asil"] = r.asil ? nlohmann::json(asil_name(*r.asil)) : nlohmann::json();
  s["component"] = r.component;
  const StageRecordExtras& x = r.extras();
  if (x.nondeterministic) s["nondeterministic"] = true;
  if (!x.not_stored.empty()) s["not_stored"] = x.not_stored;
  if (x.conditional) s["conditional"] = true;
  if (!x.rebuilt_state.empty()) s["rebuilt_state"] = x.rebuilt_state;
  if (x.remote_hit) s["remote_hit"] = true;
  s["log"] = r.log;
  nlohmann::json outs = nlohmann::json::array();
  for (const auto& f : r.outputs) outs.push_back(f.path);
  s["outputs"] = outs;
  if (r.output_digest) s["output_digest"] = to_hex(*r.output_digest);
  return s;
}

StageRecord stage_from_report(const nlohmann::json& s) {
  StageRecord r;
  auto str = [&](const char* k) { return s.contains(k) && s[k].is_string() ? s[k].get<std::string>() : std::string(); };
  r.name = str("name");
  r.plugin = str("plugin");
  r.status = str("status");
  r.cache_key = str("cache_key");
  r.reason = str("reason");
  r.component = str("component");
  r.log = str("log");
  if (auto a = parse_asil(str("asil")); a && !str("asil").empty()) r.asil = a;
  if (s.contains("attempts") && s["attempts"].is_number_integer()) r.attempts = s["attempts"].get<int>();
  if (s.contains("duration_s") && s["duration_s"].is_number()) r.duration_s = s["duration_s"].get<double>();
  if (s.contains("remote_hit") && s["remote_hit"].is_boolean()) r.extras_mut().remote_hit = s["remote_hit"].get<bool>();
  r.results = results_from_json(s);
  if (s.contains("outputs") && s["outputs"].is_array())
    for (const auto& o : s["outputs"])
      if (o.is_string()) r.outputs.push_back(CachedFile(o.get<std::string>(), Digest{}, 0, false));
  return r;
}

namespace {

// `text` (a dump(2)) with every line after the first indented by `pad` more
// spaces: a value nested inside the report.
std::string indented(const std::string& text, std::size_t pad) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      out.append(text, start, std::string::npos);
      return out;
    }
    out.append(text, start, nl + 1 - start);
    out.append(pad, ' ');
    start = nl + 1;
  }
}

// `value` dumped with 2-space indentation, nested `depth` levels deep.
void write_indented(std::ostream& out, const nlohmann::json& value, int depth) {
  out << indented(value.dump(2), static_cast<std::size_t>(2 * depth));
}

}  // namespace

std::string iso8601_ms(std::int64_t ms) {
  if (ms <= 0) return {};
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms % 1000);
}

void stream_report(std::ostream& out, const RunOutcome& outcome, const std::string& pipeline,
                   const std::string& status, const nlohmann::json* gate) {
  nlohmann::json head = nlohmann::json::object();
  head["wrt_version"] = WRT_VERSION;
  head["pipeline"] = pipeline;
  head["status"] = status;
  head["duration_s"] = outcome.duration_s;
  if (!outcome.run_id.empty()) head["run_id"] = outcome.run_id;
  if (outcome.shard.count > 0)
    head["shard"] = {{"index", outcome.shard.index},
                     {"count", outcome.shard.count},
                     {"assigned", outcome.shard.assigned},
                     {"partition", outcome.shard.partition}};
  if (!outcome.merged_from.empty()) head["merged_from"] = outcome.merged_from;
  if (outcome.remote.used)
    head["remote_cache"] = {{"hits", outcome.remote.hits},         {"misses", outcome.remote.misses},
                            {"uploads", outcome.remote.uploads},   {"bytes_down", outcome.remote.bytes_down},
                            {"bytes_up", outcome.remote.bytes_up}, {"transfer_s", outcome.remote.transfer_s},
                            {"disabled", outcome.remote.disabled}, {"bundled_hits", outcome.remote.bundled}};
  head["started_at"] = iso8601_ms(outcome.started_at_ms);
  head["finished_at"] = iso8601_ms(outcome.finished_at_ms);
  head["commit"] = outcome.commit.empty() ? nlohmann::json() : nlohmann::json(outcome.commit);
  head["branch"] = outcome.branch.empty() ? nlohmann::json() : nlohmann::json(outcome.branch);
  if (gate) head["gate"] = *gate;
  out << "{\n";
  for (const auto& [key, value] : head.items()) {
    out << "  " << nlohmann::json(key).dump() << ": ";
    write_indented(out, value, 1);
    out << ",\n";
  }
  out << "  \"stages\": [";
  // The stages' texts are made on every core, a batch at a time (a batch's
  // texts, not the whole report, are held at once), and written in order:
  // one stage's JSON took ~8 us, a quarter of a 10,000-stage restore's CPU.
  constexpr std::size_t kBatch = 1024;
  const auto& records = outcome.records;
  std::vector<std::string> texts;
  for (std::size_t from = 0; from < records.size(); from += kBatch) {
    const std::size_t to = std::min(records.size(), from + kBatch);
    texts.assign(to - from, std::string());
    tbb::parallel_for(tbb::blocked_range<std::size_t>(from, to, 32), [&](const tbb::blocked_range<std::size_t>& range) {
      for (std::size_t i = range.begin(); i != range.end(); ++i) texts[i - from] = indented(stage_report(records[i]).dump(2), 4);
    });
    for (std::size_t i = from; i < to; ++i) {
      out << (i == 0 ? "\n    " : ",\n    ");
      out << texts[i - from];
    }
  }
  out << (records.empty() ? "]\n}\n" : "\n  ]\n}\n");
}

Status write_report(const std::filesystem::path& file, const RunOutcome& outcome, const std::string& pipeline,
                    const std::string& status, const nlohmann::json* gate) {
  return write_file_atomically(
      file, [&](std::ostream& out) { stream_report(out, outcome, pipeline, status, gate); });
}

}  // namespace wrt
