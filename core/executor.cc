#include "core/executor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <ctime>
#include <unordered_map>

#include <fmt/core.h>
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/task_arena.h>

#include "core/atomic_file.h"

namespace wrt {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

WorkspaceDirs::WorkspaceDirs(const fs::path& workspace)
    : root(workspace / ".wrt"), logs(root / "logs"), keys(root / "keys"), state(root / "state") {}

namespace {

bool is_failure(const std::string& status) {
  return status == "failed" || status == "timeout" || status == "interrupted";
}

std::string log_tail(const fs::path& path, std::size_t lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) {
    all.push_back(line);
    if (all.size() > lines) all.erase(all.begin());
  }
  std::string out;
  for (const auto& l : all) out += "    " + l + "\n";
  return out;
}

std::optional<nlohmann::json> read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Files under each declared output (a file, or a directory walked
// recursively), sorted. Error names the first output that does not exist.
Result<std::vector<std::string>> list_outputs(const fs::path& ws, const std::vector<std::string>& outputs) {
  std::vector<std::string> files;
  for (const auto& out : outputs) {
    std::error_code ec;
    fs::path p = ws / out;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) return Error{fmt::format("declared output '{}' was not produced", out)};
    if (fs::is_regular_file(st)) {
      files.push_back(out);
    } else if (fs::is_directory(st)) {
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_regular_file(ec)) files.push_back(fs::relative(it->path(), ws, ec).generic_string());
      }
      if (ec) return Error{fmt::format("declared output '{}': {}", out, ec.message())};
    } else {
      return Error{fmt::format("declared output '{}' is neither a file nor a directory", out)};
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

// A pattern naming one path exactly as written: no wildcard, no empty, "."
// or ".." component, no leading or trailing slash.
bool is_plain_path(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.back() == '/' || has_wildcard(p)) return false;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = p.find('/', start);
    std::string_view c(p.data() + start, (end == std::string::npos ? p.size() : end) - start);
    if (c.empty() || c == "." || c == "..") return false;
    if (end == std::string::npos) return true;
    start = end + 1;
  }
}

std::uint64_t physical_memory() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
}

// Admits running stages while their declared cpus fit in the job limit and
// their declared memory in the memory limit, so parallel proofs never
// overcommit the machine. A stage asking for more than the whole machine
// runs alone rather than never.
class ResourceGate {
 public:
  ResourceGate(int cpus, std::uint64_t memory) : cpus_(std::max(1, cpus)), memory_(memory) {}

  void acquire(int cpus, std::uint64_t memory) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] {
      if (running_ == 0) return true;
      return used_cpus_ + cpus <= cpus_ && (memory_ == 0 || used_memory_ + memory <= memory_);
    });
    ++running_;
    used_cpus_ += cpus;
    used_memory_ += memory;
  }

  void release(int cpus, std::uint64_t memory) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
      used_cpus_ -= cpus;
      used_memory_ -= memory;
    }
    cv_.notify_all();
  }

 private:
  const int cpus_;
  const std::uint64_t memory_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  int used_cpus_ = 0;
  std::uint64_t used_memory_ = 0;
};

}  // namespace

struct Executor::Impl {
  Executor& ex;
  const fs::path ws;
  WorkspaceDirs dirs;
  GlobExpander globber;
  // The run's records, in the order given to run() (the outcome's vector,
  // filled in place: moving 10,000 records afterwards costs a no-op run
  // measurable time); slot[v] is graph stage v's position, -1 = not selected.
  std::vector<StageRecord>& records;
  std::vector<int> slot;
  const StageRecord unselected;  // what a stage outside the selection looks like to its dependents
  std::vector<char> selected;
  std::atomic<bool> stop{false};
  std::string first_failure;
  std::mutex mu;
  ResourceGate resources;
  // Last key and last successful entry per stage: one file read at start,
  // so a no-op run opens no per-stage key record or cache entry.
  RunIndex& index;
  // No log file was deleted since the index was saved (.wrt/logs unchanged),
  // so an indexed hit need not check for its log.
  bool logs_intact = false;
  const std::int64_t started_at_s = static_cast<std::int64_t>(std::time(nullptr));
  std::map<std::string, std::string> data_dirs;  // plugin name -> its data directory; read-only while running

