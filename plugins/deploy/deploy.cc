// The `deploy` plugin: puts a release -- the artifacts matched by
// `artifacts` globs, or the exact release last deployed to another
// environment (`promote_from`) -- into a target directory and records it in
// the target's hash-chained ledger (ledger.h). Never cached (ABI 1.4
// never_cache): a cached "deployed" would claim a deployment that did not
// happen. Deploying the release an environment already has is a no-op,
// reported, with no new ledger entry.
//
//   with = { environment = "staging", artifacts = ["out/*.tar.gz"],
//            target = "/srv/releases",          # directory (the registry)
//            promote_from = "staging",          # instead of artifacts
//            command = ["./push.sh"] }          # optional hook, run after
//
// Target layout: blobs/sha256/HEX (content-addressed artifacts, kept for
// promotion), ENVIRONMENT/NAME (what is deployed now), deployments.jsonl.
// The hook gets WRT_DEPLOY_ENVIRONMENT, WRT_DEPLOY_RELEASE, WRT_DEPLOY_DIR
// and WRT_DEPLOY_ARTIFACTS (paths, one per line); if it fails, the
// deployment fails and is not recorded.
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <wrt/plugin.hpp>

#include "plugins/common/workspace_glob.h"
#include "plugins/deploy/ledger.h"

namespace fs = std::filesystem;
using wrt::deploy::Artifact;

namespace {

struct Config {
  std::string environment;
  std::vector<std::string> artifacts;
  std::string promote_from;
  fs::path target;
  std::vector<std::string> command;
};

bool valid_environment(const std::string& e) {
  if (e.empty() || e == "blobs" || e[0] == '.') return false;
  for (char c : e)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

Config parse(const wrt::sdk::Stage& s) {
  s.check_keys({"environment", "artifacts", "promote_from", "target", "command"});
  Config c;
  c.environment = s.string("environment").value_or("");
  if (!valid_environment(c.environment))
    throw std::runtime_error("with.environment must name the environment (letters, digits, '-', '_', '.'), e.g. \"staging\"");
  c.artifacts = s.strings("artifacts").value_or(std::vector<std::string>{});
  c.promote_from = s.string("promote_from").value_or("");
  if (c.artifacts.empty() == c.promote_from.empty())
    throw std::runtime_error("set either with.artifacts (globs) or with.promote_from (an environment), not both");
  if (!c.promote_from.empty() && !valid_environment(c.promote_from))
    throw std::runtime_error("with.promote_from must name an environment");
  auto target = s.string("target");
  if (!target || target->empty()) throw std::runtime_error("with.target must name the deployment directory");
  c.target = fs::path(*target).is_absolute() ? fs::path(*target) : fs::path(s.workspace()) / *target;
  if (auto cmd = s.strings("command")) c.command = *cmd;
  else if (auto line = s.string("command")) c.command = {"/bin/sh", "-c", *line};
  return c;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string who() {
  const char* user = std::getenv("GITHUB_ACTOR");
  if (!user) user = std::getenv("USER");
  std::string u = user ? user : "";
  if (u.empty())
    if (passwd* pw = ::getpwuid(::getuid())) u = pw->pw_name;
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  return u + "@" + host;
}

std::string git(const wrt::sdk::Stage& s, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", s.workspace()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = s.spawn(argv, {}, {}, true);
  if (!r.started || r.exit_code != 0) return {};
  std::string out = r.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.find('\n') == std::string::npos ? out : std::string();
}

// Copies `from` to `to` through a temporary file and a rename.
void put_file(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  const fs::path tmp = to.parent_path() / (".tmp-" + to.filename().string() + "-" + std::to_string(::getpid()));
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, to);
}

struct TargetLock {
  int fd = -1;
  explicit TargetLock(const fs::path& dir) {
    fd = ::open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) ::flock(fd, LOCK_EX);
  }
  ~TargetLock() {
    if (fd >= 0) ::close(fd);
  }
};

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse(s);
    if (!s.never_cache()) {
      s.message("this wrt cannot keep a stage out of the cache (ABI 1.4 needed): a deploy must never be replayed");
      return WRT_STATUS_ERROR;
    }
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    const Config c = parse(s);
    fs::create_directories(c.target / "blobs" / "sha256");
    TargetLock lock(c.target);
    const std::string ledger_path = (c.target / "deployments.jsonl").string();
    wrt::deploy::Ledger ledger = wrt::deploy::read_ledger(ledger_path);
    if (!ledger.error.empty()) {
      s.message(ledger_path + ": " + ledger.error + "; nothing deployed");
      return WRT_STATUS_FAILED;
    }

