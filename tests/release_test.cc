// The release plugin: versions, conventional commits, the bump under
// git-cliff's default rules, the Keep a Changelog section and the version
// files as pure logic; then the real wrt binary in temporary git
// repositories: 1.3.0 from feat/fix commits after v1.2.3 with the
// changelog, 2.0.0 from feat!, 1.2.4 from a fix, the 0.x rules, the first
// release, the version written into Cargo.toml / CMakeLists.txt / VERSION,
// the release commit and the annotated tag, and a dry run changing nothing.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "plugins/release/release_logic.h"
#include "support.h"

using namespace wrt::test;
using namespace wrt::plugins::release;
namespace fs = std::filesystem;

namespace {

Version v(const std::string& s) {
  auto p = parse_version(s);
  REQUIRE(p);
  return *p;
}

std::vector<Commit> commits(const std::vector<std::string>& subjects) {
  std::vector<Commit> out;
  int i = 0;
  for (const auto& s : subjects) out.push_back(parse_commit("abcdef" + std::to_string(i++) + "000", s, ""));
  return out;
}

std::string next(const std::string& current, const std::vector<std::string>& subjects, BumpRules rules = {},
                 bool api_breaking = false, bool api_feature = false) {
  const Version cur = v(current);
  return apply_bump(cur, compute_bump(cur, commits(subjects), rules, api_breaking, api_feature)).to_string();
}

// Fixed git identity and date for the plugin's own commits and tags.
const std::vector<std::string> kEnv = {"GIT_AUTHOR_NAME=Release Bot", "GIT_AUTHOR_EMAIL=bot@example.com",
                                       "GIT_COMMITTER_NAME=Release Bot", "GIT_COMMITTER_EMAIL=bot@example.com",
                                       "SOURCE_DATE_EPOCH=1700000000"};  // 2023-11-14

}  // namespace

TEST_CASE("release: versions", "[release]") {
  CHECK(v("1.2.3").to_string() == "1.2.3");
  CHECK(v("1.3.0-rc.1").pre == "rc.1");
  CHECK(v("1.2.3+build.5").to_string() == "1.2.3");
  for (const char* bad : {"1.2", "v1.2.3", "01.2.3", "1.2.3-", "1..3", "", "1.2.x"}) CHECK_FALSE(parse_version(bad));
}

TEST_CASE("release: conventional commits", "[release]") {
  auto c = parse_commit("h", "feat(parser)!: accept tabs", "");
  CHECK(c.conventional);
  CHECK(c.type == "feat");
  CHECK(c.scope == "parser");
  CHECK(c.description == "accept tabs");
  CHECK(c.breaking);
  auto footer = parse_commit("h", "fix: stricter input", "Details.\n\nBREAKING CHANGE: empty input is rejected\n");
  CHECK(footer.breaking);
  CHECK(footer.breaking_note == "empty input is rejected");
  CHECK(parse_commit("h", "refactor: x", "BREAKING-CHANGE: y").breaking);
  CHECK_FALSE(parse_commit("h", "fix: x", "not a BREAKING CHANGE: footer").breaking);
  CHECK(parse_commit("h", "Feat: upper-case type", "").type == "feat");
  for (const char* not_conventional : {"Merge branch 'x'", "feat:no space", "feat(): empty scope", "feat: ",
                                       "fix(a: unclosed", ": no type", "feat!:x"})
    CHECK_FALSE(parse_commit("h", not_conventional, "").conventional);
}

