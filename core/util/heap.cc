#include "core/util/heap.h"

#include <dlfcn.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdio>
#include <mutex>

namespace wrt {

namespace {

using MallctlFn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);

MallctlFn mallctl_fn() {
  static MallctlFn fn = reinterpret_cast<MallctlFn>(::dlsym(RTLD_DEFAULT, "mallctl"));
  return fn;
}

// The scratch arenas, created on first use and reused: arenas are never
// destroyed, and a new one per parse would only add metadata.
bool scratch_index(ScratchArena::Slot slot, unsigned* out) {
  static std::once_flag once;
  static unsigned index[ScratchArena::kSlots] = {};
  static bool ok = false;
  std::call_once(once, [] {
    MallctlFn f = mallctl_fn();
    if (!f) return;
    ok = true;
    for (unsigned& i : index) {
      std::size_t sz = sizeof i;
      ok = ok && f("arenas.create", &i, &sz, nullptr, 0) == 0;
      // A scratch arena keeps its free pages until purge(): with the
      // process's decay of 0 (core/allocator.cc) every slab emptied while a
      // document is converted -- one a stage -- became an madvise and a
      // page fault when reused, a third of parsing 10,000 stages (235 ->
      // 155 ms). Its owner purges at the points where pages must go back.
      char name[64];
      std::snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", i);
      ssize_t never = -1;
      if (ok) (void)f(name, nullptr, nullptr, &never, sizeof never);
    }
  });
  *out = index[slot];
  return ok;
}

void flush_thread_cache(MallctlFn f) {
  // Freed objects kept in the thread's cache would otherwise be handed out
  // to the next allocations, whichever arena they belong to.
  (void)f("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
}

}  // namespace

void return_free_pages() {
  MallctlFn f = mallctl_fn();
  if (!f) return;
  flush_thread_cache(f);
  (void)f("arena.4096.purge", nullptr, nullptr, nullptr, 0);  // MALLCTL_ARENAS_ALL
}

ScratchArena::ScratchArena(Slot slot) {
  MallctlFn f = mallctl_fn();
  if (!f || !scratch_index(slot, &arena_)) return;
  flush_thread_cache(f);
  std::size_t sz = sizeof previous_;
  entered_ = f("thread.arena", &previous_, &sz, &arena_, sizeof arena_) == 0;
}

ScratchArena::~ScratchArena() {
  leave();
  purge();
  if (cache_off_) {
    bool on = true;
    (void)mallctl_fn()("thread.tcache.enabled", nullptr, nullptr, &on, sizeof on);
  }
}

void ScratchArena::leave() {
  if (!entered_) return;
  MallctlFn f = mallctl_fn();
  flush_thread_cache(f);
  (void)f("thread.arena", nullptr, nullptr, &previous_, sizeof previous_);
  bool was_on = true;
  bool off = false;
  std::size_t sz = sizeof was_on;
  // Only the ScratchArena that turned the cache off turns it on again.
  if (f("thread.tcache.enabled", &was_on, &sz, &off, sizeof off) == 0) cache_off_ = was_on;
  entered_ = false;
  left_ = true;
}

void ScratchArena::purge() {
  if (!left_) return;
  MallctlFn f = mallctl_fn();
  flush_thread_cache(f);
  char name[64];
  std::snprintf(name, sizeof name, "arena.%u.purge", arena_);
  (void)f(name, nullptr, nullptr, nullptr, 0);
}

}  // namespace wrt
