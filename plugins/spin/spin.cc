// The `spin` plugin: model-checks a Promela model with SPIN. For every LTL
// claim (or once, for assertions and end states, when there is none) it
// generates the verifier (`spin -a`), compiles it, runs `./pan`, and, when
// pan wrote an error trail, replays it (`spin -t -p`) to locate the error in
// the model. Each claim is one verification obligation and one test case.
#include <wrt/plugin.hpp>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "plugins/spin/pan_output.h"

namespace fs = std::filesystem;
using wrt::plugins::ParseError;

namespace {

enum class Mode { kSafety, kAcceptance, kNonProgress };

struct Config {
  std::string model;  // workspace-relative as written
  std::vector<std::string> ltl;
  bool ltl_given = false;
  Mode mode = Mode::kSafety;
  std::int64_t max_depth = 10000;
  std::vector<std::string> extra_args;
};

// An explicit `with.KEY` wins over the ASIL profile's `with.profile.KEY`.
template <typename Get>
auto with_or_profile(Get get, const std::string& key) {
  auto v = get("" + key);
  return v ? v : get("profile." + key);
}

Config parse(const wrt::sdk::Stage& s) {
  Config c;
  auto model = s.string("model");
  if (!model || model->empty()) throw std::runtime_error("spin plugin needs with.model = \"path/to/model.pml\"");
  c.model = *model;
  if (auto l = s.strings("ltl")) {
    c.ltl = *l;
    c.ltl_given = true;
  }
  if (auto m = s.string("mode")) {
    if (*m == "safety") c.mode = Mode::kSafety;
    else if (*m == "acceptance") c.mode = Mode::kAcceptance;
    else if (*m == "non-progress") c.mode = Mode::kNonProgress;
    else throw std::runtime_error("with.mode must be \"safety\", \"acceptance\" or \"non-progress\", not \"" + *m + "\"");
  }
  if (auto d = with_or_profile([&](const std::string& k) { return s.integer(k); }, "max_depth")) {
    if (*d <= 0) throw std::runtime_error("with.max_depth must be positive");
    c.max_depth = *d;
  }
  if (auto a = with_or_profile([&](const std::string& k) { return s.strings(k); }, "extra_args")) c.extra_args = *a;
  return c;
}

std::string c_compiler() {
  if (auto cc = wrt::plugins::find_program("cc")) return *cc;
  return wrt::plugins::require_tool("gcc", "gcc");
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse(s);
    wrt::plugins::require_tool("spin", "spin");
    std::string cc = c_compiler();
    s.fingerprint("spin", wrt::plugins::tool_version(s, {"spin", "-V"}));
    s.fingerprint("cc", wrt::plugins::tool_version(s, {cc, "--version"}));
    return WRT_STATUS_PASSED;
  });
}

// Runs argv in `cwd`; throws when it cannot start or is killed. Returns the
// captured output and sets *exit_code.
std::string run_tool(const wrt::sdk::Stage& s, const std::vector<std::string>& argv, const std::string& cwd,
                     int* exit_code) {
  auto r = s.spawn(argv, cwd, {}, true);
  if (!r.started) throw std::runtime_error(argv[0] + ": " + r.error);
  if (r.timed_out || r.interrupted) throw std::runtime_error(argv[0] + " was stopped (timeout or interrupt)");
  if (r.term_signal) throw std::runtime_error(argv[0] + " was killed by signal " + std::to_string(r.term_signal));
  *exit_code = r.exit_code;
  return r.output;
}

std::string first_lines(const std::string& text, std::size_t n) {
  std::string out;
  std::size_t count = 0;
  for (auto line : wrt::plugins::split_lines(text)) {
    if (wrt::plugins::trim(line).empty()) continue;
    if (count++ == n) break;
    out += "\n" + std::string(line);
  }
  return out;
}

