#include "core/util/heap.h"

#include <dlfcn.h>

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

// One scratch arena per process, created on first use and reused: arenas
// are never destroyed, and a new one per parse would only add metadata.
bool scratch_index(unsigned* out) {
  static std::once_flag once;
  static unsigned index = 0;
  static bool ok = false;
  std::call_once(once, [] {
    MallctlFn f = mallctl_fn();
    if (!f) return;
    std::size_t sz = sizeof index;
    ok = f("arenas.create", &index, &sz, nullptr, 0) == 0;
  });
  *out = index;
  return ok;
}

void flush_thread_cache(MallctlFn f) {
  // Freed objects kept in the thread's cache would otherwise be handed out
  // to the next allocations, whichever arena they belong to.
  (void)f("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
}

}  // namespace

ScratchArena::ScratchArena() {
  MallctlFn f = mallctl_fn();
  if (!f || !scratch_index(&arena_)) return;
  flush_thread_cache(f);
  std::size_t sz = sizeof previous_;
  entered_ = f("thread.arena", &previous_, &sz, &arena_, sizeof arena_) == 0;
}

ScratchArena::~ScratchArena() { leave(); }

void ScratchArena::leave() {
  if (!entered_) return;
  MallctlFn f = mallctl_fn();
  flush_thread_cache(f);
  (void)f("thread.arena", nullptr, nullptr, &previous_, sizeof previous_);
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
