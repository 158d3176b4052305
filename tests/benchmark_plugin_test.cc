// The benchmark plugin: Google Benchmark JSON captured from a real
// libbenchmark 1.7.1 binary (tests/data/benchmark/bench.cc), Criterion
// estimates (transcript: Criterion cannot be built offline here), the
// regression rule with its noise handling, the baseline file, and the real
// wrt binary running a real benchmark binary against a stored baseline.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugins/benchmark/baseline.h"
#include "plugins/benchmark/benchmark_results.h"
#include "plugins/benchmark/regression.h"
#include "support.h"

using namespace wrt::plugins::benchmark;
using wrt::plugins::ParseError;
using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

std::string data_file(const std::string& name) { return read_file(fs::path(WRT_TEST_DATA_DIR) / "benchmark" / name); }

template <typename T>
T ok(std::variant<T, ParseError> r) {
  if (auto* e = std::get_if<ParseError>(&r)) FAIL("unexpected parse error: " << e->to_string());
  return std::get<T>(r);
}

const BenchmarkFigure& figure(const std::vector<BenchmarkFigure>& fs, const std::string& name) {
  for (const auto& f : fs)
    if (f.name == name) return f;
  FAIL("no benchmark " << name);
  throw 0;
}

BenchmarkFigure fig(double median, double spread) { return BenchmarkFigure{"b", median, spread, 5, ""}; }

}  // namespace

TEST_CASE("benchmark: Google Benchmark JSON with repetitions gives median and range per benchmark", "[benchmark]") {
  std::string text = data_file("gbench-1.7.1-repetitions.json");
  auto cpu = ok(parse_google_benchmark_json(text, "r.json", TimeMetric::kCpuTime));
  REQUIRE(cpu.size() == 3);
  CHECK(cpu[0].name == "BM_sum/64");  // order of first appearance
  CHECK(cpu[2].name == "BM_string_concat");
  const auto& sum512 = figure(cpu, "BM_sum/512");
  CHECK(sum512.repetitions == 3);
  // The file's own "_median" aggregate row, and max - min of the three rows.
  CHECK(sum512.median_ns == Approx(169.81480643539467));
  CHECK(sum512.spread_ns == Approx(195.72956259426854 - 167.86804927099053));
  auto real = ok(parse_google_benchmark_json(text, "r.json", TimeMetric::kRealTime));
  CHECK(figure(real, "BM_sum/512").median_ns == Approx(568.6029914477491));
}

TEST_CASE("benchmark: aggregates-only Google Benchmark JSON uses the median and stddev rows", "[benchmark]") {
  std::string text = data_file("gbench-1.7.1-aggregates-only.json");
  auto doc = nlohmann::json::parse(text);
  double median = 0, stddev = 0;
  for (const auto& row : doc["benchmarks"]) {
    if (row["name"] == "BM_sum/64_median") median = row["cpu_time"];
    if (row["name"] == "BM_sum/64_stddev") stddev = row["cpu_time"];
  }
  REQUIRE(median > 0);
  auto figs = ok(parse_google_benchmark_json(text, "a.json", TimeMetric::kCpuTime));
  CHECK(figs.size() == 3);
  CHECK(figure(figs, "BM_sum/64").median_ns == Approx(median));
  CHECK(figure(figs, "BM_sum/64").spread_ns == Approx(2 * stddev));
}

TEST_CASE("benchmark: time units are normalised to nanoseconds and errors are kept", "[benchmark]") {
  auto figs = ok(parse_google_benchmark_json(R"({"benchmarks": [
    {"name": "BM_a", "run_type": "iteration", "real_time": 2.5, "cpu_time": 2.0, "time_unit": "us"},
    {"name": "BM_b", "run_type": "iteration", "real_time": 3, "cpu_time": 3, "time_unit": "ms"},
    {"name": "BM_c", "run_type": "iteration", "error_occurred": true, "error_message": "setup failed"}]})",
                                             "u.json", TimeMetric::kRealTime));
  REQUIRE(figs.size() == 3);
  CHECK(figs[0].median_ns == Approx(2500));
  CHECK(figs[1].median_ns == Approx(3e6));
  CHECK(figs[2].error == "setup failed");
}