// "spin-assertion-violated", "spin-acceptance-cycle", ...
std::string rule_for(const wrt::plugins::spin::PanReport& r) {
  std::string kind = r.error_lines.empty() ? "error" : r.error_lines.front().kind;
  for (char& ch : kind)
    if (ch == ' ') ch = '-';
  return "spin-" + kind;
}

struct Tally {
  int total = 0, passed = 0, failed = 0, inconclusive = 0;
  std::int64_t errors = 0, states = 0, depth = 0;
};

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [host](const wrt::sdk::Stage& s) {
    Config c = parse(s);
    const std::string ws = s.workspace();
    fs::path model_abs = fs::path(ws) / c.model;
    if (!fs::is_regular_file(model_abs)) throw std::runtime_error("with.model: " + c.model + " does not exist");
    const std::string model_rel = wrt::plugins::workspace_relative(model_abs.lexically_normal().string(), ws);
    const std::string model_text = wrt::plugins::read_text_file(model_abs.string());

    // pan writes pan.* and the trail into its cwd: keep them out of the tree.
    fs::path scratch = fs::path(ws) / ".wrt/tmp" / ("spin-" + s.name());
    fs::remove_all(scratch);
    fs::create_directories(scratch);
    const std::string model_name = model_abs.filename().string();
    fs::copy_file(model_abs, scratch / model_name, fs::copy_options::overwrite_existing);

    std::vector<std::string> claims = c.ltl_given ? c.ltl : wrt::plugins::spin::ltl_claim_names(model_text);
    const bool with_claims = !claims.empty();
    if (!with_claims) claims.push_back("");  // one plain run: assertions, end states, cycles per mode

    int rc = 0;
    std::string gen = run_tool(s, {"spin", "-E-I" + model_abs.parent_path().string(), "-a", model_name},
                               scratch.string(), &rc);
    if (rc != 0) {
      s.message("spin -a " + c.model + " failed:" + first_lines(gen, 3));
      return WRT_STATUS_ERROR;
    }
    std::vector<std::string> cc{c_compiler(), "-O2", "-w", "-o", "pan", "pan.c"};
    if (!with_claims && c.mode == Mode::kSafety) cc.insert(cc.begin() + 1, "-DSAFETY");
    if (c.mode == Mode::kNonProgress) cc.insert(cc.begin() + 1, "-DNP");
    std::string ccout = run_tool(s, cc, scratch.string(), &rc);
    if (rc != 0) {
      s.message("compiling the SPIN verifier failed:" + first_lines(ccout, 3));
      return WRT_STATUS_ERROR;
    }

    Tally tally;
    std::string first_failure;
    for (const std::string& claim : claims) {
      std::vector<std::string> pan{"./pan", "-m" + std::to_string(c.max_depth)};
      if (with_claims || c.mode == Mode::kAcceptance) pan.push_back("-a");
      if (c.mode == Mode::kNonProgress) pan.push_back("-l");
      if (with_claims) {
        pan.push_back("-N");
        pan.push_back(claim);
      }
      pan.insert(pan.end(), c.extra_args.begin(), c.extra_args.end());
      fs::remove(scratch / (model_name + ".trail"));
      std::string out = run_tool(s, pan, scratch.string(), &rc);
      const std::string label = with_claims ? claim : std::string(c.mode == Mode::kSafety        ? "safety"
                                                                  : c.mode == Mode::kAcceptance ? "acceptance"
                                                                                                : "non-progress");
      auto parsed = wrt::plugins::spin::parse_pan_output(out, "pan output for " + label);
      if (auto* err = std::get_if<ParseError>(&parsed)) {
        s.message(err->to_string() + first_lines(out, 3));
        return WRT_STATUS_ERROR;
      }
      const auto& r = std::get<wrt::plugins::spin::PanReport>(parsed);
      ++tally.total;
      tally.errors += r.errors;
      tally.states += r.states_stored;
      tally.depth = std::max(tally.depth, r.depth_reached);

      std::string verdict_msg;
      if (r.errors > 0 || !r.error_lines.empty()) {
        ++tally.failed;
        std::string what = r.error_lines.empty() ? "error" : r.error_lines.front().text;
        std::string file = model_rel;
        std::uint32_t line = 0;
        std::string trail_excerpt;
        if (fs::exists(scratch / (model_name + ".trail"))) {
          int trc = 0;
          std::string replay = run_tool(s, {"spin", "-E-I" + model_abs.parent_path().string(), "-t", "-p", model_name},
                                        scratch.string(), &trc);
          const std::string trail_file = (with_claims ? claim : label) + ".trail.txt";
          {
            std::FILE* f = std::fopen((scratch / trail_file).c_str(), "wb");
            if (f) {
              std::fwrite(replay.data(), 1, replay.size(), f);
              std::fclose(f);
            }
          }
          fs::rename(scratch / (model_name + ".trail"), scratch / ((with_claims ? claim : label) + ".trail"));
          host->report_artifact(s.handle(),
                                wrt::plugins::workspace_relative((scratch / trail_file).string(), ws).c_str(),
                                "spin-trail");
          auto t = wrt::plugins::spin::parse_trail_replay(replay);
          if (t.file == model_name && t.line) line = t.line;
          else if (t.last_step_file == model_name) line = t.last_step_line;
          trail_excerpt = first_lines(replay, 8);
        }
        std::string msg = (with_claims ? "ltl " + claim + ": " : std::string()) + what + trail_excerpt;
        s.finding(WRT_SEVERITY_ERROR, rule_for(r), file, line, 0, msg);
        verdict_msg = what;
        if (first_failure.empty()) first_failure = (with_claims ? claim + ": " : std::string()) + what;
        s.test_case(c.model, label, WRT_TEST_FAILED, -1, msg);
      } else if (r.depth_too_small || r.out_of_memory) {
        ++tally.inconclusive;
        verdict_msg = r.out_of_memory ? "out of memory"
                                      : "max search depth too small (-m" + std::to_string(c.max_depth) +
                                            "): increase with.max_depth";
        s.finding(WRT_SEVERITY_ERROR, "spin-inconclusive", model_rel, 0, 0,
                  (with_claims ? "ltl " + claim + ": " : std::string()) + "inconclusive: " + verdict_msg);
        if (first_failure.empty()) first_failure = "inconclusive: " + (with_claims ? claim + ": " : std::string()) + verdict_msg;
        s.test_case(c.model, label, WRT_TEST_FAILED, -1, "inconclusive: " + verdict_msg);
      } else {
        ++tally.passed;
        s.test_case(c.model, label, WRT_TEST_PASSED, -1, "");
      }
      for (const auto& u : r.unreached)
        if (u.file == model_name && u.statement != "-end-")
          s.finding(WRT_SEVERITY_NOTE, "spin-unreached", model_rel, u.line, 0,
                    "unreached in " + u.proctype + ": " + u.statement);
    }

    s.metric("verification.total", tally.total);
    s.metric("verification.passed", tally.passed);
    s.metric("verification.failed", tally.failed);
    s.metric("verification.inconclusive", tally.inconclusive);
    s.metric("spin.errors", static_cast<double>(tally.errors));
    s.metric("spin.states_stored", static_cast<double>(tally.states));
    s.metric("spin.depth", static_cast<double>(tally.depth));
    if (tally.failed > 0) {
      s.message(std::to_string(tally.failed) + " of " + std::to_string(tally.total) + " failed: " + first_failure);
      return WRT_STATUS_FAILED;
    }
    if (tally.inconclusive > 0) {
      s.message(first_failure);
      return WRT_STATUS_FAILED;
    }
    s.message(std::to_string(tally.passed) + " of " + std::to_string(tally.total) + " verified");
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kSpin = {
    sizeof(wrt_plugin), "spin", "1.0.0", "Model-checks Promela models and LTL claims with SPIN", fingerprint, run,
    nullptr,
};
const wrt_plugin* const kPlugins[] = {&kSpin};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