TEST_CASE("release: the next version follows git-cliff's default bump rules", "[release]") {
  CHECK(next("1.2.3", {"feat: a", "fix: b"}) == "1.3.0");
  CHECK(next("1.2.3", {"fix: b"}) == "1.2.4");
  CHECK(next("1.2.3", {"perf: b"}) == "1.2.4");
  CHECK(next("1.2.3", {"feat!: a", "fix: b"}) == "2.0.0");
  CHECK(next("1.2.3", {"chore: tidy"}) == "1.2.4");
  CHECK(next("1.2.3", {"not conventional at all"}) == "1.2.4");
  CHECK(next("1.2.3", {}) == "1.2.3");  // nothing to release
  CHECK(compute_bump(v("1.2.3"), {}, {}) == Bump::kNone);
  {
    std::vector<Commit> cs = {parse_commit("h", "fix: x", "BREAKING CHANGE: y")};
    CHECK(apply_bump(v("1.2.3"), compute_bump(v("1.2.3"), cs, {})).to_string() == "2.0.0");
  }
  // 0.x: a breaking change bumps the minor, a feature the patch.
  CHECK(next("0.3.3", {"feat: a"}) == "0.3.4");
  CHECK(next("0.3.3", {"feat!: a"}) == "0.4.0");
  CHECK(next("0.3.3", {"fix: a"}) == "0.3.4");
  // 0.0.x: always the patch.
  CHECK(next("0.0.4", {"feat!: a"}) == "0.0.5");
  CHECK(next("0.0.4", {"feat: a"}) == "0.0.5");
  // git-cliff's options.
  BumpRules minor_features;
  minor_features.features_always_bump_minor = true;
  CHECK(next("0.3.3", {"feat: a"}, minor_features) == "0.4.0");
  BumpRules major_breaking;
  major_breaking.breaking_always_bump_major = true;
  CHECK(next("0.9.0", {"feat!: a"}, major_breaking) == "1.0.0");
  // The API verdict raises the bump: major as a breaking change, minor as a feature.
  CHECK(next("1.2.3", {"fix: b"}, {}, /*api_breaking=*/true) == "2.0.0");
  CHECK(next("1.2.3", {"fix: b"}, {}, false, /*api_feature=*/true) == "1.3.0");
  CHECK(next("1.2.3", {"feat!: a"}, {}, false, true) == "2.0.0");  // never lowered
  CHECK(next("0.3.3", {"fix: b"}, {}, true) == "0.4.0");
}

TEST_CASE("release: the Keep a Changelog section", "[release]") {
  std::vector<Commit> cs = {
      parse_commit("1111111aaaa", "feat(cli): add --json", ""),
      parse_commit("2222222bbbb", "fix: crash on empty input", ""),
      parse_commit("3333333cccc", "feat!: remove the v1 API", "BREAKING CHANGE: callers must use v2\n"),
      parse_commit("4444444dddd", "perf: faster hashing", ""),
      parse_commit("5555555eeee", "docs: typo", ""),
      parse_commit("6666666ffff", "Merge branch 'topic'", ""),
      parse_commit("7777777aaaa", "deprecate: the --old flag", ""),
      parse_commit("8888888bbbb", "fix(security): escape HTML", ""),
  };
  const std::string expected =
      "## [2.0.0] - 2023-11-14\n"
      "\n"
      "### Added\n"
      "\n"
      "- **cli:** add --json (1111111)\n"
      "\n"
      "### Changed\n"
      "\n"
      "- faster hashing (4444444)\n"
      "\n"
      "### Deprecated\n"
      "\n"
      "- the --old flag (7777777)\n"
      "\n"
      "### Removed\n"
      "\n"
      "- **BREAKING:** remove the v1 API (3333333)\n"
      "  - callers must use v2\n"
      "\n"
      "### Fixed\n"
      "\n"
      "- crash on empty input (2222222)\n"
      "\n"
      "### Security\n"
      "\n"
      "- **security:** escape HTML (8888888)\n"
      "\n";
  CHECK(render_section(v("2.0.0"), "2023-11-14", cs) == expected);
  CHECK(render_section(v("1.0.1"), "2023-11-14", commits({"chore: bump deps"})) ==
        "## [1.0.1] - 2023-11-14\n\nNo user-facing changes.\n\n");
}

