// The `release` plugin: the next version from the conventional commits since
// the last release tag, a Keep a Changelog section, the version written into
// the project's files, a release commit and an annotated local tag.
//
//   with = { dry_run = true,                 # default: compute and preview only
//            initial = "0.1.0",              # the first release when there is no tag
//            tag_prefix = "v",
//            changelog = "CHANGELOG.md",
//            version_files = ["Cargo.toml", "CMakeLists.txt", "VERSION"],
//            api_verdict = ".wrt/api-stability/api.json",   # the api-stability report
//            features_always_bump_minor = false,            # git-cliff's [bump] options
//            breaking_always_bump_major = false,
//            preview = ".wrt/release/STAGE.md" }
//
// The last release is `git describe --tags --abbrev=0 --match 'v[0-9]*'`
// with pre-release tags (containing '-') left out; the commits are
// `git log LAST..HEAD`. The bump follows git-cliff's defaults (see
// release_logic.h), raised to at least what the API verdict demands. With
// dry_run (the default) nothing in the workspace or in git changes: the
// version goes to the message and metrics, the changelog section to the
// preview file. Otherwise the changelog and version files are written,
// committed as "chore(release): vX.Y.Z" and tagged with an annotated tag
// vX.Y.Z -- locally: the plugin never pushes and needs no network. Never
// cached (ABI 1.4): it depends on git history and creates tags.
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <wrt/plugin.hpp>

#include "plugins/common/digest.h"
#include "plugins/common/git.h"
#include "plugins/common/tool.h"
#include "plugins/release/release_logic.h"

namespace fs = std::filesystem;
using namespace wrt::plugins::release;
using wrt::sdk::Stage;

