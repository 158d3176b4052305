#include <benchmark/benchmark.h>
#include <cstdlib>
#include <string>
#include <vector>

static void BM_sum(benchmark::State& state) {
  const char* f = std::getenv("BENCH_FACTOR");
  long factor = f ? std::atol(f) : 1;
  std::vector<int> v(state.range(0) * factor, 1);
  for (auto _ : state) {
    long s = 0;
    for (int x : v) s += x;
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_sum)->Arg(64)->Arg(512);

static void BM_string_concat(benchmark::State& state) {
  for (auto _ : state) {
    std::string s;
    for (int i = 0; i < 16; ++i) s += "ab";
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_string_concat);
BENCHMARK_MAIN();
