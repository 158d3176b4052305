// A test harness for wrt stage plugins: load your built plugin library, make
// a temporary workspace, run one stage in it and assert on what came back.
//
//   #include <wrt/testing.hpp>
//   namespace wt = wrt::sdk::testing;
//
//   wt::Plugin lib("build/wrt-plugin-lines.so");   // dlopen + wrt_plugin_entry + init
//   wt::Workspace ws;                               // a fresh temporary directory
//   ws.write("src/a.c", "int a;\n");
//   wt::StageSpec stage;
//   stage.with = "{ max_lines = 10 }";              // JSON or TOML inline table
//   stage.inputs = {"src/a.c"};
//   wt::Result r = wt::run_stage(lib, ws, stage);   // fingerprint(), then run()
//   assert(r.status == WRT_STATUS_PASSED && r.metric("lines.total") == 1);
//
// It works from any test framework (Catch2, GoogleTest, a plain main):
// misuse of the harness (a library that does not load, a bad `with`, an
// input that does not exist) throws std::runtime_error / invalid_argument;
// everything the plugin does is in the Result.
//
// Why a header of its own and not wrt's host: a plugin author has the
// installed SDK, not wrt's sources, so this file implements the host side of
// the ABI (the `wrt_host` table of wrt/plugin.h, ABI 1.3, every function)
// with only the C++17 standard library, POSIX and dlopen. It is header-only
// so there is nothing to build or link but libdl (the CMake target
// wrt::testing adds it on systems where dlopen is not in libc). Behaviour
// follows the host's documentation in wrt/plugin.h; where it differs, by
// design, the difference is listed here:
//
//  * `with` is given as text: a JSON object, a TOML inline table
//    (`{ max_lines = 10, argv = ["a", "b"] }`), or TOML `key = value` lines.
//    A small parser reads it (strings, integers, floats, booleans, arrays,
//    nested tables; no dates, no dotted keys, no `[table]` headers, no
//    multi-line strings) -- enough for a stage's `with`, and no dependency
//    on a TOML or JSON library the plugin author may not have.
//  * inputs are the files the stage is given (workspace-relative, they must
//    exist); wrt would expand globs, the harness takes the expanded list.
//  * spawn really runs the process (fork/exec, a process group of its own,
//    stdout+stderr into the stage log, the stage deadline with TERM then
//    KILL to the group). It kills what the child leaves in its process
//    group when it exits; processes that leave the group (setsid) are not
//    tracked. Nothing interrupts a stage: `interrupted` is always 0.
//  * tool_version caches in memory, per test process (wrt also on disk).
//  * data_dir is <workspace>/.wrt/cache/plugin-data/<plugin>, as in wrt
//    with the default cache directory: it lasts as long as the Workspace.
//  * one attempt only: WRT_STATUS_RETRY comes back as the status.
//
// Thread rules: a plugin may call host functions from several threads during
// its call, as the ABI allows. Run stages one at a time per Workspace.
#ifndef WRT_TESTING_HPP
#define WRT_TESTING_HPP

#include <wrt/plugin.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern "C" char** environ;

namespace wrt::sdk::testing {

// ---------------------------------------------------------------------------
// The `with` table: a small JSON-like value, tables with sorted keys (wrt
// hands `with` to plugins sorted, so config_key_at enumerates in that order).
class Value {
 public:
  enum class Kind { null, boolean, integer, number, string, array, table };
  Kind kind = Kind::table;
  bool boolean = false;
  std::int64_t integer = 0;
  double number = 0;
  std::string string;
  std::vector<Value> items;       // array elements, or table values in key order
  std::vector<std::string> keys;  // table keys, sorted

  const Value* member(const std::string& key) const {
    auto it = std::lower_bound(keys.begin(), keys.end(), key);
    return it != keys.end() && *it == key ? &items[static_cast<std::size_t>(it - keys.begin())] : nullptr;
  }
  // The host's key syntax: "build.type", "argv[0]", "a.b[2].c"; "" = this value.
  const Value* at(const std::string& path) const {
    const Value* cur = this;
    std::size_t i = 0;
    while (cur && i < path.size()) {
      if (path[i] == '[') {
        std::size_t close = path.find(']', i);
        if (close == std::string::npos || close == i + 1 || cur->kind != Kind::array) return nullptr;
        std::size_t index = 0;
        for (std::size_t p = i + 1; p < close; ++p) {
          if (path[p] < '0' || path[p] > '9') return nullptr;
          index = index * 10 + static_cast<std::size_t>(path[p] - '0');
        }
        cur = index < cur->items.size() ? &cur->items[index] : nullptr;
        i = close + 1;
      } else {
        std::size_t end = std::min(path.find_first_of(".[", i), path.size());
        cur = cur->kind == Kind::table ? cur->member(path.substr(i, end - i)) : nullptr;
        i = end;
      }
      if (i < path.size() && path[i] == '.') ++i;
    }
    return cur;
  }
};

namespace detail {

// Reads `with` text (see the top of this file for what it accepts).
class WithParser {
 public:
  explicit WithParser(const std::string& text) : t_(text) {}

