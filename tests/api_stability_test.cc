// The api-stability plugin: the verdict logic on reports captured from the
// real abidiff 2.2 (tests/data/api-stability/, README.md there says how),
// the DWARF check on libraries built here, and the real wrt binary running
// the real abidiff on a small shared library built in the test: a removed
// exported function is major (the stage fails), an added one minor, an
// identical build none, a corrupt baseline an error; a git tag as the
// baseline, built in a temporary worktree and then stored; the verdict
// raising a fix-only release to a new major version; Rust without
// cargo-semver-checks skipped with the reason.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "plugins/api-stability/abi_verdict.h"
#include "support.h"

using namespace wrt::test;
using namespace wrt::plugins::api;
namespace fs = std::filesystem;

namespace {

std::string data(const std::string& name) {
  return read_file(std::string(WRT_TEST_DATA_DIR) + "/api-stability/" + name);
}

void compile(const std::string& source_name, const fs::path& out, bool debug = true) {
  std::vector<std::string> argv = {WRT_C_COMPILER, "-shared", "-fPIC", "-o", out.string(),
                                   std::string(WRT_TEST_DATA_DIR) + "/api-stability/src/" + source_name};
  if (debug) argv.insert(argv.begin() + 3, "-g");
  fs::create_directories(out.parent_path());
  auto r = run_command(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

const std::string kBuild = std::string("mkdir -p build && ") + WRT_C_COMPILER +
                           " -shared -fPIC -g -o build/libdemo.so src/lib.c";

}  // namespace

TEST_CASE("api-stability: abidiff's exit status and report make one verdict", "[api-stability]") {
  SECTION("a removed exported function is major") {
    auto o = classify_abidiff(12, data("removed-function-exit12.txt"));
    CHECK(o.verdict == Verdict::kMajor);
    REQUIRE(o.changes.size() == 1);
    CHECK(o.changes[0].kind == AbiChange::Kind::kRemoved);
    CHECK(o.changes[0].what == "function int sub(int, int)");
    CHECK(o.reason == "removed function int sub(int, int)");
  }
  SECTION("an added function alone is minor") {
    auto o = classify_abidiff(4, data("added-function-exit4.txt"));
    CHECK(o.verdict == Verdict::kMinor);
    REQUIRE(o.changes.size() == 1);
    CHECK(o.changes[0].kind == AbiChange::Kind::kAdded);
    CHECK(o.reason == "added function int mul(int, int)");
  }
  SECTION("a changed sub-type without an incompatible change needs review") {
    auto o = classify_abidiff(4, data("struct-grew-exit4.txt"));
    CHECK(o.verdict == Verdict::kNeedsReview);
    REQUIRE(o.changes.size() == 1);
    CHECK(o.changes[0].kind == AbiChange::Kind::kChanged);
    CHECK(o.changes[0].what == "function int norm(point*)");
    CHECK(o.changes[0].file == "v2struct.c");
    CHECK(o.changes[0].line == 4);
  }
  SECTION("identical") {
    auto o = classify_abidiff(0, data("identical-exit0.txt"));
    CHECK(o.verdict == Verdict::kNone);
    CHECK(o.changes.empty());
    CHECK(o.reason == "no ABI change");
  }
  SECTION("a removed variable, with a filtered-out change") {
    auto o = classify_abidiff(12, data("removed-variable-exit12.txt"));
    CHECK(o.verdict == Verdict::kMajor);
    REQUIRE(o.changes.size() == 1);
    CHECK(o.changes[0].what == "variable int counter");
  }
  SECTION("symbols only (no debug info): an added symbol is still minor") {
    auto o = classify_abidiff(4, data("nodebug-added-symbol-exit4.txt"));
    CHECK(o.verdict == Verdict::kMinor);
    REQUIRE(o.changes.size() == 1);
    CHECK(o.changes[0].what == "function symbol mul");
  }
  SECTION("tool errors fail closed") {
    auto corrupt = classify_abidiff(1, data("corrupt-baseline-exit1.txt"));
    CHECK(corrupt.verdict == Verdict::kError);
    CHECK(corrupt.reason == "abidiff failed (exit status 1): abidiff: Unknown content type for file corrupt.so");
    auto usage = classify_abidiff(3, data("usage-error-exit3.txt"));
    CHECK(usage.verdict == Verdict::kError);
    CHECK(usage.reason.find("usage error") != std::string::npos);
    // Change bits together with the error bit are still an error.
    CHECK(classify_abidiff(1 | 4, data("added-function-exit4.txt")).verdict == Verdict::kError);
    CHECK(classify_abidiff(-1, "").verdict == Verdict::kError);   // killed
    CHECK(classify_abidiff(16, "").verdict == Verdict::kError);   // a bit abidiff does not define
    CHECK(classify_abidiff(8, "").verdict == Verdict::kError);    // incompatible without the change bit
  }
  SECTION("the change bit with a report this parser does not know needs review, never minor") {
    CHECK(classify_abidiff(4, "").verdict == Verdict::kNeedsReview);
    CHECK(classify_abidiff(4, "ELF SONAME changed\n").verdict == Verdict::kNeedsReview);
    std::string added = data("added-function-exit4.txt");
    CHECK(classify_abidiff(4, added + "\nsomething else\n").verdict == Verdict::kNeedsReview);
  }
}

TEST_CASE("api-stability: verdict names, ranks and cargo-semver-checks failures", "[api-stability]") {
  for (Verdict v : {Verdict::kNone, Verdict::kMinor, Verdict::kNeedsReview, Verdict::kMajor, Verdict::kError,
                    Verdict::kSkipped})
    CHECK(parse_verdict(verdict_name(v)) == v);
  CHECK_FALSE(parse_verdict("compatible"));
  CHECK(verdict_rank(Verdict::kNone) < verdict_rank(Verdict::kMinor));
  CHECK(verdict_rank(Verdict::kMinor) < verdict_rank(Verdict::kNeedsReview));
  CHECK(verdict_rank(Verdict::kNeedsReview) < verdict_rank(Verdict::kMajor));
  CHECK(verdict_rank(Verdict::kError) < 0);
  std::string why;
  CHECK(classify_semver_checks(0, "", &why) == Verdict::kNone);
  // A failure without cargo-semver-checks' summary (a build error) is an error.
  CHECK(classify_semver_checks(1, "error: could not compile `demo`\n", &why) == Verdict::kError);
  CHECK(why == "cargo semver-checks failed (exit status 1): error: could not compile `demo`");
  CHECK(classify_semver_checks(-1, "", &why) == Verdict::kError);
}

TEST_CASE("api-stability: DWARF is detected in real libraries", "[api-stability]") {
  TempDir tmp;
  compile("v1.c", tmp / "with.so");
  compile("v1.c", tmp / "without.so", /*debug=*/false);
  std::string error;
  CHECK(elf_has_debug_info((tmp / "with.so").string(), &error) == true);
  CHECK(elf_has_debug_info((tmp / "without.so").string(), &error) == false);
  write_file(tmp / "text.so", "garbage\n");
  CHECK_FALSE(elf_has_debug_info((tmp / "text.so").string(), &error));
  CHECK(error.find("not an ELF file") != std::string::npos);
  CHECK_FALSE(elf_has_debug_info((tmp / "missing.so").string(), &error));
}

TEST_CASE("api-stability: e2e against a baseline file - major fails, minor passes, none, corrupt is an error",
          "[api-stability][e2e]") {
  TempDir ws;
  compile("v1.c", ws / "baseline/libdemo-1.0.so");
  auto pipeline = [&](const std::string& extra) {
    write_file(ws / "wrt.toml", R"(
[stages.build]
inputs = ["src/**"]
outputs = ["build/libdemo.so"]
with = { run = ")" + kBuild + R"(" }

[stages.api]
plugin = "api-stability"
needs = ["build"]
inputs = ["build/libdemo.so", "baseline/**"]
outputs = ["out/api.json"]
with = { library = "build/libdemo.so", baseline = "baseline/libdemo-1.0.so", report = "out/api.json")" +
                                 extra + R"( }
)");
  };
  auto run = [&](int expect_exit) {
    auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code == expect_exit);
    return report_stage(read_json(ws / "report.json"), "api");
  };
  auto source = [&](const std::string& name) {
    write_file(ws / "src/lib.c", read_file(std::string(WRT_TEST_DATA_DIR) + "/api-stability/src/" + name));
  };
  pipeline("");

  source("v1.c");
  auto api = run(0);
  CHECK(api["status"] == "passed");
  CHECK(api["message"] == "api: none \xE2\x80\x94 no ABI change");
  CHECK(api["metrics"]["api.verdict"] == 0);
  auto report = read_json(ws / "out/api.json");
  CHECK(report["schema"] == "wrt.api-stability/1");
  CHECK(report["verdict"] == "none");
  CHECK(report["library"] == "build/libdemo.so");
  CHECK(report["library_sha256"].get<std::string>().size() == 64);
  CHECK(report["tool"].get<std::string>().find("abidiff: ") != std::string::npos);  // "/usr/bin/abidiff: 2.2.0"

  source("v2rm.c");
  api = run(1);
  CHECK(api["status"] == "failed");
  CHECK(api["message"] == "api: major \xE2\x80\x94 removed function int sub(int, int)");
  CHECK(api["metrics"]["api.verdict"] == 3);
  CHECK(api["metrics"]["api.removed"] == 1);
  REQUIRE(api["findings"].size() == 1);
  CHECK(api["findings"][0]["rule"] == "abi-removed");
  CHECK(api["findings"][0]["severity"] == "error");
  CHECK(read_json(ws / "out/api.json")["verdict"] == "major");

  source("v2add.c");
  api = run(0);
  CHECK(api["status"] == "passed");
  CHECK(api["message"] == "api: minor \xE2\x80\x94 added function int mul(int, int)");
  CHECK(read_json(ws / "out/api.json")["verdict"] == "minor");
  CHECK(read_json(ws / "out/api.json")["changes"][0]["change"] == "added");

  // A grown struct: needs review; passes under the default fail_on = "major".
  source("v2struct.c");
  api = run(0);
  CHECK(api["message"].get<std::string>().find("api: needs-review") == 0);
  pipeline(", fail_on = \"needs-review\"");
  api = run(1);
  CHECK(api["status"] == "failed");
  pipeline("");

  // Back to v1: the cached verdict of the first run is replayed.
  source("v1.c");
  api = run(0);
  CHECK(api["status"] == "cached");
  CHECK(api["message"] == "api: none \xE2\x80\x94 no ABI change");
  CHECK(read_json(ws / "out/api.json")["verdict"] == "none");  // the report is an output: restored with the hit

  // A corrupt baseline: an error, never "compatible".
  write_file(ws / "baseline/libdemo-1.0.so", "garbage\n");
  api = run(1);
  CHECK(api["status"] == "failed");  // a stage error is reported as failed, with the error message
  CHECK(api["message"].get<std::string>().find("api: error \xE2\x80\x94 abidiff failed (exit status 1)") == 0);
  CHECK(read_json(ws / "out/api.json")["verdict"] == "error");

  // A current library without debug info: abidiff would miss type changes.
  compile("v1.c", ws / "baseline/libdemo-1.0.so");
  write_file(ws / "wrt.toml", read_file(ws / "wrt.toml").replace(read_file(ws / "wrt.toml").find(" -g "), 4, " "));
  api = run(1);
  CHECK(api["status"] == "failed");  // a stage error is reported as failed, with the error message
  CHECK(api["message"].get<std::string>().find("has no DWARF debug info") != std::string::npos);
}

TEST_CASE("api-stability: e2e with public headers, a private type's change is no API change", "[api-stability][e2e]") {
  TempDir ws;
  write_file(ws / "include/pub.h", "struct point { int x; int y; };\nint add(int a, int b);\nint norm(struct point* p);\n");
  const std::string body = "int add(int a, int b) { return a + b; }\nint norm(struct point* p) { return p->x; }\n"
                           "int internal(struct priv* p) { return p->a; }\n";
  write_file(ws / "old/lib.c", "#include \"pub.h\"\nstruct priv { int a; };\n" + body);
  write_file(ws / "src/lib.c", "#include \"pub.h\"\nstruct priv { int a; int b; };\n" + body);
  fs::create_directories(ws / "baseline");
  auto r = run_command({WRT_C_COMPILER, "-shared", "-fPIC", "-g", "-Iinclude", "-o", "baseline/libdemo.so", "old/lib.c"},
                  ws.path());
  REQUIRE(r.exit_code == 0);
  auto pipeline = [&](const std::string& extra) {
    write_file(ws / "wrt.toml", std::string(R"(
[stages.build]
inputs = ["src/**", "include/**"]
outputs = ["build/libdemo.so"]
with = { run = "mkdir -p build && )") + WRT_C_COMPILER + R"( -shared -fPIC -g -Iinclude -o build/libdemo.so src/lib.c" }

[stages.api]
plugin = "api-stability"
needs = ["build"]
inputs = ["build/libdemo.so", "include/**"]
with = { library = "build/libdemo.so", baseline = "baseline/libdemo.so")" + extra + R"( }
)");
  };
  auto api = [&] {
    auto res = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
    INFO(res.out << res.err);
    CHECK(res.exit_code == 0);
    return report_stage(read_json(ws / "report.json"), "api");
  };
  pipeline("");
  CHECK(api()["message"] == "api: needs-review \xE2\x80\x94 changed function int internal(priv*)");
  pipeline(R"(, headers = "include")");
  CHECK(api()["message"] == "api: none \xE2\x80\x94 no ABI change");
}

TEST_CASE("api-stability: e2e against the last release tag, built in a worktree, stored on the next tag, and the "
          "release it forces",
          "[api-stability][release][e2e]") {
  TempDir ws;
  const std::string lib_v1 = read_file(std::string(WRT_TEST_DATA_DIR) + "/api-stability/src/v1.c");
  const std::string lib_add = read_file(std::string(WRT_TEST_DATA_DIR) + "/api-stability/src/v2add.c");
  auto pipeline = [&](const std::string& build) {
    write_file(ws / "wrt.toml", R"(
[stages.build]
inputs = ["src/**"]
outputs = ["build/libdemo.so"]
with = { run = ")" + kBuild + R"(" }

[stages.api]
plugin = "api-stability"
needs = ["build"]
inputs = ["build/libdemo.so"]
with = { library = "build/libdemo.so", baseline = "last-release", build = ")" + build + R"(", fail_on = "never" }

[stages.release]
plugin = "release"
needs = ["api"]
with = { api_verdict = ".wrt/api-stability/api.json" }
)");
  };
  pipeline(kBuild);
  write_file(ws / ".gitignore", ".wrt/\nbuild/\nreport.json\n");
  write_file(ws / "src/lib.c", lib_v1);
  git(ws, {"init", "-q", "-b", "main"});
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "feat: first API"});
  git(ws, {"tag", "-a", "v1.0.0", "-m", "v1.0.0"});
  write_file(ws / "src/lib.c", lib_add);
  git(ws, {"commit", "-q", "-am", "feat: mul"});

  auto run = [&] {
    auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    return read_json(ws / "report.json");
  };
  // No stored baseline for v1.0.0: built from the tag in a worktree.
  auto report = run();
  auto api = report_stage(report, "api");
  CHECK(api["message"] == "api: minor \xE2\x80\x94 added function int mul(int, int)");
  auto verdict = read_json(ws / ".wrt/api-stability/api.json");
  CHECK(verdict["baseline"]["release"] == "v1.0.0");
  CHECK(verdict["baseline"]["built"] == true);
  CHECK(git(ws, {"worktree", "list"}).find('\n') == std::string::npos);  // the temporary worktree is gone
  CHECK(report_stage(report, "release")["message"] == "release 1.1.0 (minor since v1.0.0, api minor); dry run: nothing written, no tag");

  // The same tag named as a git ref: the dump built above is reused (keyed by the commit).
  {
    std::string toml = read_file(ws / "wrt.toml");
    const std::string saved = toml;
    toml.replace(toml.find("\"last-release\""), std::string("\"last-release\"").size(), "\"v1.0.0\"");
    write_file(ws / "wrt.toml", toml);
    report = run();
    CHECK(report_stage(report, "api")["message"] == "api: minor \xE2\x80\x94 added function int mul(int, int)");
    verdict = read_json(ws / ".wrt/api-stability/api.json");
    CHECK(verdict["baseline"]["ref"] == "v1.0.0");
    CHECK(verdict["baseline"]["stored"] == true);
    write_file(ws / "wrt.toml", saved);
  }

  // The release tag: compared with v1.0.0's stored dump, and its own ABI stored.
  git(ws, {"tag", "-a", "v1.1.0", "-m", "v1.1.0"});
  report = run();
  verdict = read_json(ws / ".wrt/api-stability/api.json");
  CHECK(verdict["baseline"]["release"] == "v1.0.0");
  CHECK(verdict["baseline"]["stored"] == true);
  CHECK(verdict["baseline"]["stored_for"] == "v1.1.0");
  CHECK(report_stage(report, "release")["message"] == "nothing to release: no commits since v1.1.0");

  // Remove a function in a "fix:" commit. The baseline is v1.1.0's stored
  // dump (a build would fail now), the verdict major, and the fix-only
  // release becomes a new major version.
  pipeline("exit 1");
  write_file(ws / "src/lib.c", read_file(std::string(WRT_TEST_DATA_DIR) + "/api-stability/src/v2rm.c"));
  git(ws, {"commit", "-q", "-am", "fix: drop sub()"});
  report = run();
  api = report_stage(report, "api");
  CHECK(api["status"] == "passed");  // fail_on = "never"
  // v2rm.c is v1.c without sub(); v1.1.0 also had mul().
  CHECK(api["message"] == "api: major \xE2\x80\x94 removed function int mul(int, int) (and 1 more change)");
  verdict = read_json(ws / ".wrt/api-stability/api.json");
  CHECK(verdict["baseline"]["release"] == "v1.1.0");
  CHECK(verdict["baseline"]["stored"] == true);
  auto release = report_stage(report, "release");
  CHECK(release["message"] == "release 2.0.0 (major since v1.1.0, api major); dry run: nothing written, no tag");
  CHECK(release["metrics"]["release.major"] == 2);

  // No stored dump and no way to build one: an error naming the release,
  // and the release stage does not run.
  pipeline("");
  fs::remove_all(ws / ".wrt/cache/plugin-data/api-stability/baselines");
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  report = read_json(ws / "report.json");
  api = report_stage(report, "api");
  CHECK(api["status"] == "failed");  // a stage error is reported as failed, with the error message
  CHECK(api["message"].get<std::string>().find("api: error \xE2\x80\x94 no ABI baseline for v1.1.0") == 0);
  CHECK(read_json(ws / ".wrt/api-stability/api.json")["verdict"] == "error");
  CHECK(report_stage(report, "release")["status"] == "skipped");
}