namespace {

struct Config {
  bool dry_run = true;
  Version initial;
  std::string tag_prefix = "v";
  std::string changelog = "CHANGELOG.md";
  std::vector<std::string> version_files;
  std::string api_verdict;
  BumpRules rules;
  std::string preview;
};

std::string file_stem(const std::string& stage) {
  std::string out;
  for (char c : stage) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return out;
}

Config parse(const Stage& s) {
  s.check_keys({"dry_run", "initial", "tag_prefix", "changelog", "version_files", "api_verdict",
                "features_always_bump_minor", "breaking_always_bump_major", "preview"});
  Config c;
  c.dry_run = s.boolean("dry_run").value_or(true);
  const std::string initial = s.string("initial").value_or("0.1.0");
  auto v = parse_version(initial);
  if (!v || !v->pre.empty()) throw std::runtime_error("with.initial must be a version such as \"0.1.0\"");
  c.initial = *v;
  c.tag_prefix = s.string("tag_prefix").value_or("v");
  for (char ch : c.tag_prefix)
    if (ch == '*' || ch == '?' || ch == '[' || std::isspace(static_cast<unsigned char>(ch)))
      throw std::runtime_error("with.tag_prefix must be plain text such as \"v\"");
  c.changelog = s.string("changelog").value_or("CHANGELOG.md");
  c.version_files = s.strings("version_files").value_or(std::vector<std::string>{});
  for (const auto& f : c.version_files)
    if (!version_file_kind(f))
      throw std::runtime_error("with.version_files: " + f +
                               " is not a file type the release plugin can update (Cargo.toml, CMakeLists.txt, VERSION)");
  c.api_verdict = s.string("api_verdict").value_or("");
  c.rules.features_always_bump_minor = s.boolean("features_always_bump_minor").value_or(false);
  c.rules.breaking_always_bump_major = s.boolean("breaking_always_bump_major").value_or(false);
  c.preview = s.string("preview").value_or(".wrt/release/" + file_stem(s.name()) + ".md");
  if (c.preview.empty()) throw std::runtime_error("with.preview must name a file");
  return c;
}

fs::path in_workspace(const Stage& s, const std::string& p) {
  return fs::path(p).is_absolute() ? fs::path(p) : fs::path(s.workspace()) / p;
}

wrt::plugins::GitResult git(const Stage& s, const std::vector<std::string>& args) { return wrt::plugins::run_git(s, args); }

std::optional<std::string> read_optional(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_atomically(const fs::path& path, const std::string& text) { wrt::plugins::write_file_atomically(path.string(), text); }

std::string sha256_file(const fs::path& path) { return wrt::plugins::sha256_file(path.string()); }

// The release date: SOURCE_DATE_EPOCH when set (reproducible builds), else today (UTC).
std::string release_date() {
  std::time_t t = std::time(nullptr);
  if (const char* e = std::getenv("SOURCE_DATE_EPOCH"); e && *e) t = static_cast<std::time_t>(std::strtoll(e, nullptr, 10));
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

// The API verdict's demand: {breaking, feature}. Throws (fail closed) when
// the report is missing, unreadable, says error/skipped, or describes a
// library whose bytes have changed since.
std::pair<bool, bool> api_demand(const Stage& s, const Config& c, std::string* verdict_out) {
  const fs::path p = in_workspace(s, c.api_verdict);
  auto text = read_optional(p);
  if (!text)
    throw std::runtime_error("with.api_verdict: " + c.api_verdict +
                             " does not exist (run the api-stability stage first: add it to `needs`)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    throw std::runtime_error("with.api_verdict: " + c.api_verdict + " is not JSON: " + e.what());
  }
  if (!j.is_object() || j.value("schema", "") != "wrt.api-stability/1" || !j.contains("verdict") || !j["verdict"].is_string())
    throw std::runtime_error("with.api_verdict: " + c.api_verdict + " is not an api-stability report (wrt.api-stability/1)");
  const std::string verdict = j["verdict"];
  *verdict_out = verdict;
  if (j.contains("library") && j["library"].is_string() && j.contains("library_sha256") && j["library_sha256"].is_string()) {
    const std::string lib = j["library"];
    if (sha256_file(in_workspace(s, lib)) != j["library_sha256"].get<std::string>())
      throw std::runtime_error("the API verdict in " + c.api_verdict + " is about another build of " + lib +
                               " (its bytes changed since): re-run the api-stability stage");
  }
  if (verdict == "none") return {false, false};
  if (verdict == "minor") return {false, true};
  if (verdict == "major" || verdict == "needs-review") return {true, false};
  throw std::runtime_error("the API verdict in " + c.api_verdict + " is \"" + verdict + "\" (" + j.value("summary", "") +
                           "): the release cannot be checked against the API");
}

std::vector<Commit> commits_since(const Stage& s, const std::string& range) {
  wrt::plugins::TempReportFile log("release", ".log");
  auto g = git(s, {"-c", "log.showSignature=false", "log", "--no-color", "--format=%H%x1f%s%x1f%b%x1e",
                   "--output=" + log.path(), range});
  if (!g.ok) throw std::runtime_error("git log " + range + " failed: " + g.out);
  const std::string text = wrt::plugins::read_text_file(log.path());
  std::vector<Commit> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\x1e', start);
    if (end == std::string::npos) end = text.size();
    std::string rec = text.substr(start, end - start);
    start = end + 1;
    while (!rec.empty() && (rec.front() == '\n' || rec.front() == '\r')) rec.erase(rec.begin());
    if (rec.empty()) continue;
    std::size_t a = rec.find('\x1f');
    std::size_t b = a == std::string::npos ? std::string::npos : rec.find('\x1f', a + 1);
    if (b == std::string::npos) throw std::runtime_error("unexpected git log output");
    out.push_back(parse_commit(rec.substr(0, a), rec.substr(a + 1, b - a - 1), rec.substr(b + 1)));
  }
  return out;
}

struct Change {
  fs::path path;
  std::string rel;
  std::optional<std::string> before;  // nullopt: the file is new
  std::string after;
};

wrt_status fingerprint(const Stage& s) {
  parse(s);
  if (!wrt::plugins::find_program("git")) throw std::runtime_error(wrt::plugins::missing_tool_message("git", "git"));
  if (!s.never_cache()) {
    s.message("this wrt cannot keep a stage out of the cache (ABI 1.4 needed): a release must never be replayed");
    return WRT_STATUS_ERROR;
  }
  return WRT_STATUS_PASSED;
}

wrt_status run(const Stage& s) {
  const Config c = parse(s);
  if (!git(s, {"rev-parse", "--verify", "-q", "HEAD"}).ok) {
    s.message("nothing to release: the repository has no commit");
    return WRT_STATUS_ERROR;
  }

  // The last release and the commits since.
  auto last = git(s, {"describe", "--tags", "--abbrev=0", "--match", c.tag_prefix + "[0-9]*", "--exclude", "*-*", "HEAD"});
  std::optional<Version> current;
  std::string last_tag;
  if (last.ok) {
    last_tag = last.out;
    current = parse_version(std::string_view(last_tag).substr(c.tag_prefix.size()));
    if (!current) {
      s.message("the last release tag " + last_tag + " is not " + c.tag_prefix + "MAJOR.MINOR.PATCH");
      return WRT_STATUS_ERROR;
    }
  }
  const std::vector<Commit> commits = commits_since(s, last.ok ? last_tag + "..HEAD" : "HEAD");

  std::string api_verdict;
  std::pair<bool, bool> demand{false, false};
  if (!c.api_verdict.empty()) demand = api_demand(s, c, &api_verdict);

  Version next;
  Bump bump = Bump::kNone;
  if (!current) {
    next = c.initial;
  } else {
    bump = compute_bump(*current, commits, c.rules, demand.first, demand.second);
    if (bump == Bump::kNone) {
      s.metric("release.bump", 0);
      s.metric("release.commits", 0);
      s.message("nothing to release: no commits since " + last_tag);
      return WRT_STATUS_PASSED;
    }
    next = apply_bump(*current, bump);
  }
  const std::string tag = c.tag_prefix + next.to_string();
  const std::string why = current ? std::string(bump_name(bump)) + " since " + last_tag : "first release";

  // The changelog section and the files' new contents.
  const std::string section = render_section(next, release_date(), commits);
  std::vector<Change> changes;
  if (!c.changelog.empty()) {
    Change ch;
    ch.path = in_workspace(s, c.changelog);
    ch.rel = c.changelog;
    ch.before = read_optional(ch.path);
    TextEdit e = insert_section(ch.before.value_or(""), section, next);
    if (!e.error.empty()) {
      s.message(c.changelog + ": " + e.error);
      return WRT_STATUS_ERROR;
    }
    ch.after = e.text;
    changes.push_back(ch);
  }
  for (const auto& f : c.version_files) {
    Change ch;
    ch.path = in_workspace(s, f);
    ch.rel = f;
    ch.before = read_optional(ch.path);
    const VersionFile kind = *version_file_kind(f);
    if (!ch.before && kind != VersionFile::kPlain) {
      s.message("with.version_files: " + f + " does not exist");
      return WRT_STATUS_ERROR;
    }
    TextEdit e = set_version(kind, ch.before.value_or(""), next);
    if (!e.error.empty()) {
      s.message(f + ": " + e.error);
      return WRT_STATUS_ERROR;
    }
    ch.after = e.text;
    changes.push_back(ch);
  }

  const fs::path preview = in_workspace(s, c.preview);
  write_atomically(preview, section);
  s.artifact(wrt::plugins::workspace_relative(preview.string(), s.workspace()), "changelog-preview");
  s.metric("release.major", static_cast<double>(next.major));
  s.metric("release.minor", static_cast<double>(next.minor));
  s.metric("release.patch", static_cast<double>(next.patch));
  s.metric("release.bump", static_cast<double>(static_cast<int>(bump)));
  s.metric("release.commits", static_cast<double>(commits.size()));
  std::string api_note = api_verdict.empty() ? "" : ", api " + api_verdict;

  if (c.dry_run) {
    s.log(WRT_LOG_INFO, "release " + next.to_string() + " (dry run); the changelog section:\n" + section);
    s.message("release " + next.to_string() + " (" + why + api_note + "); dry run: nothing written, no tag");
    return WRT_STATUS_PASSED;
  }

  // For real: a clean tree, a new tag, then the files, a commit and the tag.
  if (git(s, {"rev-parse", "--verify", "-q", "refs/tags/" + tag}).ok) {
    s.message("the tag " + tag + " already exists");
    return WRT_STATUS_FAILED;
  }
  auto status = git(s, {"status", "--porcelain", "--untracked-files=no"});
  if (!status.ok || !status.out.empty()) {
    s.message("cannot release " + tag + ": the working tree has uncommitted changes (" +
              (status.ok ? status.out.substr(0, status.out.find('\n')) : status.out) + ")");
    return WRT_STATUS_FAILED;
  }
  auto restore = [&] {
    for (const auto& ch : changes) {
      std::error_code ec;
      if (ch.before) write_atomically(ch.path, *ch.before);
      else fs::remove(ch.path, ec);
    }
    std::vector<std::string> reset = {"reset", "-q", "--"};
    for (const auto& ch : changes) reset.push_back(ch.rel);
    git(s, reset);
  };
  for (const auto& ch : changes) write_atomically(ch.path, ch.after);
  std::vector<std::string> add = {"add", "--"};
  for (const auto& ch : changes) add.push_back(ch.rel);
  if (!changes.empty()) {
    auto a = git(s, add);
    if (!a.ok) {
      restore();
      s.message("git add failed: " + a.out);
      return WRT_STATUS_ERROR;
    }
    auto commit = git(s, {"commit", "-q", "-m", "chore(release): " + tag});
    if (!commit.ok) {
      restore();
      s.message("git commit failed, nothing released: " + commit.out);
      return WRT_STATUS_ERROR;
    }
  }
  auto t = git(s, {"tag", "-a", tag, "-m", "Release " + tag + "\n\n" + section});
  if (!t.ok) {
    s.message("the release commit was made but git tag failed: " + t.out);
    return WRT_STATUS_ERROR;
  }
  const std::string head = git(s, {"rev-parse", "--short", "HEAD"}).out;
  s.message("released " + tag + " (" + why + api_note + "): commit " + head +
            ", annotated tag " + tag + " (local; push it yourself)");
  return WRT_STATUS_PASSED;
}

const wrt_plugin kRelease = wrt::sdk::make_plugin<run, fingerprint>(
    "release", "1.0.0", "Next version from conventional commits, Keep a Changelog section, version files, annotated tag");

}  // namespace

WRT_SDK_PLUGIN_ENTRY(&kRelease)
