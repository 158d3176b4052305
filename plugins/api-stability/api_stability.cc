// The `api-stability` plugin: one verdict on how a library's interface
// changed against a baseline -- none / minor / needs-review / major / error.
//
// C/C++ shared libraries (kind = "c", the default): abidiff (Debian
// abigail-tools) between the baseline and the current build, with DWARF
// required on both sides unless require_debug_info = false (without debug
// info abidiff compares symbols only and would miss every type change).
//
//   with = { library = "build/libfoo.so",     # must also be among the stage's inputs
//            baseline = "last-release",       # or a git ref ("v1.2.3"), or a file (.so or abidw .abi/.xml)
//            headers = "include",             # optional: public headers (--headers-dir)
//            build = "cmake -B b && cmake --build b",   # how to build a git ref's library
//            baseline_library = "b/libfoo.so",# the library in that checkout (default: library)
//            suppressions = "abi.suppr",      # optional abidiff suppression file
//            fail_on = "major",               # or "needs-review", "minor", "never"
//            report = ".wrt/api-stability/STAGE.json" }   # better a path in `outputs`:
//                                                         # a cache hit then restores it
//
// A git baseline is read from an ABI dump (abidw XML) stored in the
// plugin's data directory under the baseline commit, or, when there is
// none, built: the commit is checked out into a temporary `git worktree`
// under the data directory, `build` runs there (sh -c), and the dump of its
// library is stored for next time. With baseline = "last-release" the
// baseline is the nearest tag matching `tag_pattern` (default "v*",
// pre-releases such as v1.3.0-rc.1 excluded) other than those on HEAD, and
// when HEAD itself carries such a tag the current library's dump is stored
// as that release's baseline.
//
// Rust crates (kind = "rust"): `cargo semver-checks check-release
// --release-type patch` when cargo-semver-checks is installed; otherwise
// the verdict is "skipped", stated in the message (the stage passes: the
// plugin ABI has no skipped status) and in the report.
//
// The verdict goes to the stage message ("api: major — removed function
// int sub(int, int)"), the metric api.verdict (0 none, 1 minor,
// 2 needs-review, 3 major; -1 error or skipped), findings per change, and a
// JSON report (schema wrt.api-stability/1) that the release plugin reads.
// Tool errors fail closed: the stage errors and the report says "error".
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <wrt/plugin.hpp>

#include "plugins/api-stability/abi_verdict.h"
#include "plugins/common/digest.h"
#include "plugins/common/git.h"
#include "plugins/common/tool.h"

namespace fs = std::filesystem;
using wrt::plugins::api::AbiChange;
using wrt::plugins::api::Verdict;
using wrt::sdk::Stage;

