// Start-up options of jemalloc, which the wrt executable links instead of
// glibc's malloc (see CMakeLists.txt: WRT_USE_JEMALLOC). jemalloc reads them
// from this symbol (jemalloc(3), "TUNING"); MALLOC_CONF still overrides them.
//
// Why: a no-op run over a big pipeline touches tens of MiB of fresh heap
// (10,000 stage models, records, the stat cache), and on virtual machines
// every 4 KiB page fault is expensive. With transparent huge pages the heap
// faults in 2 MiB at a time. bench/README.md has the measurement (no-op over
// 10,000 stages: 266 ms with glibc's malloc, 186 ms with this).
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always";
}
