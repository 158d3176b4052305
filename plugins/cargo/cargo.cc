// The `cargo` plugin: runs one cargo subcommand (check, build, test, clippy,
// fmt-check, doc, bench) offline, turns rustc/clippy/rustdoc diagnostics
// into findings, libtest results into test cases and rustfmt's diff into
// findings, and decides pass/fail from them.
#include <wrt/plugin.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/cargo/cargo_messages.h"
#include "plugins/cargo/libtest_output.h"
#include "plugins/cargo/rustfmt_check.h"
#include "plugins/common/tool.h"

namespace {

namespace fs = std::filesystem;
using wrt::plugins::FindingPolicy;
using wrt::plugins::ParseError;
using namespace wrt::plugins::cargo;

const std::vector<std::string> kCommands = {"check", "build", "test", "clippy", "fmt-check", "doc", "bench"};
const std::set<std::string> kKeys = {"command",  "manifest_dir", "args",       "features",  "all_features",
                                     "release",  "target_dir",   "fail_on",    "max_warnings", "offline"};

struct CargoConfig {
  std::string command;
  std::string manifest_dir = ".";
  std::vector<std::string> args;
  std::vector<std::string> features;
  bool all_features = false;
  bool release = false;
  std::optional<std::string> target_dir;
  // --offline: cargo must not touch the network (a CI job with a vendored
  // or pre-fetched registry). Off by default: cargo's own behaviour, so a
  // crate with dependencies builds where the network is available.
  bool offline = false;
  FindingPolicy policy;

  bool is_fmt() const { return command == "fmt-check"; }
  bool runs_tests() const { return command == "test" || command == "bench"; }
};

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

CargoConfig parse_config(const wrt::sdk::Stage& s) {
  wrt::plugins::reject_unknown_keys(s, "cargo", kKeys);
  CargoConfig c;
  auto command = s.string("command");
  if (!command) throw std::runtime_error("cargo plugin needs with.command = one of " + join(kCommands, ", "));
  if (std::find(kCommands.begin(), kCommands.end(), *command) == kCommands.end())
    throw std::runtime_error("with.command must be one of " + join(kCommands, ", ") + ", not \"" + *command + "\"");
  c.command = *command;
  c.manifest_dir = s.string("manifest_dir").value_or(".");
  if (c.manifest_dir.empty() || fs::path(c.manifest_dir).is_absolute())
    throw std::runtime_error("with.manifest_dir must be a workspace-relative directory");
  c.args = s.strings("args").value_or(std::vector<std::string>{});
  c.features = s.strings("features").value_or(std::vector<std::string>{});
  c.all_features = s.boolean("all_features").value_or(false);
  c.release = s.boolean("release").value_or(false);
  c.target_dir = s.string("target_dir");
  c.offline = s.boolean("offline").value_or(false);
  if (c.target_dir && c.target_dir->empty()) throw std::runtime_error("with.target_dir must not be empty");
  c.policy = FindingPolicy::from_config(s);
  if (c.is_fmt()) {
    if (!c.features.empty() || c.all_features || c.release || c.target_dir)
      throw std::runtime_error(
          "with.features, all_features, release and target_dir do not apply to command = \"fmt-check\"");
  }
  if (c.command == "bench" && c.release)
    throw std::runtime_error("with.release does not apply to command = \"bench\" (benches always build optimised)");
  return c;
}

std::vector<std::string> cargo_argv(const CargoConfig& c, const std::string& workspace) {
  if (c.is_fmt()) {
    std::vector<std::string> argv = {"cargo", "fmt", "--check"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    return argv;
  }
  std::vector<std::string> argv = {"cargo", c.command, "--message-format=json"};
  if (c.offline) argv.push_back("--offline");
  // Report every failing test binary, not just the first.
  if (c.runs_tests()) argv.push_back("--no-fail-fast");
  if (!c.features.empty()) argv.insert(argv.end(), {"--features", join(c.features, ",")});
  if (c.all_features) argv.push_back("--all-features");
  if (c.release) argv.push_back("--release");
  if (c.target_dir) {
    fs::path t = *c.target_dir;
    argv.insert(argv.end(), {"--target-dir", (t.is_absolute() ? t : fs::path(workspace) / t).lexically_normal()});
  }
  argv.insert(argv.end(), c.args.begin(), c.args.end());
  return argv;
}

void declare_fingerprints(const wrt::sdk::Stage& s, const CargoConfig& c) {
  wrt::plugins::require_tool("cargo", "cargo");
  s.fingerprint("cargo", wrt::plugins::tool_version(s, {"cargo", "--version"}));
  s.fingerprint("rustc", wrt::plugins::tool_version(s, {"rustc", "--version"}));
  if (c.command == "clippy") {
    wrt::plugins::require_tool("cargo-clippy", "rust-clippy");
    s.fingerprint("clippy", wrt::plugins::tool_version(s, {"cargo", "clippy", "--version"}));
  }
  if (c.is_fmt()) {
    wrt::plugins::require_tool("rustfmt", "rustfmt");
    s.fingerprint("rustfmt", wrt::plugins::tool_version(s, {"rustfmt", "--version"}));
  }
  // Flags cargo reads from the environment change what rustc checks
  // (rustfmt ignores them).
  if (c.is_fmt()) return;
  for (const char* var : {"RUSTFLAGS", "RUSTDOCFLAGS", "CARGO_ENCODED_RUSTFLAGS"}) {
    const char* v = std::getenv(var);
    s.fingerprint(std::string("env.") + var, v ? std::string("=") + v : std::string("<unset>"));
  }
}

// Cargo names source files relative to the root of the cargo workspace the
// package belongs to, which may lie above manifest_dir.
std::string finding_path(const std::string& file, const fs::path& manifest_abs, const std::string& workspace) {
  if (file.empty()) return file;
  std::error_code ec;
  fs::path p = file;
  if (!p.is_absolute()) {
    fs::path found = (manifest_abs / p).lexically_normal();
    for (fs::path dir = manifest_abs; !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / p, ec)) {
        found = (dir / p).lexically_normal();
        break;
      }
      if (dir == fs::path(workspace) || dir == dir.parent_path()) break;
    }
    p = found;
  }
  std::string rel = wrt::plugins::workspace_relative(p.string(), workspace);
  if (fs::path(rel).is_absolute()) {
    // cargo reports paths with symlinks resolved; the workspace may not be.
    fs::path canonical_ws = fs::weakly_canonical(workspace, ec);
    if (!ec) rel = wrt::plugins::workspace_relative(p.string(), canonical_ws.string());
  }
  return rel;
}

