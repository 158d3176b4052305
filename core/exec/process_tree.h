// Which processes belong to a stage, and making sure none outlives it or wrt.
//
// A process group is not enough: a stage command that daemonizes (double
// fork + setsid) leaves its group, and a SIGKILLed wrt cannot kill anything.
// So every process wrt starts carries a tag in its environment,
//   WRT_PROCESS_TAG=<base>/<n>
// which its descendants inherit (a daemon keeps its environment). <base> is
// a token made per wrt process, or, when wrt itself runs under a tag (a
// worker, or wrt inside a wrt stage), that tag: everything started below a
// tag carries it as a prefix, so killing a tag kills the whole tree.
//
// wrt is a child subreaper, so a process whose parent dies is re-parented to
// wrt instead of init. A stage's tree can only have escaped its process group
// if the group still exists or wrt has a child no one waits for; only then is
// /proc scanned for the tag (cheap enough to do at the end of every stage).
//
// Against kill -9 of wrt itself: the first spawn starts a watchdog, a forked
// copy of wrt in a session of its own that blocks on a pipe from wrt; when
// wrt dies (or exits) the pipe closes and the watchdog kills every process
// carrying this wrt's tags, then exits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

namespace wrt {

inline constexpr const char* kProcessTagVar = "WRT_PROCESS_TAG";

// A new tag below this process's base, unique within the process.
std::string new_process_tag();

// The base every tag of this process starts with.
const std::string& process_tag_base();

// Children this process waits for itself (stage leaders, workers, the
// watchdog): never treated as orphans. Thread-safe.
void register_child(pid_t pid);
void unregister_child(pid_t pid);

// Runs `spawn` (which starts a child and returns its pid, or -1) and
// registers the child, both under the registry's lock, so that no orphan
// check can mistake the new child for an orphan and reap it.
pid_t spawn_registered(const std::function<pid_t()>& spawn);

// Could processes of the group `pgid` have outlived its leader? True when the
// group still has members or this process has an unregistered child (an
// orphan re-parented to us). Reaps orphans that have already exited.
bool maybe_leftovers(pid_t pgid);

// Number of live processes whose tag is `tag` or starts with `tag` + "/".
int count_tagged(const std::string& tag);

// SIGKILLs every process tagged `tag` (or below), again until none is left
// or `patience` has passed, and reaps those that are our children. Returns
// how many processes it killed.
int kill_tagged(const std::string& tag, std::chrono::milliseconds patience);

// Starts the watchdog (once per process; later calls do nothing). Called
// before the first child is spawned. Best effort: without it only kill -9 of
// wrt can leave processes behind.
void ensure_watchdog();

// The wrt executable calls this at start: its watchdog then re-executes it
// as "wrt-watchdog BASE" (a clean process whose command line `pkill -f 'wrt
// run'` does not match) instead of running in the forked copy.
void watchdog_may_exec_self();
// main() of that process: argv[0] == kWatchdogArgv0, argv[1] = the base.
inline constexpr const char* kWatchdogArgv0 = "wrt-watchdog";
[[noreturn]] void run_watchdog(const char* base);

}  // namespace wrt
