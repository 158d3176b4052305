// Helpers shared by the tests: temporary workspaces and running the real
// wrt binary as a user would.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wrt::test {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to `path`, creating parent directories.
void write_file(const std::filesystem::path& path, const std::string& content);
std::string read_file(const std::filesystem::path& path);

struct CommandResult {
  int exit_code = -1;   // -1 when killed by a signal
  std::string out;      // stdout
  std::string err;      // stderr
};

// Runs argv (argv[0] searched in PATH) in `cwd` with extra env "K=V"
// entries; waits for it; captures stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::filesystem::path& cwd = {},
                          const std::vector<std::string>& env = {});

// DIR/NAME.pem (Ed25519 private key) and DIR/NAME.pub (its public half),
// made by the openssl command line.
void ed25519_keypair(const std::filesystem::path& dir, const std::string& name);

// Runs the built `wrt` binary with `args` in `cwd` (CI=true so output is plain).
CommandResult run_wrt(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                      const std::vector<std::string>& env = {});

// Starts the built `wrt` binary with `args` in `cwd`, stdout to /dev/null,
// stderr and the environment inherited, and returns its pid without waiting
// (for tests that signal it; the caller reaps it with waitpid).
int spawn_wrt(const std::vector<std::string>& args, const std::filesystem::path& cwd);

// A server the test starts (tests/servers/*.py): spawned with argv, its
// output to `log`, stopped (SIGTERM, then reaped) on destruction.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
};

// A real nginx with WebDAV PUT on 127.0.0.1 (a free port): what the remote
// cache tests and benchmarks talk to, as teams run one (Bazel's HTTP cache
// protocol: GET/PUT/HEAD under any prefix). Files under store(); started in
// the constructor (it answers before it returns), stopped by stop() or
// destruction.
class NginxDav {
 public:
  explicit NginxDav(const std::filesystem::path& dir);
  ~NginxDav();
  NginxDav(const NginxDav&) = delete;
  NginxDav& operator=(const NginxDav&) = delete;
  std::string url(const std::string& prefix = "wrt") const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + prefix; }
  std::filesystem::path store() const { return dir_ / "store"; }
  // One line per request, written as it is answered (nginx's default format).
  std::filesystem::path access_log() const { return dir_ / "logs/access.log"; }
  int pid() const;
  void stop();

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

// Waits (up to `seconds`) for a file a server writes once listening and
// returns its contents; throws when it does not appear.
std::string wait_for_file(const std::filesystem::path& path, double seconds = 20);

// Runs git in `repo` as a fixed user (REQUIREs success); stdout without
// its trailing newlines.
std::string git(const std::filesystem::path& repo, const std::vector<std::string>& args);
inline std::string git(const TempDir& repo, const std::vector<std::string>& args) { return git(repo.path(), args); }

// The stage named `name` in a wrt JSON report (fails the test if absent).
nlohmann::json report_stage(const nlohmann::json& report, const std::string& name);
// A JSON file, parsed.
nlohmann::json read_json(const std::filesystem::path& path);

// A local cache entry file taken apart (cache_store.h: "wrt-entry 3
// <checksum>\n<JSON line>\n<inlined bytes>"), for tests that tamper with
// entries as a hostile writer of the store would.
struct EntryFile {
  nlohmann::json body;                        // the JSON line
  std::map<std::string, std::string> inlined;  // hex digest -> bytes, as listed in body["inlined"]
};
// REQUIREs the framing (the checksum is not checked).
EntryFile split_entry(const std::string& text);
// Seals it as the store would: body["inlined"] rebuilt from `inlined` (only
// the blobs an output or the log of the body still names), the checksum
// over the new body. The entry is then well formed, whatever it claims.
std::string seal_entry(EntryFile e);

}  // namespace wrt::test
