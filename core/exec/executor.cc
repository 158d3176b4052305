#include "core/exec/executor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <queue>
#include <sstream>
#include <thread>
#include <ctime>
#include <unordered_map>
#include <unordered_set>

#include <fmt/core.h>
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "core/util/atomic_file.h"
#include "core/cache/cached_log.h"
#include "core/cache/output_tree.h"
#include "core/exec/runner_pool.h"

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
  // What prepare() hands run_stage() for a stage that must run.
  struct Prepared {
    Clock::time_point t0;
    Digest key{};
    std::vector<std::string> inputs;  // the files hashed for the key, sorted
  };
  std::vector<std::unique_ptr<Prepared>> prepared;  // by graph stage
  // Directories already cleared of restore temp files in this run.
  std::mutex swept_mu;
  std::unordered_set<std::string> swept_dirs;
  // The workspace, open: restores and output listings resolve paths below
  // it one component at a time (output_tree.h).
  int ws_fd = -1;
  // The cache directory relative to the workspace when it lies inside it
  // (restores never write there), else empty.
  std::string cache_dir_rel;

  Impl(Executor& e, std::vector<StageRecord>& out)
      : ex(e),
        ws(e.config_.workspace),
        dirs(ws),
        globber(ws, {".wrt", ".git", e.config_.settings.cache_dir}),
        records(out),
        slot(e.graph_.stages.size(), -1),
        selected(e.graph_.stages.size(), 0),
        resources(e.options_.jobs, e.options_.memory_limit ? e.options_.memory_limit : physical_memory()),
        index(e.index_),
        prepared(e.graph_.stages.size()) {
    // Plugin data directories, made once: make_ctx runs twice per stage.
    const fs::path base = (e.store_ ? e.store_->dir() : dirs.root) / "plugin-data";
    for (const auto* sc : e.graph_.stages)
      if (data_dirs.find(sc->plugin) == data_dirs.end()) data_dirs.emplace(sc->plugin, (base / sc->plugin).string());
    ws_fd = ::open(ws.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (e.store_) {
      std::error_code ec;
      fs::path rel = fs::weakly_canonical(e.store_->dir(), ec).lexically_relative(fs::weakly_canonical(ws, ec));
      if (!ec && !rel.empty() && *rel.begin() != "..") cache_dir_rel = rel.generic_string();
      if (cache_dir_rel == ".") cache_dir_rel.clear();
    }
  }
  ~Impl() {
    if (ws_fd >= 0) ::close(ws_fd);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

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

  // Is the output already in the workspace as recorded (content, mode, kind)?
  // The path itself must not be a symlink unless one was recorded.
  bool in_place(const CachedFile& f) {
    switch (f.kind) {
      case OutputKind::kFile: {
        FileStat st;
        auto cur = ex.digester_.digest(f.path, &st, /*follow_symlinks=*/false);
        return cur && *cur == f.digest && ((st.mode & S_IXUSR) != 0) == f.executable;
      }
      case OutputKind::kSymlink: {
        char buf[4096];
        ssize_t n = ::readlinkat(ws_fd, f.path.c_str(), buf, sizeof buf);
        return n >= 0 && std::string_view(buf, static_cast<std::size_t>(n)) == f.target;
      }
      case OutputKind::kDir: {
        struct stat st {};
        return ::fstatat(ws_fd, f.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
    }
    return false;
  }

  // May this entry be restored for this stage? Every path must be allowed
  // (check_restorable_path) and every declared output covered, or the entry
  // is not a result of this stage as configured now.
  Status check_entry(const StageConfig& sc, const CacheEntry& entry) const {
    for (const auto& f : entry.outputs)
      if (Status s = check_restorable_path(f.path, sc.outputs, cache_dir_rel); !s) return s;
    for (const auto& d : sc.outputs) {
      bool covered = std::any_of(entry.outputs.begin(), entry.outputs.end(), [&](const CachedFile& f) {
        return f.path == d || (f.path.size() > d.size() && f.path.compare(0, d.size(), d) == 0 && f.path[d.size()] == '/');
      });
      if (!covered) return Error{fmt::format("it does not contain the declared output '{}'", d)};
    }
    return Status::Ok();
  }

  // Restores a hit's outputs where the workspace copy differs; `*wrote` says
  // whether anything was written. Writes never follow a symlink.
  Status restore(const CacheEntry& entry, bool* wrote) {
    for (const auto& f : entry.outputs) {
      if (in_place(f)) continue;
      Status s;
      if (f.kind == OutputKind::kDir) {
        s = restore_dir(ws_fd, f.path);
      } else {
        std::size_t slash = f.path.rfind('/');
        std::string parent = slash == std::string::npos ? std::string() : f.path.substr(0, slash);
        auto dir = open_dir_beneath(ws_fd, parent, /*create=*/true);
        if (!dir) return Error{fmt::format("cannot restore {}: {}", f.path, dir.error())};
        // A restore killed before its rename (kill -9) left a temp file
        // beside its destination; the next restore there removes it. Once
        // per directory and run: listing a big directory per file would be
        // quadratic.
        bool first = false;
        {
          std::lock_guard<std::mutex> lock(swept_mu);
          first = swept_dirs.insert(parent).second;
        }
        if (first) remove_restore_temps(*dir);
        if (f.kind == OutputKind::kFile) {
          s = ex.store_->restore_file_at(f.digest, *dir, f.path.substr(slash == std::string::npos ? 0 : slash + 1),
                                         f.executable, f.path);
          if (s)
            if (auto st = ex.digester_.stat_now(f.path)) ex.digester_.remember(f.path, *st, f.digest);
        } else {
          s = restore_symlink(ws_fd, f.path, f.target);
        }
        ::close(*dir);
      }
      if (!s) return s;
      *wrote = true;
    }
    return Status::Ok();
  }

  // The stage log as a compressed, bounded blob (cached_log.h). A log that
  // cannot be stored only leaves the entry without one.
  void store_log(CacheEntry& entry, const std::string& log_rel) {
    auto enc = encode_log(ws / log_rel, ex.options_.cached_log_limit);
    if (!enc) {
      ex.printer_.print(fmt::format("warning: cannot store log: {}", enc.error()));
      return;
    }
    const Digest d = sha256(enc->bytes);
    // Many stages log nothing or the same lines: each content is stored once.
    if (!ex.store_->has_blob(d)) {
      auto put = ex.store_->put_bytes(enc->bytes);
      if (!put) {
        ex.printer_.print(fmt::format("warning: cannot store log {}: {}", log_rel, put.error()));
        return;
      }
    }
    entry.log = d;
    entry.log_encoding = enc->encoding;
    entry.log_truncated = enc->truncated;
  }

  void restore_log(const CacheEntry& entry, const std::string& log_rel) {
    auto blob = ex.store_->read_blob(*entry.log);
    if (!blob) {
      ex.printer_.print(fmt::format("warning: cannot restore {}: {}", log_rel, blob.error()));
      return;
    }
    // A cached log is at most the limit plus a marker line; a larger one is
    // not what wrt stored.
    auto text = decode_log(*blob, entry.log_encoding, std::max<std::uint64_t>(ex.options_.cached_log_limit, kDefaultCachedLogLimit) + 4096);
    if (!text) {
      ex.printer_.print(fmt::format("warning: cannot restore {}: {}", log_rel, text.error()));
      return;
    }
    if (Status s = write_file_atomically(ws / log_rel, *text); !s)
      ex.printer_.print(fmt::format("warning: cannot restore {}: {}", log_rel, s.error()));
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

  // Work a stage needs between being ready and (maybe) running: checks of its
  // dependencies, fingerprint, key, cache lookup and restore. Cheap; runs on
  // TBB threads. True when the stage must run: its state is then in
  // prepared[v] and run_stage(v) must follow.
  bool prepare(int v) {
    const auto t0 = Clock::now();
    const StageConfig& sc = *ex.graph_.stages[v];
    StageRecord& rec = record(v);
    const bool dry = ex.options_.dry_run;

    for (int d : ex.graph_.deps[v]) {
      const StageRecord& dep = record_of(d);
      if (dep.status == "pending" && dry) {
        rec.reason = fmt::format("needs '{}', which would run", dep.name);
        return done(v, "pending", t0, rec.reason);
      }
      if (dep.status == "skipped" || is_failure(dep.status)) {
        rec.reason = fmt::format("needs '{}', which {}", dep.name, dep.status == "skipped" ? "was skipped" : dep.status == "failed" ? "failed" : "ended with " + dep.status);
        return done(v, "skipped", t0, rec.reason);
      }
    }
    if (cancelled()) {
      rec.reason = "not started: run interrupted";
      return done(v, "skipped", t0, rec.reason);
    }
    if (stop.load()) {
      rec.reason = fmt::format("not started: '{}' failed (--keep-going runs everything that does not depend on it)", first_failure);
      return done(v, "skipped", t0, rec.reason);
    }

    const LoadedPlugin& lp = *ex.plugins_[v];
    const wrt_host* host = host_table();
    auto make_ctx = [&](wrt_stage& ctx) { fill_ctx(sc, ctx); };

    // Fingerprint: validates config and adds tool versions to the key.
    wrt_stage fp;
    make_ctx(fp);
    if (lp.plugin->fingerprint) {
      wrt_status s = WRT_STATUS_ERROR;
      if (isolated(lp)) {
        WorkerReply r = ex.options_.workers->call(worker_call(sc, lp, /*fingerprint=*/true));
        if (!r.fault.empty()) {
          rec.reason = r.fault;
          rec.results.message = r.fault;
          return done(v, "failed", t0, rec.reason);
        }
        s = r.status;
        fp.results = std::move(r.results);
        fp.fingerprints = std::move(r.fingerprints);
      } else {
        fp.in_fingerprint = true;
        try {
          s = lp.plugin->fingerprint(host, &fp);
        } catch (...) {
          fp.results.message = "plugin threw from fingerprint()";
        }
        fp.in_fingerprint = false;
      }
      if (s != WRT_STATUS_PASSED) {
        rec.reason = fmt::format("{}: {}", config_where(sc), fp.results.message.empty() ? "invalid configuration" : fp.results.message);
        rec.results.message = rec.reason;
        return done(v, "failed", t0, rec.reason);
      }
    }

    auto k = key_inputs(v, fp);
    if (!k) {
      rec.reason = k.error();
      rec.results.message = rec.reason;
      return done(v, "failed", t0, rec.reason);
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
        return done(v, "cached", t0, "");
      }
      std::string warning;
      auto entry = ex.store_->get_entry(rec.cache_key, &warning);
      if (!warning.empty()) ex.printer_.print(fmt::format("warning: {}: {}", sc.name, warning));
      if (entry) {
        if (Status ok = check_entry(sc, *entry); !ok) {
          ex.printer_.print(fmt::format("warning: {}: cache entry {} refused: {}; running the stage instead", sc.name,
                                        rec.cache_key.substr(0, 16), ok.error()));
          entry.reset();
        }
      }
      if (entry) {
        bool wrote = false;
        Status restored = dry ? Status::Ok() : restore(*entry, &wrote);
        if (restored) {
          replay(rec, results_from_json(entry->result.value("results", nlohmann::json::object())), entry->outputs);
          if (!dry && entry->log) {
            std::error_code ec;
            if (!fs::exists(ws / rec.log, ec)) {
              restore_log(*entry, rec.log);
              wrote = true;
            }
          }
          if (wrote) globber.invalidate();
          if (!dry) {
            index.set_entry(sc.name, key, *entry);
            index.set_touched_at(sc.name, started_at_s);
          }
          return done(v, "cached", t0, "");
        }
        ex.printer_.print(fmt::format("warning: {}: {}; running the stage instead", sc.name, restored.error()));
      }
    }
    rec.reason = why.empty() ? (ex.options_.read_cache ? "no cache entry for this key" : "--no-cache") : why;
    if (!cacheable && why.empty()) rec.reason = "caching is off for this stage";
    if (dry) return done(v, "pending", t0, rec.reason);
    auto p = std::make_unique<Prepared>();
    p->t0 = t0;
    p->key = key;
    p->inputs.reserve(k->files.size());
    for (const auto& f : k->files) p->inputs.push_back(f.first);
    prepared[v] = std::move(p);
    return true;
  }

  void fill_ctx(const StageConfig& sc, wrt_stage& ctx) {
    ctx.name = sc.name;
    ctx.workspace = ws.string();
    ctx.with = &sc.with;
    ctx.cancel = ex.options_.cancel;
    ctx.data_dir = data_dirs.at(sc.plugin);
    ctx.outputs = &sc.outputs;
    ctx.console = [this](const std::string& line) { ex.printer_.print(line); };
  }

  // The trusted built-in `command` plugin runs in wrt's process: it is the
  // hot path of big pipelines (a worker round trip per stage would cost the
  // full run its speed), and it is wrt's own code. Every other plugin runs
  // in a worker process, where its faults cannot reach wrt.
  bool isolated(const LoadedPlugin& lp) const { return ex.options_.workers && lp.name != "command"; }

  WorkerCall worker_call(const StageConfig& sc, const LoadedPlugin& lp, bool fingerprint) {
    WorkerCall c;
    c.fingerprint = fingerprint;
    c.library = lp.library;
    c.plugin = lp.name;
    c.stage = sc.name;
    c.workspace = ws.string();
    c.with = &sc.with;
    c.data_dir = data_dirs.at(sc.plugin);
    c.outputs = &sc.outputs;
    c.cancel = ex.options_.cancel;
    c.console = [this](const std::string& line) { ex.printer_.print(line); };
    return c;
  }

  bool done(int v, const std::string& status, Clock::time_point t0, const std::string& detail) {
    finish(v, status, t0, detail);
    return false;
  }

  // Runs a prepared stage (with retries) and stores its result. Blocks on the
  // stage's processes: called on a stage-runner thread, never on a TBB one.
  void run_stage(int v) {
    std::unique_ptr<Prepared> p = std::move(prepared[v]);
    const auto t0 = p->t0;
    const Digest key = p->key;
    const StageConfig& sc = *ex.graph_.stages[v];
    StageRecord& rec = record(v);
    const LoadedPlugin& lp = *ex.plugins_[v];
    const wrt_host* host = host_table();
    const bool cacheable = sc.cache && ex.store_ != nullptr;
    auto make_ctx = [&](wrt_stage& ctx) { fill_ctx(sc, ctx); };
    // Queued while another stage failed or the run was interrupted.
    if (cancelled()) {
      rec.reason = "not started: run interrupted";
      return finish(v, "skipped", t0, rec.reason);
    }
    if (stop.load()) {
      rec.reason = fmt::format("not started: '{}' failed (--keep-going runs everything that does not depend on it)", first_failure);
      return finish(v, "skipped", t0, rec.reason);
    }


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
      ctx.inputs = &p->inputs;
      ctx.log_fd = log_fd;
      ctx.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_min * 60));
      wrt_status s = WRT_STATUS_ERROR;
      std::string fault;
      if (isolated(lp)) {
        WorkerCall c = worker_call(sc, lp, /*fingerprint=*/false);
        c.deadline = ctx.deadline;
        c.inputs = &p->inputs;
        c.log_path = (ws / rec.log).string();
        WorkerReply r = ex.options_.workers->call(c);
        s = r.status;
        ctx.results = std::move(r.results);
        ctx.timed_out = r.timed_out;
        ctx.interrupted = r.interrupted;
        ctx.processes_killed = r.processes_killed;
        fault = std::move(r.fault);
        if (!fault.empty()) {
          s = WRT_STATUS_ERROR;
          ctx.results.message = fault;
          std::string line = fmt::format("[wrt error] {}\n", fault);
          if (log_fd >= 0) (void)!::write(log_fd, line.data(), line.size());
        }
      } else {
        try {
          s = lp.plugin->run(host, &ctx);
        } catch (...) {
          ctx.results.message = "plugin threw from run()";
        }
      }
      rec.results = std::move(ctx.results);
      if (ctx.interrupted || cancelled()) {
        status = "interrupted";
        if (rec.results.message.empty()) rec.results.message = "interrupted";
        break;
      }
      if (ctx.timed_out) {
        status = "timeout";
        rec.results.message = fmt::format("timed out after {} min; {} process{} killed", timeout_min,
                                          ctx.processes_killed, ctx.processes_killed == 1 ? " was" : "es were");
        if (!fault.empty()) rec.results.message += " (" + fault + ")";
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

    // Collect outputs (hashed once, now that the stage has ended); store them
    // and the result.
    auto listed = list_output_tree(ws_fd, sc.outputs);
    if (!listed) {
      rec.results.message = listed.error();
      rec.reason = listed.error();
      return finish(v, "failed", t0, listed.error());
    }
    bool blobs_stored = true;
    for (const auto& o : *listed) {
      CachedFile cf{o.path, Digest{}, o.size, o.executable, o.kind, o.target};
      if (o.kind == OutputKind::kSymlink) {
        cf.digest = symlink_digest(o.target);
      } else if (o.kind == OutputKind::kFile) {
        auto d = ex.digester_.digest(o.path, nullptr, /*follow_symlinks=*/false);
        if (!d) {
          rec.results.message = fmt::format("output {}", d.error());
          return finish(v, "failed", t0, rec.results.message);
        }
        cf.digest = *d;
        if (cacheable && !ex.store_->has_blob(*d)) {
          auto put = ex.store_->put_file(ws / o.path);
          if (!put) {
            ex.printer_.print(fmt::format("warning: {}: cannot store output: {}", sc.name, put.error()));
            blobs_stored = false;
          } else if (*put != *d) {
            // Rewritten between hashing and storing: no single content to vouch for.
            rec.not_stored = fmt::format("output {} changed while it was stored", o.path);
          }
        }
      }
      rec.outputs.push_back(std::move(cf));
    }
    rec.output_digest = outputs_digest(rec.outputs);

    // Guard against concurrent changes (Bazel's --guard_against_concurrent_changes):
    // an input edited while the stage ran means the outputs may come from
    // content other than the keyed one, so the result must not be cached.
    if (cacheable && rec.not_stored.empty()) {
      // The digester recorded each input's stat with its digest.
      for (const auto& path : p->inputs) {
        if (ex.digester_.changed_since_digest(path)) {
          rec.not_stored = fmt::format("input {} changed while the stage ran", path);
          break;
        }
      }
    }
    if (cacheable && rec.not_stored.empty()) {
      for (const auto& o : rec.outputs)
        if (Status s = check_restorable_path(o.path, sc.outputs, cache_dir_rel); !s) {
          rec.not_stored = fmt::format("output {}", s.error());
          break;
        }
    }
    if (!blobs_stored && rec.not_stored.empty()) rec.not_stored = "an output could not be stored";
    if (!rec.not_stored.empty() && cacheable)
      ex.printer_.print(fmt::format("warning: {}: result not cached: {}", sc.name, rec.not_stored));
    if (cacheable && rec.not_stored.empty()) {
      CacheEntry entry;
      entry.outputs = rec.outputs;
      entry.result = {{"status", status}, {"attempts", rec.attempts}, {"plugin", lp.name},
                      {"duration_s", std::chrono::duration<double>(Clock::now() - t0).count()},
                      {"results", results_to_json(rec.results)}};
      store_log(entry, rec.log);
      auto put = ex.store_->put_entry(rec.cache_key, entry);
      if (!put) {
        ex.printer_.print(fmt::format("warning: {}: cannot store cache entry: {}", sc.name, put.error()));
      } else if (!put->differences.empty()) {
        rec.nondeterministic = true;
        std::string list;
        for (std::size_t i = 0; i < put->differences.size() && i < 5; ++i)
          list += (i ? ", " : "") + put->differences[i];
        if (put->differences.size() > 5) list += fmt::format(" (+{} more)", put->differences.size() - 5);
        ex.printer_.print(fmt::format(
            "warning: {}: non-deterministic stage: a different result is already cached for its key ({} differ); "
            "the first result stays cached",
            sc.name, list));
      } else {
        if (put->replaced_corrupt)
          ex.printer_.print(fmt::format("warning: {}: replaced a corrupt cache entry for its key", sc.name));
        index.set_entry(sc.name, key, entry);
        index.set_touched_at(sc.name, started_at_s);
      }
    }
    finish(v, status, t0, status == "flaky" ? fmt::format("passed on attempt {}", rec.attempts) : "");
  }

  // Both phases on the calling thread (tests, and the dry run).
  void process(int v) {
    if (prepare(v)) run_stage(v);
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
  // The scheduler: a TBB flow graph orders the stages (a join node per stage
  // counts its dependencies) and does the cheap part of each stage on TBB's
  // threads (async node: prepare = key, cache lookup, restore). A stage that
  // must run is handed to the runner pool, whose `jobs` threads block on the
  // stage's processes; the async node's gateway then passes the stage on.
  // So the job limit is the pool's size, independent of the CPU count, and
  // waiting on a child never occupies a TBB worker.
  using Join = tbb::flow::continue_node<tbb::flow::continue_msg>;
  using Async = tbb::flow::async_node<tbb::flow::continue_msg, tbb::flow::continue_msg>;
  std::vector<Async::gateway_type*> gateways(graph_.stages.size(), nullptr);
  auto fail_internal = [&](int v, const char* what) {
    impl.record(v).results.message = fmt::format("internal error: {}", what);
    impl.finish(v, "failed", Clock::now(), impl.record(v).results.message);
  };
  // Every stage completes once: in the async node when it needs no run,
  // else on its runner thread.
  std::mutex done_mu;
  std::condition_variable all_done;
  std::size_t completed = 0;
  auto stage_completed = [&] {
    std::lock_guard<std::mutex> lock(done_mu);
    if (++completed == order.size()) all_done.notify_all();
  };
  RunnerPool pool(std::max(1, options_.jobs), [&](int v) {
    try {
      impl.run_stage(v);
    } catch (const std::exception& e) {
      fail_internal(v, e.what());
    }
    gateways[v]->try_put(tbb::flow::continue_msg());
    gateways[v]->release_wait();
    stage_completed();
  });
  // The cheap phase needs no more threads than the CPUs or the job limit;
  // with -j 1 it then also keeps ninja -j1's property of starting stages in
  // one predictable order.
  // The main thread does not join the arena: TBB's wait_for_all spins
  // (sched_yield) while stages are out on runner threads, which cost a full
  // run a core. It sleeps on `all_done` instead, and the arena's slots go to
  // TBB workers (one more allowed than usual, since the main thread is out).
  const int concurrency = std::max(1, std::min(options_.jobs, tbb::this_task_arena::max_concurrency()));
  tbb::global_control workers_allowed(tbb::global_control::max_allowed_parallelism,
                                      static_cast<std::size_t>(concurrency) + 1);
  tbb::task_arena arena(concurrency, /*reserved_for_masters=*/0);
  std::unique_ptr<tbb::flow::graph> graph;
  std::vector<std::unique_ptr<Join>> joins(graph_.stages.size());
  std::vector<std::unique_ptr<Async>> nodes(graph_.stages.size());
  arena.execute([&] {
    graph = std::make_unique<tbb::flow::graph>();
    tbb::flow::graph& g = *graph;
    for (int v : order) {
      const auto prio = stage_priority(v);
      joins[v] = std::make_unique<Join>(g, [](const tbb::flow::continue_msg& m) { return m; }, prio);
      nodes[v] = std::make_unique<Async>(
          g, tbb::flow::unlimited,
          [&impl, &pool, &gateways, &fail_internal, &stage_completed, v, prio](const tbb::flow::continue_msg&, Async::gateway_type& gw) {
            bool must_run = false;
            try {
              must_run = impl.prepare(v);
            } catch (const std::exception& e) {
              fail_internal(v, e.what());
            }
            if (!must_run) {
              gw.try_put(tbb::flow::continue_msg());
              stage_completed();
              return;
            }
            gateways[v] = &gw;
            gw.reserve_wait();
            pool.submit(v, static_cast<int>(prio));
          },
          prio);
      tbb::flow::make_edge(*joins[v], *nodes[v]);
    }
    for (int v : order)
      for (int d : graph_.deps[v])
        if (impl.selected[d]) tbb::flow::make_edge(*nodes[d], *joins[v]);
    for (int v : order) {
      bool root = true;
      for (int d : graph_.deps[v])
        if (impl.selected[d]) root = false;
      if (root) joins[v]->try_put(tbb::flow::continue_msg());
    }
  });
  {
    std::unique_lock<std::mutex> lock(done_mu);
    all_done.wait(lock, [&] { return completed == order.size(); });
  }
  arena.execute([&] {
    graph->wait_for_all();  // the last successor puts; returns at once
    nodes.clear();
    joins.clear();
    graph.reset();
  });

  if (!options_.dry_run) impl.index.set_logs_mtime_ns(logs_mtime());
  out.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
  out.interrupted = impl.cancelled();
  out.files_hashed = digester_.files_hashed();
  return out;
}

}  // namespace wrt
