#include "core/host/plugin_worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/core.h>

#include "core/exec/interrupt.h"
#include "core/host/plugin_host.h"
#include "core/exec/process_tree.h"
#include "core/exec/subprocess.h"

extern char** environ;

namespace wrt {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t kMaxFrame = 256u << 20;
// A fingerprint must be cheap; one that takes longer than this is a hang.
constexpr std::chrono::seconds kFingerprintLimit{120};

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool send_frame(int fd, const json& j) {
  std::string body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  std::uint32_t len = static_cast<std::uint32_t>(body.size());
  char hdr[4] = {static_cast<char>(len & 0xff), static_cast<char>((len >> 8) & 0xff),
                 static_cast<char>((len >> 16) & 0xff), static_cast<char>((len >> 24) & 0xff)};
  return write_all(fd, hdr, 4) && write_all(fd, body.data(), body.size());
}

// Takes complete frames off the front of `buf`. False on a malformed frame.
bool next_frame(std::string& buf, json& out, bool& have) {
  have = false;
  if (buf.size() < 4) return true;
  std::uint32_t len = static_cast<unsigned char>(buf[0]) | (static_cast<unsigned char>(buf[1]) << 8) |
                      (static_cast<unsigned char>(buf[2]) << 16) |
                      (static_cast<std::uint32_t>(static_cast<unsigned char>(buf[3])) << 24);
  if (len > kMaxFrame) return false;
  if (buf.size() < 4 + static_cast<std::size_t>(len)) return true;
  out = json::parse(buf.begin() + 4, buf.begin() + 4 + len, nullptr, false);
  buf.erase(0, 4 + static_cast<std::size_t>(len));
  if (out.is_discarded() || !out.is_object()) return false;
  have = true;
  return true;
}

// Blocking read of one frame (worker side). False at EOF or on error.
bool read_frame(int fd, std::string& buf, json& out) {
  for (;;) {
    bool have = false;
    if (!next_frame(buf, out, have)) return false;
    if (have) return true;
    char tmp[65536];
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

}  // namespace

struct WorkerPool::Worker {
  pid_t pid = -1;
  int fd = -1;
  std::string tag;
  std::string buf;  // bytes read past the last frame
  ~Worker() {
    if (fd >= 0) ::close(fd);
  }
};

WorkerPool::WorkerPool(fs::path executable, std::chrono::milliseconds kill_grace)
    : exe_(std::move(executable)), kill_grace_(kill_grace) {}

WorkerPool::~WorkerPool() {
  std::vector<std::unique_ptr<Worker>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle.swap(idle_);
  }
  for (auto& w : idle) {
    ::close(w->fd);  // EOF: the worker exits
    w->fd = -1;
  }
  for (auto& w : idle) {
    ::waitpid(w->pid, nullptr, 0);
    unregister_child(w->pid);
  }
}

std::unique_ptr<WorkerPool::Worker> WorkerPool::take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto w = std::move(idle_.back());
      idle_.pop_back();
      return w;
    }
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return nullptr;
  auto w = std::make_unique<Worker>();
  w->tag = new_process_tag();
  std::vector<std::string> env;
  const std::string tag_prefix = std::string(kProcessTagVar) + "=";
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, tag_prefix.c_str(), tag_prefix.size()) != 0) env.emplace_back(*e);
  env.push_back(tag_prefix + w->tag);
#if defined(__SANITIZE_ADDRESS__)
  // A sanitizer build's worker would turn a plugin's SIGSEGV into a report
  // and exit(1); let it die of the signal, so wrt names it as in a release.
  {
    const char* asan = std::getenv("ASAN_OPTIONS");
    std::string opts = asan && *asan ? std::string(asan) + ":handle_segv=0" : std::string("handle_segv=0");
    auto it = std::find_if(env.begin(), env.end(), [](const std::string& e) { return e.rfind("ASAN_OPTIONS=", 0) == 0; });
    if (it != env.end()) env.erase(it);
    env.push_back("ASAN_OPTIONS=" + opts);
  }
#endif
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string argv0 = kWorkerArgv0, fd_arg = "3";
  std::string exe = exe_.string();
  char* argv[] = {argv0.data(), fd_arg.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);  // dup2 clears close-on-exec
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  ensure_watchdog();
  pid_t pid = spawn_registered([&] {
    pid_t p = -1;
    return ::posix_spawn(&p, exe.c_str(), &fa, nullptr, argv, envp.data()) == 0 ? p : -1;
  });
  posix_spawn_file_actions_destroy(&fa);
  ::close(sv[1]);
  if (pid < 0) {
    ::close(sv[0]);
    return nullptr;
  }
  w->pid = pid;
  w->fd = sv[0];
  started_.fetch_add(1);
  return w;
}

