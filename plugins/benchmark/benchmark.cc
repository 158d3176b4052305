// The `benchmark` plugin: runs Google Benchmark binaries (or reads result
// files), takes each benchmark's median over its repetitions and compares it
// with a stored baseline; a slow-down beyond both the threshold and the
// measured noise (regression.h) is a finding and, by default, a failure.
#include <wrt/plugin.hpp>

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/benchmark/baseline.h"
#include "plugins/benchmark/benchmark_results.h"
#include "plugins/benchmark/regression.h"
#include "plugins/common/tool.h"

namespace fs = std::filesystem;
using wrt::plugins::ParseError;
using wrt::sdk::Stage;

namespace wrt::plugins::benchmark {
namespace {

struct Config {
  std::vector<std::string> command;  // argv, or {"/bin/sh", "-c", run}
  bool shell = false;
  std::vector<std::string> results;  // existing result files instead of running
  std::vector<std::string> env;
  std::int64_t repetitions = 5;
  std::optional<double> min_time;
  TimeMetric metric = TimeMetric::kCpuTime;
  double threshold_percent = 5.0;
  bool fail_on_regression = true;
  std::optional<std::string> baseline_branch;
  std::optional<std::string> baseline_file;
  bool store_results = false;
};

const std::set<std::string> kKeys = {"command",        "run",             "results",       "env",
                                     "repetitions",    "min_time",        "metric",        "regression_threshold",
                                     "on_regression",  "baseline_branch", "baseline_file", "store_results"};

std::vector<std::string> table_keys(const Stage& s, const std::string& key) {
  std::vector<std::string> out;
  for (std::int64_t i = 0;; ++i) {
    const char* k = s.host()->config_key_at(s.handle(), key.c_str(), i);
    if (!k) break;
    out.emplace_back(k);
  }
  return out;
}

Config parse_config(const Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "benchmark", kKeys);
  Config c;
  auto command = s.strings("command");
  auto run = s.string("run");
  auto results = s.strings("results");
  if ((command ? 1 : 0) + (run ? 1 : 0) + (results ? 1 : 0) != 1)
    throw std::runtime_error("benchmark needs exactly one of with.command = [argv...], with.run = \"shell command\" or with.results = [files...]");
  if (command) {
    if (command->empty()) throw std::runtime_error("with.command must not be empty");
    c.command = *command;
  } else if (run) {
    c.command = {"/bin/sh", "-c", *run};
    c.shell = true;
  } else {
    if (results->empty()) throw std::runtime_error("with.results must not be empty");
    c.results = *results;
  }
  for (const auto& name : table_keys(s, "env")) {
    auto value = s.string("env." + name);
    if (!value) throw std::runtime_error("with.env." + name + " must be a string");
    c.env.push_back(name + "=" + *value);
  }
  if (auto r = s.integer("repetitions")) {
    if (*r < 1) throw std::runtime_error("with.repetitions must be at least 1");
    c.repetitions = *r;
  }
  if (auto m = s.number("min_time")) {
    if (*m <= 0) throw std::runtime_error("with.min_time must be a positive number of seconds");
    c.min_time = *m;
  }
  if (auto m = s.string("metric")) {
    if (*m == "real_time") c.metric = TimeMetric::kRealTime;
    else if (*m == "cpu_time") c.metric = TimeMetric::kCpuTime;
    else throw std::runtime_error("with.metric must be \"real_time\" or \"cpu_time\", not \"" + *m + "\"");
  }
  if (auto t = s.number("regression_threshold")) {
    if (*t < 0) throw std::runtime_error("with.regression_threshold must not be negative");
    c.threshold_percent = *t;
  }
  if (auto o = s.string("on_regression")) {
    if (*o == "fail") c.fail_on_regression = true;
    else if (*o == "warn") c.fail_on_regression = false;
    else throw std::runtime_error("with.on_regression must be \"fail\" or \"warn\", not \"" + *o + "\"");
  }
  c.baseline_branch = s.string("baseline_branch");
  c.baseline_file = s.string("baseline_file");
  if (c.baseline_branch && c.baseline_file)
    throw std::runtime_error("with.baseline_branch applies to the stored baseline; it cannot be combined with with.baseline_file");
  c.store_results = s.boolean("store_results").value_or(false);
  return c;
}

const char* metric_name(TimeMetric m) { return m == TimeMetric::kCpuTime ? "cpu_time" : "real_time"; }

std::string absolute(const Stage& s, const std::string& path) {
  return fs::path(path).is_absolute() ? path : (fs::path(s.workspace()) / path).string();
}

// Stage names are [A-Za-z0-9_-] in practice; anything else must not escape the directory.
std::string file_stem(const std::string& stage) {
  std::string out;
  for (char c : stage) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out;
}

// Concurrent wrt processes share the data directory: readers must see
// either the old or the new file, never half of one.
void write_atomically(const fs::path& path, const std::string& content) { wrt::plugins::write_file_atomically(path.string(), content); }

template <typename T>
T unwrap(std::variant<T, ParseError> parsed) {
  if (auto* err = std::get_if<ParseError>(&parsed)) throw std::runtime_error(err->to_string());
  return std::move(std::get<T>(parsed));
}

std::vector<BenchmarkFigure> read_result_file(const Stage& s, const std::string& rel, TimeMetric metric) {
  std::string text = read_text_file(absolute(s, rel));
  if (looks_like_criterion(text))
    return {unwrap(parse_criterion_estimates(text, rel, criterion_benchmark_name(rel)))};
  return unwrap(parse_google_benchmark_json(text, rel, metric));
}

// nullopt: the benchmark binary did not exit 0 (message already set).
std::optional<std::vector<BenchmarkFigure>> run_benchmarks(const Stage& s, const Config& c, std::string* out_rel) {
  *out_rel = ".wrt/benchmark/" + file_stem(s.name()) + ".json";
  std::string out_abs = absolute(s, *out_rel);
  fs::create_directories(fs::path(out_abs).parent_path());
  fs::remove(out_abs);
  std::vector<std::string> argv = c.command;
  std::vector<std::string> env = c.env;
  std::vector<std::pair<std::string, std::string>> flags = {
      {"benchmark_out", out_abs}, {"benchmark_out_format", "json"}, {"benchmark_repetitions", std::to_string(c.repetitions)}};
  if (c.min_time) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", *c.min_time);
    flags.emplace_back("benchmark_min_time", buf);
  }
  for (const auto& [flag, value] : flags) {
    if (c.shell) {
      // A shell command may run several binaries: Google Benchmark also
      // reads every flag from the upper-case environment variable.
      std::string var = flag;
      for (char& ch : var) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      env.push_back(var + "=" + value);
    } else {
      argv.push_back("--" + flag + "=" + value);
    }
  }
  auto r = s.spawn(argv, {}, env);
  if (!r.started) throw std::runtime_error(argv[0] + " could not be started: " + r.error);
  if (r.timed_out || r.interrupted) return std::nullopt;
  if (r.term_signal || r.exit_code != 0) {
    s.message("benchmark command " +
              (r.term_signal ? "killed by signal " + std::to_string(r.term_signal) : "exit code " + std::to_string(r.exit_code)));
    return std::nullopt;
  }
  if (!fs::exists(out_abs))
    throw std::runtime_error("the benchmark command wrote no " + *out_rel + " (is it a Google Benchmark binary?)");
  return unwrap(parse_google_benchmark_json(read_text_file(out_abs), *out_rel, c.metric));
}