TEST_CASE("benchmark: malformed benchmark JSON names file, line and column", "[benchmark]") {
  auto r = parse_google_benchmark_json("{\n  \"benchmarks\": [\n    {\"name\": \"x\" \"real_time\": 1}\n  ]\n}", "bad.json",
                                       TimeMetric::kRealTime);
  REQUIRE(std::holds_alternative<ParseError>(r));
  auto e = std::get<ParseError>(r);
  CHECK(e.file == "bad.json");
  CHECK(e.line == 3);
  CHECK(e.column == 28);  // nlohmann reports the end of the unexpected token "real_time"
  r = parse_google_benchmark_json(R"({"benchmarks": [{"name": "x", "real_time": "fast"}]})", "shape.json",
                                  TimeMetric::kRealTime);
  REQUIRE(std::holds_alternative<ParseError>(r));
  CHECK(std::get<ParseError>(r).message.find("$.benchmarks[0].real_time must be a number") != std::string::npos);
  r = parse_google_benchmark_json(R"({"context": {}})", "empty.json", TimeMetric::kRealTime);
  CHECK(std::holds_alternative<ParseError>(r));
}

TEST_CASE("benchmark: Criterion estimates.json transcript gives the median and its interval", "[benchmark]") {
  std::string text = data_file("criterion-estimates.transcript.json");
  CHECK(looks_like_criterion(text));
  CHECK_FALSE(looks_like_criterion(data_file("gbench-1.7.1-repetitions.json")));
  auto f = ok(parse_criterion_estimates(text, "e.json", "fib 20"));
  CHECK(f.median_ns == Approx(25990.11627906977));
  CHECK(f.spread_ns == Approx(26104.75 - 25880.11111111111));
  CHECK(criterion_benchmark_name("target/criterion/group/fib 20/new/estimates.json") == "group/fib 20");
  CHECK(criterion_benchmark_name("target/criterion/fib/new/estimates.json") == "fib");
}

TEST_CASE("benchmark: regression rule needs both the threshold and the spread exceeded", "[benchmark]") {
  // Clearly slower, tight measurements: a regression.
  auto c = compare(fig(100, 2), fig(120, 3), 1.0);
  CHECK(c.regressed);
  CHECK(c.change_percent == Approx(20));
  // Slower beyond the threshold, but inside the new run's spread: noise.
  c = compare(fig(100, 2), fig(110, 15), 1.0);
  CHECK_FALSE(c.regressed);
  CHECK(c.within_noise);
  // ... or inside the baseline's spread.
  c = compare(fig(100, 30), fig(125, 1), 1.0);
  CHECK_FALSE(c.regressed);
  CHECK(c.within_noise);
  // Beyond the spread but under the threshold.
  c = compare(fig(100, 0), fig(104, 0), 5.0);
  CHECK_FALSE(c.regressed);
  CHECK_FALSE(c.within_noise);
  // Exactly at the threshold is not beyond it.
  CHECK_FALSE(compare(fig(100, 0), fig(105, 0), 5.0).regressed);
  // Faster is never a regression.
  c = compare(fig(100, 0), fig(50, 0), 0.0);
  CHECK_FALSE(c.regressed);
  CHECK(c.change_percent == Approx(-50));
  // Single repetitions (spread 0): the threshold alone decides.
  CHECK(compare(fig(100, 0), fig(101.5, 0), 1.0).regressed);
}