TEST_CASE("api-stability: Rust without cargo-semver-checks is skipped, saying why, and the release refuses that verdict",
          "[api-stability][e2e]") {
  TempDir ws;
  write_file(ws / "Cargo.toml", "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
  write_file(ws / "src/lib.rs", "pub fn f() {}\n");
  write_file(ws / "wrt.toml", R"(
[stages.api]
plugin = "api-stability"
inputs = ["src/**", "Cargo.toml"]
with = { kind = "rust" }

[stages.release]
plugin = "release"
needs = ["api"]
with = { api_verdict = ".wrt/api-stability/api.json" }
)");
  git(ws, {"init", "-q", "-b", "main"});
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "feat: f"});
  // A PATH without ~/.cargo/bin: cargo-semver-checks cannot be there.
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), {"PATH=/usr/bin:/bin"});
  INFO(r.out << r.err);
  auto report = read_json(ws / "report.json");
  auto api = report_stage(report, "api");
  CHECK(api["status"] == "passed");
  CHECK(api["message"] == "api: skipped \xE2\x80\x94 cargo-semver-checks is not installed (cargo install --locked "
                          "cargo-semver-checks); no API check was made");
  CHECK(api["metrics"]["api.skipped"] == 1);
  CHECK(read_json(ws / ".wrt/api-stability/api.json")["verdict"] == "skipped");
  // The release does not treat "skipped" as "compatible".
  auto release = report_stage(report, "release");
  CHECK(release["status"] == "failed");
  CHECK(release["message"].get<std::string>().find("is \"skipped\"") != std::string::npos);
  CHECK(r.exit_code == 1);
}