  Value document() {
    skip(true);
    if (p_ == t_.size()) return Value{};
    if (t_[p_] == '{') {
      Value v = table();
      skip(true);
      if (p_ != t_.size()) fail("unexpected text after the table");
      return v;
    }
    Value v;  // TOML `key = value` lines
    while (skip(true), p_ < t_.size()) {
      member(v);
      skip(false);
      if (p_ < t_.size() && t_[p_] != '\n') fail("expected a new line after the value");
    }
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < p_ && i < t_.size(); ++i) {
      if (t_[i] == '\n') ++line, col = 1;
      else ++col;
    }
    throw std::invalid_argument("with: line " + std::to_string(line) + ", column " + std::to_string(col) + ": " +
                                what);
  }
  bool at(char c) const { return p_ < t_.size() && t_[p_] == c; }
  void expect(char c) {
    if (!at(c)) fail(std::string("expected '") + c + "'");
    ++p_;
  }
  // Blanks and # comments; newlines too unless a TOML line must end here.
  void skip(bool newlines) {
    while (p_ < t_.size()) {
      char c = t_[p_];
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++p_;
      } else if (c == '#') {
        while (p_ < t_.size() && t_[p_] != '\n') ++p_;
      } else {
        break;
      }
    }
  }

  Value table() {
    expect('{');
    Value v;
    skip(true);
    if (at('}')) return ++p_, v;
    for (;;) {
      member(v);
      skip(true);
      if (at(',')) {
        ++p_;
        skip(true);
        continue;
      }
      expect('}');
      return v;
    }
  }
  // key (= or :) value, inserted in key order.
  void member(Value& table) {
    std::string k = key();
    skip(false);
    if (at('=') || at(':')) ++p_;
    else fail("expected '=' or ':' after '" + k + "'");
    skip(false);
    auto it = std::lower_bound(table.keys.begin(), table.keys.end(), k);
    if (it != table.keys.end() && *it == k) fail("duplicate key '" + k + "'");
    Value v = value();
    table.items.insert(table.items.begin() + (it - table.keys.begin()), std::move(v));
    table.keys.insert(it, std::move(k));
  }
  std::string key() {
    if (at('"') || at('\'')) return quoted();
    std::size_t start = p_;
    while (p_ < t_.size() && (std::isalnum(static_cast<unsigned char>(t_[p_])) || t_[p_] == '_' || t_[p_] == '-')) ++p_;
    if (p_ == start) fail("expected a key");
    return t_.substr(start, p_ - start);
  }
  Value value() {
    Value v;
    if (at('{')) return table();
    if (at('[')) {
      ++p_;
      v.kind = Value::Kind::array;
      for (skip(true); !at(']'); skip(true)) {
        v.items.push_back(value());
        skip(true);
        if (!at(',')) break;
        ++p_;  // a trailing comma is allowed, as in TOML
      }
      expect(']');
    } else if (at('"') || at('\'')) {
      v.kind = Value::Kind::string;
      v.string = quoted();
    } else if (word("true")) {
      v.kind = Value::Kind::boolean;
      v.boolean = true;
    } else if (word("false")) {
      v.kind = Value::Kind::boolean;
    } else if (word("null")) {
      v.kind = Value::Kind::null;
    } else {
      number(v);
    }
    return v;
  }
  bool word(const char* w) {
    std::size_t n = std::strlen(w);
    if (t_.compare(p_, n, w) != 0) return false;
    p_ += n;
    return true;
  }
  // Integers and floats; TOML's 1_000 digit separators are allowed.
  void number(Value& v) {
    std::string digits;
    bool is_float = false;
    std::size_t start = p_;
    for (; p_ < t_.size(); ++p_) {
      char c = t_[p_];
      if (c == '_') continue;
      if (c == '.' || c == 'e' || c == 'E') is_float = true;
      else if (!std::isdigit(static_cast<unsigned char>(c)) && c != '+' && c != '-') break;
      digits += c;
    }
    if (digits.empty()) fail("expected a value");
    char* end = nullptr;
    errno = 0;
    if (is_float) {
      v.kind = Value::Kind::number;
      v.number = std::strtod(digits.c_str(), &end);
    } else {
      v.kind = Value::Kind::integer;
      v.integer = std::strtoll(digits.c_str(), &end, 10);
    }
    if (errno == ERANGE || *end != '\0') p_ = start, fail("bad number '" + digits + "'");
  }
  // "basic" strings with JSON/TOML escapes, 'literal' strings without.
  std::string quoted() {
    const char q = t_[p_++];
    std::string out;
    while (p_ < t_.size() && t_[p_] != q) {
      char c = t_[p_++];
      if (c == '\n') fail("newline in a string");
      if (c != '\\' || q == '\'') {
        out += c;
        continue;
      }
      if (p_ >= t_.size()) break;
      switch (char e = t_[p_++]) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'e': out += '\x1b'; break;
        case '"': case '\\': case '/': out += e; break;
        case 'u': case 'U': utf8(hex(e == 'u' ? 4 : 8), out); break;
        default: fail(std::string("unknown escape '\\") + e + "'");
      }
    }
    if (!at(q)) fail("unterminated string");
    ++p_;
    return out;
  }
  std::uint32_t hex(int n) {
    std::uint32_t cp = 0;
    for (int i = 0; i < n; ++i, ++p_) {
      if (p_ >= t_.size() || !std::isxdigit(static_cast<unsigned char>(t_[p_]))) fail("bad \\u escape");
      char c = t_[p_];
      cp = cp * 16 + static_cast<std::uint32_t>(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    // A JSON surrogate pair: \ud83d\ude00.
    if (cp >= 0xD800 && cp < 0xDC00 && t_.compare(p_, 2, "\\u") == 0) {
      p_ += 2;
      std::uint32_t low = hex(4);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    return cp;
  }
  static void utf8(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  const std::string& t_;
  std::size_t p_ = 0;
};

inline void write_json(const Value& v, std::string& out) {
  auto str = [&out](const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
      else if (c == '\n') out += "\\n";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
  };
  switch (v.kind) {
    case Value::Kind::null: out += "null"; break;
    case Value::Kind::boolean: out += v.boolean ? "true" : "false"; break;
    case Value::Kind::integer: out += std::to_string(v.integer); break;
    case Value::Kind::number: {
      if (!std::isfinite(v.number)) {
        out += "null";  // what JSON writers do; a TOML `with` cannot get here
        break;
      }
      char buf[32];
      for (int prec = 15; prec <= 17; ++prec) {  // the shortest text that reads back the same
        std::snprintf(buf, sizeof buf, "%.*g", prec, v.number);
        if (std::strtod(buf, nullptr) == v.number) break;
      }
      out += buf;
      if (!std::strpbrk(buf, ".eE")) out += ".0";  // stays a float for the plugin's JSON reader
      break;
    }
    case Value::Kind::string: str(v.string); break;
    case Value::Kind::array:
      out += '[';
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        write_json(v.items[i], out);
      }
      out += ']';
      break;
    case Value::Kind::table:
      out += '{';
      for (std::size_t i = 0; i < v.keys.size(); ++i) {
        if (i) out += ',';
        str(v.keys[i]);
        out += ':';
        write_json(v.items[i], out);
      }
      out += '}';
      break;
  }
}

}  // namespace detail

// Parses `with` text; throws std::invalid_argument with line and column.
inline Value parse_with(const std::string& text) { return detail::WithParser(text).document(); }
// `with` as the host's config_json gives it: compact JSON, keys sorted.
inline std::string to_json(const Value& v) {
  std::string out;
  detail::write_json(v, out);
  return out;
}

// ---------------------------------------------------------------------------
// What a stage reported. Names of severities and test statuses are those of
// wrt's JSON report.
struct Finding {
  std::string rule, severity, file;  // severity: "note", "warning", "error"
  unsigned line = 0, column = 0;
  std::string message;
};
struct TestCase {
  std::string suite, name, status;  // status: "passed", "failed", "skipped", "flaky"
  double duration_s = -1;
  std::string message;
};
struct Artifact {
  std::string path, kind;
};

struct Result {
  // The stage's outcome as wrt records it: what fingerprint() returned when
  // it did not pass (then run() was not called), else what run() returned,
  // except that a passing run whose declared output is missing is FAILED.
  wrt_status status = WRT_STATUS_ERROR;
  bool configuration_error = false;  // fingerprint() did not pass: wrt stops before any stage runs
  bool timed_out = false;            // a spawn hit the deadline: wrt reports the stage as "timeout"
  std::string message;               // set_message (or check_keys, or the missing output)
  std::map<std::string, double> metrics;
  std::vector<Finding> findings;
  std::vector<TestCase> tests;
  std::vector<Artifact> artifacts;
  std::vector<std::pair<std::string, std::string>> fingerprints;  // add_fingerprint, in call order
  std::vector<std::string> state;  // declare_state (ABI 1.3): normalized, in call order
  bool never_cache = false;        // never_cache (ABI 1.4) was called in fingerprint
  std::string log;  // the stage log: log() lines and the output of spawned processes

  // "passed", "failed", "error", "retry" or "timeout".
  std::string status_name() const {
    if (timed_out) return "timeout";
    switch (status) {
      case WRT_STATUS_PASSED: return "passed";
      case WRT_STATUS_FAILED: return "failed";
      case WRT_STATUS_RETRY: return "retry";
      default: return "error";
    }
  }
  // A metric's value; throws std::out_of_range naming the metrics there are.
  double metric(const std::string& name) const {
    auto it = metrics.find(name);
    if (it != metrics.end()) return it->second;
    std::string have;
    for (const auto& m : metrics) have += (have.empty() ? "" : ", ") + m.first;
    throw std::out_of_range("no metric '" + name + "' (reported: " + (have.empty() ? "none" : have) + ")");
  }
  std::size_t count_tests(const std::string& test_status) const {
    return static_cast<std::size_t>(
        std::count_if(tests.begin(), tests.end(), [&](const TestCase& t) { return t.status == test_status; }));
  }
};

// One stage to run.
struct StageSpec {
  std::string plugin;          // the plugin's name in the library; "" = its only plugin
  std::string name = "test";   // the stage name the plugin sees
  std::string with;            // JSON object, TOML inline table or TOML lines; "" = {}
  std::vector<std::string> inputs;   // workspace-relative files (they must exist)
  std::vector<std::string> outputs;  // declared outputs, as in wrt.toml
  double timeout_s = 600;            // the stage deadline spawned processes run under
  double kill_grace_s = 2;           // TERM -> KILL delay at the deadline
  // What run_context() (ABI 1.5) returns in run(): JSON text as plugin.h
  // describes it; "" = NULL, as wrt gives a cacheable stage.
  std::string run_context;
};

namespace detail {

using Clock = std::chrono::steady_clock;

// One stage call's state. The plugin sees it as the opaque wrt_stage*; the
// harness does not define `struct wrt_stage` itself, because a test program
// that also links wrt's core would then have two different definitions.
struct StageState {
  std::string name, workspace, data_dir;
  Value with;
  std::string with_json;
  std::vector<std::string> inputs, outputs;
  std::string run_context;
  bool in_fingerprint = false;
  Clock::time_point deadline;
  Clock::duration kill_grace{};
  std::mutex mu;  // plugins may call the host from several threads
  Result result;
  std::deque<std::string> buffers;  // strings handed to the plugin; a deque never moves them
};

inline StageState* state(wrt_stage* stage) { return reinterpret_cast<StageState*>(stage); }

inline std::string errno_text(int err) { return std::strerror(err); }

inline bool is_executable_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// PATH lookup as execvp does it; "" when not found. A name with a '/' is
// taken as it is (relative to the child's working directory).
inline std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  std::string dirs = env ? env : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t start = 0;;) {
    std::size_t end = std::min(dirs.find(':', start), dirs.size());
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (end == dirs.size()) return {};
    start = end + 1;
  }
}