  Impl(Executor& e, std::vector<StageRecord>& out)
      : ex(e),
        ws(e.config_.workspace),
        dirs(ws),
        globber(ws, {".wrt", ".git", e.config_.settings.cache_dir}),
        records(out),
        slot(e.graph_.stages.size(), -1),
        selected(e.graph_.stages.size(), 0),
        resources(e.options_.jobs, e.options_.memory_limit ? e.options_.memory_limit : physical_memory()),
        index(e.index_) {
    // Plugin data directories, made once: make_ctx runs twice per stage.
    const fs::path base = (e.store_ ? e.store_->dir() : dirs.root) / "plugin-data";
    for (const auto* sc : e.graph_.stages)
      if (data_dirs.find(sc->plugin) == data_dirs.end()) data_dirs.emplace(sc->plugin, (base / sc->plugin).string());
  }

  StageRecord& record(int v) { return records[static_cast<std::size_t>(slot[v])]; }
  const StageRecord& record_of(int v) const {
    return slot[v] < 0 ? unselected : records[static_cast<std::size_t>(slot[v])];
  }

  bool cancelled() const { return ex.options_.cancel && ex.options_.cancel->load(); }

  void finish(int v, const std::string& status, Clock::time_point t0, const std::string& detail) {
    StageRecord& rec = record(v);
    rec.status = status;
    rec.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (is_failure(status) && !ex.options_.keep_going && !ex.options_.dry_run) {
      std::lock_guard<std::mutex> lock(mu);
      if (!stop.exchange(true)) first_failure = rec.name;
    }
    ex.printer_.stage_finished(rec.name, status, rec.duration_s, detail);
    if (is_failure(status) && !rec.log.empty()) {
      std::string tail = log_tail(ws / rec.log, 20);
      if (!tail.empty()) ex.printer_.print(fmt::format("--- last lines of {} ---\n{}", rec.log, tail));
    }
  }

