// Control of jemalloc's heap where wrt knows better than its heuristics.
//
// ScratchArena: a heap of its own for short-lived work that leaves a few
// long-lived objects behind: parsing wrt.toml builds a toml++ document (~17 MB for
// 10,000 stages) interleaved with the configuration model made from it.
// Freed, the document leaves the model's objects scattered over its pages,
// which jemalloc can then neither return to the system nor -- since the
// stages allocate on other threads, in other arenas -- reuse: the first run
// after wrt.toml changed kept ~15 MiB more resident for its whole length
// than a run that read the config cache (bench/README.md, thirteenth
// session).
//
// While a ScratchArena is entered, the calling thread allocates from a
// jemalloc arena of its own; leave() switches back; the caller then copies
// what must live on (into the thread's usual arena, compactly), destroys
// the originals and calls purge(), which hands the scratch arena's free
// pages back to the system. Objects still alive in it stay valid (nothing is
// ever destroyed); they only keep their pages.
//
// jemalloc is found at run time (mallctl via dlsym): in a process without it
// -- the tests, sanitizer builds -- every call is a no-op and active() is
// false. A ScratchArena is entered and left by one thread.
#pragma once

namespace wrt {

class ScratchArena {
 public:
  ScratchArena();   // enters
  ~ScratchArena();  // leaves, if still entered
  ScratchArena(const ScratchArena&) = delete;
  ScratchArena& operator=(const ScratchArena&) = delete;

  // Switches the thread back to the arena it used before.
  void leave();
  // Returns the scratch arena's unused pages to the system (after leave()).
  void purge();
  // Is jemalloc there, and did the switch happen?
  bool active() const { return entered_ || left_; }

 private:
  unsigned arena_ = 0;
  unsigned previous_ = 0;
  bool entered_ = false;
  bool left_ = false;
};

}  // namespace wrt