    // What to deploy: files from the workspace, or another environment's release.
    std::vector<Artifact> artifacts;
    std::vector<fs::path> sources;
    std::string action = "deploy";
    if (!c.promote_from.empty()) {
      const nlohmann::json* from = wrt::deploy::latest_for(ledger, c.promote_from);
      if (!from) {
        s.message("nothing to promote: " + c.promote_from + " has no deployment in " + ledger_path);
        return WRT_STATUS_FAILED;
      }
      for (const auto& a : (*from)["artifacts"]) {
        Artifact art{a.value("name", ""), a.value("sha256", ""), a.value("size", std::uint64_t{0})};
        const fs::path blob = c.target / "blobs" / "sha256" / art.sha256;
        // The stored bytes must still be the ones deployed then.
        if (wrt::deploy::sha256_file(blob.string()) != art.sha256) {
          s.message("cannot promote: " + blob.string() + " is missing or altered");
          return WRT_STATUS_FAILED;
        }
        artifacts.push_back(art);
        sources.push_back(blob);
      }
      action = "promote";
    } else {
      for (const auto& rel : wrt::plugins::expand_globs(s.workspace(), c.artifacts)) {
        Artifact art;
        art.name = fs::path(rel).filename().string();
        const fs::path abs = fs::path(s.workspace()) / rel;
        art.sha256 = wrt::deploy::sha256_file(abs.string(), &art.size);
        if (art.sha256.empty()) {
          s.message("cannot read " + rel);
          return WRT_STATUS_FAILED;
        }
        for (const auto& seen : artifacts)
          if (seen.name == art.name) {
            s.message("two artifacts named " + art.name + ": a deployment directory holds one of each name");
            return WRT_STATUS_FAILED;
          }
        artifacts.push_back(art);
        sources.push_back(abs);
      }
      if (artifacts.empty()) {
        s.message("no file matches with.artifacts; nothing deployed");
        return WRT_STATUS_FAILED;
      }
    }
    const std::string release = wrt::deploy::release_digest(artifacts);
    s.metric("deploy.artifacts", static_cast<double>(artifacts.size()));

    // Idempotent by digest: the release this environment already has.
    if (const nlohmann::json* now = wrt::deploy::latest_for(ledger, c.environment); now && (*now)["release"] == release) {
      s.metric("deploy.noop", 1);
      s.message("already deployed: " + release.substr(0, 19) + " is " + c.environment + "'s release (ledger #" +
                (*now)["seq"].dump() + "); nothing done");
      s.log(WRT_LOG_INFO, s.name() + ": no-op, " + c.environment + " already has " + release);
      return WRT_STATUS_PASSED;
    }

    // Blobs first (content-addressed), then the environment's directory.
    for (std::size_t i = 0; i < artifacts.size(); ++i) {
      const fs::path blob = c.target / "blobs" / "sha256" / artifacts[i].sha256;
      if (!fs::exists(blob)) put_file(sources[i], blob);
      if (wrt::deploy::sha256_file(blob.string()) != artifacts[i].sha256) {
        s.message(artifacts[i].name + " changed while it was being deployed; nothing recorded");
        return WRT_STATUS_FAILED;
      }
    }
    const fs::path env_dir = c.target / c.environment;
    const fs::path staged = c.target / (".staging-" + c.environment + "-" + std::to_string(::getpid()));
    fs::remove_all(staged);
    std::string paths;
    for (const auto& a : artifacts) {
      put_file(c.target / "blobs" / "sha256" / a.sha256, staged / a.name);
      paths += (env_dir / a.name).string() + "\n";
    }
    const fs::path old = c.target / (".old-" + c.environment + "-" + std::to_string(::getpid()));
    if (fs::exists(env_dir)) fs::rename(env_dir, old);
    fs::rename(staged, env_dir);
    fs::remove_all(old);

    if (!c.command.empty()) {
      auto r = s.spawn(c.command, {},
                       {"WRT_DEPLOY_ENVIRONMENT=" + c.environment, "WRT_DEPLOY_RELEASE=" + release,
                        "WRT_DEPLOY_DIR=" + env_dir.string(), "WRT_DEPLOY_ARTIFACTS=" + paths});
      if (!r.started || r.exit_code != 0 || r.term_signal || r.timed_out) {
        s.message("the deploy command failed (" + (r.started ? "exit code " + std::to_string(r.exit_code) : r.error) +
                  "); not recorded in the ledger");
        return WRT_STATUS_FAILED;
      }
    }

    nlohmann::json arts = nlohmann::json::array();
    for (const auto& a : artifacts) arts.push_back({{"name", a.name}, {"sha256", a.sha256}, {"size", a.size}});
    nlohmann::json entry = {{"environment", c.environment}, {"action", action}, {"release", release},
                            {"artifacts", arts},           {"commit", git(s, {"rev-parse", "HEAD"})},
                            {"branch", git(s, {"symbolic-ref", "--short", "-q", "HEAD"})},
                            {"stage", s.name()},     {"who", who()},
                            {"at", utc_now()}};
    if (!c.promote_from.empty()) entry["promoted_from"] = c.promote_from;
    if (!wrt::deploy::append_entry(ledger_path, ledger, entry)) {
      s.message("deployed, but the ledger " + ledger_path + " could not be written");
      return WRT_STATUS_FAILED;
    }
    s.artifact(ledger_path, "deployment-ledger");
    s.message((action == "promote" ? "promoted " + c.promote_from + "'s release " : "deployed release ") + release.substr(0, 19) +
              " to " + c.environment + " (" + std::to_string(artifacts.size()) + " artifact" + (artifacts.size() == 1 ? "" : "s") +
              ", ledger #" + std::to_string(ledger.entries.size()) + ")");
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kDeploy = {sizeof(wrt_plugin), "deploy", "1.0.0",
                            "Deploys or promotes a release into a directory, idempotent by digest, with a hash-chained ledger",
                            fingerprint, run, nullptr};
const wrt_plugin* const kPlugins[] = {&kDeploy};
const wrt_entry kEntry = {sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
