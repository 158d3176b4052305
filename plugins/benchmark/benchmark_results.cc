#include "plugins/benchmark/benchmark_results.h"

#include <tuple>
#include "plugins/common/tool.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

namespace wrt::plugins::benchmark {
namespace {

struct ShapeError {
  std::string message;
};

std::variant<nlohmann::json, ParseError> parse_json(std::string_view text, const std::string& file_name) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points just past the offending byte.
    auto [line, column] = line_column_of(text, e.byte == 0 ? 0 : e.byte - 1);
    return ParseError{file_name, line, column, "malformed JSON: " + std::string(e.what())};
  }
}

double to_ns(double value, const std::string& unit, const std::string& where) {
  if (unit == "ns") return value;
  if (unit == "us") return value * 1e3;
  if (unit == "ms") return value * 1e6;
  if (unit == "s") return value * 1e9;
  throw ShapeError{where + ".time_unit \"" + unit + "\" is not ns, us, ms or s"};
}

double number(const nlohmann::json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) throw ShapeError{where + "." + key + " must be a number"};
  return it->get<double>();
}

std::string string_or(const nlohmann::json& obj, const char* key, const std::string& fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

struct Samples {
  std::vector<double> iterations;
  std::map<std::string, double> aggregates;
  std::string error;
};

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::variant<std::vector<BenchmarkFigure>, ParseError> parse_google_benchmark_json(std::string_view text,
                                                                                   const std::string& file_name,
                                                                                   TimeMetric metric) {
  auto parsed = parse_json(text, file_name);
  if (auto* err = std::get_if<ParseError>(&parsed)) return *err;
  const auto& doc = std::get<nlohmann::json>(parsed);
  const char* field = metric == TimeMetric::kCpuTime ? "cpu_time" : "real_time";
  try {
    if (!doc.is_object() || !doc.contains("benchmarks") || !doc["benchmarks"].is_array())
      throw ShapeError{"$.benchmarks must be an array (is this Google Benchmark JSON output?)"};
    std::vector<std::string> order;
    std::map<std::string, Samples> by_name;
    const auto& rows = doc["benchmarks"];
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::string where = "$.benchmarks[" + std::to_string(i) + "]";
      const auto& row = rows[i];
      if (!row.is_object()) throw ShapeError{where + " must be an object"};
      std::string name = string_or(row, "name", "");
      if (name.empty()) throw ShapeError{where + ".name must be a non-empty string"};
      std::string run_name = string_or(row, "run_name", name);
      if (!by_name.count(run_name)) order.push_back(run_name);
      Samples& s = by_name[run_name];
      if (auto e = row.find("error_occurred"); e != row.end() && e->is_boolean() && e->get<bool>()) {
        s.error = string_or(row, "error_message", "the benchmark reported an error");
        continue;
      }
      std::string run_type = string_or(row, "run_type", "iteration");
      if (run_type == "aggregate") {
        // cv is a ratio, not a time; only time aggregates are normalised.
        if (string_or(row, "aggregate_unit", "time") != "time") continue;
        s.aggregates[string_or(row, "aggregate_name", "")] =
            to_ns(number(row, field, where), string_or(row, "time_unit", "ns"), where);
      } else {
        s.iterations.push_back(to_ns(number(row, field, where), string_or(row, "time_unit", "ns"), where));
      }
    }
    std::vector<BenchmarkFigure> out;
    for (const auto& name : order) {
      const Samples& s = by_name[name];
      BenchmarkFigure f;
      f.name = name;
      f.error = s.error;
      if (!s.iterations.empty()) {
        f.median_ns = median(s.iterations);
        auto [lo, hi] = std::minmax_element(s.iterations.begin(), s.iterations.end());
        f.spread_ns = *hi - *lo;
        f.repetitions = s.iterations.size();
      } else if (auto m = s.aggregates.find("median"); m != s.aggregates.end()) {
        f.median_ns = m->second;
        auto sd = s.aggregates.find("stddev");
        f.spread_ns = sd != s.aggregates.end() ? 2 * sd->second : 0;
        f.repetitions = 0;
      } else if (f.error.empty()) {
        f.error = "no iteration rows and no median aggregate";
      }
      out.push_back(std::move(f));
    }
    return out;
  } catch (const ShapeError& e) {
    return ParseError{file_name, 0, 0, "unexpected Google Benchmark JSON: " + e.message};
  }
}

bool looks_like_criterion(std::string_view text) {
  try {
    auto doc = nlohmann::json::parse(text);
    return doc.is_object() && doc.contains("median") && !doc.contains("benchmarks");
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

std::variant<BenchmarkFigure, ParseError> parse_criterion_estimates(std::string_view text,
                                                                    const std::string& file_name,
                                                                    const std::string& benchmark_name) {
  auto parsed = parse_json(text, file_name);
  if (auto* err = std::get_if<ParseError>(&parsed)) return *err;
  const auto& doc = std::get<nlohmann::json>(parsed);
  try {
    if (!doc.is_object() || !doc.contains("median") || !doc["median"].is_object())
      throw ShapeError{"$.median must be an object"};
    const auto& m = doc["median"];
    BenchmarkFigure f;
    f.name = benchmark_name;
    f.median_ns = number(m, "point_estimate", "$.median");
    if (auto ci = m.find("confidence_interval"); ci != m.end() && ci->is_object())
      f.spread_ns = number(*ci, "upper_bound", "$.median.confidence_interval") -
                    number(*ci, "lower_bound", "$.median.confidence_interval");
    return f;
  } catch (const ShapeError& e) {
    return ParseError{file_name, 0, 0, "unexpected Criterion estimates: " + e.message};
  }
}

std::string criterion_benchmark_name(const std::string& estimates_path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= estimates_path.size()) {
    std::size_t slash = estimates_path.find('/', start);
    if (slash == std::string::npos) slash = estimates_path.size();
    if (slash > start) parts.push_back(estimates_path.substr(start, slash - start));
    start = slash + 1;
  }
  if (!parts.empty()) parts.pop_back();  // estimates.json
  if (!parts.empty() && (parts.back() == "new" || parts.back() == "base" || parts.back() == "change")) parts.pop_back();
  std::size_t first = parts.empty() ? 0 : parts.size() - 1;
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (parts[i] == "criterion") first = i + 1;
  std::string name;
  for (std::size_t i = first; i < parts.size(); ++i) name += (name.empty() ? "" : "/") + parts[i];
  return name.empty() ? estimates_path : name;
}

}  // namespace wrt::plugins::benchmark
