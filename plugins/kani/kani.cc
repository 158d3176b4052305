// The `kani` plugin: proves Rust harnesses with the Kani model checker
// (`cargo kani`). Each harness is one verification obligation and one test
// case; failed checks become findings at their source location. Unwinding
// failures, CBMC timeouts and out-of-memory are inconclusive, which the
// safety gate treats as failure.
#include <wrt/plugin.hpp>

#include <array>
#include <cctype>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "plugins/kani/kani_output.h"

namespace fs = std::filesystem;
namespace kani = wrt::plugins::kani;
using wrt::plugins::ParseError;

namespace {

constexpr const char* kInstallHint =
    "cargo-kani was not found on PATH; Kani is not a Debian package: install it with "
    "`cargo install --locked kani-verifier && cargo kani setup`";

struct Config {
  std::string package_dir;  // workspace-relative; "" = workspace root
  bool auto_harnesses = false;
  std::vector<std::string> harnesses;  // empty and !auto: one run for the whole package
  // No harness found (auto) or checked: a failure unless the user said that
  // is expected. A proof stage that proves nothing must not pass quietly.
  bool expect_harnesses = true;
  std::optional<std::int64_t> default_unwind;
  std::optional<std::string> solver;
  std::vector<std::string> extra_args;
  std::optional<std::int64_t> timeout_s;
  std::string suite;  // the component name when expanded per component
};

template <typename Get>
auto with_or_profile(Get get, const std::string& key) {
  auto v = get(key);
  return v ? v : get("profile." + key);
}

Config parse(const wrt::sdk::Stage& s) {
  s.check_keys({"package_dir", "harnesses", "expect_harnesses", "default_unwind", "solver", "extra_args", "timeout_s"});
  Config c;
  c.package_dir = s.string("package_dir").value_or("");
  if (!c.package_dir.empty() && (c.package_dir[0] == '/' || c.package_dir.find("..") != std::string::npos))
    throw std::runtime_error("with.package_dir must be a workspace-relative directory");
  // harnesses = "auto" | ["name", ...]; config_array_size tells the two apart
  // (asking for a string first would reject the array as "must be a string").
  const std::int64_t listed = s.host()->config_array_size(s.handle(), "harnesses");
  if (listed >= 0) {
    auto list = s.strings("harnesses");
    if (!list) throw std::runtime_error("with.harnesses must be \"auto\" or an array of harness names");
    if (list->empty()) throw std::runtime_error("with.harnesses must not be empty (use \"auto\" for all)");
    for (const auto& h : *list)
      if (h.empty()) throw std::runtime_error("with.harnesses: a harness name must not be empty");
    c.harnesses = *list;
  } else if (auto h = s.string("harnesses")) {
    if (*h != "auto") throw std::runtime_error("with.harnesses must be \"auto\" or an array of harness names, not \"" + *h + "\"");
    c.auto_harnesses = true;
  }
  c.expect_harnesses = s.boolean("expect_harnesses").value_or(true);
  c.default_unwind = with_or_profile([&](const std::string& k) { return s.integer(k); }, "default_unwind");
  if (c.default_unwind && *c.default_unwind <= 0) throw std::runtime_error("with.default_unwind must be positive");
  c.solver = with_or_profile([&](const std::string& k) { return s.string(k); }, "solver");
  if (auto a = with_or_profile([&](const std::string& k) { return s.strings(k); }, "extra_args")) c.extra_args = *a;
  for (std::size_t i = 0; i < c.extra_args.size(); ++i) {
    const std::string& a = c.extra_args[i];
    const std::string next = i + 1 < c.extra_args.size() ? c.extra_args[i + 1] : "";
    // wrt reads Kani's regular and terse output; `old` hands the terminal to
    // CBMC, and --quiet prints no results at all (and exits 0 on failures).
    if (a == "--output-format=old" || (a == "--output-format" && next == "old"))
      throw std::runtime_error("with.extra_args: --output-format old is not supported (wrt reads the regular and terse formats)");
    if (a == "--quiet" || a == "-q")
      throw std::runtime_error("with.extra_args: --quiet hides the results wrt reads (and exits 0 on failures)");
  }
  c.timeout_s = with_or_profile([&](const std::string& k) { return s.integer(k); }, "timeout_s");
  if (c.timeout_s && *c.timeout_s <= 0) throw std::runtime_error("with.timeout_s must be positive");
  c.suite = s.string("component.name").value_or(c.package_dir.empty() ? "kani" : c.package_dir);
  return c;
}

// "cargo-kani 0.56.0" (or "kani 0.56.0") -> {0, 56, 0}; nullopt if none.
std::optional<std::array<int, 3>> kani_version(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])) || (i > 0 && text[i - 1] != ' ')) continue;
    std::array<int, 3> v{0, 0, 0};
    std::size_t j = i;
    int part = 0;
    for (; part < 3; ++part) {
      if (j >= text.size() || !std::isdigit(static_cast<unsigned char>(text[j]))) break;
      while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) v[part] = v[part] * 10 + (text[j++] - '0');
      if (j < text.size() && text[j] == '.') ++j;
      else { ++part; break; }
    }
    if (part >= 2) return v;
  }
  return std::nullopt;
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse(s);
    wrt::plugins::require_tool("cargo", "cargo");
    if (!wrt::plugins::find_program("cargo-kani")) throw std::runtime_error(kInstallHint);
    s.fingerprint("kani", wrt::plugins::tool_version(s, {"cargo-kani", "--version"}));
    s.fingerprint("rustc", wrt::plugins::tool_version(s, {"rustc", "--version"}));
    return WRT_STATUS_PASSED;
  });
}

