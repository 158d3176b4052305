// Start-up options of jemalloc, which the wrt executable links instead of
// glibc's malloc (see CMakeLists.txt: WRT_USE_JEMALLOC). jemalloc reads them
// from this symbol (jemalloc(3), "TUNING"); MALLOC_CONF still overrides them.
//
// Why jemalloc: a no-op run over a big pipeline touches tens of MiB of fresh
// heap (10,000 stage models, records, the stat cache), and on virtual
// machines every page fault is expensive; jemalloc faulted less than glibc
// (bench/README.md: no-op over 10,000 stages 266 ms with glibc's malloc).
//
// Why no transparent huge pages: they were on ("thp:always", 186 ms then),
// but on 2026-12-01 the same no-op took 170 ms with and without them
// (hyperfine, 15 runs each) while they cost memory: peak RSS of the no-op
// 73 -> 57 MiB and of the full run 107-109 -> 87-102 MiB without them, the
// same time. Memory is what issue 17 measures against ninja.
//
// Why freed pages go back at once (dirty_decay_ms:0, muzzy_decay_ms:0): by
// default jemalloc keeps a freed page for up to 10 s, in case it is wanted
// again. A run over 10,000 stages frees and allocates all along (every
// stage's key, record and entry), so those pages were ~7 MiB of a content
// change's resident memory at its end and ~2.7 MiB of its peak (45.1 ->
// 42.2 MB). Muzzy pages (MADV_FREE) would still count as resident until the
// kernel wants them, so they are not kept either. Measured cost: 469
// madvise calls in that run instead of 55, and no difference in the no-op's
// time (bench/ab.py, 20 interleaved runs each: 178.1 against 181.7 ms).
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:never,dirty_decay_ms:0,muzzy_decay_ms:0";
}