  // Builds the key; fills rec.reason with why it differs from the last one.
  Result<KeyInputs> key_inputs(int v, wrt_stage& ctx) {
    const StageConfig& sc = *ex.graph_.stages[v];
    const LoadedPlugin& lp = *ex.plugins_[v];
    KeyInputs k;
    k.stage = sc.name;
    k.plugin = lp.name;
    k.plugin_version = lp.version;
    k.abi_major = lp.abi_major;
    k.abi_minor = lp.abi_minor;
    k.with = sc.with;
    k.outputs = sc.outputs;
    std::vector<std::string> files;
    std::vector<std::pair<std::string, Digest>> literal_files;
    literal_files.reserve(sc.inputs.size());
    for (const auto& pattern : sc.inputs) {
      // A plain file path needs no glob (and no stat of its own): the
      // digester's stat says it is a file. Directories and missing paths
      // take the glob path, which expands or reports them.
      if (is_plain_path(pattern)) {
        if (auto d = ex.digester_.digest(pattern)) {
          literal_files.emplace_back(pattern, *d);
          continue;
        }
      }
      auto r = globber.expand(pattern);
      if (!r) return Error{r.error()};
      if (r->empty() && !has_wildcard(pattern))
        return Error{fmt::format("input '{}' does not exist", pattern)};
      files.insert(files.end(), r->begin(), r->end());
    }
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    k.files.reserve(files.size());
    for (const auto& f : files) {
      auto d = ex.digester_.digest(f);
      if (!d) return Error{fmt::format("input {}", d.error())};
      k.files.emplace_back(f, *d);
    }
    if (k.files.empty()) {
      k.files = std::move(literal_files);
      std::sort(k.files.begin(), k.files.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      k.files.erase(std::unique(k.files.begin(), k.files.end(),
                                [](const auto& a, const auto& b) { return a.first == b.first; }),
                    k.files.end());
    } else if (!literal_files.empty()) {
      k.files.insert(k.files.end(), literal_files.begin(), literal_files.end());
      auto by_path = [](const auto& a, const auto& b) { return a.first < b.first; };
      std::stable_sort(k.files.begin(), k.files.end(), by_path);
      k.files.erase(std::unique(k.files.begin(), k.files.end(),
                                [](const auto& a, const auto& b) { return a.first == b.first; }),
                    k.files.end());
    }
    for (const auto& name : sc.env) {
      const char* val = std::getenv(name.c_str());
      k.env.emplace_back(name, val ? std::optional<std::string>(val) : std::nullopt);
    }
    k.fingerprints = ctx.fingerprints;
    std::sort(k.fingerprints.begin(), k.fingerprints.end());
    for (int d : ex.graph_.deps[v]) {
      const StageRecord& dep = record_of(d);
      if (dep.output_digest) k.upstream.emplace_back(dep.name, *dep.output_digest);
    }
    std::sort(k.upstream.begin(), k.upstream.end());
    return k;
  }

  // Records the key for `wrt explain` when it changed; returns the reason.
  // Best effort: a record that cannot be written only leaves `explain`
  // without its answer.
  std::string record_key(const std::string& name, const KeyInputs& k, const Digest& key, const std::string& key_hex,
                         std::vector<std::string>& changes) {
    if (index.is_last_key(name, key)) return {};
    if (!ex.options_.dry_run) index.set_last_key(name, key);
    fs::path file = dirs.keys / (name + ".json");
    auto old = read_json(file);
    if (old && old->value("key", "") == key_hex) return {};
    nlohmann::json now = key_inputs_to_json(k);
    std::string reason;
    if (!old) {
      reason = "no earlier run recorded";
    } else {
      auto diff = explain_difference(*old, now);
      changes = diff;
      reason = diff.empty() ? "key changed" : diff.front();
      if (diff.size() > 1) reason += fmt::format(" (+{} more)", diff.size() - 1);
      (void)write_file_atomically(dirs.keys / (name + ".prev.json"), old->dump(1));
    }
    if (!ex.options_.dry_run) (void)write_file_atomically(file, now.dump(1));
    return reason;
  }

  // Is the output already in the workspace as recorded (content and mode)?
  bool in_place(const CachedFile& f) {
    FileStat st;
    auto cur = ex.digester_.digest(f.path, &st);
    return cur && *cur == f.digest && ((st.mode & S_IXUSR) != 0) == f.executable;
  }

  // Restores a hit's outputs where the workspace copy differs; `*wrote` says
  // whether any file was written.
  Status restore(const CacheEntry& entry, bool* wrote) {
    for (const auto& f : entry.outputs) {
      if (in_place(f)) continue;
      fs::path dest = ws / f.path;
      Status s = ex.store_->restore_file(f.digest, dest, f.executable);
      if (!s) return s;
      *wrote = true;
      if (auto st = stat_file(dest)) ex.digester_.remember(f.path, *st, f.digest);
    }
    return Status::Ok();
  }

  // A hit answered from the run index: every output is already in place, so
  // the store is not read. The store's entry is still marked as used, at
  // most once an hour, to keep it from LRU eviction.
  std::optional<IndexedEntry> indexed_hit(const StageConfig& sc, const Digest& key, const std::string& key_hex) {
    auto e = index.entry(sc.name, key);
    if (!e || (e->log && !logs_intact)) return std::nullopt;
    for (const auto& f : e->outputs)
      if (!in_place(f)) return std::nullopt;
    if (!ex.options_.dry_run && index.touched_at(sc.name) + 3600 < started_at_s) {
      if (!ex.store_->touch_entry(key_hex)) return std::nullopt;  // evicted: let the store path decide
      index.set_touched_at(sc.name, started_at_s);
    }
    return e;
  }

  void replay(StageRecord& rec, StageResults results, std::vector<CachedFile> outputs) {
    rec.results = std::move(results);
    rec.attempts = 0;
    rec.outputs = std::move(outputs);
    rec.output_digest = outputs_digest(rec.outputs);
    rec.reason = "inputs unchanged";
  }

  void process(int v) {
    const auto t0 = Clock::now();
    const StageConfig& sc = *ex.graph_.stages[v];
    StageRecord& rec = record(v);
    const bool dry = ex.options_.dry_run;

    for (int d : ex.graph_.deps[v]) {
      const StageRecord& dep = record_of(d);
      if (dep.status == "pending" && dry) {
        rec.reason = fmt::format("needs '{}', which would run", dep.name);
        return finish(v, "pending", t0, rec.reason);
      }
      if (dep.status == "skipped" || is_failure(dep.status)) {
        rec.reason = fmt::format("needs '{}', which {}", dep.name, dep.status == "skipped" ? "was skipped" : dep.status == "failed" ? "failed" : "ended with " + dep.status);
        return finish(v, "skipped", t0, rec.reason);
      }
    }
    if (cancelled()) {
      rec.reason = "not started: run interrupted";
      return finish(v, "skipped", t0, rec.reason);
    }
    if (stop.load()) {
      rec.reason = fmt::format("not started: '{}' failed (--keep-going runs everything that does not depend on it)", first_failure);
      return finish(v, "skipped", t0, rec.reason);
    }

    const LoadedPlugin& lp = *ex.plugins_[v];
    const wrt_host* host = host_table();
    auto make_ctx = [&](wrt_stage& ctx) {
      ctx.name = sc.name;
      ctx.workspace = ws.string();
      ctx.with = &sc.with;
      ctx.cancel = ex.options_.cancel;
      ctx.data_dir = data_dirs.at(sc.plugin);
      ctx.console = [this](const std::string& line) { ex.printer_.print(line); };
    };

    // Fingerprint: validates config and adds tool versions to the key.
    wrt_stage fp;
    make_ctx(fp);
    if (lp.plugin->fingerprint) {
      fp.in_fingerprint = true;
      wrt_status s = WRT_STATUS_ERROR;
      try {
        s = lp.plugin->fingerprint(host, &fp);
      } catch (...) {
        fp.results.message = "plugin threw from fingerprint()";
      }
      fp.in_fingerprint = false;
      if (s != WRT_STATUS_PASSED) {
        rec.reason = fmt::format("{}: {}", config_where(sc), fp.results.message.empty() ? "invalid configuration" : fp.results.message);
        rec.results.message = rec.reason;
        return finish(v, "failed", t0, rec.reason);
      }
    }

    auto k = key_inputs(v, fp);
    if (!k) {
      rec.reason = k.error();
      rec.results.message = rec.reason;
      return finish(v, "failed", t0, rec.reason);
    }
    Digest key = compute_key(*k);
    rec.cache_key = to_hex(key);
    std::string why = record_key(sc.name, *k, key, rec.cache_key, rec.key_changes);

    const bool cacheable = sc.cache && ex.store_ != nullptr;
    rec.log = ".wrt/logs/";
    rec.log += sc.name;
    rec.log += ".log";
    if (cacheable && ex.options_.read_cache) {
      if (auto hit = indexed_hit(sc, key, rec.cache_key)) {
        replay(rec, std::move(hit->results), std::move(hit->outputs));
        return finish(v, "cached", t0, "");
      }
      std::string warning;
      auto entry = ex.store_->get_entry(rec.cache_key, &warning);
      if (!warning.empty()) ex.printer_.print(fmt::format("warning: {}: {}", sc.name, warning));
      if (entry) {
        bool wrote = false;
        Status restored = dry ? Status::Ok() : restore(*entry, &wrote);
        if (restored) {
          replay(rec, results_from_json(entry->result.value("results", nlohmann::json::object())), entry->outputs);
          if (!dry && entry->log) {
            std::error_code ec;
            if (!fs::exists(ws / rec.log, ec)) {
              (void)ex.store_->restore_file(*entry->log, ws / rec.log, false);
              wrote = true;
            }
          }
          if (wrote) globber.invalidate();
          if (!dry) {
            index.set_entry(sc.name, key, *entry);
            index.set_touched_at(sc.name, started_at_s);
          }
          return finish(v, "cached", t0, "");
        }
        ex.printer_.print(fmt::format("warning: {}: {}; running the stage instead", sc.name, restored.error()));
      }
    }
    rec.reason = why.empty() ? (ex.options_.read_cache ? "no cache entry for this key" : "--no-cache") : why;
    if (!cacheable && why.empty()) rec.reason = "caching is off for this stage";
    if (dry) return finish(v, "pending", t0, rec.reason);

    // Run, with retries. (Announced only now: thousands of cache hits should
    // not each redraw the status line.)
    ex.printer_.stage_started(sc.name);
    std::error_code ec;
    fs::create_directories(dirs.logs, ec);
    int log_fd = ::open((ws / rec.log).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    // Held while the stage's processes run; released on every path below.
    struct Admission {
      ResourceGate& gate;
      int cpus;
      std::uint64_t memory;
      ~Admission() { gate.release(cpus, memory); }
    };
    const int cpus = std::min(sc.cpus, std::max(1, ex.options_.jobs));
    resources.acquire(cpus, sc.memory);
    Admission admitted{resources, cpus, sc.memory};
    const int max_attempts = sc.max_attempts.value_or(ex.config_.settings.max_attempts);
    const double timeout_min = sc.timeout_minutes.value_or(ex.config_.settings.timeout_minutes);
    std::string status = "failed";
    for (int attempt = 1; attempt <= max_attempts; ++attempt) {
      rec.attempts = attempt;
      if (attempt > 1 && log_fd >= 0) {
        std::string hdr = fmt::format("\n[wrt] attempt {} of {}\n", attempt, max_attempts);
        (void)!::write(log_fd, hdr.data(), hdr.size());
      }
      wrt_stage ctx;
      make_ctx(ctx);
      ctx.log_fd = log_fd;
      ctx.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_min * 60));
      wrt_status s = WRT_STATUS_ERROR;
      try {
        s = lp.plugin->run(host, &ctx);
      } catch (...) {
        ctx.results.message = "plugin threw from run()";
      }
      rec.results = std::move(ctx.results);
      if (ctx.interrupted || cancelled()) {
        status = "interrupted";
        if (rec.results.message.empty()) rec.results.message = "interrupted";
        break;
      }
      if (ctx.timed_out) {
        status = "timeout";
        rec.results.message = fmt::format("timed out after {} min; its processes were killed", timeout_min);
        continue;
      }
      if (s == WRT_STATUS_PASSED) {
        status = attempt > 1 ? "flaky" : "passed";
        break;
      }
      status = "failed";
      if (s == WRT_STATUS_ERROR) break;
    }
    if (log_fd >= 0) ::close(log_fd);
    globber.invalidate();
    index.drop_entry(sc.name);
    if (status != "passed" && status != "flaky") {
      if (!rec.results.message.empty()) rec.reason = rec.results.message;
      return finish(v, status, t0, rec.results.message);
    }

    // Collect outputs; store them and the result.
    auto files = list_outputs(ws, sc.outputs);
    if (!files) {
      rec.results.message = files.error();
      rec.reason = files.error();
      return finish(v, "failed", t0, files.error());
    }
    for (const auto& f : *files) {
      auto d = ex.digester_.digest(f);
      if (!d) {
        rec.results.message = fmt::format("output {}", d.error());
        return finish(v, "failed", t0, rec.results.message);
      }
      auto st = stat_file(ws / f);
      bool exec = st && (st->mode & S_IXUSR);
      if (cacheable && !ex.store_->has_blob(*d)) {
        auto put = ex.store_->put_file(ws / f);
        if (!put) ex.printer_.print(fmt::format("warning: {}: cannot store output: {}", sc.name, put.error()));
      }
      rec.outputs.push_back({f, *d, st ? st->size : 0, exec});
    }
    rec.output_digest = outputs_digest(rec.outputs);
    if (cacheable) {
      CacheEntry entry;
      entry.outputs = rec.outputs;
      entry.result = {{"status", status}, {"attempts", rec.attempts}, {"plugin", lp.name},
                      {"duration_s", std::chrono::duration<double>(Clock::now() - t0).count()},
                      {"results", results_to_json(rec.results)}};
      // Many stages log nothing or the same lines: store each log content once.
      auto log_digest = ex.digester_.digest(rec.log);
      if (log_digest && ex.store_->has_blob(*log_digest)) {
        entry.log = *log_digest;
      } else if (auto log_blob = ex.store_->put_file(ws / rec.log)) {
        entry.log = *log_blob;
      }
      Status put = ex.store_->put_entry(rec.cache_key, entry);
      if (!put) ex.printer_.print(fmt::format("warning: {}: cannot store cache entry: {}", sc.name, put.error()));
      else {
        index.set_entry(sc.name, key, entry);
        index.set_touched_at(sc.name, started_at_s);
      }
    }
    finish(v, status, t0, status == "flaky" ? fmt::format("passed on attempt {}", rec.attempts) : "");
  }

