#include <benchmark/benchmark.h>

#include <string>

#include "textkit/ring_buffer.h"
#include "textkit/tokenizer.h"

namespace {

void BM_RingBufferPush(benchmark::State& state) {
  textkit::RingBuffer ring(64);
  int value = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ring.push(value++));
}
BENCHMARK(BM_RingBufferPush);

void BM_Tokenize(benchmark::State& state) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "word \"quoted words\"\t";
  for (auto _ : state) benchmark::DoNotOptimize(textkit::tokenize(text));
}
BENCHMARK(BM_Tokenize);

}  // namespace

BENCHMARK_MAIN();
