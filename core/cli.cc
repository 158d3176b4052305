#include "core/cli.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "core/cache/cache_store.h"
#include "core/cache/cached_log.h"
#include "core/cache/remote_cache.h"
#include "core/cache/remote_model.h"
#include "core/completions.h"
#include "core/config/components.h"
#include "core/config/config.h"
#include "core/config/config_cache.h"
#include "core/config/config_schema.h"
#include "core/config/init_template.h"
#include "core/exec/executor.h"
#include "core/exec/sharding.h"
#include "core/cache/file_digester.h"
#include "core/exec/workspace_lock.h"
#include "core/config/graph.h"
#include "core/host/host_api.h"
#include "core/exec/interrupt.h"
#include "core/results/last_results.h"
#include "core/host/plugin_host.h"
#include "core/results/report.h"
#include "core/results/safety_gate.h"
#include "core/results/sarif.h"
#include "core/results/badges.h"
#include "core/results/dashboard.h"
#include "core/results/deployments.h"
#include "core/results/evidence.h"
#include "core/results/approvals.h"
#include "core/util/atomic_file.h"
#include "core/results/chrome_trace.h"
#include "core/results/github_output.h"
#include "core/results/gitlab_output.h"
#include "core/results/junit_export.h"
#include "core/results/notifier.h"
#include "core/results/run_history.h"
#include "core/results/status_printer.h"
#include "core/util/git_head.h"
#include "core/util/log.h"
#include "core/exec/subprocess.h"
#include "core/results/trace.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "wrt: error: %s\n", message.c_str());
  return kExitUsage;
}

// The workspace: -C DIR, else the nearest directory upwards holding a
// wrt.toml (like git finds its repository), else the current directory.
fs::path find_workspace(const std::string& dir_opt) {
  std::error_code ec;
  if (!dir_opt.empty()) return fs::absolute(dir_opt, ec).lexically_normal();
  fs::path cur = fs::current_path(ec);
  for (fs::path p = cur; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / "wrt.toml", ec)) return p;
    if (p == p.parent_path()) break;
  }
  return cur;
}

// WRT_PHASE_TIMES=1 prints how long each phase of a command took (stderr),
// for finding where a slow no-op run spends its time.
class PhaseTimer {
 public:
  explicit PhaseTimer(const char* phase) : phase_(phase), enabled_(std::getenv("WRT_PHASE_TIMES") != nullptr) {}
  ~PhaseTimer() { next(nullptr); }
  void next(const char* phase) {
    auto now = std::chrono::steady_clock::now();
    if (enabled_ && phase_) {
      // And the memory at the phase's end (resident now, the peak so far),
      // for finding which phase sets a run's peak (issue 17).
      long rss_kib = -1, hwm_kib = -1;
      if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, f)) {
          std::sscanf(line, "VmRSS: %ld", &rss_kib);
          std::sscanf(line, "VmHWM: %ld", &hwm_kib);
        }
        std::fclose(f);
      }
      std::fprintf(stderr, "wrt: phase %-16s %8.1f ms  rss %6.1f MiB (peak %6.1f)\n", phase_,
                   std::chrono::duration<double, std::milli>(now - start_).count(), static_cast<double>(rss_kib) / 1024,
                   static_cast<double>(hwm_kib) / 1024);
    }
    phase_ = phase;
    start_ = now;
  }

 private:
  const char* phase_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Ends the process once a run has written everything, without destroying
// its state (the parsed stages, records, stat cache, run index): freeing
// that is a tenth of a no-op run over 10,000 stages. ninja ends the same way.
// Sanitizer builds return normally so leak checking sees every allocation.
void end_process_now(int code) {
  // With WRT_PHASE_TIMES, wrt's own CPU time (its threads, not the stage
  // processes it waited for): what a full run costs beyond its stages.
  if (std::getenv("WRT_PHASE_TIMES")) {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
    std::fprintf(stderr, "wrt: own cpu user %.3f s, sys %.3f s; peak rss %ld KiB\n", secs(ru.ru_utime), secs(ru.ru_stime),
                 ru.ru_maxrss);
  }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)code;
#else
  std::fflush(nullptr);
  std::exit(code);
#endif
}

struct Loaded {
  Config config;
  Graph graph;
  Digest text_digest{};  // of the wrt.toml the model was made from
  // Where the model is shared (config_cache.h), and whether it still has to
  // be: parsed when that directory did not exist yet.
  fs::path shared_dir;
  bool share_later = false;
};

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// For a run: the parsed model from the remote cache, when there is no copy
// here (remote_model.h). The remote's address and trusted keys as the run
// will use them -- --remote-cache, else WRT_REMOTE_CACHE, else
// settings.remote_cache; the keys of settings.remote_cache_trusted_keys --
// read from wrt.toml's [settings] alone. Whatever cannot be known that way,
// or fails, is a miss: wrt.toml is parsed, and the run's own remote cache
// reports what is wrong with the server or the keys.
RemoteModelSource remote_model_source(const fs::path& workspace, const std::string& url_opt) {
  return [workspace, url_opt](const Digest& text_digest, std::string_view text) -> std::optional<RemoteModel> {
    auto settings = peek_settings(text);
    if (!settings || settings->remote_cache_trusted_keys.empty()) return std::nullopt;
    std::string url = !url_opt.empty() ? url_opt : env_or_empty("WRT_REMOTE_CACHE");
    if (url.empty()) url = settings->remote_cache;
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) return std::nullopt;
    while (!url.empty() && url.back() == '/') url.pop_back();
    std::vector<Ed25519Key> trusted;
    for (const auto& p : settings->remote_cache_trusted_keys) {
      auto k = Ed25519Key::load_public(fs::path(p).is_absolute() ? fs::path(p) : workspace / p);
      if (!k) return std::nullopt;
      trusted.push_back(*k);
    }
    const auto build = wrt_build_digest();
    if (!build) return std::nullopt;
    std::vector<std::string> headers;
    if (std::string h = env_or_empty("WRT_REMOTE_CACHE_HEADER"); h.find(':') != std::string::npos) headers.push_back(h);
    std::string refused, failed;
    auto encoding = fetch_remote_model(url, headers, trusted, *build, text_digest, &refused, &failed);
    // Refused: a warning, as for entries (someone may be poisoning the
    // cache). A failing server: the run's own requests will say so.
    auto not_used = [&](const std::string& why) {
      std::fprintf(stderr, "wrt: warning: remote cache: its parsed wrt.toml is not used (%s); parsing wrt.toml\n",
                   why.c_str());
      return std::nullopt;
    };
    if (!encoding) {
      if (!failed.empty()) WRT_DEBUG_LOG("remote config model not fetched: {}", failed);
      if (!refused.empty()) return not_used(refused);
      return std::nullopt;
    }
    auto model = decode_config(*encoding);
    // The keys it was checked with must be the ones its own settings name:
    // otherwise [settings] read alone was not what the parse makes of it.
    if (!model) return not_used(model.error());
    if (model->settings.remote_cache_trusted_keys != settings->remote_cache_trusted_keys ||
        model->settings.remote_cache != settings->remote_cache)
      return not_used("its settings differ from wrt.toml's [settings]");
    return RemoteModel{std::move(*encoding), std::move(*model)};
  };
}

// `cache_dir_opt`: --cache-dir. The cache directory as known before
// wrt.toml is read (the option, WRT_CACHE_DIR, or the default): where the
// parsed model is shared between checkouts (config_cache.h).
// `remote_url_opt`: for a run (--remote-cache, possibly empty): the model
// may come from the remote cache.
Result<std::unique_ptr<Loaded>> load(const fs::path& workspace, const std::string& cache_dir_opt = "",
                                     const std::string* remote_url_opt = nullptr) {
  PhaseTimer timer("load config");
  const auto t0 = std::chrono::steady_clock::now();
  std::string shared = cache_dir_opt;
  if (shared.empty())
    if (const char* env = std::getenv("WRT_CACHE_DIR"); env && *env) shared = env;
  if (shared.empty()) shared = Settings{}.cache_dir;
  fs::path shared_dir(shared);
  if (!shared_dir.is_absolute()) shared_dir = workspace / shared_dir;
  ConfigSource source = ConfigSource::kParsed;
  Digest text_digest{};
  auto cfg = load_config_cached(workspace / "wrt.toml", workspace / ".wrt" / "state" / "config-cache", shared_dir,
                                &source, remote_url_opt ? remote_model_source(workspace, *remote_url_opt) : nullptr,
                                &text_digest);
  if (!cfg) return Error{cfg.error()};
  static constexpr const char* kFrom[] = {"the state cache", "the state cache (same text)", "the shared cache", "parsing",
                                          "the remote cache"};
  WRT_DEBUG_LOG("loaded {} in {:.1f} ms from {}: {} stages, {} pipelines, {} components",
                (workspace / "wrt.toml").string(),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
                kFrom[static_cast<int>(source)],
                cfg->stages.size(), cfg->pipelines.size(), cfg->components.size());
  timer.next("build graph");
  auto loaded = std::make_unique<Loaded>();
  loaded->config = std::move(*cfg);
  loaded->text_digest = text_digest;
  loaded->shared_dir = shared_dir;
  std::error_code ec;
  loaded->share_later =
      (source == ConfigSource::kParsed || source == ConfigSource::kRemote) && !fs::is_directory(shared_dir, ec);
  auto g = build_graph(loaded->config);
  if (!g) return Error{g.error()};
  loaded->graph = std::move(*g);
  return loaded;
}

fs::path cache_dir_for(const Config& cfg, const std::string& opt) {
  std::string d = opt;
  if (d.empty())
    if (const char* env = std::getenv("WRT_CACHE_DIR"); env && *env) d = env;
  if (d.empty()) d = cfg.settings.cache_dir;
  fs::path p(d);
  return p.is_absolute() ? p : cfg.workspace / p;
}

// The cache a command only reads from; null when the directory does not
// exist (a read creates no cache). Error: it exists and cannot be opened.
Result<std::unique_ptr<CacheStore>> open_cache_to_read(const Config& cfg, const std::string& opt) {
  const fs::path dir = cache_dir_for(cfg, opt);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::unique_ptr<CacheStore>();
  auto store = std::make_unique<CacheStore>(dir, cfg.settings.cache_max_size);
  if (Status st = store->open(); !st) return Error{st.error()};
  return store;
}

struct RunArgs {
  std::string pipeline;
  std::vector<std::string> stages;
  int jobs = 0;
  bool keep_going = false;
  bool no_cache = false;
  bool dry_run = false;
  std::string report;
  std::string ci_format = "auto";  // auto | github | plain
  std::string junit;  // --junit FILE
  std::string codequality;  // --codequality FILE (GitLab Code Quality JSON)
  std::string trace;  // --trace FILE (Chrome trace events)
  std::string cache_dir;
  bool strict = false;         // a `warn` safety-gate verdict fails the run
  bool no_wait = false;        // another run holds the checkout: exit 2 instead of waiting
  std::string shard;           // --shard K/N (sharding.h)
  std::string remote_cache;    // --remote-cache URL
  bool remote_read_only = false;  // --remote-read-only
  bool more_follows = false;   // the command goes on after this run (`wrt deploy`): return, do not end the process
  std::string changed_since;   // git ref: only components whose files changed
  bool verify = false;         // `wrt verify`: targets come from `verify_request`
  VerifyRequest verify_request;
};

