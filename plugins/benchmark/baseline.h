// The stored baseline: per benchmark, the median and spread of the last
// accepted run, as JSON. One file per stage in the plugin's data directory.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "plugins/benchmark/benchmark_results.h"

namespace wrt::plugins::benchmark {

struct Baseline {
  std::string metric;  // "real_time" or "cpu_time": figures of another metric do not compare
  std::map<std::string, BenchmarkFigure> benchmarks;
};

std::string write_baseline(const Baseline& baseline, const std::string& stage);
std::variant<Baseline, ParseError> parse_baseline(std::string_view text, const std::string& file_name);

}  // namespace wrt::plugins::benchmark
