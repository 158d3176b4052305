// When a benchmark counts as slower: the rule the plugin applies, kept pure
// so its noise handling is tested directly.
//
// With old/new medians M0/M1 and spreads S0/S1 (see BenchmarkFigure), a
// benchmark has regressed if and only if BOTH hold:
//   1. M1 > M0 * (1 + threshold_percent / 100)      (slower by more than the threshold)
//   2. M1 - M0 > max(S0, S1)                         (the slow-down is larger than the
//                                                     band either run's repetitions spread over)
// So a slow-down inside the measured noise never fails a build, however
// small the threshold.
#pragma once

#include "plugins/benchmark/benchmark_results.h"

namespace wrt::plugins::benchmark {

struct Comparison {
  bool regressed = false;
  double change_percent = 0;  // (M1 - M0) / M0 * 100; negative = faster
  bool within_noise = false;  // slower beyond the threshold, but not beyond the spread
};

Comparison compare(const BenchmarkFigure& baseline, const BenchmarkFigure& current, double threshold_percent);

}  // namespace wrt::plugins::benchmark