TEST_CASE("api-stability: bad configuration is a one-line error", "[api-stability][e2e]") {
  TempDir ws;
  auto check = [&](const std::string& with, const std::string& expect) {
    write_file(ws / "wrt.toml", "[stages.api]\nplugin = \"api-stability\"\nwith = { " + with + " }\n");
    auto r = run_wrt({"run"}, ws.path());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(expect) != std::string::npos);
  };
  check(R"(libary = "a.so")", "with.libary: unknown key (did you mean 'library'?)");
  check(R"(baseline = "x.so")", "with.library must name the shared library");
  check(R"(library = "a.so", fail_on = "sometimes")", "with.fail_on must be \"major\", \"needs-review\", \"minor\" or \"never\"");
  check(R"(kind = "rust", library = "a.so")", "with.library applies to kind = \"c\" only");
  check(R"(kind = "go")", "with.kind must be \"c\"");
  check(R"(library = 3)", "with.library must be a string");
}

TEST_CASE("api-stability, release, doxygen: listed by wrt plugins, each exporting only its entry point", "[api-stability][release][doxygen]") {
  TempDir ws;
  auto r = run_wrt({"plugins"}, ws.path());
  REQUIRE(r.exit_code == 0);
  for (const std::string name : {"api-stability", "release", "doxygen"}) {
    INFO(name);
    CHECK(("\n" + r.out).find("\n" + name + " ") != std::string::npos);
    auto nm = run_command({"sh", "-c", "nm -D --defined-only " + std::string(WRT_BUILD_DIR) + "/plugins/wrt-plugin-" + name +
                                           ".so | awk '$2 ~ /[TDBR]/ {print $3}'"});
    REQUIRE(nm.exit_code == 0);
    CHECK(nm.out == "wrt_plugin_entry\n");
  }
}
