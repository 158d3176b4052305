// Control of jemalloc's heap where wrt knows better than its heuristics.
//
// ScratchArena: a heap of its own for work whose garbage would otherwise be
// interleaved with long-lived objects. Parsing wrt.toml builds a toml++
// document (~17 MB for 10,000 stages) and, from it, the configuration
// model (~8 MB) with as many temporaries. In one heap, the freed document
// and temporaries leave the model's objects scattered over their pages,
// which jemalloc can then neither return to the system nor -- the stages
// allocate on other threads, in other arenas -- reuse: a first run kept
// ~15-25 MiB more resident for its whole length than a run that read the
// config cache (bench/README.md, thirteenth session).
//
// While a ScratchArena is entered, the calling thread allocates from a
// jemalloc arena of its own (one per `Slot`, created on first use, never
// destroyed). leave() switches back to the arena the thread used before
// (ScratchArenas nest); what is freed goes back to the arena it came from,
// whichever arena the thread is in. A scratch arena keeps its free pages
// (no decay) until purge(), so its owner purges where they must go back
// (parsing wrt.toml: every 256 stages). From the first leave() to the end of
// that ScratchArena the thread's cache of freed objects is off: it would
// hand a freed scratch object out again for a long-lived one. purge() --
// and the destructor -- hands the scratch arena's free pages back to the
// system. Objects still alive in it stay valid; they only keep their pages.
//
// jemalloc is found at run time (mallctl via dlsym): in a process without it
// -- the tests, sanitizer builds -- every call is a no-op and active() is
// false. A ScratchArena is entered and left by one thread; two threads must
// not use the same Slot at once.
#pragma once

namespace wrt {

// Hands the free pages of every jemalloc arena back to the system now
// (otherwise after dirty_decay_ms, and only once the arena is used again:
// the main thread's, which reads wrt.toml and writes the config cache,
// then mostly waits while the stages run). An madvise per free extent:
// for the end of a rare, big phase, not the hot path.
void return_free_pages();

class ScratchArena {
 public:
  enum Slot { kParse = 0, kBuild = 1, kSlots = 2 };
  explicit ScratchArena(Slot slot);  // enters
  ~ScratchArena();                   // leaves, if still entered; purges
  ScratchArena(const ScratchArena&) = delete;
  ScratchArena& operator=(const ScratchArena&) = delete;

  // Switches the thread back to the arena it used before.
  void leave();
  // Returns the scratch arena's unused pages to the system (once left).
  void purge();
  // Is jemalloc there, and did the switch happen?
  bool active() const { return entered_ || left_; }

 private:
  unsigned arena_ = 0;
  unsigned previous_ = 0;
  bool entered_ = false;
  bool left_ = false;
  bool cache_off_ = false;  // the thread's cache is off from leave() to the end
};

}  // namespace wrt