TEST_CASE("release: inserting the section into CHANGELOG.md", "[release]") {
  const std::string section = "## [1.3.0] - 2023-11-14\n\n### Added\n\n- x (1234567)\n\n";
  auto fresh = insert_section("", section, v("1.3.0"));
  REQUIRE(fresh.error.empty());
  CHECK(fresh.text == std::string(kChangelogHeader) + "\n" + section);

  const std::string existing = std::string(kChangelogHeader) +
                               "\n## [Unreleased]\n\n## [1.2.3] - 2023-01-01\n\n### Fixed\n\n- y\n";
  auto edited = insert_section(existing, section, v("1.3.0"));
  REQUIRE(edited.error.empty());
  CHECK(edited.text == std::string(kChangelogHeader) + "\n## [Unreleased]\n\n" + section +
                           "## [1.2.3] - 2023-01-01\n\n### Fixed\n\n- y\n");
  CHECK(insert_section(edited.text, section, v("1.3.0")).error == "the changelog already has a section for 1.3.0");
  // A changelog with a header only: the section goes at the end.
  auto header_only = insert_section("# Changelog\n", section, v("1.3.0"));
  CHECK(header_only.text == "# Changelog\n\n" + section.substr(0, section.size() - 1));
}

TEST_CASE("release: writing the version into Cargo.toml, CMakeLists.txt and VERSION", "[release]") {
  CHECK(version_file_kind("Cargo.toml") == VersionFile::kCargoToml);
  CHECK(version_file_kind("sub/CMakeLists.txt") == VersionFile::kCMakeLists);
  CHECK(version_file_kind("VERSION") == VersionFile::kPlain);
  CHECK_FALSE(version_file_kind("package.json"));

  const std::string cargo = "[package]\nname = \"demo\"\nversion = \"1.2.3\" # the crate\nedition = \"2021\"\n\n"
                            "[dependencies]\nserde = { version = \"1.0\" }\nlog = \"0.4\"\n\n[dependencies.rand]\nversion = \"0.8\"\n";
  auto c = set_version(VersionFile::kCargoToml, cargo, v("1.3.0"));
  REQUIRE(c.error.empty());
  CHECK(c.old_version == "1.2.3");
  CHECK(c.text == "[package]\nname = \"demo\"\nversion = \"1.3.0\" # the crate\nedition = \"2021\"\n\n"
                  "[dependencies]\nserde = { version = \"1.0\" }\nlog = \"0.4\"\n\n[dependencies.rand]\nversion = \"0.8\"\n");
  auto ws = set_version(VersionFile::kCargoToml, "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nversion = '0.4.0'\n",
                        v("0.5.0"));
  REQUIRE(ws.error.empty());
  CHECK(ws.text == "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nversion = '0.5.0'\n");
  auto inherited = set_version(VersionFile::kCargoToml, "[package]\nname = \"a\"\nversion.workspace = true\n", v("1.0.0"));
  CHECK(inherited.error.find("inherited from the workspace") != std::string::npos);
  CHECK(set_version(VersionFile::kCargoToml, "[package]\nname = \"a\"\n", v("1.0.0")).error ==
        "no version = \"...\" in [package] or [workspace.package]");

  const std::string cmake = "cmake_minimum_required(VERSION 3.20)\n# project(old VERSION 0.0.1)\n"
                            "project(demo\n  VERSION 1.2.3\n  LANGUAGES C)\nset(X \"project(y VERSION 9.9.9)\")\n";
  auto m = set_version(VersionFile::kCMakeLists, cmake, v("1.3.0"));
  REQUIRE(m.error.empty());
  CHECK(m.old_version == "1.2.3");
  CHECK(m.text == "cmake_minimum_required(VERSION 3.20)\n# project(old VERSION 0.0.1)\n"
                  "project(demo\n  VERSION 1.3.0\n  LANGUAGES C)\nset(X \"project(y VERSION 9.9.9)\")\n");
  CHECK(set_version(VersionFile::kCMakeLists, "PROJECT(x VERSION \"2.0.0\")\n", v("2.1.0")).text ==
        "PROJECT(x VERSION \"2.1.0\")\n");
  CHECK(set_version(VersionFile::kCMakeLists, "project(x LANGUAGES C)\n", v("1.0.0")).error.find("no VERSION") !=
        std::string::npos);
  CHECK(set_version(VersionFile::kCMakeLists, "add_library(x a.c)\n", v("1.0.0")).error == "no project() call");

  auto plain = set_version(VersionFile::kPlain, "1.2.3\n", v("1.3.0"));
  CHECK(plain.text == "1.3.0\n");
  CHECK(plain.old_version == "1.2.3");
}