std::string location(const std::string& file, std::uint32_t line, std::uint32_t column) {
  if (file.empty()) return "";
  std::string s = " (" + file;
  if (line) s += ":" + std::to_string(line);
  if (line && column) s += ":" + std::to_string(column);
  return s + ")";
}

wrt_status fail_with_parse_error(const wrt::sdk::Stage& s, const ParseError& e) {
  s.message("cannot read cargo's output: " + e.to_string());
  return WRT_STATUS_ERROR;
}

// Findings and counts from diagnostics; returns the first error's text.
std::string report_diagnostics(const wrt::sdk::Stage& s, const CargoOutput& out, const fs::path& manifest_abs) {
  const std::string ws = s.workspace();
  std::string first_error, first_warning;
  for (const auto& d : out.diagnostics) {
    std::string file = finding_path(d.file, manifest_abs, ws);
    bool is_error = d.level == Diagnostic::Level::kError;
    s.finding(is_error ? WRT_SEVERITY_ERROR : WRT_SEVERITY_WARNING, d.code, file, d.line, d.column, d.message);
    if (!d.rendered.empty()) s.log(WRT_LOG_INFO, d.rendered);
    std::string text = (is_error ? "error" : "warning") + (d.code.empty() ? "" : "[" + d.code + "]") + ": " +
                       d.message + location(file, d.line, d.column);
    if (is_error && first_error.empty()) first_error = text;
    if (!is_error && first_warning.empty()) first_warning = text;
  }
  s.metric("errors", static_cast<double>(out.error_count()));
  s.metric("warnings", static_cast<double>(out.warning_count()));
  return first_error.empty() ? first_warning : first_error;
}

void report_artifacts(const wrt::sdk::Stage& s, const CargoConfig& c, const CargoOutput& out) {
  const std::string ws = s.workspace();
  for (const auto& a : out.artifacts) {
    if (c.command == "build" && !a.executable.empty() && !a.test_profile)
      s.host()->report_artifact(s.handle(), wrt::plugins::workspace_relative(a.executable, ws).c_str(), "executable");
    if (c.command == "doc")
      for (const auto& f : a.filenames)
        if (fs::path(f).filename() == "index.html")
          s.host()->report_artifact(s.handle(), wrt::plugins::workspace_relative(f, ws).c_str(), "documentation");
  }
}

