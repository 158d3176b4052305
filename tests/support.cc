#include "support.h"

#include <catch2/catch.hpp>

#include "core/util/hash.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace wrt::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("wrt-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(rd()));
  fs::create_directories(path_);
  path_ = fs::canonical(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& path, const std::string& content) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + path.string());
  f << content;
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

CommandResult run_command(const std::vector<std::string>& argv, const fs::path& cwd,
                          const std::vector<std::string>& env) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");

  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& x : env)
      if (kv.substr(0, kv.find('=') + 1) == x.substr(0, x.find('=') + 1)) overridden = true;
    if (!overridden) envs.push_back(kv);
  }
  for (const auto& x : env) envs.push_back(x);
  std::vector<char*> envp, args;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::string cwd_s = cwd.string();
  if (!cwd_s.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd_s.c_str());
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult r;
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    r.err = "spawn failed: " + argv[0];
    return r;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

CommandResult run_wrt(const std::vector<std::string>& args, const fs::path& cwd,
                      const std::vector<std::string>& env) {
  std::vector<std::string> argv{WRT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> e{"CI=true"};
  e.insert(e.end(), env.begin(), env.end());
  return run_command(argv, cwd, e);
}

int spawn_wrt(const std::vector<std::string>& args, const fs::path& cwd) {
  std::vector<std::string> strings{WRT_BINARY};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

nlohmann::json report_stage(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report.at("stages"))
    if (s.at("name") == name) return s;
  FAIL("stage " << name << " not in the report");
  return {};
}

nlohmann::json read_json(const std::filesystem::path& path) { return nlohmann::json::parse(read_file(path)); }

EntryFile split_entry(const std::string& text) {
  const std::size_t header_end = text.find('\n');
  REQUIRE(header_end != std::string::npos);
  REQUIRE(text.rfind("wrt-entry 3 ", 0) == 0);
  const std::size_t json_end = text.find('\n', header_end + 1);
  REQUIRE(json_end != std::string::npos);
  EntryFile e;
  e.body = nlohmann::json::parse(text.substr(header_end + 1, json_end - header_end - 1));
  std::size_t at = json_end + 1;
  for (const auto& b : e.body.at("inlined")) {
    const std::size_t n = b.at("size").get<std::size_t>();
    REQUIRE(at + n <= text.size());
    e.inlined[b.at("digest").get<std::string>()] = text.substr(at, n);
    at += n;
  }
  REQUIRE(at == text.size());
  return e;
}

std::string seal_entry(EntryFile e) {
  std::set<std::string> named;
  for (const auto& o : e.body.at("outputs"))
    if (o.contains("digest")) named.insert(o["digest"].get<std::string>());
  if (e.body.at("log").is_string()) named.insert(e.body["log"].get<std::string>());
  nlohmann::json list = nlohmann::json::array();
  std::string tail;
  for (const auto& [hex, bytes] : e.inlined) {  // std::map: sorted by digest, as the store writes them
    if (!named.count(hex)) continue;
    list.push_back({{"digest", hex}, {"size", bytes.size()}});
    tail += bytes;
  }
  e.body["inlined"] = std::move(list);
  const std::string body = e.body.dump() + "\n" + tail;
  return "wrt-entry 3 " + to_hex(sha256(body)) + "\n" + body;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> args;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  pid_ = pid;
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

std::string wait_for_file(const fs::path& path, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (fs::exists(path, ec)) return read_file(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(path.string() + " did not appear within the time limit");
}

std::string git(const fs::path& repo, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", repo.string(), "-c", "user.email=t@example.com", "-c", "user.name=t"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void ed25519_keypair(const std::filesystem::path& dir, const std::string& name) {
  auto g = run_command({"openssl", "genpkey", "-algorithm", "ed25519", "-out", (dir / (name + ".pem")).string()});
  REQUIRE(g.exit_code == 0);
  auto p = run_command({"openssl", "pkey", "-in", (dir / (name + ".pem")).string(), "-pubout", "-out", (dir / (name + ".pub")).string()});
  REQUIRE(p.exit_code == 0);
}

namespace {

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free loopback port");
  ::close(fd);
  return ntohs(a.sin_port);
}

bool answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

NginxDav::NginxDav(const fs::path& dir) : dir_(dir) {
  for (const char* sub : {"store", "tmp", "logs"}) {
    fs::create_directories(dir_ / sub);
    fs::permissions(dir_ / sub, fs::perms::all);
  }
  port_ = free_loopback_port();
  // As root, nginx's workers would run as nobody; they must write store/.
  const std::string user = ::geteuid() == 0 ? "user root;\n" : "";
  write_file(dir_ / "nginx.conf", user + "worker_processes 1;\nerror_log " + (dir_ / "logs/error.log").string() +
                                      ";\npid " + (dir_ / "nginx.pid").string() +
                                      ";\nevents { worker_connections 256; }\nhttp {\n  access_log " +
                                      (dir_ / "logs/access.log").string() + ";\n  client_body_temp_path " +
                                      (dir_ / "tmp").string() + ";\n  server {\n    listen 127.0.0.1:" +
                                      std::to_string(port_) + ";\n    root " + (dir_ / "store").string() +
                                      ";\n    location / {\n      dav_methods PUT DELETE;\n      create_full_put_path on;\n"
                                      "      dav_access user:rw group:rw all:r;\n      client_max_body_size 0;\n    }\n  }\n}\n");
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"nginx", "-p", dir_.string(), "-c", (dir_ / "nginx.conf").string(), "-g", "daemon off;"},
      dir_ / "logs/nginx.out");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!answers(port_)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("nginx did not start: " + read_file(dir_ / "logs/nginx.out") + read_file(dir_ / "logs/error.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

NginxDav::~NginxDav() = default;

int NginxDav::pid() const { return process_ ? process_->pid() : -1; }

void NginxDav::stop() { process_.reset(); }

}  // namespace wrt::test
