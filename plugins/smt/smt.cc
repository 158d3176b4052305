// The `smt` plugin: discharges SMT-LIB proof obligations with z3 or cvc5.
// Every (check-sat) in the matched .smt2 files is one obligation; by default
// a file asserts the negation of a property, so "unsat" proves it.
#include <wrt/plugin.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "plugins/smt/smt_results.h"
#include "plugins/common/workspace_glob.h"

using wrt::plugins::ParseError;
namespace smt = wrt::plugins::smt;

namespace {

struct Config {
  std::vector<std::string> files;
  std::string solver = "z3";
  std::int64_t timeout_s = 60;
  std::string expect = "unsat";
  std::vector<std::string> extra_args;
};

template <typename Get>
auto with_or_profile(Get get, const std::string& key) {
  auto v = get(key);
  return v ? v : get("profile." + key);
}

Config parse(const wrt::sdk::Stage& s) {
  Config c;
  auto files = s.strings("files");
  if (!files || files->empty()) throw std::runtime_error("smt plugin needs with.files = [\"proofs/**/*.smt2\"]");
  c.files = *files;
  if (auto v = with_or_profile([&](const std::string& k) { return s.string(k); }, "solver")) {
    if (*v != "z3" && *v != "cvc5") throw std::runtime_error("with.solver must be \"z3\" or \"cvc5\", not \"" + *v + "\"");
    c.solver = *v;
  }
  if (auto t = with_or_profile([&](const std::string& k) { return s.integer(k); }, "timeout_s")) {
    if (*t <= 0) throw std::runtime_error("with.timeout_s must be positive");
    c.timeout_s = *t;
  }
  if (auto e = s.string("expect")) {
    if (*e != "unsat" && *e != "sat") throw std::runtime_error("with.expect must be \"unsat\" or \"sat\", not \"" + *e + "\"");
    c.expect = *e;
  }
  if (auto a = with_or_profile([&](const std::string& k) { return s.strings(k); }, "extra_args")) c.extra_args = *a;
  return c;
}

std::string debian_package(const std::string& solver) { return solver; }  // z3 and cvc5 are both packaged as-is

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Config c = parse(s);
    wrt::plugins::require_tool(c.solver, debian_package(c.solver));
    s.fingerprint(c.solver, wrt::plugins::tool_version(s, {c.solver, "--version"}));
    return WRT_STATUS_PASSED;
  });
}

std::vector<std::string> solver_argv(const Config& c, const std::string& file, std::size_t obligations) {
  std::vector<std::string> argv;
  if (c.solver == "z3") {
    // -T is a hard limit for the whole process: one timeout per obligation.
    argv = {"z3", "-smt2", "-T:" + std::to_string(c.timeout_s * static_cast<std::int64_t>(std::max<std::size_t>(obligations, 1))),
            "-t:" + std::to_string(c.timeout_s * 1000)};
  } else {
    // Models and push/pop need these; --tlimit-per limits each check-sat.
    argv = {"cvc5", "--lang", "smt2", "--produce-models", "--incremental",
            "--tlimit-per=" + std::to_string(c.timeout_s * 1000)};
  }
  argv.insert(argv.end(), c.extra_args.begin(), c.extra_args.end());
  argv.push_back(file);
  return argv;
}

std::string one_line(std::string s) {
  for (char& ch : s)
    if (ch == '\n' || ch == '\t') ch = ' ';
  return s;
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Config c = parse(s);
    const std::string ws = s.workspace();
    auto files = wrt::plugins::expand_globs(ws, c.files);
    if (files.empty()) throw std::runtime_error("with.files matched no .smt2 file");
    int total = 0, passed = 0, failed = 0, inconclusive = 0;
    std::string first_problem;
    bool first_is_inconclusive = false;
    for (const auto& file : files) {
      std::string text = wrt::plugins::read_text_file(ws + "/" + file);
      auto found = smt::find_obligations(text, file);
      if (auto* err = std::get_if<ParseError>(&found)) {
        s.finding(WRT_SEVERITY_ERROR, "smt-syntax", err->file, err->line, err->column, err->message);
        s.message(err->to_string());
        return WRT_STATUS_ERROR;
      }
      const auto& obligations = std::get<std::vector<smt::Obligation>>(found);
      if (obligations.empty()) {
        s.finding(WRT_SEVERITY_WARNING, "smt-no-check-sat", file, 0, 0, "no (check-sat): nothing to prove");
        continue;
      }
      auto r = s.spawn(solver_argv(c, file, obligations.size()), ws, {}, true);
      if (!r.started) throw std::runtime_error(c.solver + ": " + r.error);
      if (r.interrupted) throw std::runtime_error(c.solver + " was interrupted");
      for (const auto& res : smt::match_answers(r.output, obligations, c.expect)) {
        ++total;
        const auto& o = res.obligation;
        std::string msg;
        switch (res.verdict) {
          case smt::Verdict::kProved:
            ++passed;
            s.test_case(file, o.name, WRT_TEST_PASSED, -1, "");
            continue;
          case smt::Verdict::kCounterexample:
            ++failed;
            msg = o.name + ": " + c.solver + " answered " + res.answer + " (expected " + c.expect + ")";
            if (!res.model.empty()) msg += "; model: " + one_line(res.model);
            s.finding(WRT_SEVERITY_ERROR, "smt-counterexample", file, o.line, 0, msg);
            break;
          case smt::Verdict::kError:
            ++inconclusive;
            msg = "inconclusive: " + o.name + ": " + c.solver + " error: " + one_line(res.error);
            s.finding(WRT_SEVERITY_ERROR, "smt-error", file, o.line, 0, msg);
            break;
          case smt::Verdict::kInconclusive:
            ++inconclusive;
            msg = "inconclusive: " + o.name + ": " + c.solver + " answered " +
                  (res.answer.empty() ? std::string("nothing") : res.answer) +
                  (res.answer == "timeout" || (r.timed_out && res.answer.empty())
                       ? " (timeout_s = " + std::to_string(c.timeout_s) + ")"
                       : "");
            if (res.answer.empty() && r.term_signal) msg += "; solver killed by signal " + std::to_string(r.term_signal);
            s.finding(WRT_SEVERITY_ERROR, "smt-inconclusive", file, o.line, 0, msg);
            break;
        }
        s.test_case(file, o.name, WRT_TEST_FAILED, -1, msg);
        bool inc = res.verdict != smt::Verdict::kCounterexample;
        if (first_problem.empty() || (first_is_inconclusive && !inc)) {
          first_problem = inc ? msg : file + ":" + std::to_string(o.line) + ": " + msg;
          first_is_inconclusive = inc;
        }
      }
      if (r.timed_out) throw std::runtime_error(c.solver + " was stopped by the stage timeout on " + file);
    }
    s.metric("verification.total", total);
    s.metric("verification.passed", passed);
    s.metric("verification.failed", failed);
    s.metric("verification.inconclusive", inconclusive);
    s.metric("smt.files", static_cast<double>(files.size()));
    if (failed + inconclusive > 0) {
      s.message(first_problem + (failed + inconclusive > 1 ? " (and " + std::to_string(failed + inconclusive - 1) + " more)" : ""));
      return WRT_STATUS_FAILED;
    }
    s.message(std::to_string(passed) + " of " + std::to_string(total) + " obligations proved");
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kSmt = {
    sizeof(wrt_plugin), "smt", "1.0.0", "Proves SMT-LIB obligations with z3 or cvc5", fingerprint, run, nullptr,
};
const wrt_plugin* const kPlugins[] = {&kSmt};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