namespace {

// A repository with a release tag and the given commits after it.
void repo(const TempDir& ws, const std::string& tag, const std::vector<std::string>& subjects, const std::string& with) {
  write_file(ws / "wrt.toml", "[stages.release]\nplugin = \"release\"\nwith = { " + with + " }\n");
  write_file(ws / ".gitignore", ".wrt/\nreport.json\n");
  write_file(ws / "src/a.c", "int a;\n");
  git(ws, {"init", "-q", "-b", "main"});
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "feat: the beginning"});
  if (!tag.empty()) git(ws, {"tag", "-a", tag, "-m", tag});
  int i = 0;
  for (const auto& s : subjects) {
    write_file(ws / "src/a.c", "int a" + std::to_string(++i) + ";\n");
    git(ws, {"commit", "-q", "-am", s});
  }
}

nlohmann::json run_release(const TempDir& ws, int expect_exit = 0) {
  auto r = run_wrt({"run", "--report", (ws / "report.json").string()}, ws.path(), kEnv);
  INFO(r.out << r.err);
  CHECK(r.exit_code == expect_exit);
  return report_stage(read_json(ws / "report.json"), "release");
}

}  // namespace

TEST_CASE("release: e2e dry run - 1.3.0 from feat and fix after v1.2.3, changelog preview, nothing changed",
          "[release][e2e]") {
  TempDir ws;
  repo(ws, "v1.2.3", {"feat(cli): add --json", "fix: crash on empty input", "docs: typo"}, "");
  const std::string head = git(ws, {"rev-parse", "HEAD"});
  auto st = run_release(ws);
  CHECK(st["status"] == "passed");
  CHECK(st["message"] == "release 1.3.0 (minor since v1.2.3); dry run: nothing written, no tag");
  CHECK(st["metrics"]["release.major"] == 1);
  CHECK(st["metrics"]["release.minor"] == 3);
  CHECK(st["metrics"]["release.patch"] == 0);
  CHECK(st["metrics"]["release.bump"] == 2);
  CHECK(st["metrics"]["release.commits"] == 3);
  const std::string preview = read_file(ws / ".wrt/release/release.md");
  CHECK(preview.find("## [1.3.0] - 2023-11-14\n") == 0);
  CHECK(preview.find("### Added\n\n- **cli:** add --json (") != std::string::npos);
  CHECK(preview.find("### Fixed\n\n- crash on empty input (") != std::string::npos);
  CHECK(preview.find("typo") == std::string::npos);
  bool listed = false;
  for (const auto& a : st["artifacts"]) listed = listed || a["path"] == ".wrt/release/release.md";
  CHECK(listed);
  // Nothing changed in git or in the workspace.
  CHECK(git(ws, {"status", "--porcelain"}).empty());
  CHECK(git(ws, {"tag", "--list", "v1.3.0"}).empty());
  CHECK(git(ws, {"rev-parse", "HEAD"}) == head);
  CHECK_FALSE(fs::exists(ws / "CHANGELOG.md"));
  // Never cached: it runs again.
  st = run_release(ws);
  CHECK(st["status"] == "passed");
}

