// The `cbmc` plugin: bounded model checking of C proof harnesses with CBMC
// (`cbmc FILE --function F --unwind N --unwinding-assertions --json-ui`).
// Each harness is one verification obligation and one test case; every
// failed property is a finding at its source location.
#include <wrt/plugin.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/cbmc/cbmc_json.h"
#include "plugins/common/tool.h"

namespace cbmc = wrt::plugins::cbmc;
using wrt::plugins::ParseError;

namespace {

struct HarnessSpec {
  std::string file;
  std::string function;
};

struct Config {
  std::vector<HarnessSpec> harnesses;
  std::optional<std::int64_t> unwind;
  std::vector<std::string> extra_args;
  std::string suite;
};

template <typename Get>
auto with_or_profile(Get get, const std::string& key, const std::string& profile_key) {
  auto v = get(key);
  return v ? v : get("profile." + profile_key);
}

Config parse(const wrt::sdk::Stage& s) {
  s.check_keys({"harnesses", "unwind", "extra_args"});
  Config c;
  std::int64_t n = s.host()->config_array_size(s.handle(), "harnesses");
  if (n <= 0)
    throw std::runtime_error("cbmc plugin needs with.harnesses = [{ file = \"proofs/a.c\", function = \"harness\" }]");
  for (std::int64_t i = 0; i < n; ++i) {
    std::string key = "harnesses[" + std::to_string(i) + "]";
    s.check_keys({"file", "function"}, key);
    auto file = s.string(key + ".file");
    if (!file || file->empty()) throw std::runtime_error("with." + key + ".file must be a C file path");
    c.harnesses.push_back({*file, s.string(key + ".function").value_or("main")});
  }
  c.unwind = with_or_profile([&](const std::string& k) { return s.integer(k); }, "unwind", "default_unwind");
  if (c.unwind && *c.unwind <= 0) throw std::runtime_error("with.unwind must be positive");
  if (auto a = with_or_profile([&](const std::string& k) { return s.strings(k); }, "extra_args", "extra_args"))
    c.extra_args = *a;
  c.suite = s.string("component.name").value_or("cbmc");
  return c;
}

// "main.assertion.1" -> "assertion"; "property" when the name has no kind.
std::string property_kind(const std::string& property) {
  auto first = property.find('.');
  auto last = property.rfind('.');
  if (first == std::string::npos || last == first) return "property";
  return property.substr(first + 1, last - first - 1);
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse(s);
    // Debian 12 has no cbmc package (checked with apt-cache, 2026-11-30).
    if (!wrt::plugins::find_program("cbmc"))
      throw std::runtime_error(
          "cbmc was not found on PATH; Debian 12 does not package CBMC: install the .deb of a CBMC release "
          "(github.com/diffblue/cbmc/releases) or build it from source");
    s.fingerprint("cbmc", wrt::plugins::tool_version(s, {"cbmc", "--version"}));
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Config c = parse(s);
    const std::string ws = s.workspace();
    int total = 0, passed = 0, failed = 0, inconclusive = 0;
    std::int64_t properties = 0, properties_failed = 0;
    std::string first_problem;
    bool first_is_inconclusive = false;
    auto note = [&](const std::string& msg, bool inc) {
      if (first_problem.empty() || (first_is_inconclusive && !inc)) {
        first_problem = msg;
        first_is_inconclusive = inc;
      }
    };
    for (const auto& h : c.harnesses) {
      std::vector<std::string> argv{"cbmc", h.file, "--function", h.function, "--json-ui", "--trace"};
      if (c.unwind) argv.insert(argv.end(), {"--unwind", std::to_string(*c.unwind), "--unwinding-assertions"});
      argv.insert(argv.end(), c.extra_args.begin(), c.extra_args.end());
      auto r = s.spawn(argv, ws, {}, true);
      if (!r.started) throw std::runtime_error("cbmc: " + r.error);
      if (r.interrupted || r.timed_out) throw std::runtime_error("cbmc was stopped by the stage timeout on " + h.file);
      const std::string name = h.file + ":" + h.function;
      auto parsed = cbmc::parse_cbmc_json(r.output, "cbmc output for " + name);
      if (auto* e = std::get_if<ParseError>(&parsed)) throw std::runtime_error(e->to_string());
      const auto& result = std::get<cbmc::CbmcRun>(parsed);
      auto j = cbmc::judge(result);
      // A parse or type-checking error: nothing was verified, the input is wrong.
      if (result.properties.empty() && !result.errors.empty() && !result.out_of_memory && !result.truncated &&
          r.term_signal == 0) {
        if (!result.error_file.empty())
          s.finding(WRT_SEVERITY_ERROR, "cbmc-error", wrt::plugins::workspace_relative(result.error_file, ws),
                    result.error_line, 0, result.errors.front());
        s.message("cbmc " + name + ": " + result.errors.front());
        return WRT_STATUS_ERROR;
      }
      if (j.verdict != cbmc::Verdict::kFailed && r.term_signal != 0) {
        j.verdict = cbmc::Verdict::kInconclusive;
        j.reason = "cbmc was killed by signal " + std::to_string(r.term_signal) +
                   (r.term_signal == 9 ? " (out of memory?)" : "");
      }
      // The exit code must say what the output says (0 success, 10 failure).
      if (!result.truncated && r.term_signal == 0 &&
          ((result.prover_status == "success" && r.exit_code != 0) ||
           (result.prover_status == "failure" && r.exit_code != 10)))
        throw std::runtime_error("cbmc " + name + " exited with " + std::to_string(r.exit_code) + " but reported \"" +
                                 result.prover_status + "\"");
      ++total;
      properties += static_cast<std::int64_t>(result.properties.size());
      if (j.verdict == cbmc::Verdict::kProved) {
        ++passed;
        s.test_case(c.suite, name, WRT_TEST_PASSED, -1, "");
        continue;
      }
      if (j.verdict == cbmc::Verdict::kInconclusive) {
        ++inconclusive;
        std::string msg = "inconclusive: " + name + ": " + j.reason;
        // Where it stopped, when a property says so (an unwinding assertion).
        std::string file = h.file;
        std::uint32_t line = 0;
        for (const auto& p : result.properties)
          if (p.status != "SUCCESS" && (p.line || !p.file.empty())) {
            file = p.file.empty() ? h.file : p.file;
            line = p.line;
            break;
          }
        s.finding(WRT_SEVERITY_ERROR, "cbmc-inconclusive", wrt::plugins::workspace_relative(file, ws), line, 0, msg);
        s.test_case(c.suite, name, WRT_TEST_FAILED, -1, msg);
        note(msg, true);
        continue;
      }
      ++failed;
      std::string first;
      for (const auto& p : result.properties) {
        if (p.status != "FAILURE" || p.unwinding()) continue;
        ++properties_failed;
        // CBMC up to 5.48 gives a result no sourceLocation: the failing
        // step at the end of its trace says where.
        const bool own = p.line != 0 || !p.file.empty();
        std::string file = wrt::plugins::workspace_relative(
            own ? (p.file.empty() ? h.file : p.file) : (p.trace_file.empty() ? h.file : p.trace_file), ws);
        const std::uint32_t line = own ? p.line : p.trace_line;
        std::string msg = p.property + ": " + p.description + (p.function.empty() ? "" : " (in " + p.function + ")");
        s.finding(WRT_SEVERITY_ERROR, "cbmc-" + property_kind(p.property), file, line, 0, msg);
        if (first.empty()) first = file + ":" + std::to_string(line) + ": " + msg;
      }
      if (first.empty()) first = name + ": verification failed";
      s.test_case(c.suite, name, WRT_TEST_FAILED, -1, first);
      note(first, false);
    }
    s.metric("verification.total", total);
    s.metric("verification.passed", passed);
    s.metric("verification.failed", failed);
    s.metric("verification.inconclusive", inconclusive);
    s.metric("cbmc.properties", static_cast<double>(properties));
    s.metric("cbmc.properties_failed", static_cast<double>(properties_failed));
    if (failed + inconclusive > 0) {
      s.message(first_problem);
      return WRT_STATUS_FAILED;
    }
    s.message(std::to_string(passed) + " of " + std::to_string(total) + " harnesses verified");
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kCbmc = {
    sizeof(wrt_plugin), "cbmc", "1.0.0", "Bounded model checking of C proof harnesses with CBMC", fingerprint, run,
    nullptr,
};
const wrt_plugin* const kPlugins[] = {&kCbmc};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