void WorkerPool::give_back(std::unique_ptr<Worker> w) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(w));
}

WorkerReply WorkerPool::call(const WorkerCall& c) {
  WorkerReply reply;
  const char* fn = c.fingerprint ? "fingerprint" : "run";
  std::unique_ptr<Worker> w = take();
  if (!w) {
    reply.fault = fmt::format("cannot start a plugin worker ({}): {}", exe_.string(), std::strerror(errno));
    return reply;
  }
  auto now = Clock::now();
  const auto deadline = c.fingerprint ? now + kFingerprintLimit : c.deadline;
  json req = {{"op", fn},
              {"library", c.library.string()},
              {"plugin", c.plugin},
              {"stage", c.stage},
              {"workspace", c.workspace},
              {"with", c.with ? *c.with : json::object()},
              {"data_dir", c.data_dir},
              {"log", c.log_path},
              {"inputs", c.inputs ? json(*c.inputs) : json::array()},
              {"outputs", c.outputs ? json(*c.outputs) : json::array()}};
  if (c.run_context) req["run_context"] = *c.run_context;
  if (deadline != Clock::time_point::max())
    req["timeout_ms"] = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());

  // Ends the worker and everything it started; returns the fault text.
  auto kill_worker = [&](bool hard) {
    if (hard) ::kill(w->pid, SIGKILL);
    int status = 0;
    while (::waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    unregister_child(w->pid);
    reply.processes_killed += kill_tagged(w->tag, std::chrono::seconds(2));
    return status;
  };

  bool sent = send_frame(w->fd, req);
  Clock::time_point interrupt_sent{};
  bool interrupting = false;
  bool killed_for_time = false;
  while (sent) {
    now = Clock::now();
    if (!interrupting && c.cancel && c.cancel->load()) {
      interrupting = true;
      interrupt_sent = now;
      ::kill(w->pid, SIGINT);  // the worker's plugin stops its spawns
    }
    if ((interrupting && now > interrupt_sent + kill_grace_) ||
        (deadline != Clock::time_point::max() && now > deadline + kill_grace_)) {
      killed_for_time = true;
      break;
    }
    pollfd p{w->fd, POLLIN, 0};
    int pr = ::poll(&p, 1, 50);
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    char tmp[65536];
    ssize_t n = ::read(w->fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the worker died
    w->buf.append(tmp, static_cast<std::size_t>(n));
    for (;;) {
      json msg;
      bool have = false;
      if (!next_frame(w->buf, msg, have)) {
        sent = false;  // garbage from the worker: treat as a fault
        break;
      }
      if (!have) break;
      const std::string op = msg.value("op", "");
      if (op == "console") {
        if (c.console) c.console(msg.value("line", ""));
        continue;
      }
      if (op != "done") continue;
      reply.status = static_cast<wrt_status>(msg.value("status", static_cast<int>(WRT_STATUS_ERROR)));
      reply.results = results_from_json(msg.value("results", json::object()));
      if (auto it = msg.find("fingerprints"); it != msg.end() && it->is_array())
        for (const auto& f : *it)
          if (f.is_array() && f.size() == 2 && f[0].is_string() && f[1].is_string())
            reply.fingerprints.emplace_back(f[0].get<std::string>(), f[1].get<std::string>());
      if (auto it = msg.find("state"); it != msg.end() && it->is_array())
        for (const auto& d : *it)
          if (d.is_string()) reply.state.push_back(d.get<std::string>());
      reply.never_cache = msg.value("never_cache", false);
      reply.timed_out = msg.value("timed_out", false);
      reply.interrupted = msg.value("interrupted", false) || interrupting;
      reply.processes_killed = msg.value("processes_killed", 0);
      if (interrupting) {
        kill_worker(true);  // its interrupt flag stays set: not reusable
      } else {
        give_back(std::move(w));
      }
      return reply;
    }
  }
  // No answer: the worker crashed, exited, hung or sent garbage.
  if (killed_for_time) {
    kill_worker(true);
    if (interrupting) {
      reply.interrupted = true;
      reply.fault = fmt::format("plugin '{}' did not return from {}() after the interruption; its worker was killed",
                                c.plugin, fn);
    } else {
      reply.timed_out = true;
      reply.fault = fmt::format("plugin '{}' did not return from {}() within its time limit; its worker was killed",
                                c.plugin, fn);
    }
    return reply;
  }
  ::kill(w->pid, SIGKILL);  // e.g. garbage: make sure it is gone
  int status = kill_worker(false);
  if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
    reply.fault = fmt::format("plugin '{}' crashed: {} in {}()", c.plugin, signal_name(WTERMSIG(status)), fn);
  } else if (WIFEXITED(status)) {
    reply.fault = fmt::format("plugin '{}' ended its worker process with exit({}) in {}()", c.plugin,
                              WEXITSTATUS(status), fn);
  } else {
    reply.fault = fmt::format("plugin '{}' broke the worker protocol in {}()", c.plugin, fn);
  }
  reply.interrupted = interrupting;
  return reply;
}