std::vector<std::string> kani_argv(const Config& c, const std::string& harness) {
  std::vector<std::string> argv;
  // A hard wall-clock limit per harness; exit 124 marks it inconclusive.
  if (c.timeout_s) argv = {"timeout", "--kill-after=5", std::to_string(*c.timeout_s)};
  argv.insert(argv.end(), {"cargo", "kani"});
  if (!harness.empty()) argv.insert(argv.end(), {"--harness", harness, "--exact"});
  if (c.default_unwind) argv.insert(argv.end(), {"--default-unwind", std::to_string(*c.default_unwind)});
  if (c.solver) argv.insert(argv.end(), {"--solver", *c.solver});
  argv.insert(argv.end(), c.extra_args.begin(), c.extra_args.end());
  return argv;
}

// "lib::h.assertion.1" -> "assertion"; "failure" when the name has no kind.
std::string check_kind(const std::string& check_name) {
  auto last = check_name.rfind('.');
  if (last == std::string::npos || last == 0) return "failure";
  auto prev = check_name.rfind('.', last - 1);
  return prev == std::string::npos ? "failure" : check_name.substr(prev + 1, last - prev - 1);
}

struct Tally {
  int total = 0, passed = 0, failed = 0, inconclusive = 0;
  std::int64_t checks = 0, checks_failed = 0;
  std::string first_problem;
  bool first_is_inconclusive = false;
  void note(const std::string& msg, bool inconclusive_problem) {
    if (first_problem.empty() || (first_is_inconclusive && !inconclusive_problem)) {
      first_problem = msg;
      first_is_inconclusive = inconclusive_problem;
    }
  }
};

// Kani prints source paths relative to the Cargo workspace root (cargo's
// working directory for the build), which for a workspace member is above
// package_dir; absolute paths (the standard library, ~/.cargo) stay as they are.
std::string finding_file(const std::string& file, const std::string& cargo_root, const std::string& ws) {
  if (file.empty() || file[0] == '/') return wrt::plugins::workspace_relative(file, ws);
  return wrt::plugins::workspace_relative((fs::path(cargo_root) / file).lexically_normal().string(), ws);
}

