// The release plugin's pure logic: semantic versions, conventional commits,
// the next version (git-cliff's default rules), the Keep a Changelog
// section, and writing a version into Cargo.toml / CMakeLists.txt / VERSION.
// Only the standard library; unit-tested directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wrt::plugins::release {

struct Version {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::string pre;  // "rc.1" for 1.3.0-rc.1; build metadata is dropped
  std::string to_string() const;
  bool operator==(const Version& o) const {
    return major == o.major && minor == o.minor && patch == o.patch && pre == o.pre;
  }
};

// "1.2.3", "1.2.3-rc.1", "1.2.3+build" (no leading "v"; no leading zeros).
std::optional<Version> parse_version(std::string_view text);

struct Commit {
  std::string hash;         // full or abbreviated
  std::string subject;      // first line
  std::string body;         // the rest (footers included)
  bool conventional = false;
  std::string type;         // "feat", lower-cased; "" when not conventional
  std::string scope;        // "parser" in feat(parser): ...
  std::string description;  // after ": "
  bool breaking = false;    // "type!:" or a BREAKING CHANGE / BREAKING-CHANGE footer
  std::string breaking_note;  // the footer's text, if any
};

// Parses a Conventional Commits 1.0 subject ("type(scope)!: description")
// and the BREAKING CHANGE footer of the body.
Commit parse_commit(std::string hash, std::string subject, std::string body);

enum class Bump { kNone, kPatch, kMinor, kMajor };
const char* bump_name(Bump b);  // "none", "patch", "minor", "major"

// git-cliff's [bump] options (both false by default there and here).
struct BumpRules {
  bool features_always_bump_minor = false;
  bool breaking_always_bump_major = false;
};

// What the commits since the last release ask for, as git-cliff computes it
// with its default rules (the next_version crate):
//  * no commits: no bump;
//  * 1.x and later: breaking -> major, feat -> minor, anything else
//    (fix, perf, chore, non-conventional) -> patch;
//  * 0.y.z with y > 0: breaking -> minor, feat -> patch, anything else -> patch;
//  * 0.0.z: always patch.
// `api_breaking` / `api_feature` add what the API-stability verdict demands
// (major counts as a breaking change, minor as a feature), so the result is
// at least that bump under the same rules.
Bump compute_bump(const Version& current, const std::vector<Commit>& commits, const BumpRules& rules,
                  bool api_breaking = false, bool api_feature = false);
Version apply_bump(const Version& v, Bump b);

// The Keep a Changelog section for a release:
//   ## [1.3.0] - 2024-05-01
//   ### Added        feat
//   ### Changed      perf, refactor, revert
//   ### Deprecated   deprecate
//   ### Removed      feat/refactor whose description starts with "remove"/"drop"/"delete"; type "remove"
//   ### Fixed        fix
//   ### Security     security, fix(security)
// Breaking changes are marked "**BREAKING:**" (with the footer's note).
// Other types (docs, chore, test, ci, build, style) and non-conventional
// commits are left out. Entries are "- **scope:** description (abc1234)",
// newest first as given. Ends with a blank line.
std::string render_section(const Version& v, const std::string& date, const std::vector<Commit>& commits);

extern const char* const kChangelogHeader;

// `existing` with `section` inserted after the header and an
// "## [Unreleased]" section, before the first release section; the
// standard header when `existing` is empty. Error when the changelog already
// has a section for this version.
struct TextEdit {
  std::string text;
  std::string error;  // non-empty: nothing to write
  std::string old_version;  // for version files: what was there
};
TextEdit insert_section(const std::string& existing, const std::string& section, const Version& v);

enum class VersionFile { kCargoToml, kCMakeLists, kPlain };
// By file name: Cargo.toml, CMakeLists.txt, VERSION; nullopt for others.
std::optional<VersionFile> version_file_kind(const std::string& path);

// The content with its version replaced:
//  * Cargo.toml: `version = "..."` of [package] (and of [workspace.package]);
//    an inherited `version.workspace = true` is an error naming it;
//  * CMakeLists.txt: the VERSION argument of the first project() call;
//  * VERSION: the whole file, "1.3.0\n".
TextEdit set_version(VersionFile kind, const std::string& content, const Version& v);

}  // namespace wrt::plugins::release
