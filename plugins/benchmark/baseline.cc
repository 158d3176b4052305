#include "plugins/benchmark/baseline.h"

#include <tuple>
#include "plugins/common/tool.h"

#include <nlohmann/json.hpp>

namespace wrt::plugins::benchmark {

std::string write_baseline(const Baseline& baseline, const std::string& stage) {
  nlohmann::json doc = {{"format", "wrt-benchmark-baseline/1"}, {"stage", stage}, {"metric", baseline.metric}};
  doc["benchmarks"] = nlohmann::json::object();
  for (const auto& [name, f] : baseline.benchmarks)
    doc["benchmarks"][name] = {{"median_ns", f.median_ns}, {"spread_ns", f.spread_ns}, {"repetitions", f.repetitions}};
  return doc.dump(2) + "\n";
}

std::variant<Baseline, ParseError> parse_baseline(std::string_view text, const std::string& file_name) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    auto [line, column] = line_column_of(text, e.byte == 0 ? 0 : e.byte - 1);
    return ParseError{file_name, line, column, "malformed JSON: " + std::string(e.what())};
  }
  auto shape = [&](const std::string& m) { return ParseError{file_name, 0, 0, "unexpected baseline: " + m}; };
  if (!doc.is_object() || doc.value("format", "") != "wrt-benchmark-baseline/1")
    return shape("format is not wrt-benchmark-baseline/1");
  Baseline b;
  b.metric = doc.value("metric", "");
  if (!doc.contains("benchmarks") || !doc["benchmarks"].is_object()) return shape("benchmarks must be an object");
  for (const auto& [name, v] : doc["benchmarks"].items()) {
    if (!v.is_object() || !v.contains("median_ns") || !v["median_ns"].is_number())
      return shape("benchmarks." + name + ".median_ns must be a number");
    BenchmarkFigure f;
    f.name = name;
    f.median_ns = v["median_ns"].get<double>();
    f.spread_ns = v.value("spread_ns", 0.0);
    f.repetitions = v.value("repetitions", std::size_t{0});
    b.benchmarks[name] = f;
  }
  return b;
}

}  // namespace wrt::plugins::benchmark