TEST_CASE("benchmark: baseline file round-trips and rejects other documents", "[benchmark]") {
  Baseline b;
  b.metric = "cpu_time";
  b.benchmarks["BM_x/8"] = BenchmarkFigure{"BM_x/8", 123.5, 4.25, 5, ""};
  auto back = ok(parse_baseline(write_baseline(b, "bench"), "baseline.json"));
  CHECK(back.metric == "cpu_time");
  REQUIRE(back.benchmarks.count("BM_x/8") == 1);
  CHECK(back.benchmarks["BM_x/8"].median_ns == 123.5);
  CHECK(back.benchmarks["BM_x/8"].spread_ns == 4.25);
  CHECK(std::holds_alternative<ParseError>(parse_baseline(R"({"benchmarks": {}})", "x.json")));
  auto e = parse_baseline("{\n\"format\": }", "broken.json");
  REQUIRE(std::holds_alternative<ParseError>(e));
  CHECK(std::get<ParseError>(e).line == 2);
}

// ---- end to end: the real wrt binary running a real Google Benchmark binary ----

namespace {

nlohmann::json stage_report(const TempDir& ws, const std::string& name) {
  auto rep = nlohmann::json::parse(read_file(ws / "report.json"));
  for (const auto& s : rep["stages"])
    if (s["name"] == name) return s;
  FAIL("stage " << name << " not in report");
  throw 0;
}

void build_bench(const TempDir& ws) {
  write_file(ws / "work_bench.cc", data_file("work_bench.cc"));
  auto r = run_command({WRT_CXX_COMPILER, "-O2", "-std=c++17", "work_bench.cc", "-o", "bench", "-lbenchmark", "-lpthread"},
                       ws.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

void write_bench_toml(const TempDir& ws, const std::string& extra) {
  // A generous threshold: the machine is shared, and the provoked slow-down
  // is 4x, so only the real regression can trip it.
  write_file(ws / "wrt.toml", R"(
[project]
name = "bench"

[stages.bench]
plugin = "benchmark"
cache = false
inputs = ["bench"]
with = { command = ["./bench"], repetitions = 3, min_time = 0.01, regression_threshold = 50)" + extra + R"( }
)");
}

CommandResult run(const TempDir& ws, const std::vector<std::string>& env = {}) {
  return run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), env);
}

}  // namespace

TEST_CASE("benchmark: e2e first run records the baseline, second compares, a 4x slow-down fails", "[benchmark]") {
  TempDir ws;
  build_bench(ws);
  write_bench_toml(ws, ", store_results = true");

  auto r1 = run(ws);
  INFO(r1.out << r1.err);
  REQUIRE(r1.exit_code == 0);
  auto s1 = stage_report(ws, "bench");
  CHECK(s1["status"] == "passed");
  CHECK(s1["message"].get<std::string>().find("no baseline yet: recorded this run as the baseline") != std::string::npos);
  CHECK(s1["metrics"]["bench.count"].get<double>() == 2);
  CHECK(s1["metrics"]["bench.regressions"].get<double>() == 0);
  CHECK(s1["metrics"]["bench.BM_work.ns"].get<double>() > 0);
  CHECK(s1["artifacts"].dump().find(".wrt/reports/benchmark/bench.json") != std::string::npos);

  auto r2 = run(ws);
  INFO(r2.out << r2.err);
  REQUIRE(r2.exit_code == 0);
  auto s2 = stage_report(ws, "bench");
  CHECK(s2["status"] == "passed");
  CHECK(s2["message"].get<std::string>().find("2 benchmarks compared with the baseline") != std::string::npos);

  write_file(ws / "factor.txt", "4\n");
  auto r3 = run(ws);
  INFO(r3.out << r3.err);
  CHECK(r3.exit_code == 1);
  auto s3 = stage_report(ws, "bench");
  CHECK(s3["status"] == "failed");
  CHECK(s3["metrics"]["bench.regressions"].get<double>() == 1);
  REQUIRE(s3["findings"].size() == 1);
  const auto& f = s3["findings"][0];
  CHECK(f["rule"] == "benchmark-regression");
  std::string msg = f["message"];
  CHECK(msg.find("BM_work regressed: ") != std::string::npos);
  CHECK(msg.find("threshold 50%") != std::string::npos);
  CHECK(s3["message"].get<std::string>().find("1 of 2 benchmarks regressed") != std::string::npos);

  // The regression was not folded into the baseline: warn mode still reports it, and passes.
  write_bench_toml(ws, ", on_regression = \"warn\"");
  auto r4 = run(ws);
  INFO(r4.out << r4.err);
  CHECK(r4.exit_code == 0);
  auto s4 = stage_report(ws, "bench");
  CHECK(s4["status"] == "passed");
  REQUIRE(s4["findings"].size() == 1);
  CHECK(s4["findings"][0]["severity"] == "warning");
  CHECK(s4["findings"][0]["message"].get<std::string>().find("BM_work") != std::string::npos);

  // History of the store_results runs lives in the plugin's data directory.
  bool history = false;
  for (const auto& e : fs::recursive_directory_iterator(ws / ".wrt"))
    history = history || e.path().filename() == "bench.jsonl";
  CHECK(history);
}

