// Benchmark result files turned into one figure per benchmark: Google
// Benchmark JSON (--benchmark_out_format=json) and Criterion's
// estimates.json. Times are normalised to nanoseconds.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::benchmark {

enum class TimeMetric { kRealTime, kCpuTime };

// One benchmark's result over its repetitions.
struct BenchmarkFigure {
  std::string name;
  double median_ns = 0;
  // The width of the band the repetitions fell in: max - min of the
  // repetitions; 2 x stddev when only aggregates were reported; the width
  // of the median's confidence interval for Criterion. 0 for one sample.
  double spread_ns = 0;
  std::size_t repetitions = 0;
  std::string error;  // the benchmark reported an error (error_occurred) instead of a time
};

double median(std::vector<double> values);

// Groups the "iteration" runs by run_name and takes the median and range of
// `metric`; a benchmark with only aggregate rows (--benchmark_report_aggregates_only)
// uses its "median" and "stddev" aggregates. Order: first appearance.
// Malformed JSON is a ParseError at the offending line:column; a document of
// the wrong shape names the JSON path.
std::variant<std::vector<BenchmarkFigure>, ParseError> parse_google_benchmark_json(std::string_view text,
                                                                                   const std::string& file_name,
                                                                                   TimeMetric metric);

// Criterion's target/criterion/<id>/new/estimates.json: the median's point
// estimate and confidence interval (Criterion writes nanoseconds).
std::variant<BenchmarkFigure, ParseError> parse_criterion_estimates(std::string_view text,
                                                                    const std::string& file_name,
                                                                    const std::string& benchmark_name);

// "target/criterion/group/fib 20/new/estimates.json" -> "group/fib 20".
std::string criterion_benchmark_name(const std::string& estimates_path);

// Whether the text looks like Criterion estimates rather than Google Benchmark output.
bool looks_like_criterion(std::string_view text);


}  // namespace wrt::plugins::benchmark