struct ChildResult {
  bool started = false;
  int exit_code = -1;
  int term_signal = 0;
  bool timed_out = false;
  std::string error;
};

// Runs argv in a process group of its own with stdin from /dev/null and
// stdout+stderr into one pipe whose data goes to `sink`. At `deadline` the
// group gets SIGTERM, `grace` later SIGKILL. When the child exits, what it
// left in its group is killed.
inline ChildResult run_child(const std::vector<std::string>& argv, const std::string& cwd,
                             const std::vector<std::string>& extra_env, Clock::time_point deadline,
                             Clock::duration grace, const std::function<void(const char*, std::size_t)>& sink) {
  ChildResult r;
  if (argv.empty() || argv[0].empty()) return r.error = "empty command", r;
  const std::string exe = find_program(argv[0]);
  if (exe.empty()) return r.error = argv[0] + ": " + errno_text(ENOENT), r;

  // Everything the child needs is built before fork: in a threaded test
  // program only async-signal-safe calls are allowed between fork and exec.
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    bool overridden = std::any_of(extra_env.begin(), extra_env.end(),
                                  [&](const std::string& x) { return x.compare(0, name.size() + 1, name + "=") == 0; });
    if (!overridden) env.push_back(std::move(kv));
  }
  for (const auto& kv : extra_env)
    if (kv.find('=') != std::string::npos) env.push_back(kv);
  std::vector<char*> envp, argp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  int out[2], err[2];  // output pipe; error pipe: the child's errno if chdir/exec fails
  if (::pipe2(out, O_CLOEXEC) != 0) return r.error = "cannot create pipe: " + errno_text(errno), r;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]), ::close(out[1]);
    return r.error = "cannot create pipe: " + errno_text(errno), r;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    // Test runners block or ignore signals; tools expect neither.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < 32; ++s) ::signal(s, SIG_DFL);
    int why[2] = {0, 0};
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      why[0] = 1, why[1] = errno;
    } else {
      ::execve(exe.c_str(), argp.data(), envp.data());
      why[0] = 2, why[1] = errno;
    }
    (void)!::write(err[1], why, sizeof why);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(out[0]), ::close(err[0]);
    return r.error = "fork: " + errno_text(errno), r;
  }
  ::setpgid(pid, pid);  // also here, so the group exists before we may signal it
  int why[2] = {0, 0};
  ssize_t n;
  do n = ::read(err[0], why, sizeof why);  // EOF (0): exec succeeded and closed the pipe
  while (n < 0 && errno == EINTR);
  ::close(err[0]);
  if (n == static_cast<ssize_t>(sizeof why)) {
    ::close(out[0]);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    r.error = why[0] == 1 ? "cannot change directory to " + cwd + ": " + errno_text(why[1])
                          : argv[0] + ": " + errno_text(why[1]);
    return r;
  }
  r.started = true;

  int fd = out[0];
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  bool exited = false, term_sent = false, kill_sent = false;
  Clock::time_point exit_time, term_time;
  // No SIGCHLD handler (the test program owns signals): poll for the exit,
  // quickly at first, then every 50 ms.
  auto tick = std::chrono::milliseconds(1);
  for (;;) {
    const auto now = Clock::now();
    if (!exited) {
      // WNOWAIT: the leader stays a zombie, so `-pid` still names its group
      // (and nobody else's) while its leftovers are killed.
      siginfo_t si{};
      int w = ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT);
      if (w == 0 && si.si_pid == pid) {
        ::kill(-pid, SIGKILL);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
        exited = true;
        exit_time = now;
      } else if (w < 0 && errno == ECHILD) {  // reaped behind our back (SIGCHLD ignored)
        exited = true;
        exit_time = now;
      }
    }
    if (!exited && !term_sent && now >= deadline) {
      r.timed_out = true;
      term_sent = true;
      term_time = now;
      ::kill(-pid, SIGTERM);
    }
    if (!exited && term_sent && !kill_sent && now >= term_time + grace) {
      kill_sent = true;
      ::kill(-pid, SIGKILL);
    }
    // After the exit, read what is left; a process that left the group may
    // hold the pipe open, so at most for a second.
    if (exited && (fd < 0 || now >= exit_time + std::chrono::seconds(1))) break;

    int timeout = static_cast<int>(tick.count());
    if (!term_sent && !exited)
      timeout = static_cast<int>(std::clamp<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1, 0, timeout));
    pollfd pfd{fd, POLLIN, 0};
    int pr = fd >= 0 ? ::poll(&pfd, 1, timeout) : ::poll(nullptr, 0, timeout);
    bool got = false;
    if (pr > 0) {
      std::array<char, 16384> buf;
      for (;;) {
        ssize_t k = ::read(fd, buf.data(), buf.size());
        if (k > 0) {
          sink(buf.data(), static_cast<std::size_t>(k));
          got = true;
        } else if (k < 0 && errno == EINTR) {
          continue;
        } else {
          if (k == 0 || errno != EAGAIN) ::close(fd), fd = -1;  // EOF
          break;
        }
      }
    }
    tick = got ? std::chrono::milliseconds(1) : std::min(tick * 2, std::chrono::milliseconds(50));
  }
  if (fd >= 0) ::close(fd);
  return r;
}

