// The scheduler: runs the selected stages as a DAG. A stage becomes ready
// when all the stages it needs have finished (a count per stage); it is
// skipped when one of them failed or was skipped, when the run was
// interrupted, or (without --keep-going) after a failure. A ready stage's
// cache protocol is the stage runner's (stage_runner.h): prepare on a TBB
// thread -- or on the runner thread that just finished what it waited for,
// which is awake anyway -- and when the stage must run, run on one of `jobs`
// runner threads after its declared cpus/memory fit (so waiting on a child
// never occupies a TBB worker).
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cache/file_digester.h"
#include "core/cache/run_index.h"
#include "core/config/config.h"
#include "core/config/graph.h"
#include "core/exec/stage_runner.h"
#include "core/host/plugin_host.h"
#include "core/results/stage_record.h"
#include "core/results/run_events.h"

namespace wrt {

class Executor {
 public:
  // `plugins[i]` is the loaded plugin of graph stage i (null if not selected).
  // `store` may be null (caching off entirely). `digester` and `index` are
  // loaded by the caller (so it can load them while it parses the config)
  // and saved by the caller after run().
  Executor(const Config& config, const Graph& graph, std::vector<const LoadedPlugin*> plugins, CacheStore* store,
           FileDigester& digester, RunIndex& index, RunObserver& events, RunOptions options);

  RunOutcome run(const std::vector<int>& order);

 private:
  struct Impl;
  const Config& config_;
  const Graph& graph_;
  std::vector<const LoadedPlugin*> plugins_;
  CacheStore* store_;
  FileDigester& digester_;
  RunIndex& index_;
  RunObserver& events_;
  RunOptions options_;
};

}  // namespace wrt