TEST_CASE("release: e2e bumps - feat! is 2.0.0, a fix 1.2.4, the 0.x rules, the first release", "[release][e2e]") {
  {
    TempDir ws;
    repo(ws, "v1.2.3", {"fix: a", "feat!: drop the old flag"}, "");
    CHECK(run_release(ws)["message"] == "release 2.0.0 (major since v1.2.3); dry run: nothing written, no tag");
  }
  {
    TempDir ws;
    repo(ws, "v1.2.3", {"fix: a"}, "");
    CHECK(run_release(ws)["message"] == "release 1.2.4 (patch since v1.2.3); dry run: nothing written, no tag");
  }
  {
    TempDir ws;
    repo(ws, "v0.3.3", {"feat: a"}, "");
    CHECK(run_release(ws)["message"] == "release 0.3.4 (patch since v0.3.3); dry run: nothing written, no tag");
    git(ws, {"commit", "-q", "--allow-empty", "-m", "fix!: stricter", "-m", "BREAKING CHANGE: rejects tabs"});
    CHECK(run_release(ws)["message"] == "release 0.4.0 (minor since v0.3.3); dry run: nothing written, no tag");
  }
  {
    TempDir ws;
    repo(ws, "v0.3.3", {"feat: a"}, "features_always_bump_minor = true");
    CHECK(run_release(ws)["message"] == "release 0.4.0 (minor since v0.3.3); dry run: nothing written, no tag");
  }
  {
    // A pre-release tag is not the last release; a tag that is not a version is an error.
    TempDir ws;
    repo(ws, "v1.2.3", {"feat: a"}, "");
    git(ws, {"tag", "-a", "v1.3.0-rc.1", "-m", "rc"});
    git(ws, {"commit", "-q", "--allow-empty", "-m", "fix: b"});
    CHECK(run_release(ws)["message"] == "release 1.3.0 (minor since v1.2.3); dry run: nothing written, no tag");
    git(ws, {"tag", "-a", "v2", "-m", "not semver"});
    auto st = run_release(ws, 1);
    CHECK(st["status"] == "failed");  // a stage error is reported as failed, with the error message
    CHECK(st["message"] == "the last release tag v2 is not vMAJOR.MINOR.PATCH");
  }
  {
    TempDir ws;
    repo(ws, "", {"fix: a"}, "");
    CHECK(run_release(ws)["message"] == "release 0.1.0 (first release); dry run: nothing written, no tag");
    write_file(ws / "wrt.toml", "[stages.release]\nplugin = \"release\"\nwith = { initial = \"1.0.0\" }\n");
    CHECK(run_release(ws)["message"] == "release 1.0.0 (first release); dry run: nothing written, no tag");
  }
}

TEST_CASE("release: e2e for real - version files, CHANGELOG.md, release commit, annotated local tag", "[release][e2e]") {
  TempDir ws;
  repo(ws, "", {}, "");
  write_file(ws / "Cargo.toml", "[package]\nname = \"demo\"\nversion = \"1.2.3\"\nedition = \"2021\"\n");
  write_file(ws / "CMakeLists.txt", "cmake_minimum_required(VERSION 3.20)\nproject(demo VERSION 1.2.3 LANGUAGES C)\n");
  write_file(ws / "VERSION", "1.2.3\n");
  write_file(ws / "wrt.toml", "[stages.release]\nplugin = \"release\"\n"
                              "with = { dry_run = false, version_files = [\"Cargo.toml\", \"CMakeLists.txt\", \"VERSION\"] }\n");
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "chore: version files"});
  git(ws, {"tag", "-a", "v1.2.3", "-m", "v1.2.3"});
  write_file(ws / "src/a.c", "int parse;\n");
  git(ws, {"commit", "-q", "-am", "feat(parser): parse tabs"});
  write_file(ws / "src/a.c", "int parse = 1;\n");
  git(ws, {"commit", "-q", "-am", "fix: off-by-one in the parser"});

  // Uncommitted changes: refused, nothing written.
  write_file(ws / "src/a.c", "int dirty;\n");
  auto st = run_release(ws, 1);
  CHECK(st["status"] == "failed");
  CHECK(st["message"].get<std::string>().find("cannot release v1.3.0: the working tree has uncommitted changes") == 0);
  CHECK(read_file(ws / "VERSION") == "1.2.3\n");
  CHECK(git(ws, {"tag", "--list", "v1.3.0"}).empty());
  git(ws, {"checkout", "--", "src/a.c"});

  st = run_release(ws);
  CHECK(st["status"] == "passed");
  CHECK(st["message"].get<std::string>().find("released v1.3.0 (minor since v1.2.3): commit ") == 0);
  CHECK(read_file(ws / "VERSION") == "1.3.0\n");
  CHECK(read_file(ws / "Cargo.toml") == "[package]\nname = \"demo\"\nversion = \"1.3.0\"\nedition = \"2021\"\n");
  CHECK(read_file(ws / "CMakeLists.txt") ==
        "cmake_minimum_required(VERSION 3.20)\nproject(demo VERSION 1.3.0 LANGUAGES C)\n");
  const std::string changelog = read_file(ws / "CHANGELOG.md");
  CHECK(changelog.find("# Changelog\n\nAll notable changes to this project will be documented in this file.") == 0);
  CHECK(changelog.find("Keep a Changelog") != std::string::npos);
  CHECK(changelog.find("## [1.3.0] - 2023-11-14\n\n### Added\n\n- **parser:** parse tabs (") != std::string::npos);
  CHECK(changelog.find("### Fixed\n\n- off-by-one in the parser (") != std::string::npos);
  // The release commit, the annotated tag on it, a clean tree.
  CHECK(git(ws, {"log", "-1", "--format=%s"}) == "chore(release): v1.3.0");
  CHECK(git(ws, {"cat-file", "-t", "v1.3.0"}) == "tag");
  CHECK(git(ws, {"rev-parse", "v1.3.0^{commit}"}) == git(ws, {"rev-parse", "HEAD"}));
  CHECK(git(ws, {"tag", "-l", "--format=%(contents:subject)", "v1.3.0"}) == "Release v1.3.0");
  CHECK(git(ws, {"status", "--porcelain"}).empty());
  CHECK(git(ws, {"show", "--stat", "--format=", "HEAD"}).find("CHANGELOG.md") != std::string::npos);

  // Again: nothing to release (the tag is on HEAD), nothing changes.
  st = run_release(ws);
  CHECK(st["message"] == "nothing to release: no commits since v1.3.0");

  // The next release goes into the existing changelog, above 1.3.0.
  write_file(ws / "src/a.c", "int parse = 2;\n");
  git(ws, {"commit", "-q", "-am", "fix: another"});
  st = run_release(ws);
  CHECK(st["message"].get<std::string>().find("released v1.3.1") == 0);
  const std::string again = read_file(ws / "CHANGELOG.md");
  CHECK(again.find("## [1.3.1]") < again.find("## [1.3.0]"));
  CHECK(again.find("# Changelog") == 0);
}

