#include "core/exec/executor.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include <fmt/core.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include "core/cache/remote_cache.h"
#include "core/exec/runner_pool.h"

namespace wrt {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Remote cache hits downloaded at once at most (threads of their own; each
// waits for its blobs, whose requests share the remote cache's connections).
// Of these threads only as many as there are CPUs check and restore at
// once; the others wait for the network (runner_pool.h).
constexpr int kRemoteLookups = 16;

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
  RunContext run_ctx;
  StageRunner runner;
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
  // What prepare() handed over for a stage that must run, by graph stage.
  struct Ready {
    Clock::time_point t0;
    Preparation prepared;
  };
  std::vector<std::unique_ptr<Ready>> ready;
  std::vector<Fingerprint> fingerprints;  // by graph stage, all taken before any stage starts
  bool any_state = false;                 // some stage declares state directories
  std::recursive_mutex rebuild_mu;
  std::string run_id;                     // RunOutcome::run_id

  Impl(Executor& e, std::vector<StageRecord>& out)
      : ex(e),
        run_ctx{e.config_, e.store_, e.digester_, e.index_, e.events_, e.options_},
        runner(run_ctx),
        records(out),
        slot(e.graph_.stages.size(), -1),
        selected(e.graph_.stages.size(), 0),
        resources(e.options_.jobs, e.options_.memory_limit ? e.options_.memory_limit : physical_memory()),
        ready(e.graph_.stages.size()),
        fingerprints(e.graph_.stages.size()) {}

  StageRecord& record(int v) { return records[static_cast<std::size_t>(slot[v])]; }
  const StageRecord& record_of(int v) const {
    return slot[v] < 0 ? unselected : records[static_cast<std::size_t>(slot[v])];
  }
  StageTask task(int v) { return {*ex.graph_.stages[v], *ex.plugins_[v], record(v)}; }

  bool cancelled() const { return ex.options_.cancel && ex.options_.cancel->load(); }

  void finish(int v, const std::string& status, Clock::time_point t0, const std::string& detail) {
    StageRecord& rec = record(v);
    rec.status = status;
    rec.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (is_failure_status(status) && !ex.options_.keep_going && !ex.options_.dry_run) {
      std::lock_guard<std::mutex> lock(mu);
      if (!stop.exchange(true)) first_failure = rec.name;
    }
    ex.events_.stage_finished(rec, detail);
  }

  bool done(int v, const std::string& status, Clock::time_point t0, const std::string& detail) {
    finish(v, status, t0, detail);
    return false;
  }

  // Why a stage may not start now (its dependencies, an interruption, an
  // earlier failure), as a final status; empty when it may.
  std::string blocked(int v, StageRecord& rec) {
    // After Ctrl-C nothing starts, whatever its dependencies did: one reason
    // for all (the console prints one line for them).
    if (cancelled()) return interrupted_or_stopped(rec);
    const StageConfig& sc = *ex.graph_.stages[v];
    // Conditions first: "not a tag" says more than what a dependency did.
    if (!sc.extras().when.empty()) {
      std::string why = ex.options_.conditions ? condition_refusal(sc, *ex.options_.conditions)
                                               : std::string("condition: not evaluated in this mode");
      if (!why.empty()) {
        rec.reason = why;
        return "skipped";
      }
    }
    if (!sc.extras().requires_gate.empty() || sc.extras().min_verified_asil) {
      std::vector<const StageRecord*> closure = dependency_closure(v);
      const bool undecided = std::any_of(closure.begin(), closure.end(), [](const StageRecord* r) { return r->status == "pending"; });
      if (!undecided) {
        if (std::string why = gate_refusal(sc, ex.config_, closure); !why.empty()) {
          rec.reason = why;
          return "skipped";
        }
      }
    }
    for (int d : ex.graph_.deps[v]) {
      const StageRecord& dep = record_of(d);
      // Dry run: a dependency that would run but whose outputs cannot be
      // predicted (it never succeeded here) leaves this stage undecided.
      if (dep.status == "pending" && ex.options_.dry_run && !dep.output_digest) {
        rec.reason = fmt::format("needs '{}', which would run (its outputs cannot be predicted)", dep.name);
        rec.extras_mut().conditional = true;
        return "pending";
      }
      // A stage that asked for the gate's judgement got it above: an ASIL
      // stage's failure the gate lets through does not hold it back.
      if (!sc.extras().requires_gate.empty() && dep.asil && is_failure_status(dep.status)) continue;
      if (dep.status == "skipped" || is_failure_status(dep.status)) {
        rec.reason = fmt::format("needs '{}', which {}", dep.name,
                                 dep.status == "skipped"  ? "was skipped"
                                 : dep.status == "failed" ? "failed"
                                                          : "ended with " + dep.status);
        return "skipped";
      }
    }
    return interrupted_or_stopped(rec);
  }

  // Every selected stage v depends on, directly or not (all finished when
  // v is ready).
  std::vector<const StageRecord*> dependency_closure(int v) const {
    std::vector<const StageRecord*> out;
    std::vector<char> seen(ex.graph_.stages.size(), 0);
    std::vector<int> todo(ex.graph_.deps[v].begin(), ex.graph_.deps[v].end());
    while (!todo.empty()) {
      const int d = todo.back();
      todo.pop_back();
      if (seen[d]) continue;
      seen[d] = 1;
      if (slot[d] >= 0) out.push_back(&record_of(d));
      todo.insert(todo.end(), ex.graph_.deps[d].begin(), ex.graph_.deps[d].end());
    }
    return out;
  }

  std::string interrupted_or_stopped(StageRecord& rec) {
    if (cancelled()) {
      rec.reason = "not started: run interrupted";
      return "skipped";
    }
    if (stop.load()) {
      rec.reason = fmt::format("not started: '{}' failed (--keep-going runs everything that does not depend on it)",
                               first_failure);
      return "skipped";
    }
    return {};
  }

  // What follows a stage's cheap part: nothing (it is over), a run, or a
  // remote cache lookup first.
  enum class Next { kDone, kRun, kRemote };

  // The cheap part of a ready stage, on a TBB thread. kRun: its preparation
  // is in ready[v] and run_stage(v) must follow; kRemote: lookup_remote(v)
  // must follow, on a thread that may wait on the network.
  Next prepare(int v) {
    const auto t0 = Clock::now();
    StageRecord& rec = record(v);
    if (std::string status = blocked(v, rec); !status.empty()) {
      done(v, status, t0, rec.reason);
      return Next::kDone;
    }
    Preparation p = runner.prepare(task(v), fingerprints[v], upstream_of(v));
    if (p.remote) {
      ready[v] = std::make_unique<Ready>(Ready{t0, std::move(p)});
      return Next::kRemote;
    }
    return settle(v, t0, std::move(p)) ? Next::kRun : Next::kDone;
  }

  // After prepare() said kRemote, until lookup_remote(v) took it over.
  bool awaits_lookup(int v) const { return ready[v] && ready[v]->prepared.remote; }
  RemoteLookup& remote_lookup(int v) { return *ready[v]->prepared.remote; }

  // After prepare() said kRemote: true when the stage must run.
  bool lookup_remote(int v) {
    std::unique_ptr<Ready> r = std::move(ready[v]);
    if (cancelled()) return done(v, interrupted_or_stopped(record(v)), r->t0, record(v).reason);
    Preparation p = runner.lookup_remote(task(v), fingerprints[v], *r->prepared.remote);
    return settle(v, r->t0, std::move(p));
  }

  // A preparation decided: finishes the stage or keeps it for its run.
  bool settle(int v, Clock::time_point t0, Preparation p) {
    StageRecord& rec = record(v);
    if (ex.options_.dry_run) predict(v, rec, p);
    if (!p.status.empty()) return done(v, p.status, t0, p.detail);
    // Only for results that are never cached: the context is in no key.
    const StageConfig& sc = *ex.graph_.stages[v];
    if (p.never_cache || !sc.cache)
      p.run_context = run_context_json(run_id, ex.config_, dependency_closure(v));
    ready[v] = std::make_unique<Ready>(Ready{t0, std::move(p)});
    return true;
  }

  Upstream upstream_of(int v) const {
    Upstream upstream;
    for (int d : ex.graph_.deps[v]) {
      const StageRecord& dep = record_of(d);
      if (dep.output_digest) upstream.emplace_back(dep.name, *dep.output_digest);
    }
    return upstream;
  }

  // Before stage v runs: every stage it needs that was a cache hit and keeps
  // state directories must have them as produced for its current key, or
  // it runs again first (its own dependencies' state checked likewise).
  // Rebuilds are rare and serialised. Returns why v cannot run, or "".
  std::string ensure_state(int v) {
    for (int d : ex.graph_.deps[v]) {
      if (slot[d] < 0 || fingerprints[d].state.empty()) continue;
      std::lock_guard<std::recursive_mutex> lock(rebuild_mu);
      StageRecord& dep = record(d);
      std::string why = runner.stale_state(fingerprints[d].state, dep);
      if (why.empty()) continue;
      if (std::string err = ensure_state(d); !err.empty()) return err;
      ex.events_.note(fmt::format("rebuilding {} for {}: {}", dep.name, record(v).name, why));
      auto rb = runner.rebuild_state(task(d), fingerprints[d], upstream_of(d));
      const bool ok = rb.end.status == "passed" || rb.end.status == "flaky";
      dep.extras_mut().rebuilt_state = ok ? fmt::format("rebuilt: {}", why) : fmt::format("rebuild {}: {}", rb.end.status, rb.end.detail);
      if (!ok)
        return fmt::format("needs '{}', whose state directory could not be rebuilt ({}: {})", dep.name, rb.end.status,
                           rb.end.detail);
      // The key of v took the cached outputs of d; a rebuild that gives
      // others makes that key a lie, so v's result must not be stored.
      if (rb.output_digest != dep.output_digest)
        record(v).extras_mut().not_stored = fmt::format("'{}' gave other outputs when rebuilt for its state directory", dep.name);
    }
    return {};
  }

  // Dry run: the key above assumed that dependencies which would run give
  // their last outputs again. A hit under that assumption is only a
  // conditional "would run": the real run keeps the stage cached unless one
  // of them changes its outputs (early cutoff).
  void predict(int v, StageRecord& rec, Preparation& p) {
    if (p.status != "cached") return;
    std::string names;
    for (int d : ex.graph_.deps[v])
      if (record_of(d).status == "pending") names += fmt::format("{}'{}'", names.empty() ? "" : ", ", record_of(d).name);
    if (names.empty()) return;
    p.status = "pending";
    p.detail = rec.reason = fmt::format("would run only if {} change{} its outputs (else cached)", names,
                                        names.find(',') == std::string::npos ? "s" : "");
    rec.extras_mut().conditional = true;
  }

  // Runs a prepared stage. Blocks on the stage's processes: called on a
  // runner-pool thread, never on a TBB one.
  void run_stage(int v) {
    std::unique_ptr<Ready> r = std::move(ready[v]);
    StageRecord& rec = record(v);
    // Queued while another stage failed or the run was interrupted.
    if (std::string status = interrupted_or_stopped(rec); !status.empty()) return finish(v, status, r->t0, rec.reason);
    // Held while the stage's processes run.
    struct Admission {
      ResourceGate& gate;
      int cpus;
      std::uint64_t memory;
      ~Admission() { gate.release(cpus, memory); }
    };
    const StageConfig& sc = *ex.graph_.stages[v];
    const int cpus = std::min(sc.cpus, std::max(1, ex.options_.jobs));
    resources.acquire(cpus, sc.memory);
    Admission admitted{resources, cpus, sc.memory};
    // Announced only now: thousands of cache hits should not each redraw
    // the status line.
    ex.events_.stage_started(sc.name);
    if (any_state) {
      if (std::string err = ensure_state(v); !err.empty()) {
        rec.reason = rec.results.mut().message = err;
        return finish(v, "failed", r->t0, err);
      }
    }
    StageEnd end = runner.run(task(v), r->prepared, r->t0);
    finish(v, end.status, r->t0, end.detail);
  }

  // Both phases on the calling thread (tests, and the dry run).
  void process(int v) {
    Next next = prepare(v);
    if (next == Next::kRemote) next = lookup_remote(v) ? Next::kRun : Next::kDone;
    if (next == Next::kRun) run_stage(v);
  }
};

Executor::Executor(const Config& config, const Graph& graph, std::vector<const LoadedPlugin*> plugins,
                   CacheStore* store, FileDigester& digester, RunIndex& index, RunObserver& events,
                   RunOptions options)
    : config_(config),
      graph_(graph),
      plugins_(std::move(plugins)),
      store_(store),
      digester_(digester),
      index_(index),
      events_(events),
      options_(options) {}

RunOutcome Executor::run(const std::vector<int>& order) {
  const auto t0 = Clock::now();
  RunOutcome out;
  out.records.resize(order.size());
  if (!options_.dry_run) {
    // Room for what a first run records (the patterns' lengths stand in
    // for the paths they match).
    std::size_t paths = 0, path_bytes = 0, name_bytes = 0;
    for (int id : order) {
      const StageConfig& sc = *graph_.stages[static_cast<std::size_t>(id)];
      paths += sc.inputs.size() + sc.outputs.size();
      for (const auto& p : sc.inputs) path_bytes += p.size();
      for (const auto& p : sc.outputs) path_bytes += p.size();
      name_bytes += sc.name.size();
    }
    digester_.reserve(paths, path_bytes);
    index_.reserve(order.size(), name_bytes);
  }
  Impl impl(*this, out.records);
  auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  out.started_at_ms = wall_ms();
  out.run_id = impl.run_id = fmt::format("{}-{}", out.started_at_ms, ::getpid());
  events_.run_started(order.size());
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

  // Every selected stage's fingerprint first, in parallel: it validates the
  // stage's `with` table, and a configuration error anywhere stops the run
  // before any stage starts (exit 2), as a syntax error in wrt.toml does.
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
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, order.size(), [&](std::size_t i) {
      const int v = order[i];
      try {
        impl.fingerprints[v] = impl.runner.fingerprint(*graph_.stages[v], *plugins_[v]);
      } catch (const std::exception& e) {
        impl.fingerprints[v].status = WRT_STATUS_ERROR;
        impl.fingerprints[v].fault = fmt::format("internal error: {}", e.what());
      }
    });
  });
  for (int v : order) {
    if (!impl.fingerprints[v].state.empty()) impl.any_state = true;
    if (!impl.fingerprints[v].config_error()) continue;
    std::string line = config_error_line(config_, *graph_.stages[v], impl.fingerprints[v].message);
    StageRecord& rec = impl.record(v);
    rec.status = "failed";
    rec.reason = rec.results.mut().message = line;
    out.config_errors.push_back(std::move(line));
  }
  if (!out.config_errors.empty()) {
    for (auto& rec : out.records)
      if (rec.status == "pending") {
        rec.status = "skipped";
        rec.reason = "not started: configuration error";
      }
    out.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
    out.finished_at_ms = wall_ms();
    events_.run_finished(out);
    return out;
  }

  // Among ready stages the higher priority goes first: a stage's own
  // `priority`, else its ASIL profile's, else normal.
  const std::size_t n = graph_.stages.size();
  std::vector<int> priority(n, 0);
  for (int v : order) {
    const StageConfig& sc = *graph_.stages[v];
    std::string p = sc.extras().priority ? *sc.extras().priority : sc.asil ? config_.profile(*sc.asil).priority : "normal";
    priority[v] = 1 + std::max(0, priority_rank(p));
  }

  // The scheduler. A stage is ready when every selected stage it needs has
  // finished: a count per stage (`waiting`), decremented along the selected
  // edges (`next`, flat: next[next_begin[v] .. next_begin[v+1]) are v's
  // dependents). A ready stage's cheap part (prepare: key, cache lookup,
  // restore) runs on TBB's threads for the roots and wherever many stages
  // become ready at once, and otherwise on the runner thread that finished
  // the stage it waited for. That thread is awake anyway; handing every
  // completion to TBB woke an idle worker, which then spun (~100
  // sched_yield calls) before sleeping again: a fifth of wrt's own CPU in
  // a full run, taken from the stages' processes on a small machine. (Until
  // 2026-12 this was a TBB flow graph, two nodes per stage: that cost the
  // same spin, plus ~1 KB and a node construction per stage on a no-op.)
  // A stage that must run goes to the runner pool, whose `jobs` threads
  // block on the stage's processes: waiting on a child never occupies a
  // TBB worker, and the job limit does not depend on the CPU count.
  std::unique_ptr<std::atomic<int>[]> waiting(new std::atomic<int>[n]);
  std::vector<std::uint32_t> next_begin(n + 1, 0);
  for (int v : order) {
    int count = 0;
    for (int d : graph_.deps[v])
      if (impl.selected[d]) {
        ++count;
        ++next_begin[static_cast<std::size_t>(d) + 1];
      }
    waiting[v].store(count, std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < n; ++i) next_begin[i + 1] += next_begin[i];
  std::vector<int> next(next_begin[n]);
  {
    std::vector<std::uint32_t> fill(next_begin.begin(), next_begin.end() - 1);
    for (int v : order)
      for (int d : graph_.deps[v])
        if (impl.selected[d]) next[fill[d]++] = v;
  }
  auto fail_internal = [&](int v, const char* what) {
    impl.record(v).results.mut().message = fmt::format("internal error: {}", what);
    impl.finish(v, "failed", Clock::now(), impl.record(v).results->message);
  };
  // Every stage completes once: where its cheap part found it needs no run,
  // else on its runner thread. The main thread sleeps until all have.
  std::mutex done_mu;
  std::condition_variable all_done;
  std::atomic<std::size_t> completed{0};
  // A finished stage: its dependents that have now all they need go to `ready`.
  auto complete = [&](int v, std::vector<int>& ready) {
    for (std::uint32_t i = next_begin[v]; i < next_begin[static_cast<std::size_t>(v) + 1]; ++i)
      if (waiting[next[i]].fetch_sub(1, std::memory_order_acq_rel) == 1) ready.push_back(next[i]);
    if (completed.fetch_add(1, std::memory_order_acq_rel) + 1 == order.size()) {
      std::lock_guard<std::mutex> lock(done_mu);
      all_done.notify_all();
    }
  };
  auto by_priority = [&](std::vector<int>& ready) {
    std::stable_sort(ready.begin(), ready.end(), [&](int a, int b) { return priority[a] > priority[b]; });
  };
  RunnerPool* pool = nullptr;  // both set below, before any stage is ready
  RunnerPool* lookups = nullptr;
  // A local miss the remote cache may serve: the request for its entry goes
  // out, and no thread waits for the answer. Found, the entry's blobs are
  // downloaded and checked on a lookup thread; anything else (a miss, a
  // failure: settled without I/O) goes straight to the runner pool, which
  // concludes the lookup before the run. A full run with a remote cache
  // asks once per stage: a lookup thread waiting for each answer cost two
  // more thread hand-offs per stage (2026-12-02, bench/README.md).
  std::atomic<int> answering{0};  // callbacks running: the run ends after them
  auto ask_remote = [&](int v) {
    answering.fetch_add(1, std::memory_order_relaxed);
    options_.remote->ask(impl.record(v).cache_key, [&, v](RemoteAnswer&& a) {
      const bool found = RemoteCache::found(a);
      impl.remote_lookup(v).answer = std::make_shared<const RemoteAnswer>(std::move(a));
      if (found)
        lookups->submit(v, priority[v]);
      else
        pool->submit(v, priority[v]);
      answering.fetch_sub(1, std::memory_order_acq_rel);  // the last touch of the run's state
    });
  };
  // The cheap part of stage v; when it needs no run, its newly ready
  // dependents are appended to `ready`.
  auto prepare = [&](int v, std::vector<int>& ready) {
    using Next = Impl::Next;
    Next step = Next::kDone;
    try {
      step = impl.prepare(v);
    } catch (const std::exception& e) {
      fail_internal(v, e.what());
    }
    if (step == Next::kRun) return pool->submit(v, priority[v]);
    if (step == Next::kRemote) return ask_remote(v);
    complete(v, ready);
  };
  // Tasks given to the arena and not yet over: the run ends after them.
  std::atomic<int> in_arena{0};
  std::function<void(int)> on_arena;
  auto to_arena = [&](int v) {
    in_arena.fetch_add(1, std::memory_order_relaxed);
    arena.enqueue([&on_arena, &in_arena, v] {
      on_arena(v);
      in_arena.fetch_sub(1, std::memory_order_acq_rel);  // the last touch of the run's state
    });
  };
  // On a TBB thread: prepares stage v; of what it readies in turn (a cache
  // hit finishes here), one stage continues here, depth first, and the
  // others go to the arena's other threads, as on a no-op run.
  auto drive = [&](int v) {
    std::vector<int> more;
    for (;;) {
      more.clear();
      prepare(v, more);
      if (more.empty()) return;
      by_priority(more);
      for (std::size_t i = 1; i < more.size(); ++i) to_arena(more[i]);
      v = more[0];
    }
  };
  on_arena = drive;
  // On a runner (or remote lookup) thread, after stage v ended there: a few
  // newly ready stages are prepared here, a burst is shared with the arena.
  constexpr std::size_t kKeepOnRunner = 4;
  auto finished_on_runner = [&](int v) {
    std::vector<int> ready;
    complete(v, ready);
    if (ready.empty()) return;
    by_priority(ready);
    if (ready.size() > kKeepOnRunner) {
      for (int r : ready) to_arena(r);
      return;
    }
    // Prepared here, each; what a cache hit among them readies in turn goes
    // to the arena, so a long cascade of hits never holds this thread (and
    // the stages after it in `ready`) back. Their remote cache lookups go
    // out together, after the last one's key is known.
    RemoteCache::AskBatch asks(options_.remote);
    std::vector<int> more;
    for (int r : ready) {
      more.clear();
      prepare(r, more);
      for (int m : more) to_arena(m);
    }
  };
  RunnerPool run_pool(std::max(1, options_.jobs), [&](int v) {
    try {
      // A remote cache's answer that needs no waiting (ask_remote).
      if (!impl.awaits_lookup(v) || impl.lookup_remote(v)) impl.run_stage(v);
    } catch (const std::exception& e) {
      fail_internal(v, e.what());
    }
    finished_on_runner(v);
  });
  // A remote cache hit's blobs are downloaded, checked and stored on these
  // threads, not on TBB's (many at once -- the transfers share a few
  // connections, remote_cache.h); a stage that must run after all goes on
  // to the runner pool.
  RunnerPool lookup_pool(kRemoteLookups, [&](int v) {
    bool must_run = false;
    try {
      must_run = impl.lookup_remote(v);
    } catch (const std::exception& e) {
      fail_internal(v, e.what());
    }
    if (must_run) return run_pool.submit(v, priority[v]);
    finished_on_runner(v);
  }, "wrt-lookup", static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  pool = &run_pool;
  lookups = &lookup_pool;
  {
    std::vector<int> roots;
    for (int v : order)
      if (waiting[v].load(std::memory_order_relaxed) == 0) roots.push_back(v);
    // In priority order, and with one thread (-j 1) in exactly this order,
    // like ninja -j1: the arena's own queue is only roughly first in, first
    // out. The main thread helps until every root is prepared.
    by_priority(roots);
    arena.execute([&] {
      tbb::parallel_for(std::size_t{0}, roots.size(), [&](std::size_t i) { drive(roots[i]); });
    });
  }
  {
    std::unique_lock<std::mutex> lock(done_mu);
    all_done.wait(lock, [&] { return completed.load(std::memory_order_acquire) == order.size(); });
  }
  // Every stage is over; the threads that finished the last ones may still
  // be on their way out of the scheduler's code.
  while (in_arena.load(std::memory_order_acquire) != 0 || answering.load(std::memory_order_acquire) != 0)
    std::this_thread::yield();

  // Uploads to the remote cache went on while stages ran; the run ends
  // when they have (aborted when the run was interrupted).
  if (options_.remote)
    for (const auto& note : options_.remote->finish_uploads(options_.cancel)) events_.note("warning: " + note);
  impl.runner.end_run();
  out.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
  out.interrupted = impl.cancelled();
  out.files_hashed = digester_.files_hashed();
  out.finished_at_ms = wall_ms();
  events_.run_finished(out);
  return out;
}

}  // namespace wrt
