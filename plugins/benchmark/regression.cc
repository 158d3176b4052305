#include "plugins/benchmark/regression.h"

#include <algorithm>

namespace wrt::plugins::benchmark {

Comparison compare(const BenchmarkFigure& baseline, const BenchmarkFigure& current, double threshold_percent) {
  Comparison c;
  double delta = current.median_ns - baseline.median_ns;
  c.change_percent = baseline.median_ns > 0 ? 100.0 * delta / baseline.median_ns : 0;
  bool beyond_threshold = current.median_ns > baseline.median_ns * (1 + threshold_percent / 100);
  bool beyond_noise = delta > std::max(baseline.spread_ns, current.spread_ns);
  c.regressed = beyond_threshold && beyond_noise;
  c.within_noise = beyond_threshold && !beyond_noise;
  return c;
}

}  // namespace wrt::plugins::benchmark