namespace {

const char* const kDash = "\xE2\x80\x94";  // an em dash

struct Config {
  std::string kind = "c";
  std::string library;
  std::string baseline = "last-release";
  std::string headers;
  std::string build;
  std::string baseline_library;
  std::string suppressions;
  bool require_debug_info = true;
  std::string manifest_dir = ".";
  std::string package;
  std::string fail_on = "major";
  std::string report;
  std::string tag_pattern = "v*";
};

std::string file_stem(const std::string& stage) {
  std::string out;
  for (char c : stage) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out;
}

fs::path in_workspace(const Stage& s, const std::string& p) {
  return fs::path(p).is_absolute() ? fs::path(p) : fs::path(s.workspace()) / p;
}

bool looks_like_file(const std::string& spec) {
  auto ends = [&](const std::string& suf) {
    return spec.size() >= suf.size() && spec.compare(spec.size() - suf.size(), suf.size(), suf) == 0;
  };
  return ends(".so") || ends(".abi") || ends(".xml") || spec.find(".so.") != std::string::npos;
}

// --- small helpers ---------------------------------------------------------

// "" when the file cannot be read.
std::string sha256_file(const fs::path& path) { return wrt::plugins::sha256_file(path.string()); }
using wrt::plugins::sha256_hex;

void write_atomically(const fs::path& path, const std::string& text) { wrt::plugins::write_file_atomically(path.string(), text); }

// git in the workspace; `out` is its output without trailing newlines.
wrt::plugins::GitResult git(const Stage& s, const std::vector<std::string>& args) { return wrt::plugins::run_git(s, args); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  for (auto l : wrt::plugins::split_lines(text))
    if (auto t = wrt::plugins::trim(l); !t.empty()) out.emplace_back(t);
  return out;
}

Config parse(const Stage& s) {
  s.check_keys({"kind", "library", "baseline", "headers", "build", "baseline_library", "suppressions",
                "require_debug_info", "manifest_dir", "package", "fail_on", "report", "tag_pattern"});
  Config c;
  c.kind = s.string("kind").value_or("c");
  if (c.kind != "c" && c.kind != "rust")
    throw std::runtime_error("with.kind must be \"c\" (a C/C++ shared library, abidiff) or \"rust\" (cargo-semver-checks)");
  const std::vector<std::string> keys = s.keys();
  auto has = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  for (const char* k : {"library", "headers", "build", "baseline_library", "suppressions", "require_debug_info"})
    if (c.kind == "rust" && has(k)) throw std::runtime_error(std::string("with.") + k + " applies to kind = \"c\" only");
  for (const char* k : {"manifest_dir", "package"})
    if (c.kind == "c" && has(k)) throw std::runtime_error(std::string("with.") + k + " applies to kind = \"rust\" only");

  c.baseline = s.string("baseline").value_or("last-release");
  if (c.baseline.empty()) throw std::runtime_error("with.baseline must not be empty (\"last-release\", a git ref or a file)");
  c.fail_on = s.string("fail_on").value_or("major");
  if (c.fail_on != "major" && c.fail_on != "needs-review" && c.fail_on != "minor" && c.fail_on != "never")
    throw std::runtime_error("with.fail_on must be \"major\", \"needs-review\", \"minor\" or \"never\"");
  c.tag_pattern = s.string("tag_pattern").value_or("v*");
  if (c.tag_pattern.empty()) throw std::runtime_error("with.tag_pattern must not be empty");
  c.report = s.string("report").value_or(".wrt/api-stability/" + file_stem(s.name()) + ".json");
  if (c.report.empty()) throw std::runtime_error("with.report must name a file");
  if (c.kind == "c") {
    c.library = s.string("library").value_or("");
    if (c.library.empty())
      throw std::runtime_error("with.library must name the shared library to check, e.g. \"build/libfoo.so\"");
    c.headers = s.string("headers").value_or("");
    c.build = s.string("build").value_or("");
    c.baseline_library = s.string("baseline_library").value_or(c.library);
    if (c.baseline_library.empty() || fs::path(c.baseline_library).is_absolute())
      throw std::runtime_error("with.baseline_library must be a path inside the baseline's checkout");
    c.suppressions = s.string("suppressions").value_or("");
    c.require_debug_info = s.boolean("require_debug_info").value_or(true);
  } else {
    c.manifest_dir = s.string("manifest_dir").value_or(".");
    c.package = s.string("package").value_or("");
  }
  return c;
}

// --- git -------------------------------------------------------------------

// Tags matching the pattern on HEAD, pre-releases ("v1.3.0-rc.1") left out.
std::vector<std::string> release_tags_at_head(const Stage& s, const Config& c) {
  auto g = git(s, {"tag", "--points-at", "HEAD", "--list", c.tag_pattern});
  std::vector<std::string> out;
  if (!g.ok) return out;
  for (const auto& t : lines(g.out))
    if (t.find('-') == std::string::npos) out.push_back(t);
  return out;
}

struct Release {
  std::string tag;     // "" = no earlier release
  std::string commit;
};

// The nearest release tag reachable from HEAD other than HEAD's own.
Release last_release(const Stage& s, const Config& c) {
  std::vector<std::string> args = {"describe", "--tags", "--abbrev=0", "--match", c.tag_pattern, "--exclude", "*-*"};
  for (const auto& t : release_tags_at_head(s, c)) {
    args.push_back("--exclude");
    args.push_back(t);
  }
  args.push_back("HEAD");
  Release r;
  auto d = git(s, args);
  if (!d.ok) return r;  // no tag: nothing released yet
  r.tag = d.out;
  auto commit = git(s, {"rev-parse", "--verify", "-q", r.tag + "^{commit}"});
  if (!commit.ok) throw std::runtime_error("cannot resolve the release tag " + r.tag);
  r.commit = commit.out;
  return r;
}

std::string resolve_commit(const Stage& s, const std::string& ref) {
  auto g = git(s, {"rev-parse", "--verify", "-q", ref + "^{commit}"});
  return g.ok ? g.out : std::string();
}

// --- baselines -------------------------------------------------------------

// Where the ABI dump of `commit`'s library is kept: the data directory,
// keyed by the commit and by what was dumped (library path, headers).
fs::path stored_dump(const Stage& s, const Config& c, const std::string& commit) {
  std::string data = s.data_dir();
  if (data.empty()) throw std::runtime_error("this wrt gives plugins no data directory (ABI 1.1 needed) to keep baselines in");
  const std::string what = sha256_hex(c.baseline_library + '\n' + c.library + '\n' + c.headers).substr(0, 16);
  return fs::path(data) / "baselines" / (commit + "-" + what + ".abi");
}

struct Spawned {
  bool ok = false;
  std::string output;
  std::string why;
};

Spawned run_tool(const Stage& s, const std::vector<std::string>& argv, const std::string& cwd = {}) {
  auto r = s.spawn(argv, cwd, {}, true);
  Spawned out;
  out.output = r.output;
  if (!r.started) out.why = "cannot start " + argv[0] + ": " + r.error;
  else if (r.timed_out) out.why = argv[0] + " timed out";
  else if (r.interrupted) out.why = argv[0] + " was interrupted";
  else if (r.term_signal) out.why = argv[0] + " was killed by signal " + std::to_string(r.term_signal);
  else if (r.exit_code != 0) out.why = argv[0] + " exited with status " + std::to_string(r.exit_code);
  else out.ok = true;
  return out;
}

void check_debug_info(const Config& c, const fs::path& lib, const std::string& what) {
  if (!c.require_debug_info) return;
  std::string error;
  auto has = wrt::plugins::api::elf_has_debug_info(lib.string(), &error);
  if (!has) throw std::runtime_error(what + ": " + error);
  if (!*has)
    throw std::runtime_error(what + " (" + lib.string() +
                             ") has no DWARF debug info: abidiff would compare symbols only and miss every type "
                             "change (build it with -g, or set with.require_debug_info = false)");
}

// abidw of `lib` into `dest` (through a temporary file).
void dump_abi(const Stage& s, const fs::path& lib, const std::string& headers_dir, const fs::path& dest) {
  fs::create_directories(dest.parent_path());
  const fs::path tmp = dest.parent_path() / (".tmp-" + dest.filename().string() + "-" + std::to_string(::getpid()));
  std::vector<std::string> argv = {"abidw", "--out-file", tmp.string()};
  if (!headers_dir.empty()) {
    argv.push_back("--headers-dir");
    argv.push_back(headers_dir);
  }
  argv.push_back(lib.string());
  auto r = run_tool(s, argv);
  if (!r.ok) {
    fs::remove(tmp);
    throw std::runtime_error("abidw could not read " + lib.string() + " (" + r.why + ")");
  }
  fs::rename(tmp, dest);
}

// Checks `commit` out into a temporary worktree, runs `build` there and
// stores the dump of its library. The worktree is removed in every case.
void build_baseline(const Stage& s, const Config& c, const std::string& label, const std::string& commit,
                    const fs::path& dest) {
  const fs::path dir = fs::path(s.data_dir()) / "worktrees" /
                       (file_stem(s.name()) + "-" + commit.substr(0, 12) + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir.parent_path());
  struct Cleanup {
    const Stage& s;
    fs::path dir;
    ~Cleanup() {
      git(s, {"worktree", "remove", "--force", dir.string()});
      std::error_code ec;
      fs::remove_all(dir, ec);
      git(s, {"worktree", "prune"});
    }
  } cleanup{s, dir};
  auto add = git(s, {"worktree", "add", "--detach", "--force", dir.string(), commit});
  if (!add.ok) throw std::runtime_error("cannot check out " + label + " into a worktree: " + add.out);
  s.log(WRT_LOG_INFO, "building the baseline " + label + " in " + dir.string() + ": " + c.build);
  auto b = run_tool(s, {"/bin/sh", "-c", c.build}, dir.string());
  if (!b.ok) throw std::runtime_error("building the baseline " + label + " failed: " + b.why + " (see the stage log)");
  const fs::path lib = dir / c.baseline_library;
  if (!fs::exists(lib))
    throw std::runtime_error("the baseline build of " + label + " did not produce " + c.baseline_library +
                             " (set with.baseline_library to where it is)");
  check_debug_info(c, lib, "the baseline library of " + label);
  dump_abi(s, lib, c.headers.empty() ? std::string() : (dir / c.headers).string(), dest);
}

struct Baseline {
  bool none = false;        // no earlier release: nothing to compare
  fs::path file;            // what abidiff reads as the old ABI
  bool is_elf = false;      // a library (headers apply) rather than an ABI dump
  nlohmann::json identity;  // for the report
};

Baseline resolve_baseline(const Stage& s, const Config& c) {
  Baseline b;
  const fs::path as_file = in_workspace(s, c.baseline);
  if (looks_like_file(c.baseline) || (c.baseline != "last-release" && fs::is_regular_file(as_file))) {
    if (!fs::is_regular_file(as_file)) throw std::runtime_error("with.baseline: " + c.baseline + " does not exist");
    b.file = as_file;
    std::string error;
    b.is_elf = wrt::plugins::api::elf_has_debug_info(as_file.string(), &error).has_value();
    if (b.is_elf) check_debug_info(c, as_file, "the baseline " + c.baseline);
    b.identity = {{"file", c.baseline}, {"sha256", sha256_file(as_file)}};
    return b;
  }
  std::string label, commit;
  if (c.baseline == "last-release") {
    Release r = last_release(s, c);
    if (r.tag.empty()) {
      b.none = true;
      b.identity = {{"release", nullptr}};
      return b;
    }
    label = r.tag;
    commit = r.commit;
    b.identity = {{"release", r.tag}, {"commit", r.commit}};
  } else {
    commit = resolve_commit(s, c.baseline);
    if (commit.empty())
      throw std::runtime_error("with.baseline: \"" + c.baseline +
                               "\" is neither a file nor a git revision of this repository");
    label = c.baseline;
    b.identity = {{"ref", c.baseline}, {"commit", commit}};
  }
  b.file = stored_dump(s, c, commit);
  if (fs::exists(b.file)) {
    s.log(WRT_LOG_INFO, "baseline " + label + ": the stored ABI dump " + b.file.string());
    b.identity["stored"] = true;
  } else if (!c.build.empty()) {
    build_baseline(s, c, label, commit, b.file);
    b.identity["built"] = true;
  } else {
    throw std::runtime_error("no ABI baseline for " + label + ": none is stored (wrt stores one when this stage runs on a "
                             "release tag) and with.build is not set to build it from the tag");
  }
  b.identity["sha256"] = sha256_file(b.file);
  return b;
}

// --- the report ------------------------------------------------------------

const char* kind_name(AbiChange::Kind k) {
  switch (k) {
    case AbiChange::Kind::kRemoved: return "removed";
    case AbiChange::Kind::kAdded: return "added";
    case AbiChange::Kind::kChanged: break;
  }
  return "changed";
}

struct Outcome {
  Verdict verdict = Verdict::kError;
  std::string summary;
  std::vector<AbiChange> changes;
  nlohmann::json baseline = nlohmann::json::object();
  std::string tool;
};

bool covered_by_outputs(const Stage& s, const fs::path& file) {
  const std::string rel = wrt::plugins::workspace_relative(file.lexically_normal().string(), s.workspace());
  for (auto out : s.outputs()) {
    while (!out.empty() && out.back() == '/') out.pop_back();
    if (rel == out || rel.rfind(out + "/", 0) == 0) return true;
  }
  return false;
}

wrt_status finish(const Stage& s, const Config& c, const Outcome& o) {
  const std::string name = wrt::plugins::api::verdict_name(o.verdict);
  nlohmann::json report = {{"schema", "wrt.api-stability/1"},
                           {"stage", s.name()},
                           {"kind", c.kind},
                           {"verdict", name},
                           {"summary", o.summary},
                           {"baseline", o.baseline},
                           {"tool", o.tool},
                           {"commit", nullptr}};
  if (auto head = git(s, {"rev-parse", "--verify", "-q", "HEAD"}); head.ok) report["commit"] = head.out;
  if (c.kind == "c") {
    report["library"] = c.library;
    report["library_sha256"] = sha256_file(in_workspace(s, c.library));
  } else {
    report["manifest_dir"] = c.manifest_dir;
  }
  nlohmann::json changes = nlohmann::json::array();
  std::int64_t removed = 0, changed = 0, added = 0;
  for (const auto& ch : o.changes) {
    changes.push_back({{"change", kind_name(ch.kind)}, {"what", ch.what}, {"file", ch.file}, {"line", ch.line}});
    if (ch.kind == AbiChange::Kind::kRemoved) ++removed;
    else if (ch.kind == AbiChange::Kind::kAdded) ++added;
    else ++changed;
    const wrt_severity sev = ch.kind == AbiChange::Kind::kRemoved  ? WRT_SEVERITY_ERROR
                             : ch.kind == AbiChange::Kind::kAdded ? WRT_SEVERITY_NOTE
                                                                   : WRT_SEVERITY_WARNING;
    s.finding(sev, std::string("abi-") + kind_name(ch.kind), ch.file, ch.line,
              0, std::string(kind_name(ch.kind)) + " " + ch.what);
  }
  report["changes"] = changes;
  const fs::path path = in_workspace(s, c.report);
  write_atomically(path, report.dump(2) + "\n");
  if (!covered_by_outputs(s, path))
    s.log(WRT_LOG_INFO, s.name() + ": " + c.report +
                            " is not among the stage's outputs, so a cache hit keeps whatever report the last run wrote "
                            "(the release plugin refuses one about other bytes of the library)");
  s.artifact(wrt::plugins::workspace_relative(path.string(), s.workspace()), "api-stability");

  s.metric("api.verdict", wrt::plugins::api::verdict_rank(o.verdict));
  s.metric("api.removed", static_cast<double>(removed));
  s.metric("api.changed", static_cast<double>(changed));
  s.metric("api.added", static_cast<double>(added));
  if (o.verdict == Verdict::kSkipped) s.metric("api.skipped", 1);
  s.message("api: " + name + " " + kDash + " " + o.summary);

  if (o.verdict == Verdict::kError) return WRT_STATUS_ERROR;
  if (o.verdict == Verdict::kSkipped || c.fail_on == "never") return WRT_STATUS_PASSED;
  const Verdict threshold = *wrt::plugins::api::parse_verdict(c.fail_on);
  return wrt::plugins::api::verdict_rank(o.verdict) >= wrt::plugins::api::verdict_rank(threshold) ? WRT_STATUS_FAILED
                                                                                                    : WRT_STATUS_PASSED;
}

// --- C/C++ -----------------------------------------------------------------

bool listed_in_inputs(const Stage& s, const std::string& path) {
  const std::string rel = wrt::plugins::workspace_relative(in_workspace(s, path).lexically_normal().string(), s.workspace());
  for (const auto& in : s.inputs())
    if (in == rel) return true;
  return false;
}

wrt_status run_c(const Stage& s, const Config& c) {
  Outcome o;
  o.tool = wrt::plugins::tool_version(s, {"abidiff", "--version"});
  const fs::path lib = in_workspace(s, c.library);
  if (!fs::is_regular_file(lib)) {
    o.summary = c.library + " does not exist (build it in a stage this one needs)";
    return finish(s, c, o);
  }
  if (!listed_in_inputs(s, c.library)) {
    o.summary = "with.library " + c.library +
                " is not among the stage's inputs: add it to `inputs` so that a rebuilt library re-runs the check";
    return finish(s, c, o);
  }
  try {
    check_debug_info(c, lib, c.library);
    Baseline b = resolve_baseline(s, c);
    o.baseline = b.identity;
    const auto at_head = c.baseline == "last-release" ? release_tags_at_head(s, c) : std::vector<std::string>{};
    if (!at_head.empty()) {
      // HEAD is a release: its ABI is the baseline of the next one.
      const fs::path dest = stored_dump(s, c, git(s, {"rev-parse", "HEAD"}).out);
      dump_abi(s, lib, c.headers.empty() ? std::string() : in_workspace(s, c.headers).string(), dest);
      s.log(WRT_LOG_INFO, "stored the ABI of " + at_head.front() + " as the baseline of the next release: " + dest.string());
      o.baseline["stored_for"] = at_head.front();
    }
    if (b.none) {
      o.verdict = Verdict::kNone;
      o.summary = "no earlier release (no tag matching " + c.tag_pattern + " before HEAD): nothing to compare";
      return finish(s, c, o);
    }
    std::vector<std::string> argv = {"abidiff"};
    if (!c.headers.empty()) {
      if (b.is_elf) {
        argv.push_back("--headers-dir1");
        argv.push_back(in_workspace(s, c.headers).string());
      }
      argv.push_back("--headers-dir2");
      argv.push_back(in_workspace(s, c.headers).string());
    }
    if (!c.suppressions.empty()) {
      argv.push_back("--suppressions");
      argv.push_back(in_workspace(s, c.suppressions).string());
    }
    argv.push_back(b.file.string());
    argv.push_back(lib.string());
    auto r = s.spawn(argv, {}, {}, true);
    if (!r.started) {
      o.summary = "cannot start abidiff: " + r.error;
      return finish(s, c, o);
    }
    if (r.timed_out || r.interrupted) return WRT_STATUS_FAILED;
    auto outcome = wrt::plugins::api::classify_abidiff(r.term_signal ? -1 : r.exit_code, r.output);
    o.verdict = outcome.verdict;
    o.summary = outcome.reason;
    o.changes = outcome.changes;
  } catch (const std::exception& e) {
    o.verdict = Verdict::kError;
    o.summary = e.what();
  }
  return finish(s, c, o);
}

// --- Rust ------------------------------------------------------------------

wrt_status run_rust(const Stage& s, const Config& c) {
  Outcome o;
  if (!wrt::plugins::find_program("cargo-semver-checks")) {
    o.verdict = Verdict::kSkipped;
    o.summary = "cargo-semver-checks is not installed (cargo install --locked cargo-semver-checks); no API check was made";
    s.log(WRT_LOG_WARNING, s.name() + ": skipped: " + o.summary);
    return finish(s, c, o);
  }
  o.tool = wrt::plugins::tool_version(s, {"cargo-semver-checks", "--version"});
  std::vector<std::string> argv = {"cargo", "semver-checks", "check-release", "--manifest-path",
                                   (in_workspace(s, c.manifest_dir) / "Cargo.toml").string(), "--release-type", "patch"};
  if (!c.package.empty()) {
    argv.push_back("--package");
    argv.push_back(c.package);
  }
  try {
    if (c.baseline == "last-release") {
      Release r = last_release(s, c);
      if (r.tag.empty()) {
        o.verdict = Verdict::kNone;
        o.summary = "no earlier release (no tag matching " + c.tag_pattern + " before HEAD): nothing to compare";
        o.baseline = {{"release", nullptr}};
        return finish(s, c, o);
      }
      o.baseline = {{"release", r.tag}, {"commit", r.commit}};
      argv.insert(argv.end(), {"--baseline-rev", r.commit});
    } else {
      const std::string commit = resolve_commit(s, c.baseline);
      if (commit.empty())
        throw std::runtime_error("with.baseline: \"" + c.baseline + "\" is not a git revision of this repository");
      o.baseline = {{"ref", c.baseline}, {"commit", commit}};
      argv.insert(argv.end(), {"--baseline-rev", commit});
    }
    auto r = s.spawn(argv, {}, {}, true);
    if (!r.started) throw std::runtime_error("cannot start cargo semver-checks: " + r.error);
    if (r.timed_out || r.interrupted) return WRT_STATUS_FAILED;
    o.verdict = wrt::plugins::api::classify_semver_checks(r.term_signal ? -1 : r.exit_code, r.output, &o.summary);
  } catch (const std::exception& e) {
    o.verdict = Verdict::kError;
    o.summary = e.what();
  }
  return finish(s, c, o);
}

// --- entry points ----------------------------------------------------------

wrt_status fingerprint(const Stage& s) {
  const Config c = parse(s);
  if (c.kind == "c") {
    const std::string abidiff = wrt::plugins::tool_version(s, {"abidiff", "--version"});
    if (abidiff.empty()) throw std::runtime_error(wrt::plugins::missing_tool_message("abidiff", "abigail-tools"));
    s.fingerprint("abidiff.version", abidiff);
    s.fingerprint("abidw.version", wrt::plugins::tool_version(s, {"abidw", "--version"}));
    if (!c.suppressions.empty()) s.fingerprint("suppressions", sha256_file(in_workspace(s, c.suppressions)));
  } else {
    // Installing the tool turns "skipped" into a real check: re-run then.
    auto v = wrt::plugins::find_program("cargo-semver-checks")
                 ? wrt::plugins::tool_version(s, {"cargo-semver-checks", "--version"})
                 : std::string("not installed");
    s.fingerprint("cargo-semver-checks.version", v);
  }
  // The baseline's identity: a file's bytes, or the commit a ref or the last
  // release names (its stored or built dump derives from that commit).
  if (looks_like_file(c.baseline) || (c.baseline != "last-release" && fs::is_regular_file(in_workspace(s, c.baseline)))) {
    s.fingerprint("baseline", "file " + c.baseline + " " + sha256_file(in_workspace(s, c.baseline)));
  } else if (c.baseline == "last-release") {
    Release r = last_release(s, c);
    s.fingerprint("baseline", "release " + (r.tag.empty() ? std::string("none") : r.tag + " " + r.commit));
    // On a release tag the run also stores the baseline for the next one.
    std::string at_head;
    for (const auto& t : release_tags_at_head(s, c)) at_head += t + " ";
    s.fingerprint("release_at_head", at_head);
  } else {
    const std::string commit = resolve_commit(s, c.baseline);
    if (commit.empty())
      throw std::runtime_error("with.baseline: \"" + c.baseline + "\" is neither a file nor a git revision of this repository");
    s.fingerprint("baseline", "ref " + c.baseline + " " + commit);
  }
  return WRT_STATUS_PASSED;
}

wrt_status run(const Stage& s) {
  const Config c = parse(s);
  return c.kind == "c" ? run_c(s, c) : run_rust(s, c);
}

const wrt_plugin kApiStability = wrt::sdk::make_plugin<run, fingerprint>(
    "api-stability", "1.0.0", "API/ABI stability verdict against a baseline (abidiff; cargo-semver-checks for Rust)");

}  // namespace

WRT_SDK_PLUGIN_ENTRY(&kApiStability)