std::string current_branch(const Stage& s) {
  if (const char* b = std::getenv("WRT_BRANCH"); b && *b) return b;
  auto r = s.spawn({"git", "rev-parse", "--abbrev-ref", "HEAD"}, {}, {}, true);
  if (!r.started || r.exit_code != 0) return {};
  return std::string(trim(r.output));
}

std::string format_ns(double ns) {
  char buf[48];
  if (ns >= 1e9) std::snprintf(buf, sizeof buf, "%.3f s", ns / 1e9);
  else if (ns >= 1e6) std::snprintf(buf, sizeof buf, "%.3f ms", ns / 1e6);
  else if (ns >= 1e3) std::snprintf(buf, sizeof buf, "%.3f us", ns / 1e3);
  else std::snprintf(buf, sizeof buf, "%.2f ns", ns);
  return buf;
}

std::string format_pct(double pct) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", pct);
  return buf;
}

void store_history(const Stage& s, const fs::path& data_dir, const nlohmann::json& run_record) {
  fs::path history = data_dir / "history" / (file_stem(s.name()) + ".jsonl");
  std::vector<std::string> lines;
  if (fs::exists(history)) {
    // Kept in a named string: the lines are views into it.
    const std::string text = read_text_file(history.string());
    for (auto l : split_lines(text))
      if (!trim(l).empty()) lines.emplace_back(l);
  }
  lines.push_back(run_record.dump());
  // Bounded so a long-lived cache does not grow without limit.
  constexpr std::size_t kMaxHistory = 200;
  if (lines.size() > kMaxHistory) lines.erase(lines.begin(), lines.end() - kMaxHistory);
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  write_atomically(history, text);
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const Stage& s) {
    parse_config(s);
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [host](const Stage& s) {
    Config c = parse_config(s);
    std::vector<BenchmarkFigure> figures;
    std::string source_file;  // workspace-relative, for findings
    if (c.results.empty()) {
      std::string out_rel;
      auto ran = run_benchmarks(s, c, &out_rel);
      if (!ran) return WRT_STATUS_FAILED;
      figures = std::move(*ran);
      source_file = workspace_relative(c.command.size() > 0 && !c.shell ? c.command[0] : out_rel, s.workspace());
    } else {
      for (const auto& f : c.results) {
        auto part = read_result_file(s, f, c.metric);
        figures.insert(figures.end(), part.begin(), part.end());
      }
      source_file = c.results.front();
    }

    std::vector<std::string> errors;
    for (const auto& f : figures)
      if (!f.error.empty()) {
        s.finding(WRT_SEVERITY_ERROR, "benchmark-error", source_file, 0, 0, f.name + ": " + f.error);
        errors.push_back(f.name);
      }

    // The baseline: a fixed file, or the stored one for this stage.
    std::optional<fs::path> stored_path;
    if (!c.baseline_file) {
      if (!WRT_HAS_FIELD(host, wrt_host, data_dir) || !*host->data_dir(s.handle()))
        throw std::runtime_error("this wrt host has no plugin data directory (ABI 1.1) to keep baselines in; set with.baseline_file");
      stored_path = fs::path(host->data_dir(s.handle())) / "baselines" / (file_stem(s.name()) + ".json");
    }
    Baseline baseline;
    baseline.metric = metric_name(c.metric);
    bool have_baseline = false;
    if (c.baseline_file) {
      for (auto& f : unwrap(parse_google_benchmark_json(read_text_file(absolute(s, *c.baseline_file)), *c.baseline_file, c.metric)))
        baseline.benchmarks[f.name] = f;
      have_baseline = true;
    } else if (fs::exists(*stored_path)) {
      auto parsed = parse_baseline(read_text_file(stored_path->string()), stored_path->string());
      if (auto* err = std::get_if<ParseError>(&parsed)) {
        s.log(WRT_LOG_WARNING, "benchmark: ignoring unreadable baseline " + err->to_string());
      } else if (std::get<Baseline>(parsed).metric != baseline.metric) {
        s.log(WRT_LOG_WARNING, "benchmark: the stored baseline measured " + std::get<Baseline>(parsed).metric +
                                   ", this stage measures " + baseline.metric + "; starting a new baseline");
      } else {
        baseline = std::move(std::get<Baseline>(parsed));
        have_baseline = true;
      }
    }

    std::size_t regressions = 0, compared = 0, noisy = 0;
    nlohmann::json record = {{"stage", s.name()}, {"metric", baseline.metric}, {"benchmarks", nlohmann::json::array()}};
    record["time"] = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& f : figures) {
      if (!f.error.empty()) continue;
      s.metric("bench." + f.name + ".ns", f.median_ns);
      s.metric("bench." + f.name + ".spread_pct", f.median_ns > 0 ? 100.0 * f.spread_ns / f.median_ns : 0);
      nlohmann::json entry = {{"name", f.name}, {"median_ns", f.median_ns}, {"spread_ns", f.spread_ns},
                              {"repetitions", f.repetitions}};
      auto old = baseline.benchmarks.find(f.name);
      if (have_baseline && old != baseline.benchmarks.end()) {
        ++compared;
        Comparison cmp = compare(old->second, f, c.threshold_percent);
        entry["baseline_ns"] = old->second.median_ns;
        entry["change_percent"] = cmp.change_percent;
        entry["regressed"] = cmp.regressed;
        if (cmp.regressed) {
          ++regressions;
          char thr[32];
          std::snprintf(thr, sizeof thr, "%g%%", c.threshold_percent);
          s.finding(c.fail_on_regression ? WRT_SEVERITY_ERROR : WRT_SEVERITY_WARNING, "benchmark-regression",
                    source_file, 0, 0,
                    f.name + " regressed: " + format_ns(old->second.median_ns) + " -> " + format_ns(f.median_ns) +
                        " (" + format_pct(cmp.change_percent) + ", threshold " + thr + ", spread " +
                        format_ns(std::max(old->second.spread_ns, f.spread_ns)) + ")");
        } else if (cmp.within_noise) {
          ++noisy;
          s.log(WRT_LOG_INFO, "benchmark: " + f.name + " " + format_pct(cmp.change_percent) +
                                  " is beyond the threshold but within the measured spread; not a regression");
        }
      }
      record["benchmarks"].push_back(entry);
    }
    std::size_t measured = figures.size() - errors.size();
    s.metric("bench.count", static_cast<double>(measured));
    s.metric("bench.regressions", static_cast<double>(regressions));

    bool failed = !errors.empty() || (regressions > 0 && c.fail_on_regression);
    std::string msg;
    if (!errors.empty()) msg = std::to_string(errors.size()) + " benchmark(s) reported errors: " + errors.front();
    else if (regressions > 0)
      msg = std::to_string(regressions) + " of " + std::to_string(compared) + " benchmarks regressed" +
            (c.fail_on_regression ? "" : " (on_regression = \"warn\")");
    else if (!have_baseline)
      msg = std::to_string(measured) + " benchmarks measured";
    else
      msg = std::to_string(compared) + " benchmarks compared with the baseline, no regression" +
            (noisy ? " (" + std::to_string(noisy) + " slower within noise)" : "");

    // A regression is never folded into the stored baseline, so it keeps being
    // reported until it is fixed (or the baseline is reset).
    if (stored_path && !failed && regressions == 0) {
      std::string branch_note;
      bool allowed = true;
      if (c.baseline_branch) {
        std::string branch = current_branch(s);
        allowed = branch == *c.baseline_branch;
        if (!allowed)
          branch_note = "; baseline not updated: branch \"" + (branch.empty() ? std::string("unknown") : branch) +
                        "\" is not \"" + *c.baseline_branch + "\"";
      }
      if (allowed) {
        for (const auto& f : figures)
          if (f.error.empty()) baseline.benchmarks[f.name] = f;
        write_atomically(*stored_path, write_baseline(baseline, s.name()));
        if (!have_baseline) msg += "; no baseline yet: recorded this run as the baseline";
        else msg += "; baseline updated";
      } else if (!have_baseline) {
        msg += "; no baseline yet";
      }
      msg += branch_note;
    }
    s.message(msg);

    if (c.store_results) {
      std::string rel = ".wrt/reports/benchmark/" + file_stem(s.name()) + ".json";
      write_atomically(absolute(s, rel), record.dump(2) + "\n");
      host->report_artifact(s.handle(), rel.c_str(), "benchmark-results");
      if (WRT_HAS_FIELD(host, wrt_host, data_dir) && *host->data_dir(s.handle()))
        store_history(s, host->data_dir(s.handle()), record);
    }
    return failed ? WRT_STATUS_FAILED : WRT_STATUS_PASSED;
  });
}

const wrt_plugin kBenchmark = {
    sizeof(wrt_plugin), "benchmark", "1.0.0",
    "Runs Google Benchmark binaries and fails on regressions against a stored baseline",
    fingerprint, run, nullptr,
};
const wrt_plugin* const kPlugins[] = {&kBenchmark};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace
}  // namespace wrt::plugins::benchmark

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &wrt::plugins::benchmark::kEntry; }
