#include "core/exec/stage_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <fmt/core.h>

#include "core/cache/cached_log.h"
#include "core/cache/output_tree.h"
#include "core/cache/remote_cache.h"
#include "core/util/atomic_file.h"
#include "core/util/log.h"

namespace wrt {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

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

Preparation over(std::string status, std::string detail) {
  Preparation p;
  p.status = std::move(status);
  p.detail = std::move(detail);
  return p;
}

void replay(StageRecord& rec, StageResults results, std::vector<CachedFile> outputs) {
  rec.results = std::move(results);
  rec.attempts = 0;
  rec.outputs = std::move(outputs);
  rec.output_digest = outputs_digest(rec.outputs);
  rec.reason = "inputs unchanged";
}

}  // namespace

StageRunner::StageRunner(const RunContext& run)
    : run_(run),
      ws_(run.config.workspace),
      dirs_(ws_),
      globber_(ws_, {".wrt", ".git", run.config.settings.cache_dir}),
      key_log_(dirs_.key_records),
      journal_(dirs_.state / "running-stages", run.options.dry_run),
      started_at_s_(static_cast<std::int64_t>(std::time(nullptr))),
      env_{ws_, ((run.store ? run.store->dir() : dirs_.root) / "plugin-data").string(), run.options.cancel,
           run.options.workers, [this](const std::string& line) { run_.events.note(line); }} {
  std::error_code ec;
  fs::create_directories(dirs_.state, ec);
  ws_fd_ = ::open(ws_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (struct stat st {}; ws_fd_ >= 0 && ::fstatat(ws_fd_, ".wrt/logs", &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
    no_logs_yet_ = true;
  // "<hex key> <stage>" lines; anything else is ignored (a damaged file only
  // makes a state directory look stale, which rebuilds it: safe).
  if (std::ifstream in(dirs_.state / "state-keys"); in) {
    std::string line;
    while (std::getline(in, line)) {
      std::size_t sp = line.find(' ');
      if (sp == 64 && line.size() > 65) state_keys_[line.substr(65)] = line.substr(0, 64);
    }
  }
  if (run_.store) {
    run_.index.adopt_store_mark(run_.store->removal_mark());
    fs::path rel = fs::weakly_canonical(run_.store->dir(), ec).lexically_relative(fs::weakly_canonical(ws_, ec));
    if (!ec && !rel.empty() && *rel.begin() != "..") cache_dir_rel_ = rel.generic_string();
    if (cache_dir_rel_ == ".") cache_dir_rel_.clear();
  }
}

StageRunner::~StageRunner() {
  if (ws_fd_ >= 0) ::close(ws_fd_);
}

void StageRunner::end_run() {
  if (run_.options.dry_run) return;
  if (Status s = key_log_.flush(); !s) run_.events.note(fmt::format("warning: {}", s.error()));
  std::unordered_set<std::string_view> names;  // filled on first use: usually nothing is left open
  journal_.forget_unless([&](const std::string& stage) {
    if (names.empty())
      for (const auto& sc : run_.config.stages) names.insert(sc.name);
    return names.count(stage) != 0;
  });
  if (Status s = journal_.close(); !s) run_.events.note(fmt::format("warning: {}", s.error()));
  std::lock_guard<std::mutex> lock(state_mu_);
  if (!state_keys_dirty_) return;
  std::string text;
  for (const auto& [stage, key] : state_keys_) text += key + " " + stage + "\n";
  if (Status s = write_file_atomically(dirs_.state / "state-keys", text); !s)
    run_.events.note(fmt::format("warning: {}", s.error()));
}

std::string StageRunner::stale_state(const std::vector<std::string>& dirs, const StageRecord& rec) const {
  if (dirs.empty() || rec.status != "cached") return {};
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    auto it = state_keys_.find(rec.name);
    if (it == state_keys_.end()) return "its state directory was never produced here";
    if (it->second != rec.cache_key) return "its state directory was produced for another key";
  }
  for (const auto& d : dirs) {
    struct stat st {};
    if (::fstatat(ws_fd_, d.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
      return fmt::format("its state directory {}/ is missing", d);
  }
  return {};
}

StageRunner::Rebuild StageRunner::rebuild_state(const StageTask& task, const Fingerprint& fp, const Upstream& upstream) {
  StageRecord scratch;
  scratch.name = task.record.name;
  scratch.plugin = task.record.plugin;
  StageTask t{task.config, task.plugin, scratch};
  Rebuild out;
  auto k = key_inputs(t, fp.values, upstream);
  if (!k) {
    out.end = {"failed", k.error()};
    return out;
  }
  Preparation p;
  p.key = compute_key(*k);
  for (const auto& f : k->files) p.inputs.push_back(f.first);
  p.state = fp.state;
  p.never_cache = fp.never_cache;
  scratch.cache_key = to_hex(p.key);
  scratch.log = ".wrt/logs/" + scratch.name + ".log";
  if (scratch.cache_key != task.record.cache_key) {
    // An input changed since the stage was keyed in this run.
    out.end = {"failed", "its inputs changed during the run"};
    return out;
  }
  out.end = run(t, p, Clock::now());
  if (out.end.status != "passed" && out.end.status != "flaky" && out.end.detail.empty())
    out.end.detail = scratch.results->message;
  out.output_digest = scratch.output_digest;
  return out;
}

// Builds the key from the stage's configuration, its input files, its
// environment, the plugin's fingerprints and its dependencies' outputs.
Result<KeyInputs> StageRunner::key_inputs(const StageTask& task,
                                          const std::vector<std::pair<std::string, std::string>>& fingerprints,
                                          const Upstream& upstream) {
  const StageConfig& sc = task.config;
  const LoadedPlugin& lp = task.plugin;
  FileDigester& digester = run_.digester;
  KeyInputs k;
  k.stage = sc.name;
  k.plugin = lp.name;
  k.plugin_version = lp.version;
  k.abi_major = lp.abi_major;
  k.abi_minor = lp.abi_minor;
  k.with = &sc.with;
  k.outputs = sc.outputs;
  std::vector<std::string> files;
  std::vector<std::pair<std::string, Digest>> literal_files;
  literal_files.reserve(sc.inputs.size());
  for (const auto& pattern : sc.inputs) {
    // A plain file path needs no glob (and no stat of its own): the
    // digester's stat says it is a file. Directories and missing paths
    // take the glob path, which expands or reports them.
    if (is_plain_path(pattern)) {
      if (auto d = digester.digest(pattern)) {
        literal_files.emplace_back(pattern, *d);
        continue;
      }
    }
    auto r = globber_.expand(pattern);
    if (!r) return Error{r.error()};
    if (r->empty() && !has_wildcard(pattern)) return Error{fmt::format("input '{}' does not exist", pattern)};
    files.insert(files.end(), r->begin(), r->end());
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  // What the stat cache knows first (the no-op: every file), then the new
  // or changed files hashed in parallel -- a first run over large inputs
  // would otherwise read them on one core.
  k.files.resize(files.size());
  std::vector<std::size_t> unknown;
  for (std::size_t i = 0; i < files.size(); ++i) {
    k.files[i].first = files[i];
    if (auto d = digester.cached(files[i])) k.files[i].second = *d;
    else unknown.push_back(i);
  }
  if (!unknown.empty()) {
    std::vector<std::string> errors(files.size());
    auto hash_one = [&](std::size_t i) {
      auto d = digester.digest(files[i]);
      if (d) k.files[i].second = *d;
      else errors[i] = d.error();
    };
    if (unknown.size() == 1) {
      hash_one(unknown.front());
    } else {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, unknown.size(), 1), [&](const auto& r) {
        for (std::size_t j = r.begin(); j != r.end(); ++j) hash_one(unknown[j]);
      });
    }
    for (std::size_t i : unknown)  // the first error in path order, as before
      if (!errors[i].empty()) return Error{fmt::format("input {}", errors[i])};
  }
  auto by_path = [](const auto& a, const auto& b) { return a.first < b.first; };
  auto same_path = [](const auto& a, const auto& b) { return a.first == b.first; };
  if (k.files.empty()) {
    k.files = std::move(literal_files);
    std::sort(k.files.begin(), k.files.end(), by_path);
    k.files.erase(std::unique(k.files.begin(), k.files.end(), same_path), k.files.end());
  } else if (!literal_files.empty()) {
    k.files.insert(k.files.end(), literal_files.begin(), literal_files.end());
    std::stable_sort(k.files.begin(), k.files.end(), by_path);
    k.files.erase(std::unique(k.files.begin(), k.files.end(), same_path), k.files.end());
  }
  for (const auto& name : sc.env) {
    const char* val = std::getenv(name.c_str());
    k.env.emplace_back(name, val ? std::optional<std::string>(val) : std::nullopt);
  }
  k.fingerprints = fingerprints;
  std::sort(k.fingerprints.begin(), k.fingerprints.end());
  k.upstream = upstream;
  std::sort(k.upstream.begin(), k.upstream.end());
  return k;
}

// Records the key for `wrt explain` when it changed; returns the reason.
// Best effort: a record that cannot be written only leaves `explain`
// without its answer.
std::string StageRunner::record_key(const std::string& name, const KeyInputs& k, const Digest& key,
                                    const std::string& key_hex, std::vector<std::string>& changes) {
  const bool dry = run_.options.dry_run;
  if (run_.index.is_last_key(name, key)) return {};
  if (!dry) run_.index.set_last_key(name, key);
  auto old = key_log_.latest(name);
  if (old && old->value("key", "") == key_hex) return {};
  std::string reason;
  if (!old) {
    reason = "no earlier run recorded";
  } else {
    auto diff = explain_difference(*old, key_inputs_to_json(k));
    changes = diff;
    reason = diff.empty() ? "key changed" : diff.front();
    if (diff.size() > 1) reason += fmt::format(" (+{} more)", diff.size() - 1);
  }
  if (!dry) key_log_.append_text(name, key_hex, key_record_text(k, key_hex));
  return reason;
}

// Is the output already in the workspace as recorded (content, mode, kind)?
// The path itself must not be a symlink unless one was recorded.
bool StageRunner::in_place(const CachedFile& f) {
  switch (f.kind) {
    case OutputKind::kFile: {
      FileStat st;
      auto cur = run_.digester.digest(f.path, &st, /*follow_symlinks=*/false);
      return cur && *cur == f.digest && ((st.mode & S_IXUSR) != 0) == f.executable;
    }
    case OutputKind::kSymlink: {
      char buf[4096];
      ssize_t n = ::readlinkat(ws_fd_, f.path.c_str(), buf, sizeof buf);
      return n >= 0 && std::string_view(buf, static_cast<std::size_t>(n)) == f.target;
    }
    case OutputKind::kDir: {
      struct stat st {};
      return ::fstatat(ws_fd_, f.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
  }
  return false;
}

// May this entry be restored for this stage? Every path must be allowed
// (check_restorable_path) and every declared output covered, or the entry
// is not a result of this stage as configured now.
Status StageRunner::check_entry(const StageConfig& sc, const CacheEntry& entry) const {
  for (const auto& f : entry.outputs)
    if (Status s = check_restorable_path(f.path, sc.outputs, cache_dir_rel_); !s) return s;
  for (const auto& d : sc.outputs) {
    bool covered = std::any_of(entry.outputs.begin(), entry.outputs.end(), [&](const CachedFile& f) {
      return f.path == d || (f.path.size() > d.size() && f.path.compare(0, d.size(), d) == 0 && f.path[d.size()] == '/');
    });
    if (!covered) return Error{fmt::format("it does not contain the declared output '{}'", d)};
  }
  return Status::Ok();
}

Status StageRunner::clear_outputs(const StageConfig& sc) {
  for (const auto& d : sc.outputs) {
    // Never anything a restore could not write either (.git/, .wrt/, ...).
    if (!check_restorable_path(d, sc.outputs, cache_dir_rel_)) continue;
    if (Status s = remove_output(ws_fd_, d); !s) return s;
  }
  globber_.invalidate();
  return Status::Ok();
}

// Restores a hit's outputs where the workspace copy differs; `*wrote` says
// whether anything was written. Writes never follow a symlink.
Status StageRunner::restore(const CacheEntry& entry, bool* wrote) {
  for (const auto& f : entry.outputs) {
    if (in_place(f)) continue;
    Status s;
    if (f.kind == OutputKind::kDir) {
      s = restore_dir(ws_fd_, f.path);
    } else {
      std::size_t slash = f.path.rfind('/');
      std::string parent = slash == std::string::npos ? std::string() : f.path.substr(0, slash);
      auto dir = open_dir_beneath(ws_fd_, parent, /*create=*/true);
      if (!dir) return Error{fmt::format("cannot restore {}: {}", f.path, dir.error())};
      // A restore killed before its rename (kill -9) left a temp file
      // beside its destination; the next restore there removes it. Once
      // per directory and run: listing a big directory per file would be
      // quadratic.
      bool first = false;
      {
        std::lock_guard<std::mutex> lock(swept_mu_);
        first = swept_dirs_.insert(parent).second;
      }
      if (first) remove_restore_temps(*dir);
      if (f.kind == OutputKind::kFile) {
        std::optional<struct stat> written;
        s = run_.store->restore_output_at(entry, f, *dir, f.path.substr(slash == std::string::npos ? 0 : slash + 1),
                                          &written);
        // The stat taken on the new file's descriptor when there is one (no
        // second walk of its path), else by path.
        if (s && written)
          run_.digester.remember(f.path, file_stat_of(*written), f.digest);
        else if (s)
          if (auto st = run_.digester.stat_now(f.path)) run_.digester.remember(f.path, *st, f.digest);
      } else {
        s = restore_symlink(ws_fd_, f.path, f.target);
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
void StageRunner::store_log(CacheEntry& entry, const std::string& log_rel) {
  auto enc = encode_log(ws_ / log_rel, run_.options.cached_log_limit);
  if (!enc) {
    run_.events.note(fmt::format("warning: cannot store log: {}", enc.error()));
    return;
  }
  const Digest d = sha256(enc->bytes);
  // A small log goes inside the entry; a large one is a blob, and many
  // stages log the same lines: each content is stored once.
  if (entry.offer_inline(d, enc->bytes)) {
    entry.log_inlined = true;
  } else if (!run_.store->has_blob(d)) {
    auto put = run_.store->put_bytes(enc->bytes);
    if (!put) {
      run_.events.note(fmt::format("warning: cannot store log {}: {}", log_rel, put.error()));
      return;
    }
  }
  entry.log = d;
  entry.log_encoding = enc->encoding;
  entry.log_truncated = enc->truncated;
}

// A hit answered from the run index: every output is already in place, so
// the store is not read. The store's entry is still marked as used (and
// checked to be there with its blobs) at most once an hour, to keep it from
// LRU eviction, and again after anything removed entries from the store.
std::optional<IndexedEntry> StageRunner::indexed_hit(const StageConfig& sc, const Digest& key,
                                                     const std::string& key_hex) {
  auto e = run_.index.entry(sc.name, key);
  if (!e) return std::nullopt;
  for (const auto& f : e->outputs)
    if (!in_place(f)) return std::nullopt;
  if (run_.index.touched_at(sc.name) + 3600 < started_at_s_) {
    // Not confirmed in the store within the hour, or the store lost entries
    // since (RunIndex::adopt_store_mark): the index must not answer for an
    // entry the store no longer holds, or the next checkout (or this one
    // with outputs deleted) would miss what this run reported as cached.
    std::vector<Digest> blobs;
    for (const auto& f : e->outputs)
      if (f.kind == OutputKind::kFile && !f.inlined) blobs.push_back(f.digest);
    if (e->log && !e->log_inlined) blobs.push_back(*e->log);
    const bool modify = !run_.options.dry_run;
    if (!run_.store->touch_entry(key_hex, blobs, modify)) return std::nullopt;  // gone: the store path decides
    if (modify) run_.index.set_touched_at(sc.name, started_at_s_);
  }
  return e;
}

namespace {

// The trusted built-in `command` plugin runs in wrt's process: it is the
// hot path of big pipelines (a worker round trip per stage would cost the
// full run its speed), and it is wrt's own code. Every other plugin runs
// in a worker process, where its faults cannot reach wrt -- except the
// fingerprint() of a plugin from wrt's own plugin directory: it is wrt's
// code too, runs on every no-op, and only parses `with` and asks the host
// for cached tool versions. In a worker it made a no-op start processes.
bool in_worker(const LoadedPlugin& lp, const PluginEnv& env, bool fingerprint) {
  if (!env.workers || lp.name == "command") return false;
  return !(fingerprint && lp.bundled);
}

void fill_stage(const StageConfig& sc, const PluginEnv& env, wrt_stage& ctx) {
  ctx.name = sc.name;
  ctx.workspace = env.workspace.string();
  ctx.with = &sc.with;
  ctx.cancel = env.cancel;
  ctx.data_dir = env.data_base + "/" + sc.plugin;
  ctx.outputs = &sc.outputs;
  ctx.console = env.console;
}

WorkerCall worker_call(const StageConfig& sc, const LoadedPlugin& lp, const PluginEnv& env, bool fingerprint) {
  WorkerCall c;
  c.fingerprint = fingerprint;
  c.library = lp.library;
  c.plugin = lp.name;
  c.stage = sc.name;
  c.workspace = env.workspace.string();
  c.with = &sc.with;
  c.data_dir = env.data_base + "/" + sc.plugin;
  c.outputs = &sc.outputs;
  c.cancel = env.cancel;
  c.console = env.console;
  return c;
}

}  // namespace

Fingerprint fingerprint_stage(const StageConfig& sc, const LoadedPlugin& lp, const PluginEnv& env) {
  Fingerprint out;
  out.state = sc.state;
  if (!lp.plugin->fingerprint) return out;
  std::vector<std::string> declared;
  if (in_worker(lp, env, /*fingerprint=*/true)) {
    WorkerCall c = worker_call(sc, lp, env, /*fingerprint=*/true);
    WorkerReply r = env.workers->call(c);
    if (!r.fault.empty()) {
      out.status = WRT_STATUS_ERROR;
      out.fault = std::move(r.fault);
      return out;
    }
    out.status = r.status;
    out.message = std::move(r.results.message);
    out.values = std::move(r.fingerprints);
    declared = std::move(r.state);
    out.never_cache = r.never_cache;
  } else {
    wrt_stage fp;
    fill_stage(sc, env, fp);
    fp.in_fingerprint = true;
    try {
      out.status = lp.plugin->fingerprint(host_table(), &fp);
    } catch (...) {
      out.status = WRT_STATUS_ERROR;
      out.fault = "plugin threw from fingerprint()";
      return out;
    }
    out.message = std::move(fp.results.message);
    out.values = std::move(fp.fingerprints);
    declared = std::move(fp.state);
    out.never_cache = fp.never_cache;
  }
  for (auto& d : declared)
    if (std::find(out.state.begin(), out.state.end(), d) == out.state.end()) out.state.push_back(std::move(d));
  if (out.status != WRT_STATUS_PASSED && out.message.empty()) out.message = "invalid configuration";
  return out;
}

std::string config_error_line(const Config& config, const StageConfig& sc, const std::string& message) {
  auto it = sc.key_pos.find("with");
  return fmt::format("{}: stage '{}': {}", config.where(it == sc.key_pos.end() ? sc.pos : it->pos), sc.name,
                     message);
}

Fingerprint StageRunner::fingerprint(const StageConfig& sc, const LoadedPlugin& lp) const {
  return fingerprint_stage(sc, lp, env_);
}

Preparation StageRunner::prepare(const StageTask& task, const Fingerprint& fp, const Upstream& upstream) {
  const StageConfig& sc = task.config;
  StageRecord& rec = task.record;
  const bool dry = run_.options.dry_run;
  auto failed = [&](std::string why) {
    rec.reason = why;
    rec.results.mut().message = why;
    return over("failed", std::move(why));
  };
  if (!fp.fault.empty()) return failed(fp.fault);
  if (fp.status != WRT_STATUS_PASSED) return failed(config_error_line(run_.config, sc, fp.message));

  auto k = key_inputs(task, fp.values, upstream);
  if (!k) return failed(k.error());
  const Digest key = compute_key(*k);
  rec.cache_key = to_hex(key);
  std::vector<std::string> changes;
  std::string why = record_key(sc.name, *k, key, rec.cache_key, changes);
  // Only a dry run (`wrt explain`) shows every difference; a run keeps the
  // first one, in the reason.
  if (run_.options.dry_run && !changes.empty()) rec.extras_mut().key_changes = std::move(changes);
  // Only where a stage may run: a hit needs no list (the no-op's hot path).
  auto input_names = [&] {
    std::vector<std::string> inputs;
    inputs.reserve(k->files.size());
    for (const auto& f : k->files) inputs.push_back(f.first);
    return inputs;
  };

  const bool cacheable = sc.cache && !fp.never_cache && run_.store != nullptr;
  rec.log = ".wrt/logs/";
  rec.log += sc.name;
  rec.log += ".log";
  std::optional<CacheEntry> entry;
  // After an interruption the outputs may hold more than the entry
  // (stage_journal.h); the index only checks the entry's own files.
  const bool interrupted = journal_.was_interrupted(sc.name);
  if (cacheable && run_.options.read_cache) {
    if (auto hit = interrupted ? std::nullopt : indexed_hit(sc, key, rec.cache_key)) {
      WRT_DEBUG_LOG("cache hit: stage '{}' key {} (run index: outputs already in place)", sc.name,
                    rec.cache_key.substr(0, 16));
      replay(rec, std::move(hit->results), std::move(hit->outputs));
      rec.log.clear();  // read from the store by `wrt log` (see conclude)
      return over("cached", "");
    }
    std::string warning;
    entry = run_.store->get_entry(rec.cache_key, &warning);
    if (!warning.empty()) run_.events.note(fmt::format("warning: {}: {}", sc.name, warning));
    // Local miss: the remote cache may have it. Asked by the caller through
    // lookup_remote(), on a thread that may wait on the network.
    if (!entry && run_.options.remote && !dry) {
      Preparation p;
      p.remote = std::make_shared<RemoteLookup>(RemoteLookup{key, input_names(), std::move(why), nullptr});
      return p;
    }
  }
  return conclude(task, fp, key, input_names(), std::move(why), std::move(entry));
}

Preparation StageRunner::lookup_remote(const StageTask& task, const Fingerprint& fp, const RemoteLookup& lookup) {
  const StageConfig& sc = task.config;
  StageRecord& rec = task.record;
  std::optional<CacheEntry> entry;
  std::string note;
  // The remote cache writes what it verified into the local store
  // (remote_cache.h); then it is read as any local entry.
  RemoteCache& remote = *run_.options.remote;
  const bool got = lookup.answer ? remote.fetch(rec.cache_key, *lookup.answer, *run_.store, &note, &entry)
                                 : remote.fetch(rec.cache_key, *run_.store, &note, &entry);
  if (got) {
    std::string warning;
    if (!entry) entry = run_.store->get_entry(rec.cache_key, &warning);
    if (entry) rec.extras_mut().remote_hit = true;
    if (!warning.empty()) run_.events.note(fmt::format("warning: {}: {}", sc.name, warning));
  }
  if (!note.empty()) run_.events.note(fmt::format("warning: {}: {}", sc.name, note));
  return conclude(task, fp, lookup.key, lookup.inputs, lookup.why, std::move(entry));
}

Preparation StageRunner::conclude(const StageTask& task, const Fingerprint& fp, const Digest& key,
                                  std::vector<std::string> inputs, std::string why, std::optional<CacheEntry> entry) {
  const StageConfig& sc = task.config;
  StageRecord& rec = task.record;
  const bool dry = run_.options.dry_run;
  const bool cacheable = sc.cache && !fp.never_cache && run_.store != nullptr;
  if (entry) {
    if (Status ok = check_entry(sc, *entry); !ok) {
      run_.events.note(fmt::format("warning: {}: cache entry {} refused: {}; running the stage instead", sc.name,
                                   rec.cache_key.substr(0, 16), ok.error()));
      entry.reset();
    }
  }
  if (entry) {
    bool wrote = false;
    Status restored = Status::Ok();
    if (!dry) {
      // An interrupted run left the outputs in an unknown state: the entry's
      // files replace them whole (extra files included), not only where
      // they differ.
      const bool interrupted = journal_.was_interrupted(sc.name);
      if (interrupted) {
        restored = clear_outputs(sc);
        if (restored) wrote = true;
      }
      if (restored) restored = restore(*entry, &wrote);
      if (restored && interrupted) journal_.finished(sc.name);
    }
    if (restored) {
      replay(rec, results_from_json(entry->result.value("results", nlohmann::json::object())), entry->outputs);
      // A cached result's log is the one stored with it: `wrt log` and the
      // evidence export read it from the entry. It is not written into
      // .wrt/logs (a fresh checkout would create a file per hit, as many as
      // it restores outputs), and a file left there by a run for another
      // key (an edit, then its revert) would pass for this result's, so it
      // goes. (.wrt/ is outside every glob: no invalidation for it.)
      if (!dry && !no_logs_yet_) (void)::unlinkat(ws_fd_, rec.log.c_str(), 0);
      rec.log.clear();
      if (wrote) globber_.invalidate();
      if (!dry) {
        run_.index.set_entry(sc.name, key, *entry);
        run_.index.set_touched_at(sc.name, started_at_s_);
      }
      WRT_DEBUG_LOG("cache hit: stage '{}' key {} (cache store{})", sc.name, rec.cache_key.substr(0, 16),
                    wrote ? ", outputs restored" : "");
      return over("cached", "");
    }
    run_.events.note(fmt::format("warning: {}: {}; running the stage instead", sc.name, restored.error()));
  }
  no_logs_yet_ = false;  // before this stage can write a log
  rec.reason = why.empty() ? (run_.options.read_cache ? "no cache entry for this key" : "--no-cache") : why;
  if (!cacheable && why.empty())
    rec.reason = fp.never_cache ? "never cached (its plugin's effect is outside the workspace)" : "caching is off for this stage";
  WRT_DEBUG_LOG("cache miss: stage '{}' key {}: {}", sc.name, rec.cache_key.substr(0, 16), rec.reason);
  if (dry) {
    // What dependents may assume of this stage's outputs: the last ones it
    // produced (early cutoff: a re-run that produces them again leaves its
    // dependents cached). Unknown without a recorded successful run.
    if (auto last = run_.index.last_key(sc.name))
      if (auto e = run_.index.entry(sc.name, *last)) rec.output_digest = outputs_digest(e->outputs);
    return over("pending", rec.reason);
  }
  Preparation p;
  p.key = key;
  p.inputs = std::move(inputs);
  p.state = fp.state;
  p.never_cache = fp.never_cache;
  return p;
}

StageEnd StageRunner::run(const StageTask& task, const Preparation& prepared, Clock::time_point t0) {
  const StageConfig& sc = task.config;
  const LoadedPlugin& lp = task.plugin;
  StageRecord& rec = task.record;
  const Config& config = run_.config;
  const bool cacheable = sc.cache && !prepared.never_cache && run_.store != nullptr;
  auto cancelled = [&] { return run_.options.cancel && run_.options.cancel->load(); };

  // .wrt/logs is made when the first open finds it missing (not checked
  // before every stage).
  const fs::path log_path = ws_ / rec.log;
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0 && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(dirs_.logs, ec);
    log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  }
  const int max_attempts = sc.max_attempts.value_or(config.settings.max_attempts);
  const double timeout_min = sc.timeout_minutes.value_or(config.settings.timeout_minutes);
  std::string status = "failed";
  // Outputs left by an interrupted run -- an earlier wrt, or an attempt of
  // this one that timed out or whose plugin crashed -- are removed before
  // the next attempt (stage_journal.h).
  bool outputs_dirty = journal_.was_interrupted(sc.name);
  bool ended_cleanly = false;
  auto stop = [&](std::string why) -> StageEnd {
    if (log_fd >= 0) ::close(log_fd);
    rec.results.mut().message = why;
    rec.reason = why;
    return {"failed", std::move(why)};
  };
  if (Status s = journal_.started(sc.name); !s) return stop(fmt::format("cannot record that the stage starts: {}", s.error()));
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    if (outputs_dirty) {
      if (Status s = clear_outputs(sc); !s)
        return stop(fmt::format("cannot remove the outputs an interrupted run left: {}", s.error()));
      outputs_dirty = false;
    }
    rec.attempts = attempt;
    const auto attempt_t0 = Clock::now();
    auto attempt_over = [&](const std::string& outcome) {
      run_.events.attempt_finished(sc.name, attempt, outcome,
                                   std::chrono::duration<double>(Clock::now() - attempt_t0).count());
    };
    if (attempt > 1 && log_fd >= 0) {
      std::string hdr = fmt::format("\n[wrt] attempt {} of {}\n", attempt, max_attempts);
      (void)!::write(log_fd, hdr.data(), hdr.size());
    }
    wrt_stage ctx;
    fill_stage(sc, env_, ctx);
    ctx.inputs = &prepared.inputs;
    if (!prepared.run_context.empty()) ctx.run_context = &prepared.run_context;
    ctx.log_fd = log_fd;
    ctx.deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_min * 60));
    wrt_status s = WRT_STATUS_ERROR;
    std::string fault;
    if (in_worker(lp, env_, /*fingerprint=*/false)) {
      WorkerCall c = worker_call(sc, lp, env_, /*fingerprint=*/false);
      c.deadline = ctx.deadline;
      c.inputs = &prepared.inputs;
      if (!prepared.run_context.empty()) c.run_context = &prepared.run_context;
      c.log_path = (ws_ / rec.log).string();
      WorkerReply r = run_.options.workers->call(c);
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
        s = lp.plugin->run(host_table(), &ctx);
      } catch (...) {
        ctx.results.message = "plugin threw from run()";
      }
    }
    rec.results = std::move(ctx.results);
    ended_cleanly = fault.empty() && !ctx.timed_out && !ctx.interrupted;
    outputs_dirty = !ended_cleanly;
    if (ctx.interrupted || cancelled()) {
      status = "interrupted";
      if (rec.results->message.empty()) rec.results.mut().message = "interrupted";
      attempt_over(status);
      break;
    }
    if (ctx.timed_out) {
      status = "timeout";
      rec.results.mut().message = fmt::format("timed out after {} min; {} process{} killed", timeout_min,
                                        ctx.processes_killed, ctx.processes_killed == 1 ? " was" : "es were");
      if (!fault.empty()) rec.results.mut().message += " (" + fault + ")";
      attempt_over(status);
      continue;
    }
    if (s == WRT_STATUS_PASSED) {
      status = attempt > 1 ? "flaky" : "passed";
      attempt_over("passed");
      break;
    }
    status = "failed";
    attempt_over(s == WRT_STATUS_RETRY ? "retry" : "failed");
    if (s == WRT_STATUS_ERROR) break;
  }
  if (log_fd >= 0) ::close(log_fd);
  if (ended_cleanly && status != "interrupted") journal_.finished(sc.name);
  globber_.invalidate();
  run_.index.drop_entry(sc.name);
  if (!prepared.state.empty()) {
    // The state directories now belong to this key -- or, after a failure,
    // to no key a dependent may trust.
    std::lock_guard<std::mutex> lock(state_mu_);
    if (status == "passed" || status == "flaky")
      state_keys_[sc.name] = rec.cache_key;
    else
      state_keys_.erase(sc.name);
    state_keys_dirty_ = true;
  }
  if (status != "passed" && status != "flaky") {
    if (!rec.results->message.empty()) rec.reason = rec.results->message;
    return {status, rec.results->message};
  }

  // Collect outputs (hashed once, now that the stage has ended); store them
  // and the result.
  auto listed = list_output_tree(ws_fd_, sc.outputs);
  if (!listed) {
    rec.results.mut().message = listed.error();
    rec.reason = listed.error();
    return {"failed", listed.error()};
  }
  bool blobs_stored = true;
  // What the cache entry will hold: small outputs inline (offer_inline).
  CacheEntry entry;
  for (const auto& o : *listed) {
    CachedFile cf{o.path, Digest{}, o.size, o.executable, o.kind, o.target};
    if (o.kind == OutputKind::kSymlink) {
      cf.digest = symlink_digest(o.target);
    } else if (o.kind == OutputKind::kFile) {
      // A small output is read once: hashed, and stored from the same bytes.
      std::optional<std::string> bytes;
      auto d = run_.digester.digest(o.path, nullptr, /*follow_symlinks=*/false, cacheable ? &bytes : nullptr);
      if (!d) {
        rec.results.mut().message = fmt::format("output {}", d.error());
        return {"failed", rec.results->message};
      }
      cf.digest = *d;
      if (cacheable && bytes && entry.offer_inline(*d, *bytes)) {
        cf.inlined = true;
      } else if (cacheable && !run_.store->has_blob(*d)) {
        auto put = bytes ? run_.store->put_bytes(*bytes) : run_.store->put_file(ws_ / o.path);
        if (!put) {
          run_.events.note(fmt::format("warning: {}: cannot store output: {}", sc.name, put.error()));
          blobs_stored = false;
        } else if (*put != *d) {
          // Rewritten between hashing and storing: no single content to vouch for.
          rec.extras_mut().not_stored = fmt::format("output {} changed while it was stored", o.path);
        }
      }
    }
    rec.outputs.push_back(std::move(cf));
  }
  rec.output_digest = outputs_digest(rec.outputs);

  // Guard against concurrent changes (Bazel's --guard_against_concurrent_changes):
  // an input edited while the stage ran means the outputs may come from
  // content other than the keyed one, so the result must not be cached.
  if (cacheable && rec.extras().not_stored.empty()) {
    // The digester recorded each input's stat with its digest.
    for (const auto& path : prepared.inputs) {
      if (run_.digester.changed_since_digest(path)) {
        rec.extras_mut().not_stored = fmt::format("input {} changed while the stage ran", path);
        break;
      }
    }
  }
  if (cacheable && rec.extras().not_stored.empty()) {
    for (const auto& o : rec.outputs)
      if (Status s = check_restorable_path(o.path, sc.outputs, cache_dir_rel_); !s) {
        rec.extras_mut().not_stored = fmt::format("output {}", s.error());
        break;
      }
  }
  if (!blobs_stored && rec.extras().not_stored.empty()) rec.extras_mut().not_stored = "an output could not be stored";
  if (!rec.extras().not_stored.empty() && cacheable)
    run_.events.note(fmt::format("warning: {}: result not cached: {}", sc.name, rec.extras().not_stored));
  if (cacheable && rec.extras().not_stored.empty()) {
    entry.outputs = rec.outputs;
    entry.result = {{"status", status},
                    {"attempts", rec.attempts},
                    {"plugin", lp.name},
                    {"duration_s", std::chrono::duration<double>(Clock::now() - t0).count()},
                    {"results", results_to_json(rec.results)}};
    store_log(entry, rec.log);
    // Every blob it names was just stored or found (above, store_log).
    auto put = run_.store->put_entry(rec.cache_key, entry, /*blobs_checked=*/true);
    if (!put) {
      run_.events.note(fmt::format("warning: {}: cannot store cache entry: {}", sc.name, put.error()));
    } else if (!put->differences.empty()) {
      rec.extras_mut().nondeterministic = true;
      std::string list;
      for (std::size_t i = 0; i < put->differences.size() && i < 5; ++i)
        list += (i ? ", " : "") + put->differences[i];
      if (put->differences.size() > 5) list += fmt::format(" (+{} more)", put->differences.size() - 5);
      run_.events.note(fmt::format(
          "warning: {}: non-deterministic stage: a different result is already cached for its key ({} differ); "
          "the first result stays cached",
          sc.name, list));
    } else {
      if (put->replaced_corrupt)
        run_.events.note(fmt::format("warning: {}: replaced a corrupt cache entry for its key", sc.name));
      run_.index.set_entry(sc.name, prepared.key, entry);
      run_.index.set_touched_at(sc.name, started_at_s_);
      // Queued: the upload thread reads, signs and sends it; this thread
      // (the stage's job slot) goes on to the next stage.
      if (run_.options.remote) run_.options.remote->upload(rec.cache_key, entry, *run_.store, sc.name);
    }
  }
  return {status, status == "flaky" ? fmt::format("passed on attempt {}", rec.attempts) : ""};
}

}  // namespace wrt