TEST_CASE("benchmark: e2e baseline_branch keeps feature branches from recording a baseline", "[benchmark]") {
  TempDir ws;
  build_bench(ws);
  write_bench_toml(ws, ", baseline_branch = \"main\"");
  auto r1 = run(ws, {"WRT_BRANCH=feature/x"});
  INFO(r1.out << r1.err);
  REQUIRE(r1.exit_code == 0);
  std::string m1 = stage_report(ws, "bench")["message"];
  CHECK(m1.find("baseline not updated: branch \"feature/x\" is not \"main\"") != std::string::npos);
  auto r2 = run(ws, {"WRT_BRANCH=main"});
  INFO(r2.out << r2.err);
  REQUIRE(r2.exit_code == 0);
  CHECK(stage_report(ws, "bench")["message"].get<std::string>().find("no baseline yet: recorded") != std::string::npos);
}

TEST_CASE("benchmark: e2e baseline_file and result files, malformed results name line:col", "[benchmark]") {
  TempDir ws;
  write_file(ws / "results/now.json", data_file("gbench-1.7.1-repetitions.json"));
  // The baseline is the same capture with every time a third: now is 3x slower.
  auto doc = nlohmann::json::parse(data_file("gbench-1.7.1-repetitions.json"));
  for (auto& row : doc["benchmarks"]) {
    row["cpu_time"] = row["cpu_time"].get<double>() / 3;
    row["real_time"] = row["real_time"].get<double>() / 3;
  }
  write_file(ws / "bench/baseline.json", doc.dump());
  write_file(ws / "results/bad.json", "{\"benchmarks\": [\n  {\"name\": }\n]}");
  write_file(ws / "wrt.toml", R"(
[project]
name = "files"

[stages.compare]
plugin = "benchmark"
inputs = ["results/now.json", "bench/baseline.json"]
with = { results = ["results/now.json"], baseline_file = "bench/baseline.json", regression_threshold = 1.0 }

[stages.malformed]
plugin = "benchmark"
inputs = ["results/bad.json"]
with = { results = ["results/bad.json"] }
)");
  auto r = run_wrt({"run", "-k", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto cmp = stage_report(ws, "compare");
  CHECK(cmp["status"] == "failed");
  CHECK(cmp["metrics"]["bench.regressions"].get<double>() >= 2);
  bool named = false;
  for (const auto& f : cmp["findings"])
    named = named || (f["rule"] == "benchmark-regression" && f["file"] == "results/now.json" &&
                      f["message"].get<std::string>().find("BM_string_concat regressed") != std::string::npos);
  CHECK(named);
  auto bad = stage_report(ws, "malformed");
  CHECK(bad["message"].get<std::string>().find("results/bad.json:2:12: malformed JSON") != std::string::npos);
}