// Test cases and metrics; returns the names of failed tests.
std::vector<std::string> report_tests(const wrt::sdk::Stage& s, const LibtestRun& run) {
  std::vector<std::string> failed;
  for (const auto& t : run.cases) {
    wrt_test_status st = WRT_TEST_PASSED;
    if (t.outcome == LibtestCase::Outcome::kFailed) {
      st = WRT_TEST_FAILED;
      failed.push_back(t.name);
    } else if (t.outcome == LibtestCase::Outcome::kIgnored) {
      st = WRT_TEST_SKIPPED;
    }
    s.test_case(t.suite, t.name, st, -1.0, t.message);
    if (t.bench_ns_per_iter) s.metric("bench." + t.name + ".ns_per_iter", *t.bench_ns_per_iter);
  }
  s.metric("tests.total", static_cast<double>(run.totals.total()));
  s.metric("tests.passed", static_cast<double>(run.totals.passed));
  s.metric("tests.failed", static_cast<double>(run.totals.failed));
  s.metric("tests.ignored", static_cast<double>(run.totals.ignored));
  return failed;
}

wrt_status run_fmt_check(const wrt::sdk::Stage& s, const CargoConfig& c, const std::string& output, int exit_code,
                         const fs::path& manifest_abs) {
  auto parsed = parse_rustfmt_check(output, "cargo fmt --check output");
  if (auto* e = std::get_if<ParseError>(&parsed)) return fail_with_parse_error(s, *e);
  const auto& diffs = std::get<std::vector<FormatDiff>>(parsed);
  const std::string ws = s.workspace();
  std::set<std::string> files;
  std::string first;
  for (const auto& d : diffs) {
    std::string file = finding_path(d.file, manifest_abs, ws);
    files.insert(file);
    std::string hunk = d.hunk;
    if (auto lines = wrt::plugins::split_lines(hunk); lines.size() > 20) {
      hunk.clear();
      for (std::size_t i = 0; i < 20; ++i) hunk += std::string(lines[i]) + "\n";
      hunk += "...\n";
    }
    s.finding(WRT_SEVERITY_ERROR, "rustfmt", file, d.line, 1, "not formatted as rustfmt would format it:\n" + hunk);
    if (first.empty()) first = file + ":" + std::to_string(d.line);
  }
  s.metric("fmt.diffs", static_cast<double>(diffs.size()));
  s.metric("fmt.files", static_cast<double>(files.size()));
  if (!diffs.empty()) {
    std::string reason;
    if (c.policy.evaluate(static_cast<std::int64_t>(diffs.size()), 0, &reason) == WRT_STATUS_PASSED) {
      s.message(std::to_string(files.size()) + " file(s) not formatted (fail_on = \"never\")");
      return WRT_STATUS_PASSED;
    }
    s.message("rustfmt would reformat " + std::to_string(diffs.size()) + " place(s) in " +
              std::to_string(files.size()) + " file(s), first at " + first);
    return WRT_STATUS_FAILED;
  }
  if (exit_code != 0) {
    std::string msg = "cargo fmt --check exited with code " + std::to_string(exit_code);
    const std::string plain = strip_ansi(output);  // the lines are views into it
    for (auto line : wrt::plugins::split_lines(plain))
      if (line.rfind("error", 0) == 0) {
        msg = std::string(line);
        break;
      }
    s.message(msg);
    return WRT_STATUS_FAILED;
  }
  s.message("formatted");
  return WRT_STATUS_PASSED;
}

