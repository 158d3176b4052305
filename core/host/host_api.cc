#include "core/host/host_api.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <fmt/core.h>

#include "core/config/config.h"
#include "core/exec/subprocess.h"
#include "core/host/tool_versions.h"

namespace wrt {

namespace {

const char* severity_name(wrt_severity s) {
  switch (s) {
    case WRT_SEVERITY_ERROR: return "error";
    case WRT_SEVERITY_WARNING: return "warning";
    default: return "note";
  }
}

const char* test_status_name(wrt_test_status s) {
  switch (s) {
    case WRT_TEST_PASSED: return "passed";
    case WRT_TEST_FAILED: return "failed";
    case WRT_TEST_SKIPPED: return "skipped";
    default: return "flaky";
  }
}

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

// argv as a shell would take it back: words with anything but safe
// characters in single quotes.
std::string shell_quoted(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool safe = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                  "_-+=/.,:@%") == std::string::npos;
    if (safe) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) {
      if (c == '\'') out += "'\\''";
      else out += c;
    }
    out += '\'';
  }
  return out;
}

std::string signal_label(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : fmt::format("signal {}", sig);
}

void write_log(wrt_stage* st, const std::string& line) {
  if (st->log_fd < 0) return;
  std::string l = line + "\n";
  std::size_t off = 0;
  while (off < l.size()) {
    ssize_t n = ::write(st->log_fd, l.data() + off, l.size() - off);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

// "a.b[2].c" -> the JSON node, or nullptr.
const nlohmann::json* lookup(const nlohmann::json& root, const char* key) {
  if (!key) return nullptr;
  const nlohmann::json* cur = &root;
  std::string k = key;
  std::size_t i = 0;
  while (i < k.size()) {
    if (k[i] == '[') {
      std::size_t close = k.find(']', i);
      if (close == std::string::npos || !cur->is_array()) return nullptr;
      std::size_t idx = 0;
      for (std::size_t p = i + 1; p < close; ++p) {
        if (k[p] < '0' || k[p] > '9') return nullptr;
        idx = idx * 10 + static_cast<std::size_t>(k[p] - '0');
      }
      if (idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
      i = close + 1;
      if (i < k.size() && k[i] == '.') ++i;
      continue;
    }
    std::size_t end = k.find_first_of(".[", i);
    if (end == std::string::npos) end = k.size();
    std::string part = k.substr(i, end - i);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    i = end;
    if (i < k.size() && k[i] == '.') ++i;
  }
  return cur;
}

void h_log(wrt_stage* st, wrt_log_level level, const char* message) {
  if (!st) return;
  static const char* names[] = {"debug", "info", "warning", "error"};
  int lv = level < WRT_LOG_DEBUG || level > WRT_LOG_ERROR ? WRT_LOG_INFO : level;
  std::string line = fmt::format("[wrt {}] {}", names[lv], str(message));
  std::lock_guard<std::mutex> lock(st->mu);
  write_log(st, line);
  if (lv >= WRT_LOG_WARNING && st->console) st->console(fmt::format("{}: {}: {}", st->name, names[lv], str(message)));
}

const nlohmann::json& with_of(const wrt_stage* st) {
  static const nlohmann::json empty = nlohmann::json::object();
  return st && st->with ? *st->with : empty;
}

const char* h_config_json(wrt_stage* st) {
  if (!st) return "{}";
  std::lock_guard<std::mutex> lock(st->mu);
  if (st->with_json.empty()) st->with_json = with_of(st).dump();
  return st->with_json.c_str();
}

int h_config_string(wrt_stage* st, const char* key, const char** out) {
  const auto* v = st ? lookup(with_of(st), key) : nullptr;
  if (!v) return 0;
  if (!v->is_string()) return -1;
  if (out) *out = v->get_ref<const std::string&>().c_str();
  return 1;
}

int h_config_int(wrt_stage* st, const char* key, int64_t* out) {
  const auto* v = st ? lookup(with_of(st), key) : nullptr;
  if (!v) return 0;
  if (!v->is_number_integer()) return -1;
  if (out) *out = v->get<int64_t>();
  return 1;
}

int h_config_double(wrt_stage* st, const char* key, double* out) {
  const auto* v = st ? lookup(with_of(st), key) : nullptr;
  if (!v) return 0;
  if (!v->is_number()) return -1;
  if (out) *out = v->get<double>();
  return 1;
}

int h_config_bool(wrt_stage* st, const char* key, int* out) {
  const auto* v = st ? lookup(with_of(st), key) : nullptr;
  if (!v) return 0;
  if (!v->is_boolean()) return -1;
  if (out) *out = v->get<bool>() ? 1 : 0;
  return 1;
}

int64_t h_config_array_size(wrt_stage* st, const char* key) {
  const auto* v = st ? lookup(with_of(st), key) : nullptr;
  if (!v || !v->is_array()) return -1;
  return static_cast<int64_t>(v->size());
}

const char* h_stage_name(wrt_stage* st) { return st ? st->name.c_str() : ""; }
const char* h_workspace_dir(wrt_stage* st) { return st ? st->workspace.c_str() : ""; }

int h_spawn(wrt_stage* st, const wrt_spawn_request* req, wrt_spawn_result* res) {
  if (!st || !req || !res || !req->argv || !req->argv[0]) {
    if (res && WRT_HAS_FIELD(res, wrt_spawn_result, error)) res->error = "invalid spawn request";
    return -1;
  }
  SpawnOptions o;
  for (const char* const* a = req->argv; *a; ++a) o.argv.emplace_back(*a);
  std::filesystem::path cwd = st->workspace;
  if (req->cwd && *req->cwd) cwd = std::filesystem::path(req->cwd).is_absolute() ? req->cwd : cwd / req->cwd;
  o.cwd = cwd;
  if (req->env)
    for (const char* const* e = req->env; *e; ++e) o.extra_env.emplace_back(*e);
  o.log_fd = st->log_fd;
  o.capture = req->capture_output != 0;
  o.deadline = st->deadline;
  o.cancel = st->cancel;
  // The log shows what ran and how it ended, as ninja prints a failed
  // command: the first question about a failure is "what did it run?".
  if (st->log_fd >= 0) {
    std::string line = "[wrt] $ " + shell_quoted(o.argv);
    if (req->cwd && *req->cwd) line += fmt::format("  (in {})", req->cwd);
    std::lock_guard<std::mutex> lock(st->mu);
    write_log(st, line);
  }
  SpawnResult r = run_process(o);
  std::lock_guard<std::mutex> lock(st->mu);
  if (r.started && !r.timed_out && !r.interrupted) {
    if (r.term_signal)
      write_log(st, fmt::format("[wrt] {} killed by {}", o.argv[0], signal_label(r.term_signal)));
    else
      write_log(st, fmt::format("[wrt] {} exited with code {}", o.argv[0], r.exit_code));
  }
  if (r.timed_out) st->timed_out = true;
  if (r.interrupted) st->interrupted = true;
  if (r.timed_out || r.interrupted) {
    st->processes_killed += r.processes_killed;
  } else if (r.processes_killed > 0) {
    write_log(st, fmt::format("[wrt] killed {} process{} that {} left running", r.processes_killed,
                              r.processes_killed == 1 ? "" : "es", o.argv[0]));
  }
  const std::string* out = nullptr;
  const std::string* err = nullptr;
  if (o.capture) out = &st->buffers.emplace_back(std::move(r.output));
  if (!r.started) {
    err = &st->buffers.emplace_back(r.error);
    write_log(st, fmt::format("[wrt error] {}", r.error));
  }
  // Fill only the fields the plugin's struct has (it may be older).
  if (WRT_HAS_FIELD(res, wrt_spawn_result, exit_code)) res->exit_code = r.exit_code;
  if (WRT_HAS_FIELD(res, wrt_spawn_result, term_signal)) res->term_signal = r.term_signal;
  if (WRT_HAS_FIELD(res, wrt_spawn_result, timed_out)) res->timed_out = r.timed_out;
  if (WRT_HAS_FIELD(res, wrt_spawn_result, interrupted)) res->interrupted = r.interrupted;
  if (WRT_HAS_FIELD(res, wrt_spawn_result, output_size)) {
    res->output = out ? out->c_str() : nullptr;
    res->output_size = out ? out->size() : 0;
  }
  if (WRT_HAS_FIELD(res, wrt_spawn_result, error)) res->error = err ? err->c_str() : nullptr;
  return r.started ? 0 : -1;
}

void h_report_metric(wrt_stage* st, const char* name, double value) {
  if (!st || !name) return;
  std::lock_guard<std::mutex> lock(st->mu);
  st->results.metrics[name] = value;
}

void h_report_finding(wrt_stage* st, const wrt_finding* f) {
  if (!st || !f || !WRT_HAS_FIELD(f, wrt_finding, message)) return;
  Finding x{str(f->rule), severity_name(f->severity), str(f->file), f->line, f->column, str(f->message)};
  std::lock_guard<std::mutex> lock(st->mu);
  st->results.findings.push_back(std::move(x));
}

void h_report_test_case(wrt_stage* st, const wrt_test_case* t) {
  if (!st || !t || !WRT_HAS_FIELD(t, wrt_test_case, message)) return;
  TestCaseResult x{str(t->suite), str(t->name), test_status_name(t->status), t->duration_s, str(t->message)};
  std::lock_guard<std::mutex> lock(st->mu);
  st->results.tests.push_back(std::move(x));
}

void h_report_artifact(wrt_stage* st, const char* path, const char* kind) {
  if (!st || !path) return;
  std::lock_guard<std::mutex> lock(st->mu);
  st->results.artifacts.push_back({path, str(kind)});
}

void h_set_message(wrt_stage* st, const char* message) {
  if (!st) return;
  std::lock_guard<std::mutex> lock(st->mu);
  st->results.message = str(message);
}

void h_add_fingerprint(wrt_stage* st, const char* name, const char* value) {
  if (!st || !name) return;
  std::lock_guard<std::mutex> lock(st->mu);
  if (!st->in_fingerprint) {
    write_log(st, fmt::format("[wrt warning] add_fingerprint('{}') ignored: only valid during fingerprint()", name));
    return;
  }
  st->fingerprints.emplace_back(name, str(value));
}

int h_declare_state(wrt_stage* st, const char* dir) {
  if (!st) return 0;
  std::lock_guard<std::mutex> lock(st->mu);
  if (!st->in_fingerprint) {
    write_log(st, fmt::format("[wrt warning] declare_state('{}') ignored: only valid during fingerprint()", str(dir)));
    return 0;
  }
  auto norm = normalize_relative(str(dir));
  std::string why = norm ? state_dir_refusal(*norm) : norm.error();
  if (!why.empty()) {
    st->results.message = fmt::format("state directory: {}", why);
    return 0;
  }
  if (std::find(st->state.begin(), st->state.end(), *norm) == st->state.end()) st->state.push_back(*norm);
  return 1;
}

int h_never_cache(wrt_stage* st) {
  if (!st) return 0;
  std::lock_guard<std::mutex> lock(st->mu);
  if (!st->in_fingerprint) {
    write_log(st, "[wrt warning] never_cache() ignored: only valid during fingerprint()");
    return 0;
  }
  st->never_cache = true;
  return 1;
}

const void* h_get_extension(const char*) { return nullptr; }

const char* h_config_key_at(wrt_stage* st, const char* key, int64_t index) {
  if (!st || index < 0) return nullptr;
  const auto* v = (!key || !*key) ? &with_of(st) : lookup(with_of(st), key);
  if (!v || !v->is_object() || static_cast<std::size_t>(index) >= v->size()) return nullptr;
  auto it = v->begin();
  std::advance(it, index);
  return it.key().c_str();
}

const char* h_data_dir(wrt_stage* st) {
  if (!st || st->data_dir.empty()) return "";
  std::error_code ec;
  std::filesystem::create_directories(st->data_dir, ec);
  if (ec) write_log(st, fmt::format("[wrt warning] cannot create {}: {}", st->data_dir, ec.message()));
  return st->data_dir.c_str();
}

int64_t h_input_count(wrt_stage* st) {
  return st && !st->in_fingerprint && st->inputs ? static_cast<int64_t>(st->inputs->size()) : 0;
}
const char* h_input_at(wrt_stage* st, int64_t i) {
  if (!st || st->in_fingerprint || !st->inputs || i < 0 || static_cast<std::size_t>(i) >= st->inputs->size())
    return nullptr;
  return (*st->inputs)[static_cast<std::size_t>(i)].c_str();
}
int64_t h_output_count(wrt_stage* st) { return st && st->outputs ? static_cast<int64_t>(st->outputs->size()) : 0; }
const char* h_output_at(wrt_stage* st, int64_t i) {
  if (!st || !st->outputs || i < 0 || static_cast<std::size_t>(i) >= st->outputs->size()) return nullptr;
  return (*st->outputs)[static_cast<std::size_t>(i)].c_str();
}

int h_check_keys(wrt_stage* st, const char* table, const char* const* known) {
  if (!st) return 0;
  const bool top = !table || !*table;
  const auto* v = top ? &with_of(st) : lookup(with_of(st), table);
  if (!v || !v->is_object()) return 1;
  std::vector<std::string> names;
  for (const char* const* k = known; k && *k; ++k) names.emplace_back(*k);
  for (const auto& [key, value] : v->items()) {
    (void)value;
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    // Added by the host to stages it expands per component.
    if (top && (key == "profile" || key == "component")) continue;
    std::string hint = did_you_mean(key, names);
    std::string where = top ? "with." + key : fmt::format("with.{}.{}", table, key);
    std::string msg = hint.empty() ? fmt::format("{}: unknown key", where)
                                   : fmt::format("{}: unknown key (did you mean '{}'?)", where, hint);
    if (hint.empty() && !names.empty()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      msg += fmt::format(" (known: {})", list);
    }
    std::lock_guard<std::mutex> lock(st->mu);
    st->results.message = std::move(msg);
    return 0;
  }
  return 1;
}

void h_log_global(wrt_log_level level, const char* message) {
  static const char* names[] = {"debug", "info", "warning", "error"};
  int lv = level < WRT_LOG_DEBUG || level > WRT_LOG_ERROR ? WRT_LOG_INFO : level;
  if (lv < WRT_LOG_INFO) return;
  std::fprintf(stderr, "wrt: plugin %s: %s\n", names[lv], str(message).c_str());
}

const char* h_tool_version(wrt_stage* st, const char* const* argv, const char** error) {
  auto fail = [&](std::string why) -> const char* {
    if (error && st) {
      std::lock_guard<std::mutex> lock(st->mu);
      *error = st->buffers.emplace_back(std::move(why)).c_str();
    }
    return nullptr;
  };
  if (!st || !argv || !argv[0] || !*argv[0]) return fail("empty command");
  std::vector<std::string> args;
  for (const char* const* a = argv; *a; ++a) args.emplace_back(*a);
  auto version = cached_tool_version(st->workspace, args, st->cancel);
  if (!version) return fail(version.error());
  std::lock_guard<std::mutex> lock(st->mu);
  return st->buffers.emplace_back(std::move(*version)).c_str();
}

const char* h_run_context(wrt_stage* st) {
  if (!st || st->in_fingerprint || !st->run_context) return nullptr;
  return st->run_context->c_str();
}

const wrt_host kHost = {
    sizeof(wrt_host),   WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, WRT_VERSION,
    h_log,              h_config_json,         h_config_string,       h_config_int,
    h_config_double,    h_config_bool,         h_config_array_size,   h_stage_name,
    h_workspace_dir,    h_spawn,               h_report_metric,       h_report_finding,
    h_report_test_case, h_report_artifact,     h_set_message,         h_add_fingerprint,
    h_get_extension,    h_config_key_at,       h_data_dir,            h_input_count,
    h_input_at,         h_output_count,        h_output_at,           h_check_keys,
    h_log_global,       h_tool_version,        h_declare_state,       h_never_cache,
    h_run_context,
};

}  // namespace

const wrt_host* host_table() { return &kHost; }

}  // namespace wrt
