// Which stages were started and never ended cleanly, across runs.
//
// A stage killed mid-way -- wrt SIGKILLed, a power cut of the process, the
// stage's timeout, Ctrl-C -- can leave anything in its declared outputs: a
// half-written file, or a file it never produces when it completes (GNU
// `ln -sf` killed between creating its temp link and renaming it leaves a
// `CuXXXXXX` symlink in the directory). A stage that does not empty its
// outputs first would then carry that leftover into the next result wrt
// caches, and a cache hit restores an entry's files without removing extra
// ones, so the leftover would also survive a hit. Neither is a result as
// good as a fresh one.
//
// So the runner appends "+<stage>" to <ws>/.wrt/state/running-stages before a
// stage's plugin runs and "-<stage>" when it ended by itself (passed or
// failed, not timed out or interrupted). A stage left with a "+" is
// *interrupted*: its next run removes its declared outputs first, whether it
// then runs or is restored from the cache (like ninja removing the outputs
// of commands it interrupted, which it cannot do after a kill -9).
//
// The file is private to the checkout (one run at a time: workspace_lock.h).
// The appends are not synced: they survive the death of wrt, which is what
// they are for, not of the machine. A damaged line is ignored.
//
// Threads: started(), finished() and was_interrupted() may be called from
// any thread.
#pragma once

#include <filesystem>
#include <iterator>
#include <mutex>
#include <set>
#include <string>

#include "core/util/result.h"

namespace wrt {

class StageJournal {
 public:
  // Reads `file` (a missing file: nothing interrupted). `read_only`: a dry
  // run, which reads the journal and never writes it.
  StageJournal(std::filesystem::path file, bool read_only);
  ~StageJournal();
  StageJournal(const StageJournal&) = delete;
  StageJournal& operator=(const StageJournal&) = delete;

  // Did an earlier run start `stage` and never see it end cleanly, and no
  // run since resolved it?
  bool was_interrupted(const std::string& stage) const;

  // Before the stage's plugin runs. Error when the line cannot be written:
  // the stage must then not run (a kill would go unnoticed).
  Status started(const std::string& stage);
  // The stage ended by itself, or its outputs were restored in full after
  // an interruption: its outputs are what that end left.
  void finished(const std::string& stage);

  // Forgets stages for which `exists` is false (removed from wrt.toml):
  // their outputs are no one's any more.
  template <typename Pred>
  void forget_unless(Pred exists) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = open_.begin(); it != open_.end();) it = exists(*it) ? std::next(it) : open_.erase(it);
  }

  // At the end of a run: rewrites the file with only the stages still
  // interrupted (or removes it when there are none).
  Status close();

 private:
  std::filesystem::path file_;
  bool read_only_;
  mutable std::mutex mu_;
  std::set<std::string> open_;  // interrupted before, or started and not finished
  int fd_ = -1;
};

}  // namespace wrt