// Where cargo puts its target directory, as cargo decides it: with.target_dir
// (workspace-relative), else $CARGO_TARGET_DIR (relative to manifest_dir,
// cargo's working directory), else target/ beside the Cargo workspace root:
// the nearest Cargo.toml with a [workspace] table from manifest_dir up to
// the wrt workspace, or manifest_dir itself. (A target-dir set in
// .cargo/config.toml is not read: declare it with `state` in wrt.toml.)
std::string target_directory(const CargoConfig& c, const std::string& ws) {
  const fs::path manifest = (fs::path(ws) / c.manifest_dir).lexically_normal();
  if (c.target_dir) return fs::path(*c.target_dir).is_absolute() ? *c.target_dir : (fs::path(ws) / *c.target_dir).string();
  if (const char* env = std::getenv("CARGO_TARGET_DIR"); env && *env)
    return fs::path(env).is_absolute() ? std::string(env) : (manifest / env).string();
  return (fs::path(wrt::plugins::cargo_workspace_root(manifest.string(), ws)) / "target").string();
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    CargoConfig c = parse_config(s);
    // cargo's target/ is incremental state that later stages read (a test
    // binary, clippy's cache): wrt rebuilds it for the current key before
    // such a stage runs behind a cache hit. `cargo fmt --check` writes none.
    if (!c.is_fmt()) wrt::plugins::declare_build_state(s, target_directory(c, s.workspace()));
    declare_fingerprints(s, c);
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    CargoConfig c = parse_config(s);
    const std::string ws = s.workspace();
    fs::path manifest_abs = (fs::path(ws) / c.manifest_dir).lexically_normal();
    std::error_code ec;
    if (!fs::is_regular_file(manifest_abs / "Cargo.toml", ec)) {
      s.message("with.manifest_dir: no Cargo.toml in " + c.manifest_dir);
      return WRT_STATUS_ERROR;
    }
    // The machine may reach no registry; CARGO_NET_OFFLINE also covers the
    // cargo calls cargo-fmt and cargo-clippy make themselves.
    auto r = s.spawn(cargo_argv(c, ws), c.manifest_dir, {"CARGO_NET_OFFLINE=true", "CARGO_TERM_COLOR=never"}, true);
    if (!r.started) {
      s.message(r.error);
      return WRT_STATUS_ERROR;
    }
    if (r.timed_out || r.interrupted) return WRT_STATUS_FAILED;
    if (r.term_signal) {
      s.message("cargo was killed by signal " + std::to_string(r.term_signal));
      return WRT_STATUS_FAILED;
    }
    if (c.is_fmt()) return run_fmt_check(s, c, r.output, r.exit_code, manifest_abs);

    auto parsed = parse_cargo_output(r.output, "cargo " + c.command + " output");
    if (auto* e = std::get_if<ParseError>(&parsed)) return fail_with_parse_error(s, *e);
    const CargoOutput& out = std::get<CargoOutput>(parsed);
    std::string first_diagnostic = report_diagnostics(s, out, manifest_abs);
    report_artifacts(s, c, out);

    std::vector<std::string> failed_tests;
    std::int64_t tests_total = 0;
    if (c.runs_tests()) {
      auto tests = parse_libtest_output(r.output, "cargo " + c.command + " output");
      if (auto* e = std::get_if<ParseError>(&tests)) return fail_with_parse_error(s, *e);
      const auto& run = std::get<LibtestRun>(tests);
      failed_tests = report_tests(s, run);
      tests_total = run.totals.total();
    }

    if (out.error_count() > 0 || (out.build_finished && !out.build_succeeded)) {
      s.message(out.error_count() > 0 ? first_diagnostic
                                      : (out.error_lines.empty() ? "build failed" : out.error_lines.front()));
      return WRT_STATUS_FAILED;
    }
    if (!failed_tests.empty()) {
      std::string names = join(std::vector<std::string>(failed_tests.begin(),
                                                        failed_tests.begin() + std::min<std::size_t>(failed_tests.size(), 5)),
                               ", ");
      if (failed_tests.size() > 5) names += ", ...";
      s.message(std::to_string(failed_tests.size()) + " of " + std::to_string(tests_total) +
                " tests failed: " + names);
      return WRT_STATUS_FAILED;
    }
    if (r.exit_code != 0) {
      s.message(out.error_lines.empty() ? "cargo " + c.command + " exited with code " + std::to_string(r.exit_code)
                                        : out.error_lines.front());
      return WRT_STATUS_FAILED;
    }
    std::string reason;
    if (c.policy.evaluate(out.error_count(), out.warning_count(), &reason) != WRT_STATUS_PASSED) {
      s.message(reason + ": " + first_diagnostic);
      return WRT_STATUS_FAILED;
    }
    std::string summary = std::to_string(out.warning_count()) + " warning(s)";
    if (c.runs_tests()) summary = std::to_string(tests_total) + " tests passed, " + summary;
    s.message(summary);
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kCargo = {
    sizeof(wrt_plugin),
    "cargo",
    "1.0.0",
    "Runs cargo check/build/test/clippy/fmt-check/doc/bench and reports diagnostics and tests",
    fingerprint,
    run,
    nullptr,
};
const wrt_plugin* const kPlugins[] = {&kCargo};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
