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
//            format = "directory" | "oci",      # oci.h: an OCI image layout
//            promote_from = "staging",          # instead of artifacts
//            evidence = "dist/evidence",        # a `wrt evidence` package, deployed too
//            evidence_keys = ["keys/ci.pub"],   # whose signatures it must carry
//            approvals = 2,                     # signed approvals needed (approvals.h)
//            approvers = { alice = "keys/alice.pub", bob = "keys/bob.pub" },
//            command = ["./push.sh"] }          # optional hook, run after
//
// Target layout: blobs/sha256/HEX (content-addressed artifacts, kept for
// promotion), ENVIRONMENT/NAME (what is deployed now; for "oci", a manifest
// tagged ENVIRONMENT in index.json instead), deployments.jsonl, approvals/.
// A release the safety gate over the stage's dependencies blocks is never
// deployed (run_context, ABI 1.5); the verdict is recorded in the ledger.
// The hook gets WRT_DEPLOY_ENVIRONMENT, WRT_DEPLOY_RELEASE, WRT_DEPLOY_DIR
// and WRT_DEPLOY_ARTIFACTS (paths, one per line); if it fails, the
// deployment fails and is not recorded.
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <wrt/plugin.hpp>

#include "plugins/common/git.h"
#include "plugins/common/workspace_glob.h"
#include "plugins/deploy/approvals.h"
#include "plugins/deploy/ledger.h"
#include "plugins/deploy/oci.h"

namespace fs = std::filesystem;
using wrt::deploy::Artifact;