int run_plugin_worker(int fd) {
  install_interrupt_handlers();
  init_process_control();
  PluginHost host({}, host_table());
  std::map<std::string, const LoadedPlugin*> loaded;  // library + '\0' + name
  std::mutex send_mu;
  std::string buf;
  for (;;) {
    json req;
    if (!read_frame(fd, buf, req)) return 0;
    const bool fp = req.value("op", "") == "fingerprint";
    const std::string library = req.value("library", "");
    const std::string name = req.value("plugin", "");
    json reply = {{"op", "done"}};
    const LoadedPlugin* lp = nullptr;
    std::string load_error;
    auto it = loaded.find(library + '\0' + name);
    if (it != loaded.end()) {
      lp = it->second;
    } else {
      auto libs = host.load_library(library);
      if (!libs) {
        load_error = libs.error();
      } else {
        for (const LoadedPlugin* p : *libs)
          if (p->name == name) lp = p;
        if (!lp) load_error = fmt::format("{} provides no plugin '{}'", library, name);
      }
      if (lp) loaded.emplace(library + '\0' + name, lp);
    }
    if (!lp) {
      reply["status"] = static_cast<int>(WRT_STATUS_ERROR);
      StageResults r;
      r.message = load_error;
      reply["results"] = results_to_json(r);
      if (!send_frame(fd, reply)) return 1;
      continue;
    }
    const json with = req.value("with", json::object());
    wrt_stage ctx;
    ctx.name = req.value("stage", "");
    ctx.workspace = req.value("workspace", "");
    ctx.with = &with;
    ctx.cancel = &interrupt_flag();
    ctx.data_dir = req.value("data_dir", "");
    std::vector<std::string> inputs, outputs;
    for (const char* field : {"inputs", "outputs"}) {
      auto& dest = field[0] == 'i' ? inputs : outputs;
      if (auto f = req.find(field); f != req.end() && f->is_array())
        for (const auto& x : *f)
          if (x.is_string()) dest.push_back(x.get<std::string>());
    }
    ctx.inputs = &inputs;
    ctx.outputs = &outputs;
    std::string run_context;
    if (auto rc = req.find("run_context"); rc != req.end() && rc->is_string()) {
      run_context = rc->get<std::string>();
      ctx.run_context = &run_context;
    }
    ctx.console = [&](const std::string& line) {
      std::lock_guard<std::mutex> lock(send_mu);
      (void)send_frame(fd, json{{"op", "console"}, {"line", line}});
    };
    if (auto t = req.find("timeout_ms"); t != req.end() && t->is_number_integer())
      ctx.deadline = Clock::now() + std::chrono::milliseconds(t->get<std::int64_t>());
    const std::string log = req.value("log", "");
    if (!log.empty()) ctx.log_fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    wrt_status s = WRT_STATUS_ERROR;
    ctx.in_fingerprint = fp;
    const wrt_plugin* pl = lp->plugin;
    try {
      if (fp) {
        s = pl->fingerprint ? pl->fingerprint(host_table(), &ctx) : WRT_STATUS_PASSED;
      } else {
        s = pl->run(host_table(), &ctx);
      }
    } catch (...) {
      ctx.results.message = fmt::format("plugin threw from {}()", fp ? "fingerprint" : "run");
      s = WRT_STATUS_ERROR;
    }
    ctx.in_fingerprint = false;
    if (ctx.log_fd >= 0) ::close(ctx.log_fd);
    std::lock_guard<std::mutex> lock(ctx.mu);
    reply["status"] = static_cast<int>(s);
    reply["results"] = results_to_json(ctx.results);
    json fps = json::array();
    for (const auto& [k, v] : ctx.fingerprints) fps.push_back(json::array({k, v}));
    reply["fingerprints"] = std::move(fps);
    if (!ctx.state.empty()) reply["state"] = ctx.state;
    if (ctx.never_cache) reply["never_cache"] = true;
    reply["timed_out"] = ctx.timed_out;
    reply["interrupted"] = ctx.interrupted || interrupt_flag().load();
    reply["processes_killed"] = ctx.processes_killed;
    std::lock_guard<std::mutex> slock(send_mu);
    if (!send_frame(fd, reply)) return 1;
  }
}

}  // namespace wrt
