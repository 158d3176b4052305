// A Google Benchmark binary whose work is multiplied by the integer in
// ./factor.txt (default 1), so a test can make it deterministically slower.
#include <benchmark/benchmark.h>

#include <fstream>
#include <vector>

static long factor() {
  std::ifstream in("factor.txt");
  long f = 1;
  if (in >> f && f > 0) return f;
  return 1;
}

static void BM_work(benchmark::State& state) {
  std::vector<unsigned> v(20000 * factor(), 3u);
  for (auto _ : state) {
    unsigned s = 0;
    for (unsigned x : v) s = s * 31u + x;
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_work);

static void BM_steady(benchmark::State& state) {
  std::vector<unsigned> v(20000, 5u);
  for (auto _ : state) {
    unsigned s = 0;
    for (unsigned x : v) s = s * 17u + x;
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_steady);

BENCHMARK_MAIN();