void report_harness(const wrt::sdk::Stage& s, const Config& c, const std::string& cargo_root, const kani::Harness& h,
                    Tally& t) {
  ++t.total;
  t.checks += h.total ? h.total : static_cast<std::int64_t>(h.checks.size());
  const std::string ws = s.workspace();
  switch (h.verdict) {
    case kani::HarnessVerdict::kSuccessful:
      ++t.passed;
      s.test_case(c.suite, h.name, WRT_TEST_PASSED, h.seconds, "");
      return;
    case kani::HarnessVerdict::kInconclusive: {
      ++t.inconclusive;
      std::string msg = "inconclusive: " + h.name + ": " + h.inconclusive_reason;
      std::string file;
      std::uint32_t line = 0;
      // Where it stopped: the failed unwinding assertion or unsupported
      // construct, else the first check left UNDETERMINED.
      for (const char* wanted : {"FAILURE", "UNDETERMINED"}) {
        for (const auto& ch : h.checks)
          if (ch.status == wanted) {
            file = finding_file(ch.file, cargo_root, ws);
            line = ch.line;
            break;
          }
        if (line) break;
      }
      s.finding(WRT_SEVERITY_ERROR, "kani-inconclusive", file, line, 0, msg);
      s.test_case(c.suite, h.name, WRT_TEST_FAILED, h.seconds, msg);
      t.note(msg, true);
      return;
    }
    default: {
      ++t.failed;
      std::string first;
      for (const auto& ch : h.checks) {
        if (ch.status != "FAILURE") continue;
        ++t.checks_failed;
        std::string msg = h.name + ": " + ch.description + (ch.function.empty() ? "" : " (in " + ch.function + ")");
        s.finding(WRT_SEVERITY_ERROR, "kani-" + check_kind(ch.name), finding_file(ch.file, cargo_root, ws), ch.line,
                  ch.column, msg);
        if (first.empty()) first = msg;
      }
      if (first.empty()) first = h.name + ": verification failed";
      s.test_case(c.suite, h.name, WRT_TEST_FAILED, h.seconds, first);
      t.note(first, false);
    }
  }
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Config c = parse(s);
    if (!wrt::plugins::find_program("cargo-kani")) throw std::runtime_error(kInstallHint);
    const std::string ws = s.workspace();
    const std::string cwd = c.package_dir.empty() ? ws : (fs::path(ws) / c.package_dir).string();

    const std::string cargo_root = wrt::plugins::cargo_workspace_root(cwd, ws);
    auto nothing_to_verify = [&](const std::string& why) {
      s.metric("verification.total", 0);
      if (!c.expect_harnesses) {
        s.message(why + " (expect_harnesses = false)");
        return WRT_STATUS_PASSED;
      }
      s.message(why + ": nothing was verified (set expect_harnesses = false if that is intended)");
      return WRT_STATUS_FAILED;
    };

    std::vector<std::string> harnesses = c.harnesses;
    if (c.auto_harnesses) {
      // `cargo kani list` came in Kani 0.56 behind `-Z list`; 0.63 made it
      // stable (the flag only warned), 0.65 removed the flag.
      std::vector<std::string> list_argv = {"cargo", "kani", "list", "--format", "json"};
      const std::string version_text = wrt::plugins::tool_version(s, {"cargo-kani", "--version"});
      auto version = kani_version(version_text);
      if (version && *version < std::array<int, 3>{0, 56, 0})
        throw std::runtime_error("harnesses = \"auto\" needs `cargo kani list` (Kani 0.56 or later), and this is " +
                                 version_text + ": list the harness names in with.harnesses");
      if (version && *version < std::array<int, 3>{0, 63, 0}) list_argv.insert(list_argv.begin() + 3, {"-Z", "list"});
      fs::path list_file = fs::path(cwd) / "kani-list.json";
      std::error_code ec;
      fs::remove(list_file, ec);
      auto r = s.spawn(list_argv, cwd, {}, true);
      if (!r.started || r.exit_code != 0)
        throw std::runtime_error("cargo kani list failed (exit " + std::to_string(r.exit_code) + "): " + r.error +
                                 r.output.substr(0, 400));
      if (!fs::exists(list_file, ec))
        throw std::runtime_error("cargo kani list --format json wrote no kani-list.json in " + cwd);
      auto parsed = kani::parse_kani_list(wrt::plugins::read_text_file(list_file.string()), "kani-list.json");
      fs::remove(list_file, ec);
      if (auto* e = std::get_if<ParseError>(&parsed)) throw std::runtime_error(e->to_string());
      harnesses = std::get<std::vector<std::string>>(parsed);
      if (harnesses.empty()) return nothing_to_verify("no #[kani::proof] harnesses found");
    }
    if (harnesses.empty()) harnesses.push_back("");  // one run over the whole package

    Tally t;
    for (const auto& name : harnesses) {
      auto r = s.spawn(kani_argv(c, name), cwd, {}, true);
      if (!r.started) throw std::runtime_error("cargo kani: " + r.error);
      if (r.interrupted || r.timed_out) throw std::runtime_error("cargo kani was stopped by the stage timeout");
      auto parsed = kani::parse_kani_output(r.output, "cargo kani output");
      if (auto* e = std::get_if<ParseError>(&parsed)) throw std::runtime_error(e->to_string());
      auto run = std::get<kani::KaniRun>(parsed);
      if (r.exit_code == 124 && c.timeout_s) {
        kani::Harness h;
        h.name = name.empty() ? "(all)" : name;
        h.verdict = kani::HarnessVerdict::kInconclusive;
        h.inconclusive_reason = "timed out after timeout_s = " + std::to_string(*c.timeout_s);
        report_harness(s, c, cargo_root, h, t);
        continue;
      }
      if (run.harnesses.empty() && run.no_harnesses && r.exit_code == 0 && name.empty())
        return nothing_to_verify("cargo kani found no #[kani::proof] harnesses");
      if (run.harnesses.empty()) {
        std::string why = run.errors.empty() ? "no harness was checked (exit code " + std::to_string(r.exit_code) + ")"
                                             : run.errors.front();
        s.message("cargo kani: " + why);
        return WRT_STATUS_ERROR;
      }
      for (const auto& h : run.harnesses) report_harness(s, c, cargo_root, h, t);
    }
    s.metric("verification.total", t.total);
    s.metric("verification.passed", t.passed);
    s.metric("verification.failed", t.failed);
    s.metric("verification.inconclusive", t.inconclusive);
    s.metric("kani.checks", static_cast<double>(t.checks));
    s.metric("kani.checks_failed", static_cast<double>(t.checks_failed));
    if (t.failed + t.inconclusive > 0) {
      s.message(t.first_problem);
      return WRT_STATUS_FAILED;
    }
    s.message(std::to_string(t.passed) + " of " + std::to_string(t.total) + " harnesses verified");
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kKani = {
    sizeof(wrt_plugin), "kani", "1.0.0", "Proves Rust harnesses with the Kani model checker", fingerprint, run, nullptr,
};
const wrt_plugin* const kPlugins[] = {&kKani};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