TEST_CASE("release: bad configuration and unusable API verdicts", "[release][e2e]") {
  TempDir ws;
  repo(ws, "v1.2.3", {"fix: a"}, "");
  auto config_error = [&](const std::string& with, const std::string& expect) {
    write_file(ws / "wrt.toml", "[stages.release]\nplugin = \"release\"\nwith = { " + with + " }\n");
    auto r = run_wrt({"run"}, ws.path(), kEnv);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(expect) != std::string::npos);
  };
  config_error("dryrun = false", "with.dryrun: unknown key (did you mean 'dry_run'?)");
  config_error("version_files = [\"package.json\"]", "with.version_files: package.json is not a file type");
  config_error("initial = \"one\"", "with.initial must be a version");
  config_error("dry_run = \"no\"", "with.dry_run must be true or false");

  auto verdict = [&](const std::string& json, const std::string& expect) {
    write_file(ws / "api.json", json);
    write_file(ws / "wrt.toml", "[stages.release]\nplugin = \"release\"\nwith = { api_verdict = \"api.json\" }\n");
    auto st = run_release(ws, 1);
    CHECK(st["status"] == "failed");  // a stage error is reported as failed, with the error message
    CHECK(st["message"].get<std::string>().find(expect) != std::string::npos);
  };
  verdict(R"({"schema": "wrt.api-stability/1", "verdict": "error", "summary": "abidiff failed"})", "is \"error\"");
  verdict(R"({"verdict": "none"})", "is not an api-stability report");
  verdict("not json", "is not JSON");
  write_file(ws / "lib.so", "new bytes");
  verdict(R"({"schema": "wrt.api-stability/1", "verdict": "none", "library": "lib.so", "library_sha256": "00"})",
          "is about another build of lib.so");
  fs::remove(ws / "api.json");
  auto st = run_release(ws, 1);
  CHECK(st["message"].get<std::string>().find("does not exist") != std::string::npos);
  // A usable verdict: minor raises the fix to 1.3.0.
  write_file(ws / "api.json", R"({"schema": "wrt.api-stability/1", "verdict": "minor"})");
  CHECK(run_release(ws)["message"] == "release 1.3.0 (minor since v1.2.3, api minor); dry run: nothing written, no tag");
}