namespace {

struct Config {
  std::string environment;
  std::vector<std::string> artifacts;
  std::string promote_from;
  fs::path target;
  std::string format = "directory";
  std::string evidence;                 // workspace-relative package directory
  std::vector<std::string> evidence_keys;
  int approvals = 0;
  std::vector<wrt::deploy::Approver> approvers;
  std::vector<std::string> command;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

bool valid_environment(const std::string& e) {
  if (e.empty() || e == "blobs" || e[0] == '.') return false;
  for (char c : e)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

Config parse(const wrt::sdk::Stage& s) {
  s.check_keys({"environment", "artifacts", "promote_from", "target", "format", "evidence", "evidence_keys", "approvals",
                "approvers", "command"});
  Config c;
  c.environment = s.string("environment").value_or("");
  if (!valid_environment(c.environment))
    throw std::runtime_error("with.environment must name the environment (letters, digits, '-', '_', '.'), e.g. \"staging\"");
  c.artifacts = s.strings("artifacts").value_or(std::vector<std::string>{});
  c.promote_from = s.string("promote_from").value_or("");
  c.evidence = s.string("evidence").value_or("");
  if (!c.artifacts.empty() && !c.promote_from.empty())
    throw std::runtime_error("set either with.artifacts (globs) or with.promote_from (an environment), not both");
  if (c.artifacts.empty() && c.promote_from.empty() && c.evidence.empty())
    throw std::runtime_error("set with.artifacts (globs), with.promote_from (an environment) or with.evidence (a package)");
  c.evidence_keys = s.strings("evidence_keys").value_or(std::vector<std::string>{});
  if (!c.evidence_keys.empty() && c.evidence.empty()) throw std::runtime_error("with.evidence_keys needs with.evidence");
  c.format = s.string("format").value_or("directory");
  if (c.format != "directory" && c.format != "oci")
    throw std::runtime_error("with.format must be \"directory\" or \"oci\", not \"" + c.format + "\"");
  c.approvals = static_cast<int>(s.integer("approvals").value_or(0));
  if (c.approvals < 0) throw std::runtime_error("with.approvals must be 0 or more");
  for (const auto& name : s.keys("approvers")) {
    auto path = s.string("approvers." + name);
    if (!path) throw std::runtime_error("with.approvers." + name + " must be the path of " + name + "'s Ed25519 public key (PEM)");
    const fs::path p = fs::path(*path).is_absolute() ? fs::path(*path) : fs::path(s.workspace()) / *path;
    std::string pem = read_text(p);
    if (pem.find("-----BEGIN PUBLIC KEY-----") == std::string::npos)
      throw std::runtime_error("with.approvers." + name + ": " + p.string() + " is not a PEM public key");
    c.approvers.push_back({name, pem});
  }
  if (c.approvals > static_cast<int>(c.approvers.size()))
    throw std::runtime_error("with.approvals = " + std::to_string(c.approvals) + " but with.approvers lists " +
                             std::to_string(c.approvers.size()) + ": the deployment could never be approved");
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

// Who asks for the deployment: the CI actor, else the local user.
std::string user() {
  std::string u;
  for (const char* var : {"GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER"})
    if (const char* v = std::getenv(var); u.empty() && v) u = v;
  if (u.empty())
    if (passwd* pw = ::getpwuid(::getuid())) u = pw->pw_name;
  return u;
}

std::string who() {
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  return user() + "@" + host;
}

// A `wrt evidence` package: every file its manifest lists re-hashed, its
// commit the one deployed, and (evidence_keys) both statements signed by
// each key. Appends the package's files to `artifacts` as evidence/PATH;
// returns the manifest's digest ("sha256:HEX"), or "" with `error` set.
std::string take_evidence(const Config& c, const wrt::sdk::Stage& s, const std::string& commit, std::vector<Artifact>& artifacts,
                          std::vector<fs::path>& sources, std::string& error) {
  const fs::path dir = fs::path(c.evidence).is_absolute() ? fs::path(c.evidence) : fs::path(s.workspace()) / c.evidence;
  const std::string manifest_text = read_text(dir / "manifest.json");
  auto manifest = nlohmann::json::parse(manifest_text, nullptr, false);
  if (manifest_text.empty() || manifest.is_discarded() || !manifest.is_object() || !manifest.contains("files") ||
      !manifest["files"].is_array()) {
    error = (dir / "manifest.json").string() + ": missing or not a wrt evidence manifest (make it with `wrt evidence --out " +
            c.evidence + "`)";
    return {};
  }
  const std::string pkg_commit = manifest.contains("commit") && manifest["commit"].is_string() ? manifest["commit"].get<std::string>() : "";
  if (pkg_commit != commit) {
    error = c.evidence + " is evidence for commit " + (pkg_commit.empty() ? "(none)" : pkg_commit.substr(0, 12)) + ", HEAD is " +
            (commit.empty() ? "(none)" : commit.substr(0, 12));
    return {};
  }
  std::vector<std::string> names = {"manifest.json"};
  for (const auto& f : manifest["files"]) {
    const std::string path = f.is_object() ? f.value("path", "") : "";
    const std::string digest = f.is_object() ? f.value("sha256", "") : "";
    if (path.empty() || path[0] == '/' || path.find("..") != std::string::npos) {
      error = (dir / "manifest.json").string() + ": a file entry without a plain relative path";
      return {};
    }
    if (wrt::deploy::sha256_file((dir / path).string()) != digest) {
      error = (dir / path).string() + ": missing or altered (its SHA-256 differs from the manifest's)";
      return {};
    }
    names.push_back(path);
  }
  for (const char* statement : {"provenance.dsse.json", "verification-summary.dsse.json"})
    if (std::find(names.begin(), names.end(), statement) == names.end()) names.push_back(statement);
  for (const auto& key_path : c.evidence_keys) {
    const fs::path kp = fs::path(key_path).is_absolute() ? fs::path(key_path) : fs::path(s.workspace()) / key_path;
    const std::string pem = read_text(kp);
    for (const char* statement : {"provenance.dsse.json", "verification-summary.dsse.json"}) {
      auto env = nlohmann::json::parse(read_text(dir / statement), nullptr, false);
      std::string payload;
      bool signed_by = false;
      if (env.is_object() && env.contains("payload") && env["payload"].is_string() && env.contains("signatures") &&
          env["signatures"].is_array() && wrt::deploy::base64_decode(env["payload"].get<std::string>(), payload))
        for (const auto& sig : env["signatures"]) {
          std::string raw;
          if (sig.is_object() && sig.contains("sig") && sig["sig"].is_string() &&
              wrt::deploy::base64_decode(sig["sig"].get<std::string>(), raw) &&
              wrt::deploy::ed25519_verify(pem, wrt::deploy::pae(env.value("payloadType", ""), payload), raw))
            signed_by = true;
        }
      if (!signed_by) {
        error = (dir / statement).string() + ": not signed by " + key_path;
        return {};
      }
    }
  }
  for (const auto& n : names) {
    Artifact a;
    a.name = "evidence/" + n;
    a.sha256 = wrt::deploy::sha256_file((dir / n).string(), &a.size);
    if (a.sha256.empty()) {
      error = (dir / n).string() + ": cannot read";
      return {};
    }
    artifacts.push_back(a);
    sources.push_back(dir / n);
  }
  return "sha256:" + wrt::deploy::sha256_hex(manifest_text);
}

// One line of git's output; "" when git failed or printed more.
std::string git(const wrt::sdk::Stage& s, const std::vector<std::string>& args) {
  auto g = wrt::plugins::run_git(s, args);
  return g.ok && g.out.find('\n') == std::string::npos ? g.out : std::string();
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

    // What this run knows: the gate over what the stage depends on.
    auto context = nlohmann::json::parse(s.run_context(), nullptr, false);
    if (!context.is_object()) {
      s.message("this wrt gives no run context (ABI 1.5 needed): a deploy must record the safety gate's verdict");
      return WRT_STATUS_ERROR;
    }
    const nlohmann::json gate = context.value("gate", nlohmann::json::object());
    const std::string run_id = context.value("run_id", "");
    if (gate.value("verdict", "") == "block") {
      s.message("the safety gate blocks this release (" + gate.value("why", "") + "); nothing deployed");
      return WRT_STATUS_FAILED;
    }
    const std::string commit = git(s, {"rev-parse", "HEAD"});

    // What to deploy: files from the workspace, or another environment's release.
    std::vector<Artifact> artifacts;
    std::vector<fs::path> sources;
    std::string action = "deploy";
    std::string promoted_manifest;  // oci: the manifest the other environment has, re-tagged as it is
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
      if (c.format == "oci" && from->contains("oci_manifest") && (*from)["oci_manifest"].is_string())
        promoted_manifest = (*from)["oci_manifest"].get<std::string>();
    } else if (!c.artifacts.empty()) {
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
    std::string evidence;
    if (!c.evidence.empty()) {
      std::string error;
      evidence = take_evidence(c, s, commit, artifacts, sources, error);
      if (evidence.empty()) {
        s.message("evidence: " + error + "; nothing deployed");
        return WRT_STATUS_FAILED;
      }
      s.metric("deploy.evidence_files", static_cast<double>(artifacts.size()));
    }
    const std::string release = wrt::deploy::release_digest(artifacts);
    s.metric("deploy.artifacts", static_cast<double>(artifacts.size()));

    // Idempotent by digest: the release this environment already has.
    // Its stored bytes are checked first: a damaged blob is deployed again
    // from the workspace (repaired), never reported as in place.
    std::string damaged;
    for (const auto& a : artifacts)
      if (damaged.empty() && wrt::deploy::sha256_file((c.target / "blobs" / "sha256" / a.sha256).string()) != a.sha256)
        damaged = a.name;
    const nlohmann::json* now = wrt::deploy::latest_for(ledger, c.environment);
    if (now && (*now)["release"] == release && !damaged.empty())
      s.log(WRT_LOG_WARNING, s.name() + ": " + c.environment + "'s " + damaged + " is missing or damaged in " +
                                 (c.target / "blobs" / "sha256").string() + "; deploying it again");
    if (now && (*now)["release"] == release && damaged.empty()) {
      s.metric("deploy.noop", 1);
      s.message("already deployed: " + release.substr(0, 19) + " is " + c.environment + "'s release (ledger #" +
                (*now)["seq"].dump() + "); nothing done");
      s.log(WRT_LOG_INFO, s.name() + ": no-op, " + c.environment + " already has " + release);
      return WRT_STATUS_PASSED;
    }

    // Signed approvals of exactly this release, commit and environment.
    std::vector<std::string> approved_by;
    if (c.approvals > 0) {
      const std::string statement = wrt::deploy::approval_statement(c.environment, release, commit);
      const fs::path dir = c.target / "approvals" / wrt::deploy::sha256_hex(statement);
      auto count = wrt::deploy::count_approvals(dir.string(), statement, c.approvers, user());
      for (const auto& p : count.problems) s.log(WRT_LOG_WARNING, s.name() + ": " + p);
      approved_by = count.approved_by;
      if (static_cast<int>(approved_by.size()) < c.approvals) {
        if (run_id.empty()) {
          s.message("approvals needed but the run has no id");
          return WRT_STATUS_ERROR;
        }
        nlohmann::json request = {{"run_id", run_id},         {"stage", s.name()},       {"environment", c.environment},
                                  {"release", release},       {"commit", commit},        {"requested_by", user()},
                                  {"statement", statement},   {"approvals", c.approvals}, {"at", utc_now()}};
        nlohmann::json arts = nlohmann::json::array();
        for (const auto& a : artifacts) arts.push_back({{"name", a.name}, {"sha256", a.sha256}});
        request["artifacts"] = arts;
        fs::create_directories(c.target / "approvals" / "requests");
        std::ofstream(c.target / "approvals" / "requests" / (run_id + ".json")) << request.dump(2) << "\n";
        s.message("waiting for approval: " + c.environment + " needs " + std::to_string(c.approvals) + " signed approval" +
                  (c.approvals == 1 ? "" : "s") + " of release " + release.substr(0, 19) + ", has " +
                  std::to_string(approved_by.size()) + (count.problems.empty() ? "" : " (" + count.problems.front() + ")") +
                  "; approve with `wrt approve " + run_id + " --key KEY.pem`, then run it again");
        return WRT_STATUS_FAILED;
      }
    }

    // Blobs first (content-addressed), then the environment's directory.
    for (std::size_t i = 0; i < artifacts.size(); ++i) {
      const fs::path blob = c.target / "blobs" / "sha256" / artifacts[i].sha256;
      if (wrt::deploy::sha256_file(blob.string()) != artifacts[i].sha256) put_file(sources[i], blob);
      if (wrt::deploy::sha256_file(blob.string()) != artifacts[i].sha256) {
        s.message(artifacts[i].name + " changed while it was being deployed; nothing recorded");
        return WRT_STATUS_FAILED;
      }
    }
    std::string manifest_digest;
    fs::path env_dir = c.target / c.environment;
    std::string paths;
    if (c.format == "oci") {
      // The manifest names the release and its commit, not the environment
      // or a time: promotion tags the very manifest staging has.
      std::string manifest;
      if (!promoted_manifest.empty()) {
        const std::string hex = promoted_manifest.substr(promoted_manifest.find(':') + 1);
        manifest = read_text(c.target / "blobs" / "sha256" / hex);
        if (wrt::deploy::sha256_hex(manifest) != hex) {
          s.message("cannot promote: the manifest " + promoted_manifest + " is missing or altered");
          return WRT_STATUS_FAILED;
        }
      } else {
        std::map<std::string, std::string> annotations = {{"dev.wrt.release", release}};
        if (!commit.empty()) annotations["org.opencontainers.image.revision"] = commit;
        std::vector<Artifact> layers = artifacts;
        std::sort(layers.begin(), layers.end(), [](const Artifact& a, const Artifact& b) { return a.name < b.name; });
        manifest = wrt::deploy::oci_manifest(layers, annotations);
      }
      if (std::string error = wrt::deploy::oci_tag(c.target.string(), manifest, c.environment); !error.empty()) {
        s.message(error + "; nothing recorded");
        return WRT_STATUS_FAILED;
      }
      manifest_digest = "sha256:" + wrt::deploy::sha256_hex(manifest);
      env_dir = c.target;
      for (const auto& a : artifacts) paths += (c.target / "blobs" / "sha256" / a.sha256).string() + "\n";
    } else {
      const fs::path staged = c.target / (".staging-" + c.environment + "-" + std::to_string(::getpid()));
      fs::remove_all(staged);
      for (const auto& a : artifacts) {
        put_file(c.target / "blobs" / "sha256" / a.sha256, staged / a.name);
        paths += (env_dir / a.name).string() + "\n";
      }
      const fs::path old = c.target / (".old-" + c.environment + "-" + std::to_string(::getpid()));
      if (fs::exists(env_dir)) fs::rename(env_dir, old);
      fs::rename(staged, env_dir);
      fs::remove_all(old);
    }

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
                            {"artifacts", arts},           {"commit", commit},
                            {"branch", git(s, {"symbolic-ref", "--short", "-q", "HEAD"})},
                            {"stage", s.name()},     {"who", who()},
                            {"at", utc_now()}};
    if (!c.promote_from.empty()) entry["promoted_from"] = c.promote_from;
    entry["format"] = c.format;
    if (!manifest_digest.empty()) entry["oci_manifest"] = manifest_digest;
    entry["run_id"] = run_id;
    entry["gate"] = gate;
    if (!evidence.empty()) entry["evidence"] = evidence;
    if (c.approvals > 0) entry["approved_by"] = approved_by;
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