// Files changed since `ref` (committed, staged, unstaged and untracked),
// relative to the workspace.
Result<std::vector<std::string>> files_changed_since(const fs::path& ws, const std::string& ref) {
  std::vector<std::string> files;
  for (std::vector<std::string> argv : {std::vector<std::string>{"git", "diff", "--name-only", "--relative", ref, "--"},
                                        std::vector<std::string>{"git", "ls-files", "--others", "--exclude-standard"}}) {
    SpawnOptions o;
    o.argv = argv;
    o.cwd = ws;
    o.capture = true;
    SpawnResult r = run_process(o);
    if (!r.started) return Error{fmt::format("--changed-since: cannot run git: {}", r.error)};
    if (r.exit_code != 0) {
      std::string msg = r.output.substr(0, r.output.find('\n'));
      return Error{fmt::format("--changed-since {}: git {} failed: {}", ref, argv[1], msg)};
    }
    std::size_t start = 0;
    while (start < r.output.size()) {
      std::size_t end = r.output.find('\n', start);
      if (end == std::string::npos) end = r.output.size();
      if (end > start) files.push_back(r.output.substr(start, end - start));
      start = end + 1;
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

// Resolves the stages a run covers. Returns the label used in reports.
Result<std::vector<int>> resolve_targets(Loaded& l, const RunArgs& a, std::string* label) {
  std::vector<std::string> targets;
  for (const auto& s : a.stages) {
    auto named = l.config.resolve_stage_name(s);
    if (named.empty()) targets.push_back(s);  // select_stages names it as unknown
    targets.insert(targets.end(), named.begin(), named.end());
  }
  *label = a.pipeline;
  if (a.verify) {
    auto v = apply_verify_request(l.config, a.verify_request);
    if (!v) return Error{v.error()};
    targets.insert(targets.end(), v->begin(), v->end());
    *label = fmt::format("verify --asil-profile {}", asil_name(a.verify_request.level));
  }
  if (!a.pipeline.empty()) {
    const PipelineConfig* p = l.config.find_pipeline(a.pipeline);
    if (!p) {
      std::vector<std::string> names;
      for (const auto& x : l.config.pipelines) names.push_back(x.name);
      std::string hint = did_you_mean(a.pipeline, names);
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      return Error{fmt::format("unknown pipeline '{}'{}{}", a.pipeline,
                               hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                               known.empty() ? "; wrt.toml defines no [pipelines]" : "; pipelines: " + known)};
    }
    if (a.stages.empty()) {
      targets.insert(targets.end(), p->stages.begin(), p->stages.end());
    } else {
      // `wrt run ci --stage tidy` narrows the pipeline to that stage and
      // what it needs (like `ninja -C build target`), and a stage outside
      // the pipeline is a usage error, not a silent widening.
      auto in_pipeline = select_stages(l.graph, p->stages);
      if (!in_pipeline) return Error{in_pipeline.error()};
      for (const auto& t : targets) {
        int v = l.graph.find(t);
        if (v >= 0 && std::find(in_pipeline->begin(), in_pipeline->end(), v) == in_pipeline->end())
          return Error{fmt::format("--stage {}: stage '{}' is not part of pipeline '{}' (run it without the pipeline name)",
                                   t, t, a.pipeline)};
      }
      *label = fmt::format("{} --stage", a.pipeline);
    }
  }
  if (label->empty()) *label = a.stages.empty() ? "all" : "stages";
  if (!a.changed_since.empty()) {
    auto files = files_changed_since(l.config.workspace, a.changed_since);
    if (!files) return Error{files.error()};
    std::vector<std::string> touched = components_touched(l.config, *files);
    std::string list;
    for (const auto& c : touched)
      list += fmt::format("{}{} (ASIL {})", list.empty() ? "" : ", ", c, asil_name(l.config.find_component(c)->asil));
    std::printf("changed since %s: %zu file%s; components: %s\n", a.changed_since.c_str(), files->size(),
                files->size() == 1 ? "" : "s", list.empty() ? "none" : list.c_str());
    // Start from what was asked (everything when nothing was), and drop the
    // instances of untouched components.
    if (targets.empty())
      for (const auto& s : l.config.stages) targets.push_back(s.name);
    std::vector<std::string> kept;
    for (const auto& t : targets) {
      const StageConfig* sc = l.config.find_stage(t);
      if (sc && !sc->component.empty() && std::find(touched.begin(), touched.end(), sc->component) == touched.end())
        continue;
      kept.push_back(t);
    }
    if (kept.empty()) return std::vector<int>{};
    targets = std::move(kept);
  }
  return select_stages(l.graph, targets);
}

struct Session {
  std::unique_ptr<Loaded> loaded;
  std::unique_ptr<PluginHost> plugins;
  std::vector<const LoadedPlugin*> stage_plugins;
};

// The session over a configuration already loaded (`wrt list` prints it
// first; loading 100,000 stages twice took 0.6 s).
Result<Session> open_session(const fs::path& ws, std::unique_ptr<Loaded> loaded, std::vector<int>& order,
                             const RunArgs& args, std::string* label) {
  Session s;
  s.loaded = std::move(loaded);
  auto sel = resolve_targets(*s.loaded, args, label);
  if (!sel) return Error{sel.error()};
  order = std::move(*sel);
  PhaseTimer timer("load plugins");
  s.plugins = std::make_unique<PluginHost>(plugin_search_path(s.loaded->config.settings.plugin_path, ws), host_table());
  s.stage_plugins.assign(s.loaded->graph.stages.size(), nullptr);
  for (int v : order) {
    const StageConfig& sc = *s.loaded->graph.stages[v];
    auto p = s.plugins->find(sc.plugin);
    if (!p) {
      auto it = sc.key_pos.find("plugin");
      return Error{fmt::format("{}: stage '{}': {}", s.loaded->config.where(it == sc.key_pos.end() ? sc.pos : it->pos),
                               sc.name, p.error())};
    }
    s.stage_plugins[v] = *p;
  }
  return s;
}

Result<Session> open_session(const fs::path& ws, std::vector<int>& order, const RunArgs& args, std::string* label) {
  auto l = load(ws, args.cache_dir, &args.remote_cache);
  if (!l) return Error{l.error()};
  return open_session(ws, std::move(*l), order, args, label);
}

// The remote cache of a run (remote_cache.h): --remote-cache, else
// WRT_REMOTE_CACHE, else settings.remote_cache; null when none. Credentials
// come from the environment only: WRT_REMOTE_CACHE_HEADER ("Name: value")
// and WRT_REMOTE_CACHE_KEY (the Ed25519 private key that signs uploads).
Result<std::unique_ptr<RemoteCache>> open_remote_cache(const Config& cfg, const RunArgs& args) {
  auto env = [](const char* n) { const char* v = std::getenv(n); return std::string(v ? v : ""); };
  std::string url = !args.remote_cache.empty() ? args.remote_cache : env("WRT_REMOTE_CACHE");
  if (url.empty()) url = cfg.settings.remote_cache;
  if (url.empty()) return std::unique_ptr<RemoteCache>();
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return Error{fmt::format("remote cache '{}': only http:// and https:// URLs", url)};
  RemoteCacheOptions o;
  o.url = url;
  if (std::string h = env("WRT_REMOTE_CACHE_HEADER"); !h.empty()) {
    if (h.find(':') == std::string::npos) return Error{"WRT_REMOTE_CACHE_HEADER must be \"Name: value\""};
    o.headers.push_back(h);
  }
  o.upload = cfg.settings.remote_upload && !args.remote_read_only;
  o.zstd = cfg.settings.remote_cache_compression == "zstd";
  for (const auto& p : cfg.settings.remote_cache_trusted_keys) {
    auto k = Ed25519Key::load_public(fs::path(p).is_absolute() ? fs::path(p) : cfg.workspace / p);
    if (!k) return Error{fmt::format("settings.remote_cache_trusted_keys: {}", k.error())};
    o.trusted.push_back(*k);
  }
  if (std::string key = env("WRT_REMOTE_CACHE_KEY"); !key.empty() && o.upload) {
    auto k = Ed25519Key::load_private(key);
    if (!k) return Error{fmt::format("WRT_REMOTE_CACHE_KEY: {}", k.error())};
    o.signer = *k;
  }
  return std::make_unique<RemoteCache>(std::move(o));
}

int cmd_run(const fs::path& ws, const RunArgs& args, bool explain_mode, const std::string& explain_stage) {
  WorkspaceDirs dirs(ws);
  // One run per checkout (workspace_lock.h), held until the state is saved.
  WorkspaceLock checkout_lock;
  // Without a wrt.toml the load below fails with its message; taking the
  // lock first would leave a .wrt/ behind in a directory that is no
  // workspace.
  std::error_code no_config;
  const bool has_config = fs::exists(ws / "wrt.toml", no_config);
  if (!args.dry_run && !explain_mode && has_config) {
    auto lock = WorkspaceLock::acquire(dirs.root, !args.no_wait, [](long pid) {
      if (pid > 0)
        std::fprintf(stderr, "wrt: waiting for another wrt run in this checkout (pid %ld)\n", pid);
      else
        std::fprintf(stderr, "wrt: waiting for another wrt run in this checkout\n");
    });
    if (!lock) return usage_error(lock.error());
    checkout_lock = std::move(*lock);
  }
  // The workspace's state files do not depend on the configuration: they are
  // read on a second thread while wrt.toml is loaded.
  FileDigester digester(ws, dirs.state / "stat-cache");
  RunIndex index(dirs.state / "run-index");
  std::string digester_warning, index_warning;
  std::thread state_loader([&] {
    PhaseTimer t("(thread) stat cache");
    digester.load(&digester_warning);
    t.next("(thread) run index");
    index.load(&index_warning);
  });
  struct Joiner {
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } joiner{state_loader};

  std::vector<int> order;
  std::string label;
  auto session = open_session(ws, order, args, &label);
  {
    PhaseTimer wait("wait for state");
    state_loader.join();
  }
  if (!session) return usage_error(session.error());
  for (const std::string* w : {&digester_warning, &index_warning})
    if (!w->empty()) std::fprintf(stderr, "wrt: warning: %s\n", w->c_str());
  Session& s = *session;
  const Config& cfg = s.loaded->config;

  // A shard: its share of the selection and what that needs (a subset of
  // the selection, which holds every dependency already).
  ShardFigures shard_figures;
  if (!args.shard.empty()) {
    auto spec = parse_shard(args.shard);
    if (!spec) return usage_error(spec.error());
    std::map<std::string, double> seconds;  // the last real duration of each stage
    for (const auto& rec : RunHistory::read(dirs.root / "history"))
      if (rec.contains("stages") && rec["stages"].is_array())
        for (const auto& st : rec["stages"])
          if (st.is_object() && st.contains("name") && st["name"].is_string() && st.contains("duration_s") &&
              st["duration_s"].is_number())
            seconds[st["name"].get<std::string>()] = st["duration_s"].get<double>();
    ShardPlan plan = plan_shard(s.loaded->graph, order, seconds, *spec);
    auto closure = plan.assigned.empty() ? Result<std::vector<int>>(std::vector<int>{})
                                         : select_stages(s.loaded->graph, plan.assigned);
    if (!closure) return usage_error(closure.error());
    order = std::move(*closure);
    shard_figures = {spec->index, spec->count, plan.assigned, plan.partition};
    std::printf("shard %d/%d: %zu of the selected stages, %zu with what they need\n", spec->index, spec->count,
                plan.assigned.size(), order.size());
  }

  PhaseTimer timer("open cache");
  fs::path cache_dir = cache_dir_for(cfg, args.cache_dir);
  std::unique_ptr<CacheStore> store = std::make_unique<CacheStore>(cache_dir, cfg.settings.cache_max_size);
  if (Status st = store->open(); !st) return usage_error(st.error());
  // A first run: the cache directory exists now, so the model it parsed is
  // shared for fresh checkouts (config_cache.h).
  std::error_code abs_ec;
  if (s.loaded->share_later &&
      fs::absolute(s.loaded->shared_dir, abs_ec).lexically_normal() == fs::absolute(cache_dir, abs_ec).lexically_normal())
    share_config_model(ws / "wrt.toml", ws / ".wrt" / "state" / "config-cache", cache_dir);
  std::unique_ptr<RemoteCache> remote;
  if (!args.dry_run && !explain_mode) {
    auto r = open_remote_cache(cfg, args);
    if (!r) return usage_error(r.error());
    remote = std::move(*r);
  }

  int jobs = args.jobs > 0 ? args.jobs : cfg.settings.max_parallel_jobs;
  if (jobs <= 0) jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  const bool quiet = explain_mode;
  std::FILE* out = quiet ? std::fopen("/dev/null", "w") : stdout;
  StatusPrinter printer(out, StatusPrinter::detect_smart_terminal(out), order.size(), ws);
  RunEvents events;
  events.add(printer);
  // Relative to where wrt was started, like --report.
  auto out_path = [](const std::string& f) { return fs::path(f).is_absolute() ? fs::path(f) : fs::current_path() / f; };
  std::unique_ptr<JunitExport> junit;
  std::unique_ptr<ChromeTrace> trace;
  if (!args.junit.empty() && !args.dry_run && !explain_mode) events.add(*(junit = std::make_unique<JunitExport>(out_path(args.junit))));
  if (!args.trace.empty() && !args.dry_run && !explain_mode) events.add(*(trace = std::make_unique<ChromeTrace>(out_path(args.trace))));
  RunHistory history(dirs.root / "history");
  if (!args.dry_run && !explain_mode) events.add(history);
  std::unique_ptr<GithubOutput> github;
  if (!quiet && (args.ci_format == "github" || (args.ci_format == "auto" && GithubOutput::detect()))) {
    auto env = [](const char* n) { const char* v = std::getenv(n); return std::string(v ? v : ""); };
    github = std::make_unique<GithubOutput>(stdout, ws, env("GITHUB_STEP_SUMMARY"), env("GITHUB_OUTPUT"));
    printer.show_log_tails(false);  // each log is in its ::group:: instead
    events.add(*github);
  }
  std::unique_ptr<GitlabSections> gitlab;
  if (!quiet && !github && (args.ci_format == "gitlab" || (args.ci_format == "auto" && GitlabSections::detect()))) {
    gitlab = std::make_unique<GitlabSections>(stdout, ws);
    printer.show_log_tails(false);  // each log is in its section instead
    events.add(*gitlab);
  }
  // Before the run: the history's last record is the previous run (the
  // history observer appends this one).
  std::unique_ptr<Notifier> notifier;
  if (cfg.notify.configured() && !args.dry_run && !explain_mode) {
    auto env = [](const char* n) { const char* v = std::getenv(n); return std::string(v ? v : ""); };
    notifier = std::make_unique<Notifier>(cfg.notify, cfg.project_name.empty() ? ws.filename().string() : cfg.project_name,
                                          RunHistory::read_last(dirs.root / "history"), ws, env);
    events.add(*notifier);
  }
  std::unique_ptr<CodeQualityReport> codequality;
  if (!args.codequality.empty() && !args.dry_run && !explain_mode)
    events.add(*(codequality = std::make_unique<CodeQualityReport>(out_path(args.codequality))));
  install_interrupt_handlers();
  timer.next("execute");
  RunOptions opts;
  opts.jobs = jobs;
  opts.keep_going = args.keep_going;
  opts.read_cache = !args.no_cache;
  opts.dry_run = args.dry_run || explain_mode;
  opts.cancel = &interrupt_flag();
  opts.memory_limit = cfg.settings.memory_limit;
  opts.cached_log_limit = cfg.settings.cached_log_limit;
  // Plugins other than `command` run in worker processes (plugin_worker.h).
  WorkerPool workers("/proc/self/exe");
  opts.workers = &workers;
  // Where this run happens, for stages with `when`: asked of the CI
  // environment or git on every run (tags only when a stage asks).
  bool need_tags = false;
  for (int v : order) need_tags |= !s.loaded->graph.stages[v]->extras().when.tag.empty();
  RunConditions conditions = detect_run_conditions(
      ws, [](const char* n) { const char* v = std::getenv(n); return std::string(v ? v : ""); }, need_tags);
  conditions.named = args.stages;
  opts.conditions = &conditions;
  opts.remote = remote.get();
  Executor ex(cfg, s.loaded->graph, s.stage_plugins, store.get(), digester, index, events, opts);
  RunOutcome outcome = ex.run(order);
  // A run that uploads also offers the parsed wrt.toml (remote_model.h): a
  // HEAD, and the first time for this text a PUT. After the stages, so a
  // server's first failure is the run's, as without it.
  if (remote && remote->uploads() && !outcome.interrupted && !remote->stats().disabled)
    if (auto build = wrt_build_digest()) {
      remote->offer(remote_model_key(*build, s.loaded->text_digest),
                    [&cfg, build = *build, text = s.loaded->text_digest, signer = *remote->options().signer] {
                      return seal_remote_model(signer, build, text, encode_config(cfg, /*portable=*/true));
                    });
      for (const auto& note : remote->finish_uploads(&interrupt_flag()))
        std::fprintf(stderr, "wrt: warning: %s\n", note.c_str());
    }
  outcome.shard = shard_figures;
  if (remote) {
    const RemoteCacheStats rs = remote->stats();
    outcome.remote = {true, rs.hits, rs.misses, rs.uploads, rs.bytes_down, rs.bytes_up, rs.transfer_s, rs.disabled, rs.bundled};
  }
  if (auto head = read_git_head(ws)) {
    outcome.commit = head->commit;
    outcome.branch = head->branch;
  }
  if (quiet) std::fclose(out);
  if (junit && !junit->status()) std::fprintf(stderr, "wrt: warning: --junit: %s\n", junit->status().error().c_str());
  if (trace && !trace->status()) std::fprintf(stderr, "wrt: warning: --trace: %s\n", trace->status().error().c_str());
  if (codequality && !codequality->status())
    std::fprintf(stderr, "wrt: warning: --codequality: %s\n", codequality->status().error().c_str());
  if (!outcome.config_errors.empty()) {
    // Like an error in wrt.toml itself: nothing ran, nothing is recorded.
    for (const auto& e : outcome.config_errors) std::fprintf(stderr, "wrt: error: %s\n", e.c_str());
    std::fprintf(stderr, "wrt: %zu configuration error%s; no stage was started\n", outcome.config_errors.size(),
                 outcome.config_errors.size() == 1 ? "" : "s");
    // The report still says why (a CI job reads it): the stages at fault
    // failed with the message, every other one skipped.
    if (!args.report.empty()) {
      fs::path rp = fs::path(args.report).is_absolute() ? fs::path(args.report) : fs::current_path() / args.report;
      if (Status st = write_report(rp, outcome, label, "configuration error", nullptr); !st)
        std::fprintf(stderr, "wrt: warning: %s\n", st.error().c_str());
    }
    return kExitUsage;
  }
  timer.next("save state");
  if (Status st = digester.save(); !st) std::fprintf(stderr, "wrt: warning: %s\n", st.error().c_str());
  if (!opts.dry_run)
    if (Status st = index.save(); !st) std::fprintf(stderr, "wrt: warning: %s\n", st.error().c_str());

  if (explain_mode) {
    for (const auto& r : outcome.records) {
      if (!explain_stage.empty() && r.name != explain_stage) continue;
      if (r.status == "cached") {
        std::printf("%s: up to date (cache hit for key %s)\n", r.name.c_str(), r.cache_key.substr(0, 16).c_str());
      } else if (r.status == "pending" && r.extras().conditional) {
        std::printf("%s: %s\n", r.name.c_str(), r.reason.c_str());
      } else if (r.status == "pending") {
        std::printf("%s: would run: %s\n", r.name.c_str(), r.reason.c_str());
        for (const auto& c : r.extras().key_changes) std::printf("    %s\n", c.c_str());
      } else {
        std::printf("%s: %s: %s\n", r.name.c_str(), r.status.c_str(), r.reason.c_str());
      }
    }
    return kExitOk;
  }

  std::map<std::string, int> counts;
  // A stage judged by the safety gate fails the run only through the gate.
  bool ordinary_failure = false;
  for (const auto& r : outcome.records) {
    counts[r.status]++;
    if ((r.status == "failed" || r.status == "timeout" || r.status == "interrupted") && !r.asil) ordinary_failure = true;
  }
  bool failed = counts["failed"] + counts["timeout"] + counts["interrupted"] > 0;
  std::string status = outcome.interrupted ? "interrupted" : failed ? "failed" : "passed";
  timer.next("gate");
  GateResult gate = evaluate_gate(cfg, outcome.records);
  timer.next("last results");
  if (!args.dry_run) {
    if (Status st = save_last_results(ws, outcome.records, outcome.run_id); !st)
      std::fprintf(stderr, "wrt: warning: %s\n", st.error().c_str());
    // Every finding of the run (cached stages replay theirs) as one SARIF log
    // for code-scanning dashboards.
    timer.next("sarif");
    std::vector<SarifStageFindings> sarif;
    for (std::size_t i = 0; i < outcome.records.size(); ++i) {
      const StageRecord& r = outcome.records[i];
      // A stage without findings adds nothing to the log (findings_to_sarif
      // skips it): not copied, which over 10,000 stages was 2 MiB (issue 17).
      if (r.results->findings.empty()) continue;
      const LoadedPlugin* lp = s.stage_plugins[order[i]];
      sarif.push_back({r.name, r.plugin, lp ? lp->version : "", r.results->findings});
    }
    if (Status st = write_sarif((dirs.root / "reports" / "findings.sarif").string(), findings_to_sarif(sarif, ws.string()));
        !st)
      std::fprintf(stderr, "wrt: warning: %s\n", st.error().c_str());
  }
  const nlohmann::json gate_json = gate.applies ? gate_to_json(gate) : nlohmann::json();
  if (!args.dry_run) {
    timer.next("verdict");
    events.run_verdict(RunVerdict{outcome, label, status, gate_json});
    if (!history.status()) std::fprintf(stderr, "wrt: warning: run history: %s\n", history.status().error().c_str());
    if (notifier) {
      for (const auto& d : notifier->delivered()) std::printf("wrt: notify %s\n", d.c_str());
      for (const auto& w : notifier->warnings()) std::fprintf(stderr, "wrt: warning: %s\n", w.c_str());
    }
  }
  timer.next("report");
  if (!args.report.empty()) {
    fs::path rp = fs::path(args.report).is_absolute() ? fs::path(args.report) : fs::current_path() / args.report;
    if (Status st = write_report(rp, outcome, label, status, gate.applies ? &gate_json : nullptr); !st)
      std::fprintf(stderr, "wrt: warning: %s\n", st.error().c_str());
  }
  timer.next("finish");
  std::string summary;
  for (const char* k : {"passed", "cached", "flaky", "failed", "timeout", "interrupted", "skipped", "pending"})
    if (counts[k]) summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", counts[k], k);
  std::printf("wrt: %zu stage%s: %s (%.2fs)\n", outcome.records.size(), outcome.records.size() == 1 ? "" : "s",
              summary.empty() ? "nothing to do" : summary.c_str(), outcome.duration_s);
  if (remote) {
    const RemoteFigures& f = outcome.remote;
    std::printf("wrt: remote cache %s: %llu hit%s, %llu miss%s, %llu upload%s, %s down, %s up (%.2fs)%s%s\n",
                remote->display_url().c_str(), static_cast<unsigned long long>(f.hits), f.hits == 1 ? "" : "s",
                static_cast<unsigned long long>(f.misses), f.misses == 1 ? "" : "es",
                static_cast<unsigned long long>(f.uploads), f.uploads == 1 ? "" : "s", format_size(f.bytes_down).c_str(),
                format_size(f.bytes_up).c_str(), f.transfer_s, f.disabled ? ", disabled after a failure" : "",
                remote->uploads() ? "" : ", read only");
  }
  // Which stages failed, each with its first finding (or its message), so
  // the end of the output says what to look at.
  for (const auto& r : outcome.records) {
    if (!is_failure_status(r.status)) continue;
    std::string why = r.results->message.empty() ? r.reason : r.results->message;
    for (const auto& f : r.results->findings)
      if (f.severity == "error") {
        why = fmt::format("{}:{}:{}: {}", f.file, f.line, f.column, f.message);
        break;
      }
    why = why.substr(0, why.find('\n'));
    std::printf("wrt: %s %s%s%s\n", r.status.c_str(), r.name.c_str(), why.empty() ? "" : ": ", why.c_str());
  }
  std::fflush(stdout);

  // Only a run that stored something can have grown the cache; a no-op run
  // skips the size check (its first call walks the whole store).
  bool stored = std::any_of(outcome.records.begin(), outcome.records.end(), [](const StageRecord& r) {
    return r.status == "passed" || r.status == "flaky";
  });
  if (!args.dry_run && stored && store->over_limit()) {
    auto gc = store->gc(cfg.settings.cache_max_size);
    if (!gc) std::fprintf(stderr, "wrt: warning: cache gc: %s\n", gc.error().c_str());
  }
  if (gate.applies && !args.dry_run) {
    std::string summary_text = gate_summary(gate);
    if (!summary_text.empty()) {
      std::fputs(summary_text.c_str(), stdout);
      std::fflush(stdout);
    }
  }
  if (outcome.interrupted) std::fprintf(stderr, "wrt: interrupted\n");
  const int code = outcome.interrupted                                        ? kExitInterrupted
                   : gate.verdict == "block"                                  ? kExitGateBlocked
                   : ordinary_failure || (args.strict && gate.verdict == "warn") ? kExitStageFailed
                                                                              : kExitOk;
  if (!args.more_follows) end_process_now(code);
  return code;
}

int cmd_list(const fs::path& ws) {
  auto l = load(ws);
  if (!l) return usage_error(l.error());
  const Config& c = (*l)->config;
  std::printf("stages:\n");
  for (const auto& s : c.stages) {
    std::string needs;
    for (const auto& n : s.needs) needs += (needs.empty() ? "" : ", ") + n;
    std::printf("  %-24s plugin=%s%s\n", s.name.c_str(), s.plugin.c_str(),
                needs.empty() ? "" : ("  needs: " + needs).c_str());
  }
  if (!c.pipelines.empty()) std::printf("pipelines:\n");
  for (const auto& p : c.pipelines) {
    std::string st;
    for (const auto& n : p.stages) st += (st.empty() ? "" : ", ") + n;
    std::printf("  %-24s %s\n", p.name.c_str(), st.c_str());
  }
  std::fflush(stdout);
  // The same configuration check `wrt run` makes before any stage starts:
  // every stage's plugin found and its `with` table accepted.
  std::vector<int> order;
  std::string label;
  auto session = open_session(ws, std::move(*l), order, RunArgs{}, &label);
  if (!session) return usage_error(session.error());
  const Config& cfg = session->loaded->config;
  WorkerPool workers("/proc/self/exe");
  PluginEnv env{ws, (cache_dir_for(cfg, "") / "plugin-data").string(), nullptr, &workers,
                     [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }};
  std::size_t errors = 0;
  for (int v : order) {
    const StageConfig& sc = *session->loaded->graph.stages[v];
    Fingerprint fp = fingerprint_stage(sc, *session->stage_plugins[v], env);
    if (!fp.config_error()) continue;
    ++errors;
    std::fprintf(stderr, "wrt: error: %s\n", config_error_line(cfg, sc, fp.message).c_str());
  }
  return errors ? kExitUsage : kExitOk;
}

int cmd_graph(const fs::path& ws, const RunArgs& a, const std::string& format) {
  auto l = load(ws);
  if (!l) return usage_error(l.error());
  std::string label;
  auto sel = resolve_targets(**l, a, &label);
  if (!sel) return usage_error(sel.error());
  if (format == "mermaid") std::fputs(graph_to_mermaid((*l)->graph, *sel).c_str(), stdout);
  else std::fputs(graph_to_dot((*l)->graph, *sel).c_str(), stdout);
  return kExitOk;
}

int cmd_plugins(const fs::path& ws) {
  std::vector<std::string> configured;
  std::error_code ec;
  if (fs::exists(ws / "wrt.toml", ec)) {
    auto c = load_config(ws / "wrt.toml");
    if (!c) return usage_error(c.error());
    configured = c->settings.plugin_path;
  }
  PluginHost host(plugin_search_path(configured, ws), host_table());
  std::vector<std::string> errors;
  auto all = host.discover_all(&errors);
  for (const auto* p : all)
    std::printf("%-16s %-8s ABI %u.%u  %s\n    %s\n", p->name.c_str(), p->version.c_str(), p->abi_major, p->abi_minor,
                p->description.c_str(), p->library.c_str());
  std::printf("searched:");
  for (const auto& d : host.search_dirs()) std::printf(" %s", d.c_str());
  std::printf("\n");
  for (const auto& e : errors) std::fprintf(stderr, "wrt: warning: %s\n", e.c_str());
  return kExitOk;
}

int cmd_cache(const fs::path& ws, const std::string& action, const std::string& max_size, const std::string& dir_opt) {
  std::uint64_t cap = 5ull << 30;
  fs::path dir;
  std::error_code ec;
  if (fs::exists(ws / "wrt.toml", ec)) {
    auto c = load_config(ws / "wrt.toml");
    if (!c) return usage_error(c.error());
    cap = c->settings.cache_max_size;
    dir = cache_dir_for(*c, dir_opt);
  } else {
    Config c;
    c.workspace = ws;
    dir = cache_dir_for(c, dir_opt);
  }
  CacheStore store(dir, cap);
  if (Status st = store.open(); !st) return usage_error(st.error());
  if (action == "stats") {
    CacheStats s = store.stats();
    std::printf("cache: %s\nentries: %llu\nblobs: %llu\nsize: %s of %s\n", dir.c_str(),
                static_cast<unsigned long long>(s.entries), static_cast<unsigned long long>(s.blobs),
                format_size(s.bytes).c_str(), format_size(s.max_bytes).c_str());
    // The remote cache, as the last run of this checkout used it.
    const nlohmann::json last = RunHistory::read_last(ws / ".wrt" / "history");
    if (last.is_object() && last.contains("remote") && last["remote"].is_object()) {
      const auto& r = last["remote"];
      auto n = [&](const char* k) { return r.contains(k) && r[k].is_number_unsigned() ? r[k].get<std::uint64_t>() : 0ull; };
      std::printf("remote (last run %s): %llu hits, %llu misses, %llu uploads, %s down, %s up, %.2fs transferring%s\n",
                  last.value("run_id", "").c_str(), static_cast<unsigned long long>(n("hits")),
                  static_cast<unsigned long long>(n("misses")), static_cast<unsigned long long>(n("uploads")),
                  format_size(n("bytes_down")).c_str(), format_size(n("bytes_up")).c_str(),
                  r.contains("transfer_s") && r["transfer_s"].is_number() ? r["transfer_s"].get<double>() : 0.0,
                  r.value("disabled", false) ? " (disabled after a server failure)" : "");
    }
    return kExitOk;
  }
  if (action == "gc") {
    if (!max_size.empty()) {
      auto sz = parse_size(max_size);
      if (!sz) return usage_error("--max-size: " + sz.error());
      cap = *sz;
    }
    auto r = store.gc(cap);
    if (!r) return usage_error(r.error());
    std::printf("removed %llu entries and %llu blobs: %s -> %s\n", static_cast<unsigned long long>(r->entries_removed),
                static_cast<unsigned long long>(r->blobs_removed), format_size(r->bytes_before).c_str(),
                format_size(r->bytes_after).c_str());
    return kExitOk;
  }
  auto r = store.verify();
  if (!r) return usage_error(r.error());
  for (const auto& p : r->problems) std::printf("%s\n", p.c_str());
  std::printf("checked %llu blobs and %llu entries: %zu problem%s (bad files removed)\n",
              static_cast<unsigned long long>(r->blobs_checked), static_cast<unsigned long long>(r->entries_checked),
              r->problems.size(), r->problems.size() == 1 ? "" : "s");
  return r->problems.empty() ? kExitOk : kExitStageFailed;
}

// Components with their level, the latest verdict of their stages, and
// whether the current tree is already verified (every stage a cache hit).
int cmd_status(const fs::path& ws, const std::string& cache_dir_opt) {
  std::vector<int> order;
  std::string label;
  RunArgs all;
  auto session = open_session(ws, order, all, &label);
  if (!session) return usage_error(session.error());
  Session& s = *session;
  const Config& cfg = s.loaded->config;
  if (cfg.components.empty()) {
    std::printf("wrt.toml defines no [components]\n");
    return kExitOk;
  }
  CacheStore store(cache_dir_for(cfg, cache_dir_opt), cfg.settings.cache_max_size);
  if (Status st = store.open(); !st) return usage_error(st.error());
  WorkspaceDirs dirs(ws);
  FileDigester digester(ws, dirs.state / "stat-cache");
  digester.load(nullptr);
  RunIndex index(dirs.state / "run-index");
  index.load(nullptr);
  std::FILE* devnull = std::fopen("/dev/null", "w");
  StatusPrinter printer(devnull, false, order.size());
  RunOptions opts;
  opts.dry_run = true;
  opts.jobs = 1;
  WorkerPool workers("/proc/self/exe");
  opts.workers = &workers;
  Executor ex(cfg, s.loaded->graph, s.stage_plugins, &store, digester, index, printer, opts);
  RunOutcome outcome = ex.run(order);
  std::fclose(devnull);
  std::map<std::string, const StageRecord*> now;
  for (const auto& r : outcome.records) now[r.name] = &r;
  LastResults last = load_last_results(ws);
  std::printf("%-20s %-5s %-14s %-22s %s\n", "COMPONENT", "ASIL", "LAST VERDICT", "CURRENT TREE", "STAGES");
  for (const auto& c : cfg.components) {
    int stages = 0, cached = 0, failed = 0, never = 0;
    std::string names;
    for (const auto& sc : cfg.stages) {
      if (sc.component != c.name) continue;
      ++stages;
      names += (names.empty() ? "" : ", ") + sc.name;
      auto it = now.find(sc.name);
      if (it != now.end() && it->second->status == "cached") ++cached;
      auto l = last.find(sc.name);
      if (l == last.end()) ++never;
      else if (l->second.status != "passed" && l->second.status != "cached" && l->second.status != "flaky") ++failed;
    }
    std::string verdict = stages == 0 ? "-" : failed ? "failed" : never == stages ? "never run" : never ? "partial" : "passed";
    std::string tree = stages == 0 ? "no stages" : cached == stages ? "verified (cached)"
                                                                    : fmt::format("needs verification ({}/{})", stages - cached, stages);
    std::printf("%-20s %-5s %-14s %-22s %s\n", c.name.c_str(), asil_name(c.asil), verdict.c_str(), tree.c_str(),
                names.empty() ? "-" : names.c_str());
  }
  return kExitOk;
}

int cmd_trace(const fs::path& ws, const std::string& file_opt, const std::string& format) {
  auto l = load(ws);
  if (!l) return usage_error(l.error());
  const Config& cfg = (*l)->config;
  fs::path file = file_opt.empty() ? ws / "requirements.toml" : fs::path(file_opt);
  if (file.is_relative() && !file_opt.empty()) file = fs::current_path() / file;
  auto reqs = load_requirements(file, cfg);
  if (!reqs) return usage_error(reqs.error());
  std::string warning;
  LastResults last = load_last_results(ws, &warning);
  if (!warning.empty()) std::fprintf(stderr, "wrt: warning: %s\n", warning.c_str());
  TraceMatrix m = build_trace(cfg, *reqs, last);
  if (format == "json") std::printf("%s\n", trace_to_json(m).dump(2).c_str());
  else std::fputs(trace_to_markdown(m).c_str(), stdout);
  return kExitOk;
}

// `wrt init`: a wrt.toml that fits the project in `ws` (init_template.h).
int cmd_init(const fs::path& ws, bool force) {
  fs::path file = ws / "wrt.toml";
  std::error_code ec;
  if (fs::exists(file, ec) && !force)
    return usage_error(fmt::format("{} already exists; not overwriting it (--force replaces it)", file.string()));
  DetectedProject p = detect_project(ws);
  switch (p.kind) {
    case ProjectKind::kCMake: std::printf("detected a CMake project (CMakeLists.txt): %s\n", p.name.c_str()); break;
    case ProjectKind::kCargo: std::printf("detected a Cargo project (Cargo.toml): %s\n", p.name.c_str()); break;
    case ProjectKind::kGeneric: std::printf("no CMakeLists.txt or Cargo.toml: writing the generic template\n"); break;
  }
  if (Status st = write_file_atomically(file, init_config(p)); !st) return usage_error(st.error());
  std::printf("wrote %s (`wrt list` shows its stages)\n", file.c_str());
  return kExitOk;
}

// `wrt __complete KIND`: names for the shell completion scripts, one a line.
// Quiet by design: without a readable wrt.toml it prints nothing and
// succeeds, so a completion never spills an error into the command line.
int cmd_complete(const fs::path& ws, const std::string& kind) {
  auto cfg = load_config(ws / "wrt.toml");
  if (!cfg) return kExitOk;
  if (kind == "stages") {
    for (const auto& [group, members] : cfg->groups) std::printf("%s\n", group.c_str());
    for (const auto& st : cfg->stages) std::printf("%s\n", st.name.c_str());
  } else if (kind == "pipelines") {
    for (const auto& p : cfg->pipelines) std::printf("%s\n", p.name.c_str());
  } else if (kind == "components") {
    for (const auto& c : cfg->components) std::printf("%s\n", c.name.c_str());
  }
  return kExitOk;
}

struct HistoryArgs {
  std::string stage;
  std::string metric;  // "name" (any stage) or "stage:name"
  std::string format = "table";
  int limit = 20;
};

// `wrt history`: the last runs, newest last, from .wrt/history/runs.jsonl.
int cmd_history(const fs::path& ws, const HistoryArgs& a) {
  std::size_t skipped = 0;
  auto runs = RunHistory::read(WorkspaceDirs(ws).root / "history", &skipped);
  if (skipped) std::fprintf(stderr, "wrt: warning: %zu unreadable line(s) in the run history skipped\n", skipped);
  if (a.limit > 0 && runs.size() > static_cast<std::size_t>(a.limit))
    runs.erase(runs.begin(), runs.end() - a.limit);
  std::string metric_stage, metric_name = a.metric;
  if (auto colon = a.metric.find(':'); colon != std::string::npos) {
    metric_stage = a.metric.substr(0, colon);
    metric_name = a.metric.substr(colon + 1);
  }
  // The value of the metric in a run: from the named stage, else the first
  // stage that has it.
  auto metric_of = [&](const nlohmann::json& r) -> nlohmann::json {
    const nlohmann::json metrics = r.value("metrics", nlohmann::json::object());
    for (const auto& [stage, m] : metrics.items())
      if ((metric_stage.empty() || stage == metric_stage) && m.contains(metric_name)) return m[metric_name];
    return nullptr;
  };
  auto stage_of = [&](const nlohmann::json& r) -> nlohmann::json {
    const nlohmann::json stages = r.value("stages", nlohmann::json::array());
    for (const auto& st : stages)
      if (st.value("name", "") == a.stage) return st;
    return nullptr;
  };
  if (a.format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (auto& r : runs) {
      if (!a.stage.empty()) r["stage"] = stage_of(r);
      if (!a.metric.empty()) r["metric"] = metric_of(r);
      out.push_back(r);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  if (a.format != "table") return usage_error(fmt::format("--format must be table or json, not '{}'", a.format));
  if (runs.empty()) {
    std::printf("no runs recorded yet (.wrt/history/runs.jsonl)\n");
    return kExitOk;
  }
  std::string extra = !a.stage.empty() ? a.stage : !a.metric.empty() ? a.metric : "RAN/CACHED/FAILED";
  std::printf("%-24s %-8s %-12s %-10s %-6s %9s  %s\n", "STARTED", "COMMIT", "BRANCH", "STATUS", "GATE", "DURATION",
              extra.c_str());
  for (const auto& r : runs) {
    std::string col;
    if (!a.stage.empty()) {
      auto st = stage_of(r);
      col = st.is_null() ? "cached/not run" : fmt::format("{} {:.2f}s", st.value("status", "?"), st.value("duration_s", 0.0));
    } else if (!a.metric.empty()) {
      auto m = metric_of(r);
      col = m.is_number() ? fmt::format("{:g}", m.get<double>()) : "-";
    } else {
      const nlohmann::json counts = r.value("counts", nlohmann::json::object());
      int cached = counts.value("cached", 0), failed = counts.value("failed", 0) + counts.value("timeout", 0);
      int total = 0;
      for (const auto& [k, n] : counts.items()) total += n.get<int>();
      col = fmt::format("{}/{}/{}", total - cached - counts.value("skipped", 0), cached, failed);
    }
    std::string commit = r["commit"].is_string() ? r["commit"].get<std::string>().substr(0, 8) : "-";
    std::string branch = r["branch"].is_string() ? r["branch"].get<std::string>() : "-";
    std::string gate = r["gate"].is_string() ? r["gate"].get<std::string>() : "-";
    std::printf("%-24s %-8s %-12s %-10s %-6s %8.2fs  %s\n", r.value("started_at", "").c_str(), commit.c_str(),
                branch.c_str(), r.value("status", "").c_str(), gate.c_str(), r.value("duration_s", 0.0), col.c_str());
  }
  return kExitOk;
}

// `wrt badge`: badges from the last run and the last results (badges.h).
int cmd_badge(const fs::path& ws, const std::string& out_opt) {
  auto runs = RunHistory::read(WorkspaceDirs(ws).root / "history");
  if (runs.empty()) return usage_error("no run recorded yet (.wrt/history/runs.jsonl): run `wrt run` first");
  std::string warning;
  LastResults last = load_last_results(ws, &warning);
  if (!warning.empty()) std::fprintf(stderr, "wrt: warning: %s\n", warning.c_str());
  const fs::path out = out_opt.empty() ? WorkspaceDirs(ws).root / "badges"
                       : fs::path(out_opt).is_absolute() ? fs::path(out_opt)
                                                         : fs::current_path() / out_opt;
  for (const auto& b : make_badges(runs.back(), last)) {
    for (const auto& [file, text] : {std::pair{out / (b.name + ".json"), endpoint_json(b).dump(2) + "\n"},
                                     std::pair{out / (b.name + ".svg"), badge_svg(b)}})
      if (Status st = write_file_atomically(file, text); !st) return usage_error(st.error());
    std::printf("%-12s %s: %s (%s)\n", b.name.c_str(), b.label.c_str(), b.message.c_str(), b.color.c_str());
  }
  std::printf("wrote %s/{build,tests,coverage,safety-gate,components}.{json,svg}\n", out.string().c_str());
  return kExitOk;
}

// The deploy stages' targets (with.target of plugin = "deploy"), absolute.
std::vector<std::string> deploy_targets(const Config& cfg) {
  std::vector<std::string> targets;
  for (const auto& sc : cfg.stages)
    if (sc.plugin == "deploy" && sc.with.contains("target") && sc.with["target"].is_string()) {
      fs::path t = sc.with["target"].get<std::string>();
      if (t.is_relative()) t = cfg.workspace / t;
      const std::string s = t.lexically_normal().string();
      if (std::find(targets.begin(), targets.end(), s) == targets.end()) targets.push_back(s);
    }
  return targets;
}

// `wrt dashboard`: the static site of the workspace's results (dashboard.h).
int cmd_dashboard(const fs::path& ws, const std::string& out_opt) {
  DashboardInput in;
  std::size_t skipped = 0;
  in.runs = RunHistory::read(WorkspaceDirs(ws).root / "history", &skipped);
  if (skipped) std::fprintf(stderr, "wrt: warning: %zu unreadable line(s) in the run history skipped\n", skipped);
  std::string warning;
  in.last = load_last_results(ws, &warning);
  if (!warning.empty()) std::fprintf(stderr, "wrt: warning: %s\n", warning.c_str());
  in.project = ws.filename().string();
  std::error_code ec;
  if (fs::exists(ws / "wrt.toml", ec)) {
    // Components and the project's name; the results do not need the
    // configuration to be valid today (a broken wrt.toml still shows them).
    if (auto c = load_config(ws / "wrt.toml")) {
      if (!c->project_name.empty()) in.project = c->project_name;
      for (const auto& comp : c->components) in.components.push_back({comp.name, asil_name(comp.asil)});
      for (const auto& t : deploy_targets(*c)) in.deployments.push_back(read_deployment_ledger(fs::path(t) / "deployments.jsonl"));
    } else {
      std::fprintf(stderr, "wrt: warning: components not shown: %s\n", c.error().c_str());
    }
  }
  in.generated_at = iso8601_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch()).count());
  const fs::path out = out_opt.empty() ? WorkspaceDirs(ws).root / "dashboard"
                       : fs::path(out_opt).is_absolute() ? fs::path(out_opt)
                                                         : fs::current_path() / out_opt;
  const fs::path file = out / "index.html";
  if (Status st = write_file_atomically(file, dashboard_html(in)); !st) return usage_error(st.error());
  std::printf("wrote %s (%zu run%s, %zu stage%s)\n", file.string().c_str(), in.runs.size(), in.runs.size() == 1 ? "" : "s",
              in.last.size(), in.last.size() == 1 ? "" : "s");
  return kExitOk;
}

// `wrt evidence`: the signed certification evidence package (evidence.h).
int cmd_evidence(const fs::path& ws, const std::string& out_opt, const std::vector<std::string>& key_files,
                 const std::string& cache_dir_opt) {
  auto l = load(ws);
  if (!l) return usage_error(l.error());
  const Config& cfg = (*l)->config;
  std::vector<Ed25519Key> keys;
  for (const auto& f : key_files) {
    auto k = Ed25519Key::load_private(fs::path(f).is_absolute() ? fs::path(f) : fs::current_path() / f);
    if (!k) return usage_error(k.error());
    keys.push_back(*k);
  }
  std::string commit;
  if (auto head = read_git_head(ws)) commit = head->commit.substr(0, 12);
  const fs::path out = out_opt.empty() ? WorkspaceDirs(ws).root / "evidence" / (commit.empty() ? "latest" : commit)
                       : fs::path(out_opt).is_absolute() ? fs::path(out_opt)
                                                         : fs::current_path() / out_opt;
  // The cache the last run's cached stages came from (their logs).
  auto store = open_cache_to_read(cfg, cache_dir_opt);
  if (!store) return usage_error(store.error());
  auto s = write_evidence(cfg, out, keys, store->get());
  if (!s) return usage_error(s.error());
  std::printf("wrote %s: %zu files, %zu stages, gate %s, %zu signature%s\n", out.string().c_str(), s->files,
              s->stages.size(), s->gate.empty() ? "n/a" : s->gate.c_str(), s->signatures, s->signatures == 1 ? "" : "s");
  for (const auto& e : s->excluded) std::printf("left out: %s\n", e.c_str());
  if (s->dirty) std::fprintf(stderr, "wrt: warning: tracked files have uncommitted changes (recorded in the provenance)\n");
  if (keys.empty()) std::fprintf(stderr, "wrt: warning: unsigned: pass --key FILE (an Ed25519 private key) to sign\n");
  return kExitOk;
}

int cmd_evidence_verify(const std::string& dir, const std::vector<std::string>& key_files) {
  std::vector<Ed25519Key> keys;
  for (const auto& f : key_files) {
    auto k = Ed25519Key::load_public(f);
    if (!k) return usage_error(k.error());
    keys.push_back(*k);
  }
  EvidenceCheck c = verify_evidence(dir, keys);
  for (const auto& p : c.problems) std::printf("%s\n", p.c_str());
  if (!c.problems.empty()) {
    std::printf("evidence %s: %zu problem%s\n", dir.c_str(), c.problems.size(), c.problems.size() == 1 ? "" : "s");
    return kExitStageFailed;
  }
  std::printf("evidence %s: %zu files intact, signed by %zu key%s\n", dir.c_str(), c.files_checked, c.signers.size(),
              c.signers.size() == 1 ? "" : "s");
  return kExitOk;
}

// `wrt report merge A.json B.json ... --out ALL.json`: the reports of the
// shards of one run (sharding.h) as one report with one safety-gate
// verdict; the exit code is that one run's. Refused when the shards
// disagree on the partition, one is missing or given twice.
int cmd_report_merge(const fs::path& ws, const std::vector<std::string>& files, const std::string& out_file) {
  auto c = load_config(ws / "wrt.toml");
  if (!c) return usage_error(c.error());
  RunOutcome merged;
  std::map<std::string, std::size_t> seen;  // stage -> index in merged.records
  std::set<int> shards;
  std::string partition;
  int count = 0;
  bool interrupted = false;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return usage_error(fmt::format("{}: cannot read", f));
    auto rep = nlohmann::json::parse(in, nullptr, false);
    if (!rep.is_object() || !rep.contains("stages") || !rep["stages"].is_array())
      return usage_error(fmt::format("{}: not a wrt report", f));
    if (!rep.contains("shard") || !rep["shard"].is_object())
      return usage_error(fmt::format("{}: not the report of a shard (wrt run --shard K/N --report FILE)", f));
    const auto& sh = rep["shard"];
    const int index = sh.value("index", 0), n = sh.value("count", 0);
    const std::string part = sh.value("partition", "");
    if (count == 0) count = n, partition = part;
    if (n != count || part != partition)
      return usage_error(fmt::format("{}: shard {}/{} partitioned the stages differently from {} (different run histories "
                                     "or selections): run every shard from the same history, or none",
                                     f, index, n, files.front()));
    if (!shards.insert(index).second) return usage_error(fmt::format("{}: shard {}/{} given twice", f, index, n));
    std::set<std::string> assigned;
    for (const auto& a : sh.value("assigned", nlohmann::json::array()))
      if (a.is_string()) assigned.insert(a.get<std::string>());
    for (const auto& st : rep["stages"]) {
      StageRecord r = stage_from_report(st);
      if (!assigned.count(r.name)) continue;  // a dependency run here for this shard; its own shard reports it
      seen[r.name] = merged.records.size();
      merged.records.push_back(std::move(r));
    }
    merged.duration_s = std::max(merged.duration_s, rep.value("duration_s", 0.0));
    interrupted = interrupted || rep.value("status", "") == "interrupted";
    merged.merged_from.push_back(f);
    if (merged.commit.empty() && rep.contains("commit") && rep["commit"].is_string()) merged.commit = rep["commit"].get<std::string>();
    if (merged.branch.empty() && rep.contains("branch") && rep["branch"].is_string()) merged.branch = rep["branch"].get<std::string>();
  }
  for (int i = 1; i <= count; ++i)
    if (!shards.count(i)) return usage_error(fmt::format("shard {}/{} is missing: merge every shard's report", i, count));
  merged.interrupted = interrupted;
  bool failed = false, ordinary_failure = false;
  for (const auto& r : merged.records) {
    failed = failed || is_failure_status(r.status);
    ordinary_failure = ordinary_failure || (is_failure_status(r.status) && !r.asil);
  }
  const GateResult gate = evaluate_gate(*c, merged.records);
  const nlohmann::json gate_json = gate.applies ? gate_to_json(gate) : nlohmann::json();
  const std::string status = interrupted ? "interrupted" : failed ? "failed" : "passed";
  const fs::path out = fs::path(out_file).is_absolute() ? fs::path(out_file) : fs::current_path() / out_file;
  if (Status st = write_report(out, merged, "merged", status, gate.applies ? &gate_json : nullptr); !st)
    return usage_error(st.error());
  std::printf("merged %zu shard reports: %zu stages, %s%s%s\n", files.size(), merged.records.size(), status.c_str(),
              gate.applies ? ", gate " : "", gate.applies ? gate.verdict.c_str() : "");
  return interrupted ? kExitInterrupted : gate.verdict == "block" ? kExitGateBlocked : ordinary_failure ? kExitStageFailed : kExitOk;
}

// `wrt approve RUN_ID --key FILE` (approvals.h).
int cmd_approve(const fs::path& ws, const std::string& run_id, const std::string& key_file) {
  auto c = load_config(ws / "wrt.toml");
  if (!c) return usage_error(c.error());
  auto a = approve_deployment(*c, run_id, fs::path(key_file).is_absolute() ? fs::path(key_file) : fs::current_path() / key_file);
  if (!a) return usage_error(a.error());
  std::printf("%s %s: release %s of commit %s (%zu artifact%s) approved by %s\n  %s\n", a->already ? "re-signed" : "approved",
              a->environment.c_str(), a->release.c_str(), a->commit.substr(0, 12).c_str(), a->artifacts,
              a->artifacts == 1 ? "" : "s", a->approver.c_str(), a->file.string().c_str());
  std::printf("run `wrt deploy %s` again to deploy once enough approvals are in\n", a->stage.c_str());
  return kExitOk;
}

// `wrt deploy NAME`: `wrt run --target NAME`; when the stage deploys an
// evidence package (with.evidence), first the stages it needs run, then the
// package is written from that run, then the stage runs (its dependencies
// are cache hits by then, as good as the run the evidence describes).
int cmd_deploy(const fs::path& ws, const std::string& name, const std::vector<std::string>& key_files, RunArgs args) {
  auto c = load_config(ws / "wrt.toml");
  if (!c) return usage_error(c.error());
  const StageConfig* stage = nullptr;
  for (const auto& sc : c->stages)
    if (sc.name == name) stage = &sc;
  if (!stage) return usage_error(fmt::format("wrt.toml has no stage '{}'", name));
  if (stage->plugin == "deploy" && stage->with.contains("evidence") && stage->with["evidence"].is_string()) {
    const fs::path out = (ws / stage->with["evidence"].get<std::string>()).lexically_normal();
    if (out.lexically_relative(ws).empty() || *out.lexically_relative(ws).begin() == "..")
      return usage_error(fmt::format("stage '{}': with.evidence must be a directory inside the workspace", name));
    if (!stage->needs.empty()) {
      RunArgs pre = args;
      pre.stages = stage->needs;
      pre.more_follows = true;
      pre.report.clear();
      if (int rc = cmd_run(ws, pre, false, ""); rc != kExitOk) {
        std::fprintf(stderr, "wrt: the stages '%s' needs did not pass; no evidence written, nothing deployed\n", name.c_str());
        return rc;
      }
    }
    // Only a directory that is empty or holds an earlier package is replaced.
    std::error_code ec;
    if (fs::exists(out, ec)) {
      if (!fs::is_empty(out, ec) && !fs::exists(out / "manifest.json", ec))
        return usage_error(fmt::format("{} exists and is not an evidence package; not replaced", out.string()));
      fs::remove_all(out, ec);
    }
    if (int rc = cmd_evidence(ws, out.string(), key_files, args.cache_dir); rc != kExitOk) return rc;
  } else if (!key_files.empty()) {
    return usage_error(fmt::format("--key signs an evidence package, and stage '{}' deploys none (with.evidence)", name));
  }
  args.stages = {name};
  return cmd_run(ws, args, false, "");
}

// `wrt deployments`: the deploy plugin's ledgers, chain-checked.
int cmd_deployments(const fs::path& ws, std::vector<std::string> targets) {
  if (targets.empty()) {
    auto c = load_config(ws / "wrt.toml");
    if (!c) return usage_error(c.error());
    targets = deploy_targets(*c);
    if (targets.empty()) return usage_error("no deploy stage in wrt.toml names a target; pass --target DIR");
  }
  bool bad = false;
  for (const auto& t : targets) {
    DeploymentLedger l = read_deployment_ledger(fs::path(t) / "deployments.jsonl");
    std::printf("%s\n", l.file.string().c_str());
    std::printf("  %-4s %-20s %-12s %-8s %-19s %-9s %-6s %s\n", "#", "WHEN", "ENVIRONMENT", "ACTION", "RELEASE", "COMMIT", "GATE",
                "ARTIFACTS");
    for (const auto& e : l.entries) {
      std::string names;
      if (e.contains("artifacts") && e["artifacts"].is_array())
        for (const auto& a : e["artifacts"])
          if (a.is_object() && a.contains("name") && a["name"].is_string()) names += (names.empty() ? "" : ", ") + a["name"].get<std::string>();
      auto str = [&](const char* k) { return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : std::string(); };
      const std::string gate = e.contains("gate") && e["gate"].is_object() && e["gate"].contains("verdict") &&
                                       e["gate"]["verdict"].is_string()
                                   ? e["gate"]["verdict"].get<std::string>()
                                   : "-";
      std::printf("  %-4s %-20s %-12s %-8s %-19s %-9s %-6s %s\n", e.contains("seq") ? e["seq"].dump().c_str() : "?",
                  str("at").c_str(), str("environment").c_str(), str("action").c_str(), str("release").substr(0, 19).c_str(),
                  str("commit").substr(0, 7).c_str(), gate.c_str(), names.c_str());
      if (e.contains("evidence") && e["evidence"].is_string()) std::printf("       evidence %s\n", str("evidence").c_str());
      if (e.contains("approved_by") && e["approved_by"].is_array() && !e["approved_by"].empty())
        std::printf("       approved by %s\n", e["approved_by"].dump().c_str());
    }
    if (!l.problem.empty()) {
      std::fprintf(stderr, "wrt: error: %s\n", l.problem.c_str());
      bad = bad || l.problem.find("no ledger") == std::string::npos;
    }
  }
  return bad ? kExitStageFailed : kExitOk;
}

// A stage that ran logs to .wrt/logs/STAGE.log; a cached one's log is the
// one stored with its result (stage_runner.h), read from the cache.
int cmd_log(const fs::path& ws, const std::string& stage, const std::string& cache_dir_opt) {
  const LastResults last = load_last_results(ws);
  if (auto it = last.find(stage); it != last.end() && it->second.status == "cached" && !it->second.cache_key.empty()) {
    auto l = load(ws, cache_dir_opt);
    if (!l) return usage_error(l.error());
    const Config& cfg = (*l)->config;
    auto store = open_cache_to_read(cfg, cache_dir_opt);
    if (!store) return usage_error(store.error());
    Result<std::string> text = Error{fmt::format("no cache at {}", cache_dir_for(cfg, cache_dir_opt).string())};
    if (*store) text = read_cached_log(**store, it->second.cache_key, cfg.settings.cached_log_limit);
    if (!text)
      return usage_error(fmt::format("stage '{}' was served from the cache (key {}); its log cannot be read: {}", stage,
                                     it->second.cache_key.substr(0, 16), text.error()));
    std::cout << *text;
    return kExitOk;
  }
  fs::path file = WorkspaceDirs(ws).logs / (stage + ".log");
  std::ifstream in(file, std::ios::binary);
  if (!in) return usage_error(fmt::format("{}: no log recorded for stage '{}'", file.string(), stage));
  std::cout << in.rdbuf();
  return kExitOk;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"wrt: run a pipeline of stage plugins as a DAG, skipping every stage whose inputs did not change",
               "wrt"};
  app.set_version_flag("--version", std::string("wrt ") + WRT_VERSION + " (plugin ABI " +
                                        std::to_string(WRT_ABI_VERSION_MAJOR) + "." +
                                        std::to_string(WRT_ABI_VERSION_MINOR) + ")");
  app.require_subcommand(1);
  std::string dir;
  app.add_option("-C,--directory", dir, "Run as if started in DIR (where wrt.toml is)");
  // wrt's own diagnostics (util/log.h): off unless asked for.
  int verbosity = 0;
  std::string log_level, log_file;
  app.add_flag("-v,--verbose", verbosity, "Log wrt's diagnostics to stderr (-v debug, -vv trace)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (also WRT_LOG_LEVEL)");
  app.add_option("--log-file", log_file, "Also append the diagnostics to FILE");

  RunArgs ra;
  auto* run = app.add_subcommand("run", "Run a pipeline (default: every stage)");
  run->add_option("pipeline", ra.pipeline, "Pipeline from [pipelines.NAME]");
  run->add_option("--stage,--target", ra.stages,
                  "Run this stage and what it needs (repeatable); with a pipeline, narrows it to these. A stage named "
                  "here satisfies when = { event = \"manual\" }");
  run->add_option("-j,--jobs", ra.jobs, "Stages run at once (default: settings.max_parallel_jobs or CPUs)")
      ->check(CLI::PositiveNumber);
  run->add_flag("-k,--keep-going", ra.keep_going, "Run everything that does not depend on a failed stage");
  run->add_flag("--no-cache", ra.no_cache, "Do not use cached results (results are still stored)");
  run->add_flag("-n,--dry-run", ra.dry_run, "Show what would run, run nothing");
  run->add_option("--report", ra.report, "Write a JSON report to FILE");
  run->add_option("--junit", ra.junit, "Write the stages and their test cases as JUnit XML to FILE");
  run->add_option("--ci-format", ra.ci_format, "CI output: github (annotations, log groups, step summary), gitlab (collapsible sections), plain, or auto (from GITHUB_ACTIONS / GITLAB_CI)")
      ->check(CLI::IsMember({"auto", "github", "gitlab", "plain"}));
  run->add_option("--codequality", ra.codequality, "Write the findings as a GitLab Code Quality (CodeClimate) JSON report to FILE");
  run->add_option("--trace", ra.trace, "Write a Chrome trace-event timeline (Perfetto, chrome://tracing) to FILE");
  run->add_option("--cache-dir", ra.cache_dir, "Cache directory (also WRT_CACHE_DIR)");
  run->add_option("--remote-cache", ra.remote_cache,
                  "Remote cache URL, Bazel HTTP cache protocol (also WRT_REMOTE_CACHE, settings.remote_cache)");
  run->add_option("--shard", ra.shard, "Run share K of N of the selected stages (and what they need): CI runners in a matrix");
  run->add_flag("--remote-read-only", ra.remote_read_only, "Read the remote cache, never write it (pull-request runners)");
  run->add_option("-C,--directory", dir, "Run as if started in DIR");
  run->add_flag("--strict", ra.strict, "A safety-gate warning (failed ASIL A/B stage) fails the run");
  run->add_flag("--no-wait", ra.no_wait, "If another wrt run holds this checkout, exit 2 at once instead of waiting");
  run->add_option("--changed-since", ra.changed_since,
                  "Only the components whose files changed since this git ref (and stages without a component)");

  RunArgs va;
  va.verify = true;
  std::string asil_level;
  auto* verify_cmd = app.add_subcommand("verify", "Run the verification stages of components at an ASIL level and below, with that level's profile");
  verify_cmd->add_option("--asil-profile", asil_level, "QM, A, B, C or D")->required();
  verify_cmd->add_option("--component", va.verify_request.components, "Only this component (repeatable)");
  verify_cmd->add_option("--harness", va.verify_request.harness, "Only this harness (with.harnesses = [NAME])");
  verify_cmd->add_option("-j,--jobs", va.jobs, "Stages run at once")->check(CLI::PositiveNumber);
  verify_cmd->add_flag("-k,--keep-going", va.keep_going, "Run everything that does not depend on a failed stage");
  verify_cmd->add_flag("--no-cache", va.no_cache, "Do not use cached results");
  verify_cmd->add_flag("-n,--dry-run", va.dry_run, "Show what would run, run nothing");
  verify_cmd->add_flag("--strict", va.strict, "A safety-gate warning fails the run");
  verify_cmd->add_flag("--no-wait", va.no_wait, "If another wrt run holds this checkout, exit 2 at once instead of waiting");
  verify_cmd->add_option("--report", va.report, "Write a JSON report to FILE");
  verify_cmd->add_option("--junit", va.junit, "Write the stages and their test cases as JUnit XML to FILE");
  verify_cmd->add_option("--ci-format", va.ci_format, "CI output: github (annotations, log groups, step summary), gitlab (collapsible sections), plain, or auto (from GITHUB_ACTIONS / GITLAB_CI)")
      ->check(CLI::IsMember({"auto", "github", "gitlab", "plain"}));
  verify_cmd->add_option("--codequality", va.codequality, "Write the findings as a GitLab Code Quality (CodeClimate) JSON report to FILE");
  verify_cmd->add_option("--trace", va.trace, "Write a Chrome trace-event timeline (Perfetto, chrome://tracing) to FILE");
  verify_cmd->add_option("--cache-dir", va.cache_dir, "Cache directory (also WRT_CACHE_DIR)");
  verify_cmd->add_option("-C,--directory", dir, "Run as if started in DIR");

  std::string status_cache_dir;
  auto* status_cmd = app.add_subcommand("status", "Components: ASIL, last verdict, and whether the current tree is verified");
  status_cmd->add_option("--cache-dir", status_cache_dir, "Cache directory (also WRT_CACHE_DIR)");
  status_cmd->add_option("-C,--directory", dir, "Run as if started in DIR");

  std::string trace_file, trace_format = "markdown";
  auto* trace_cmd = app.add_subcommand("trace", "Requirement -> evidence matrix and verification coverage per ASIL level");
  trace_cmd->add_option("--requirements", trace_file, "Requirements file (default: requirements.toml in the workspace)");
  trace_cmd->add_option("--format", trace_format, "markdown or json")->check(CLI::IsMember({"markdown", "json"}));
  trace_cmd->add_option("-C,--directory", dir, "Run as if started in DIR");

  auto* list = app.add_subcommand("list", "List stages and pipelines");
  list->add_option("-C,--directory", dir, "Run as if started in DIR");

  std::string format = "dot";
  RunArgs ga;
  auto* graph = app.add_subcommand("graph", "Print the stage graph");
  graph->add_option("pipeline", ga.pipeline, "Only this pipeline's stages");
  graph->add_option("--format", format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
  graph->add_option("-C,--directory", dir, "Run as if started in DIR");

  auto* plugins = app.add_subcommand("plugins", "List the plugins wrt can load");
  plugins->add_option("-C,--directory", dir, "Run as if started in DIR");

  std::string explain_stage;
  RunArgs ea;
  auto* explain = app.add_subcommand("explain", "Say why a stage would run or is cached");
  explain->add_option("stage", explain_stage, "Stage (default: all)");
  explain->add_option("--cache-dir", ea.cache_dir, "Cache directory (also WRT_CACHE_DIR)");
  explain->add_option("-C,--directory", dir, "Run as if started in DIR");

  std::string max_size, cache_dir;
  auto* cache = app.add_subcommand("cache", "Inspect and maintain the cache");
  cache->require_subcommand(1);
  cache->fallthrough();  // `wrt cache verify --cache-dir X` as well as `wrt cache --cache-dir X verify`
  cache->add_option("--cache-dir", cache_dir, "Cache directory (also WRT_CACHE_DIR)");
  cache->add_option("-C,--directory", dir, "Run as if started in DIR");
  auto* stats = cache->add_subcommand("stats", "Entries, blobs and size");
  auto* gc = cache->add_subcommand("gc", "Evict least-recently-used entries down to the size cap");
  gc->add_option("--max-size", max_size, "Size cap, e.g. 2GiB (default: settings.cache_max_size)");
  auto* verify = cache->add_subcommand("verify", "Re-hash every blob, remove corrupt ones");

  bool init_force = false;
  auto* init = app.add_subcommand("init", "Write a wrt.toml that fits the project (CMake, Cargo or generic)");
  init->add_option("-C,--directory", dir, "Directory");
  init->add_flag("--force", init_force, "Replace an existing wrt.toml");

  auto* schema_cmd = app.add_subcommand("schema", "Print the JSON Schema of wrt.toml (for Taplo / Even Better TOML)");

  std::string shell;
  auto* completions = app.add_subcommand("completions", "Print a shell completion script (bash, zsh or fish)");
  completions->add_option("shell", shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));

  // Called by the completion scripts; hidden (an empty group) from --help.
  std::string complete_kind;
  auto* complete = app.add_subcommand(kCompleteCommand, "Names for shell completion");
  complete->group("");
  complete->add_option("kind", complete_kind, "stages, pipelines or components")->required();
  complete->add_option("-C,--directory", dir, "Run as if started in DIR");

  std::string badge_out;
  auto* badge = app.add_subcommand("badge", "Write status badges (shields.io endpoint JSON and SVG) from the last run's real results");
  badge->add_option("--out", badge_out, "Directory (default .wrt/badges)");
  badge->add_option("-C,--directory", dir, "Run as if started in DIR");

  HistoryArgs ha;
  std::string dashboard_out;
  auto* dashboard = app.add_subcommand("dashboard", "Write a static dashboard (one HTML file, no script) of the runs and results");
  dashboard->add_option("--out", dashboard_out, "Directory (default .wrt/dashboard)");
  dashboard->add_option("-C,--directory", dir, "Run as if started in DIR");

  std::string evidence_out, evidence_dir;
  std::vector<std::string> evidence_keys, verify_keys;
  auto* evidence = app.add_subcommand("evidence", "Write the signed certification evidence package of the current commit");
  evidence->add_option("--out", evidence_out, "Directory (default .wrt/evidence/COMMIT); must be new or empty");
  evidence->add_option("--key", evidence_keys, "Ed25519 private key (PEM) to sign with (repeatable)");
  evidence->add_option("-C,--directory", dir, "Run as if started in DIR");
  std::string evidence_cache_dir;
  evidence->add_option("--cache-dir", evidence_cache_dir, "Cache directory cached stages' logs are read from (also WRT_CACHE_DIR)");
  auto* evidence_verify = evidence->add_subcommand("verify", "Re-hash every file of a package and check its signatures");
  evidence_verify->add_option("dir", evidence_dir, "The package")->required();
  evidence_verify->add_option("--key", verify_keys, "Ed25519 public key (PEM) whose signature is required (repeatable)")->required();

  std::vector<std::string> deploy_targets;
  std::vector<std::string> merge_files;
  std::string merge_out;
  auto* report_cmd = app.add_subcommand("report", "Work with run reports");
  auto* report_merge = report_cmd->add_subcommand("merge", "Combine the reports of a sharded run (--shard K/N) into one, with one gate verdict");
  report_merge->add_option("reports", merge_files, "The shards' reports")->required();
  report_merge->add_option("--out", merge_out, "The merged report")->required();
  report_merge->add_option("-C,--directory", dir, "Run as if started in DIR");
  report_cmd->require_subcommand(1);
  std::string approve_run, approve_key;
  auto* approve = app.add_subcommand("approve", "Sign the approval of the deployment a run waits for (deploy: approvals = N)");
  approve->add_option("run_id", approve_run, "The run id the waiting deploy stage printed")->required();
  approve->add_option("--key", approve_key, "Your Ed25519 private key (PEM); its public half is listed in with.approvers")->required();
  approve->add_option("-C,--directory", dir, "Run as if started in DIR");
  RunArgs da;
  std::string deploy_stage;
  std::vector<std::string> deploy_keys;
  auto* deploy = app.add_subcommand("deploy", "Run a deploy stage (and what it needs); with.evidence: write the evidence package first");
  deploy->add_option("stage", deploy_stage, "The stage")->required();
  deploy->add_option("--key", deploy_keys, "Ed25519 private key (PEM) to sign the evidence package with (repeatable)");
  deploy->add_option("--report", da.report, "Write a JSON report to FILE");
  deploy->add_option("--cache-dir", da.cache_dir, "Cache directory (also WRT_CACHE_DIR)");
  deploy->add_option("-C,--directory", dir, "Run as if started in DIR");
  auto* deployments = app.add_subcommand("deployments", "The deployment ledgers of the deploy stages, with their hash chain checked");
  deployments->add_option("--target", deploy_targets, "A deploy target directory (default: every deploy stage's with.target)");
  deployments->add_option("-C,--directory", dir, "Run as if started in DIR");

  auto* history = app.add_subcommand("history", "The last runs of this checkout: status, gate, duration, a stage or a metric over time");
  history->add_option("--stage", ha.stage, "Show this stage's status and duration per run");
  history->add_option("--metric", ha.metric, "Show this metric per run (NAME, or STAGE:NAME)");
  history->add_option("--format", ha.format, "table or json");
  history->add_option("-n,--limit", ha.limit, "At most this many runs, newest (0: all)");
  history->add_option("-C,--directory", dir, "Run as if started in DIR");

  std::string log_stage;
  auto* log = app.add_subcommand("log", "Print a stage's last log");
  log->add_option("stage", log_stage, "Stage")->required();
  log->add_option("-C,--directory", dir, "Run as if started in DIR");
  std::string log_cache_dir;
  log->add_option("--cache-dir", log_cache_dir, "Cache directory a cached stage's log is read from (also WRT_CACHE_DIR)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  auto level = log::choose_level(log_level, verbosity, std::getenv("WRT_LOG_LEVEL"));
  if (!level) return usage_error(level.error());
  if (Status st = log::setup(*level, log_file); !st) return usage_error(st.error());

  fs::path ws = find_workspace(dir);
  if (complete->parsed()) return cmd_complete(ws, complete_kind);
  if (schema_cmd->parsed()) {
    std::printf("%s\n", schema::json_schema().dump(2).c_str());
    return kExitOk;
  }
  if (completions->parsed()) {
    auto script = completion_script(app, shell);
    if (!script) return usage_error(script.error());
    std::fputs(script->c_str(), stdout);
    return kExitOk;
  }
  if (run->parsed()) return cmd_run(ws, ra, false, "");
  if (verify_cmd->parsed()) {
    auto level = parse_asil(asil_level);
    if (!level) return usage_error(fmt::format("--asil-profile must be QM, A, B, C or D, not '{}'", asil_level));
    va.verify_request.level = *level;
    return cmd_run(ws, va, false, "");
  }
  if (status_cmd->parsed()) return cmd_status(ws, status_cache_dir);
  if (trace_cmd->parsed()) return cmd_trace(ws, trace_file, trace_format);
  if (list->parsed()) return cmd_list(ws);
  if (graph->parsed()) return cmd_graph(ws, ga, format);
  if (plugins->parsed()) return cmd_plugins(ws);
  if (explain->parsed()) {
    if (!explain_stage.empty()) ea.stages.push_back(explain_stage);
    return cmd_run(ws, ea, true, explain_stage);
  }
  if (cache->parsed()) {
    std::string action = stats->parsed() ? "stats" : gc->parsed() ? "gc" : verify->parsed() ? "verify" : "";
    return cmd_cache(ws, action, max_size, cache_dir);
  }
  if (init->parsed()) return cmd_init(dir.empty() ? fs::current_path() : ws, init_force);
  if (log->parsed()) return cmd_log(ws, log_stage, log_cache_dir);
  if (history->parsed()) return cmd_history(ws, ha);
  if (badge->parsed()) return cmd_badge(ws, badge_out);
  if (dashboard->parsed()) return cmd_dashboard(ws, dashboard_out);
  if (deployments->parsed()) return cmd_deployments(ws, deploy_targets);
  if (approve->parsed()) return cmd_approve(ws, approve_run, approve_key);
  if (report_merge->parsed()) return cmd_report_merge(ws, merge_files, merge_out);
  if (deploy->parsed()) return cmd_deploy(ws, deploy_stage, deploy_keys, da);
  if (evidence_verify->parsed()) return cmd_evidence_verify(evidence_dir, verify_keys);
  if (evidence->parsed()) return cmd_evidence(ws, evidence_out, evidence_keys, evidence_cache_dir);
  return kExitUsage;
}

}  // namespace wrt