inline const char* level_name(wrt_log_level level) {
  static const char* const names[] = {"debug", "info", "warning", "error"};
  const int l = static_cast<int>(level);
  return names[l < 0 || l > 3 ? 1 : l];
}

// The edit-distance suggestion wrt makes for an unknown key: the closest
// known key within max(2, len/3) edits.
inline std::string did_you_mean(const std::string& word, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& k : known) {
    std::vector<std::size_t> row(k.size() + 1);
    for (std::size_t j = 0; j <= k.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= k.size(); ++j) {
        std::size_t up = row[j];
        row[j] = std::min({up + 1, row[j - 1] + 1, diagonal + (word[i - 1] == k[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    if (row[k.size()] < best_distance) best_distance = row[k.size()], best = k;
  }
  return best;
}

// The host side of the ABI: one static function per wrt_host entry.
struct Host {
  static void log(wrt_stage* stage, wrt_log_level level, const char* message) {
    if (!stage) return;
    StageState* st = state(stage);
    std::lock_guard<std::mutex> lock(st->mu);
    st->result.log += std::string("[wrt ") + level_name(level) + "] " + (message ? message : "") + "\n";
  }
  static const char* config_json(wrt_stage* stage) {
    if (!stage) return "{}";
    StageState* st = state(stage);
    std::lock_guard<std::mutex> lock(st->mu);
    if (st->with_json.empty()) st->with_json = to_json(st->with);
    return st->with_json.c_str();
  }
  static const Value* lookup(wrt_stage* stage, const char* key) {
    return stage && key ? state(stage)->with.at(key) : nullptr;
  }
  static int config_string(wrt_stage* stage, const char* key, const char** out) {
    const Value* v = lookup(stage, key);
    if (!v) return 0;
    if (v->kind != Value::Kind::string) return -1;
    if (out) *out = v->string.c_str();
    return 1;
  }
  static int config_int(wrt_stage* stage, const char* key, int64_t* out) {
    const Value* v = lookup(stage, key);
    if (!v) return 0;
    if (v->kind != Value::Kind::integer) return -1;
    if (out) *out = v->integer;
    return 1;
  }
  static int config_double(wrt_stage* stage, const char* key, double* out) {
    const Value* v = lookup(stage, key);
    if (!v) return 0;
    if (v->kind != Value::Kind::number && v->kind != Value::Kind::integer) return -1;  // an integer is a number
    if (out) *out = v->kind == Value::Kind::number ? v->number : static_cast<double>(v->integer);
    return 1;
  }
  static int config_bool(wrt_stage* stage, const char* key, int* out) {
    const Value* v = lookup(stage, key);
    if (!v) return 0;
    if (v->kind != Value::Kind::boolean) return -1;
    if (out) *out = v->boolean ? 1 : 0;
    return 1;
  }
  static int64_t config_array_size(wrt_stage* stage, const char* key) {
    const Value* v = lookup(stage, key);
    return v && v->kind == Value::Kind::array ? static_cast<int64_t>(v->items.size()) : -1;
  }
  static const char* stage_name(wrt_stage* stage) { return stage ? state(stage)->name.c_str() : ""; }
  static const char* workspace_dir(wrt_stage* stage) { return stage ? state(stage)->workspace.c_str() : ""; }

  static int spawn(wrt_stage* stage, const wrt_spawn_request* req, wrt_spawn_result* res) {
    if (!stage || !req || !res || !req->argv || !req->argv[0]) {
      if (res && WRT_HAS_FIELD(res, wrt_spawn_result, error)) res->error = "invalid spawn request";
      return -1;
    }
    StageState* st = state(stage);
    std::vector<std::string> argv, env;
    for (const char* const* a = req->argv; *a; ++a) argv.emplace_back(*a);
    if (req->env)
      for (const char* const* e = req->env; *e; ++e) env.emplace_back(*e);
    std::string cwd = st->workspace;
    if (req->cwd && *req->cwd) cwd = req->cwd[0] == '/' ? std::string(req->cwd) : st->workspace + "/" + req->cwd;
    const bool capture = WRT_HAS_FIELD(req, wrt_spawn_request, capture_output) && req->capture_output != 0;
    std::string captured;
    ChildResult r = run_child(argv, cwd, env, st->deadline, st->kill_grace, [&](const char* data, std::size_t n) {
      std::lock_guard<std::mutex> lock(st->mu);  // the child's output joins the stage log as it comes
      st->result.log.append(data, n);
      if (capture) captured.append(data, n);
    });
    std::lock_guard<std::mutex> lock(st->mu);
    if (r.timed_out) st->result.timed_out = true;
    const std::string* out = capture ? &st->buffers.emplace_back(std::move(captured)) : nullptr;
    const std::string* err = nullptr;
    if (!r.started) {
      err = &st->buffers.emplace_back(r.error);
      st->result.log += "[wrt error] " + r.error + "\n";
    }
    // Fill only the fields the plugin's struct has (it may be older).
    if (WRT_HAS_FIELD(res, wrt_spawn_result, exit_code)) res->exit_code = r.exit_code;
    if (WRT_HAS_FIELD(res, wrt_spawn_result, term_signal)) res->term_signal = r.term_signal;
    if (WRT_HAS_FIELD(res, wrt_spawn_result, timed_out)) res->timed_out = r.timed_out;
    if (WRT_HAS_FIELD(res, wrt_spawn_result, interrupted)) res->interrupted = 0;
    if (WRT_HAS_FIELD(res, wrt_spawn_result, output_size)) {
      res->output = out ? out->c_str() : nullptr;
      res->output_size = out ? out->size() : 0;
    }
    if (WRT_HAS_FIELD(res, wrt_spawn_result, error)) res->error = err ? err->c_str() : nullptr;
    return r.started ? 0 : -1;
  }

  static void report_metric(wrt_stage* stage, const char* name, double value) {
    if (!stage || !name) return;
    std::lock_guard<std::mutex> lock(state(stage)->mu);
    state(stage)->result.metrics[name] = value;
  }
  static std::string str(const char* s) { return s ? s : ""; }
  static void report_finding(wrt_stage* stage, const wrt_finding* f) {
    if (!stage || !f || !WRT_HAS_FIELD(f, wrt_finding, message)) return;
    const char* sev = f->severity == WRT_SEVERITY_ERROR ? "error" : f->severity == WRT_SEVERITY_WARNING ? "warning" : "note";
    std::lock_guard<std::mutex> lock(state(stage)->mu);
    state(stage)->result.findings.push_back({str(f->rule), sev, str(f->file), f->line, f->column, str(f->message)});
  }
  static void report_test_case(wrt_stage* stage, const wrt_test_case* t) {
    if (!stage || !t || !WRT_HAS_FIELD(t, wrt_test_case, message)) return;
    static const char* const names[] = {"passed", "failed", "skipped", "flaky"};
    const int s = static_cast<int>(t->status);
    const char* status = s >= 0 && s <= 3 ? names[s] : "flaky";
    std::lock_guard<std::mutex> lock(state(stage)->mu);
    state(stage)->result.tests.push_back({str(t->suite), str(t->name), status, t->duration_s, str(t->message)});
  }
  static void report_artifact(wrt_stage* stage, const char* path, const char* kind) {
    if (!stage || !path) return;
    std::lock_guard<std::mutex> lock(state(stage)->mu);
    state(stage)->result.artifacts.push_back({path, str(kind)});
  }
  static void set_message(wrt_stage* stage, const char* message) {
    if (!stage) return;
    std::lock_guard<std::mutex> lock(state(stage)->mu);
    state(stage)->result.message = str(message);
  }
  static void add_fingerprint(wrt_stage* stage, const char* name, const char* value) {
    if (!stage || !name) return;
    StageState* st = state(stage);
    std::lock_guard<std::mutex> lock(st->mu);
    if (!st->in_fingerprint) {
      st->result.log += std::string("[wrt warning] add_fingerprint('") + name +
                        "') ignored: only valid during fingerprint()\n";
      return;
    }
    st->result.fingerprints.emplace_back(name, str(value));
  }
  static const char* run_context(wrt_stage* stage) {
    if (!stage) return nullptr;
    StageState* st = state(stage);
    return st->in_fingerprint || st->run_context.empty() ? nullptr : st->run_context.c_str();
  }
  static int never_cache(wrt_stage* stage) {
    if (!stage) return 0;
    StageState* st = state(stage);
    std::lock_guard<std::mutex> lock(st->mu);
    if (!st->in_fingerprint) {
      st->result.log += "[wrt warning] never_cache() ignored: only valid during fingerprint()\n";
      return 0;
    }
    st->result.never_cache = true;
    return 1;
  }
  // Normalized as wrt does ("a/./b/../c" -> "a/c"); refuses what wrt refuses.
  static int declare_state(wrt_stage* stage, const char* dir) {
    if (!stage) return 0;
    StageState* st = state(stage);
    std::lock_guard<std::mutex> lock(st->mu);
    const std::string d = str(dir);
    if (!st->in_fingerprint) {
      st->result.log += "[wrt warning] declare_state('" + d + "') ignored: only valid during fingerprint()\n";
      return 0;
    }
    auto refuse = [&](const std::string& why) {
      st->result.message = "state directory: " + why;
      return 0;
    };
    if (d.empty()) return refuse("empty path");
    if (d[0] == '/') return refuse("'" + d + "' is outside the workspace (absolute path)");
    std::vector<std::string> parts;
    for (std::size_t i = 0; i <= d.size();) {
      std::size_t j = std::min(d.find('/', i), d.size());
      std::string part = d.substr(i, j - i);
      if (part == "..") {
        if (parts.empty()) return refuse("'" + d + "' is outside the workspace");
        parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.push_back(part);
      }
      i = j + 1;
    }
    std::string norm;
    for (const auto& p : parts) norm += (norm.empty() ? "" : "/") + p;
    if (norm.empty()) norm = ".";
    if (norm == "." || norm == ".wrt" || norm.rfind(".wrt/", 0) == 0 || norm == ".git" || norm.rfind(".git/", 0) == 0)
      return refuse("'" + norm + "' cannot be a state directory");
    auto& list = st->result.state;
    if (std::find(list.begin(), list.end(), norm) == list.end()) list.push_back(norm);
    return 1;
  }
  static const void* get_extension(const char*) { return nullptr; }
  static const char* config_key_at(wrt_stage* stage, const char* key, int64_t index) {
    if (!stage || index < 0) return nullptr;
    const Value* v = lookup(stage, key ? key : "");
    if (!v || v->kind != Value::Kind::table || static_cast<std::size_t>(index) >= v->keys.size()) return nullptr;
    return v->keys[static_cast<std::size_t>(index)].c_str();
  }
  static const char* data_dir(wrt_stage* stage) {
    if (!stage) return "";
    StageState* st = state(stage);
    std::error_code ec;
    std::filesystem::create_directories(st->data_dir, ec);
    if (ec) log(stage, WRT_LOG_WARNING, ("cannot create " + st->data_dir + ": " + ec.message()).c_str());
    return st->data_dir.c_str();
  }
  static int64_t input_count(wrt_stage* stage) {
    return stage && !state(stage)->in_fingerprint ? static_cast<int64_t>(state(stage)->inputs.size()) : 0;
  }
  static const char* input_at(wrt_stage* stage, int64_t i) {
    if (i < 0 || i >= input_count(stage)) return nullptr;
    return state(stage)->inputs[static_cast<std::size_t>(i)].c_str();
  }
  static int64_t output_count(wrt_stage* stage) {
    return stage ? static_cast<int64_t>(state(stage)->outputs.size()) : 0;
  }
  static const char* output_at(wrt_stage* stage, int64_t i) {
    if (i < 0 || i >= output_count(stage)) return nullptr;
    return state(stage)->outputs[static_cast<std::size_t>(i)].c_str();
  }
  static int check_keys(wrt_stage* stage, const char* table, const char* const* known) {
    if (!stage) return 0;
    const bool top = !table || !*table;
    const Value* v = lookup(stage, top ? "" : table);
    if (!v || v->kind != Value::Kind::table) return 1;
    std::vector<std::string> names;
    for (const char* const* k = known; k && *k; ++k) names.emplace_back(*k);
    for (const auto& key : v->keys) {
      if (std::find(names.begin(), names.end(), key) != names.end()) continue;
      if (top && (key == "profile" || key == "component")) continue;  // added by wrt to component stages
      std::string where = top ? "with." + key : "with." + std::string(table) + "." + key;
      std::string hint = did_you_mean(key, names);
      std::string msg = where + ": unknown key";
      if (!hint.empty()) {
        msg += " (did you mean '" + hint + "'?)";
      } else if (!names.empty()) {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        msg += " (known: " + list + ")";
      }
      set_message(stage, msg.c_str());
      return 0;
    }
    return 1;
  }
  static void log_global(wrt_log_level level, const char* message) {
    if (static_cast<int>(level) <= static_cast<int>(WRT_LOG_DEBUG)) return;
    std::fprintf(stderr, "wrt: plugin %s: %s\n", level_name(level), message ? message : "");
  }
  static const char* tool_version(wrt_stage* stage, const char* const* argv, const char** error) {
    StageState* st = stage ? state(stage) : nullptr;
    auto keep = [&](std::string s) -> const char* {  // valid until the plugin call returns
      std::lock_guard<std::mutex> lock(st->mu);
      return st->buffers.emplace_back(std::move(s)).c_str();
    };
    auto fail = [&](std::string why) -> const char* {
      if (error && st) *error = keep(std::move(why));
      return nullptr;
    };
    if (!st || !argv || !argv[0] || !*argv[0]) return fail("empty command");
    std::vector<std::string> args;
    for (const char* const* a = argv; *a; ++a) args.emplace_back(*a);
    // Resolved like wrt does: a path with '/' against the workspace, else PATH.
    std::string exe = args[0].find('/') == std::string::npos ? find_program(args[0])
                      : args[0][0] == '/'                     ? args[0]
                                                              : st->workspace + "/" + args[0];
    if (exe.empty() || !is_executable_file(exe)) return fail(args[0] + " was not found on PATH");
    // Cached by the binary's identity, so a reinstalled tool is asked again.
    struct stat sb {};
    ::stat(exe.c_str(), &sb);
    std::string key = exe;
    for (long long x : {static_cast<long long>(sb.st_size), static_cast<long long>(sb.st_mtim.tv_sec),
                        static_cast<long long>(sb.st_mtim.tv_nsec), static_cast<long long>(sb.st_ctim.tv_sec),
                        static_cast<long long>(sb.st_ctim.tv_nsec), static_cast<long long>(sb.st_ino)})
      key += '\0' + std::to_string(x);
    for (std::size_t i = 1; i < args.size(); ++i) key += '\0' + args[i];
    static std::mutex memo_mu;
    static std::map<std::string, std::string> memo;
    {
      std::lock_guard<std::mutex> lock(memo_mu);
      if (auto it = memo.find(key); it != memo.end()) return keep(it->second);
    }
    args[0] = exe;
    std::string output;
    ChildResult r = run_child(args, st->workspace, {}, Clock::now() + std::chrono::seconds(60), std::chrono::seconds(2),
                              [&](const char* d, std::size_t n) { output.append(d, n); });
    if (!r.started) return fail(r.error);
    if (r.timed_out) return fail(std::string(argv[0]) + " did not answer within 60 s");
    if (r.exit_code != 0)
      return fail(std::string(argv[0]) + " exited with " + std::to_string(r.term_signal ? -r.term_signal : r.exit_code));
    std::lock_guard<std::mutex> lock(memo_mu);
    memo[key] = output;
    return keep(output);
  }
};

inline const wrt_host* host_table() {
  static const wrt_host host = {
      sizeof(wrt_host),      WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, "0.0.0-testing",
      Host::log,             Host::config_json,     Host::config_string,   Host::config_int,
      Host::config_double,   Host::config_bool,     Host::config_array_size, Host::stage_name,
      Host::workspace_dir,   Host::spawn,           Host::report_metric,   Host::report_finding,
      Host::report_test_case, Host::report_artifact, Host::set_message,    Host::add_fingerprint,
      Host::get_extension,   Host::config_key_at,   Host::data_dir,        Host::input_count,
      Host::input_at,        Host::output_count,    Host::output_at,       Host::check_keys,
      Host::log_global,      Host::tool_version,    Host::declare_state,   Host::never_cache,
      Host::run_context,
  };
  return &host;
}

}  // namespace detail

// The harness's host table, for a test that calls a plugin's entry points
// itself (e.g. init with a host, as wrt does on loading).
inline const wrt_host* host() { return detail::host_table(); }

// ---------------------------------------------------------------------------
// A plugin library, loaded as wrt loads it: dlopen, wrt_plugin_entry(), the
// ABI major check, init(host). deinit() and dlclose on destruction.
class Plugin {
 public:
  explicit Plugin(const std::string& path) : path_(path) {
    lib_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) throw std::runtime_error(path + ": cannot load plugin library: " + ::dlerror());
    auto fn = reinterpret_cast<wrt_plugin_entry_fn>(::dlsym(lib_, WRT_PLUGIN_ENTRY_SYMBOL));
    if (!fn) fail("not a wrt plugin (no 'wrt_plugin_entry' symbol exported)");
    entry_ = fn();
    if (!entry_ || !WRT_HAS_FIELD(entry_, wrt_entry, plugins)) fail("malformed plugin entry");
    if (entry_->abi_major != WRT_ABI_VERSION_MAJOR)
      fail("plugin built for ABI " + std::to_string(entry_->abi_major) + "." + std::to_string(entry_->abi_minor) +
           ", the harness is ABI " + std::to_string(WRT_ABI_VERSION_MAJOR) + "." +
           std::to_string(WRT_ABI_VERSION_MINOR));
    for (std::uint32_t i = 0; i < entry_->plugin_count; ++i) {
      const wrt_plugin* p = entry_->plugins[i];
      if (!p || !WRT_HAS_FIELD(p, wrt_plugin, run) || !p->name || !p->run)
        fail("plugin #" + std::to_string(i) + " is malformed (needs struct_size, name and run)");
    }
    if (entry_->init && !entry_->init(detail::host_table())) fail("plugin init refused to load");
    initialised_ = true;
  }
  ~Plugin() {
    if (initialised_ && entry_->deinit) entry_->deinit();
    ::dlclose(lib_);
  }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const wrt_entry& entry() const { return *entry_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (std::uint32_t i = 0; i < entry_->plugin_count; ++i) out.emplace_back(entry_->plugins[i]->name);
    return out;
  }
  // The plugin called `name`; "" = the library's only plugin.
  const wrt_plugin& get(const std::string& name = {}) const {
    if (name.empty() && entry_->plugin_count == 1) return *entry_->plugins[0];
    for (std::uint32_t i = 0; i < entry_->plugin_count; ++i)
      if (name == entry_->plugins[i]->name) return *entry_->plugins[i];
    std::string have;
    for (const auto& n : names()) have += (have.empty() ? "" : ", ") + n;
    throw std::invalid_argument(path_ + ": no plugin '" + name + "' (the library has: " + have + ")");
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    ::dlclose(lib_);
    throw std::runtime_error(path_ + ": " + why);
  }
  std::string path_;
  void* lib_ = nullptr;
  const wrt_entry* entry_ = nullptr;
  bool initialised_ = false;
};

// A fresh temporary directory (absolute, symlinks resolved), removed with
// everything in it on destruction.
class Workspace {
 public:
  Workspace() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/wrt-plugin-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path_ = std::filesystem::canonical(tmpl).string();
  }
  ~Workspace() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
  // Writes a workspace-relative file, creating its directories.
  void write(const std::string& rel, const std::string& content, bool executable = false) const {
    const std::filesystem::path p = *this / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + p.string());
    if (executable)
      std::filesystem::permissions(p, std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec,
                                   std::filesystem::perm_options::add);
  }
  std::string read(const std::string& rel) const {
    std::ifstream in(*this / rel, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + (*this / rel));
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool exists(const std::string& rel) const {
    std::error_code ec;
    return std::filesystem::exists(std::filesystem::symlink_status(*this / rel, ec));
  }

 private:
  std::string path_;
};

// Runs one stage as wrt would on a cache miss: fingerprint() (if the plugin
// has one), then -- when it passed -- run(), then checks the declared
// outputs exist. Throws std::invalid_argument for a bad `with` or a missing
// input; everything the plugin does is in the Result.
inline Result run_stage(const Plugin& lib, const Workspace& ws, const StageSpec& spec) {
  const wrt_plugin& plugin = lib.get(spec.plugin);
  detail::StageState st;
  st.name = spec.name;
  st.workspace = ws.path();
  st.data_dir = ws / (".wrt/cache/plugin-data/" + std::string(plugin.name));
  st.with = parse_with(spec.with);
  if (st.with.kind != Value::Kind::table) throw std::invalid_argument("with must be a table");
  for (const auto& in : spec.inputs) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(ws / in, ec))
      throw std::invalid_argument("input '" + in + "' is not a file in the workspace");
  }
  st.inputs = spec.inputs;  // wrt gives them sorted
  std::sort(st.inputs.begin(), st.inputs.end());
  st.inputs.erase(std::unique(st.inputs.begin(), st.inputs.end()), st.inputs.end());
  st.outputs = spec.outputs;
  st.run_context = spec.run_context;
  st.deadline = detail::Clock::now() + std::chrono::duration_cast<detail::Clock::duration>(
                                           std::chrono::duration<double>(spec.timeout_s));
  st.kill_grace = std::chrono::duration_cast<detail::Clock::duration>(std::chrono::duration<double>(spec.kill_grace_s));

  const wrt_host* host = detail::host_table();
  wrt_stage* handle = reinterpret_cast<wrt_stage*>(&st);
  if (plugin.fingerprint) {
    st.in_fingerprint = true;
    wrt_status s = plugin.fingerprint(host, handle);
    st.in_fingerprint = false;
    if (s != WRT_STATUS_PASSED) {
      Result r = std::move(st.result);
      r.status = s;
      r.configuration_error = true;
      return r;
    }
  }
  wrt_status s = plugin.run(host, handle);
  Result r = std::move(st.result);
  r.status = s;
  if (s == WRT_STATUS_PASSED && !r.timed_out) {
    for (const auto& out : spec.outputs) {
      if (!ws.exists(out)) {
        r.status = WRT_STATUS_FAILED;
        r.message = "declared output '" + out + "' was not produced";
        break;
      }
    }
  }
  return r;
}

}  // namespace wrt::sdk::testing

#endif  // WRT_TESTING_HPP