  std::string config_where(const StageConfig& sc) const {
    auto it = sc.key_pos.find("with");
    return ex.config_.where(it == sc.key_pos.end() ? sc.pos : it->second);
  }
};

Executor::Executor(const Config& config, const Graph& graph, std::vector<const LoadedPlugin*> plugins,
                   CacheStore* store, FileDigester& digester, RunIndex& index, StatusPrinter& printer,
                   RunOptions options)
    : config_(config),
      graph_(graph),
      plugins_(std::move(plugins)),
      store_(store),
      digester_(digester),
      index_(index),
      printer_(printer),
      options_(options) {}

RunOutcome Executor::run(const std::vector<int>& order) {
  const auto t0 = Clock::now();
  RunOutcome out;
  out.records.resize(order.size());
  Impl impl(*this, out.records);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const int v = order[i];
    const StageConfig& sc = *graph_.stages[v];
    impl.selected[v] = 1;
    impl.slot[v] = static_cast<int>(i);
    StageRecord& rec = out.records[i];
    rec.name = sc.name;
    rec.plugin = sc.plugin;
    rec.asil = sc.asil;
    rec.component = sc.component;
  }
  std::error_code ec;
  fs::create_directories(impl.dirs.keys, ec);
  fs::create_directories(impl.dirs.state, ec);
  auto logs_mtime = [&]() -> std::int64_t {
    struct stat st;
    if (::stat(impl.dirs.logs.c_str(), &st) != 0) return 0;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  };
  impl.logs_intact = impl.index.logs_mtime_ns() != 0 && logs_mtime() == impl.index.logs_mtime_ns();

  // Among ready stages TBB starts the higher priority first: a stage's own
  // `priority`, else its ASIL profile's, else normal.
  auto stage_priority = [&](int v) -> tbb::flow::node_priority_t {
    const StageConfig& sc = *graph_.stages[v];
    std::string p = sc.priority ? *sc.priority : sc.asil ? config_.profile(*sc.asil).priority : "normal";
    return static_cast<tbb::flow::node_priority_t>(1 + std::max(0, priority_rank(p)));
  };
  // Bodies block on child processes, so the arena's size is the job limit.
  tbb::task_arena arena(std::max(1, options_.jobs));
  arena.execute([&] {
    tbb::flow::graph g;
    using Node = tbb::flow::continue_node<tbb::flow::continue_msg>;
    std::vector<std::unique_ptr<Node>> nodes(graph_.stages.size());
    for (int v : order)
      nodes[v] = std::make_unique<Node>(g, [&impl, v](const tbb::flow::continue_msg&) {
        try {
          impl.process(v);
        } catch (const std::exception& e) {
          impl.record(v).results.message = fmt::format("internal error: {}", e.what());
          impl.finish(v, "failed", Clock::now(), impl.record(v).results.message);
        }
      }, stage_priority(v));
    for (int v : order)
      for (int d : graph_.deps[v])
        if (impl.selected[d]) tbb::flow::make_edge(*nodes[d], *nodes[v]);
    for (int v : order) {
      bool root = true;
      for (int d : graph_.deps[v])
        if (impl.selected[d]) root = false;
      if (root) nodes[v]->try_put(tbb::flow::continue_msg());
    }
    g.wait_for_all();
  });

  if (!options_.dry_run) impl.index.set_logs_mtime_ns(logs_mtime());
  out.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
  out.interrupted = impl.cancelled();
  out.files_hashed = digester_.files_hashed();
  return out;
}

}  // namespace wrt
