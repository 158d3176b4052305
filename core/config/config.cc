#include "core/config/config.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <optional>
#include <sstream>
#include <string_view>

#include <fmt/core.h>
#include <toml++/toml.h>

#include "core/cache/cache_store.h"
#include "core/config/components.h"
#include "core/config/config_schema.h"
#include "core/config/glob.h"
#include "core/util/heap.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

// Thrown only inside this file and caught in parse_config: config errors are
// found deep in recursive conversion and each one ends the parse anyway.
struct ConfigError {
  SourcePos pos;
  std::string message;
};

SourcePos pos_of(const toml::source_region& r) {
  return {static_cast<std::uint32_t>(r.begin.line), static_cast<std::uint32_t>(r.begin.column)};
}

[[noreturn]] void fail(const toml::source_region& r, std::string message) {
  throw ConfigError{pos_of(r), std::move(message)};
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

// The allowed keys come from the one description of wrt.toml that `wrt
// schema` prints too (config_schema.h).
void check_keys(const toml::table& t, const std::string& where, const schema::Table& spec) {
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    if (spec.find(key)) continue;
    const std::vector<std::string> allowed = spec.key_names();
    std::string hint = did_you_mean(key, allowed);
    fail(k.source(), fmt::format("unknown key '{}' in {}{}", key, where,
                                 hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }
}

// A key config_schema.h allows that the code below does not read: the
// description and the loader disagree, which tests/schema_test.cc catches.
[[noreturn]] void unhandled(const toml::node& n, const std::string& what) {
  fail(n.source(), fmt::format("{} is in wrt's schema but the loader does not read it (a bug in wrt)", what));
}

bool is_one_of(std::string_view key, std::initializer_list<std::string_view> handled) {
  return std::find(handled.begin(), handled.end(), key) != handled.end();
}

const toml::table& as_table(const toml::node& n, const std::string& what) {
  if (!n.is_table()) fail(n.source(), fmt::format("{} must be a table, not {}", what, type_name(n)));
  return *n.as_table();
}

std::string as_string(const toml::node& n, const std::string& what) {
  if (!n.is_string()) fail(n.source(), fmt::format("{} must be a string, not {}", what, type_name(n)));
  return std::string(n.as_string()->get());
}

std::int64_t as_int(const toml::node& n, const std::string& what, std::int64_t min) {
  if (!n.is_integer()) fail(n.source(), fmt::format("{} must be an integer, not {}", what, type_name(n)));
  std::int64_t v = n.as_integer()->get();
  if (v < min) fail(n.source(), fmt::format("{} must be at least {}, not {}", what, min, v));
  return v;
}

double as_positive_number(const toml::node& n, const std::string& what) {
  double v;
  if (n.is_integer()) v = static_cast<double>(n.as_integer()->get());
  else if (n.is_floating_point()) v = n.as_floating_point()->get();
  else fail(n.source(), fmt::format("{} must be a number, not {}", what, type_name(n)));
  if (!(v > 0)) fail(n.source(), fmt::format("{} must be greater than 0", what));
  return v;
}

bool as_bool(const toml::node& n, const std::string& what) {
  if (!n.is_boolean()) fail(n.source(), fmt::format("{} must be true or false, not {}", what, type_name(n)));
  return n.as_boolean()->get();
}

std::vector<std::string> as_string_list(const toml::node& n, const std::string& what) {
  if (!n.is_array()) fail(n.source(), fmt::format("{} must be an array of strings, not {}", what, type_name(n)));
  std::vector<std::string> out;
  for (const auto& e : *n.as_array()) {
    if (!e.is_string()) fail(e.source(), fmt::format("{} must contain only strings, found {}", what, type_name(e)));
    out.emplace_back(e.as_string()->get());
  }
  return out;
}

// `value` for an error message: control characters, quotes and backslashes
// escaped, and cut after 60 characters (a path may be a megabyte long).
std::string quoted_for_message(const std::string& value) {
  std::string out = "\"";
  std::size_t shown = 0;
  for (char ch : value) {
    if (++shown > 60) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", c);
    else if (ch == '"' || ch == '\\') (out += '\\') += ch;
    else out += ch;
  }
  return out + "\"";
}

// A path reaches the file system through C strings: a NUL would cut it short
// (`inputs = ["\u0000"]` named the workspace itself, and the walk below it
// recursed without end), and other control characters are never meant.
void check_path_chars(const toml::node& n, const std::string& what, const std::string& value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f)
      fail(n.source(), fmt::format("{}: {} contains the control character U+{:04X}; paths may not", what,
                                   quoted_for_message(value), c));
  }
}

std::string as_path(const toml::node& n, const std::string& what) {
  std::string s = as_string(n, what);
  check_path_chars(n, what, s);
  return s;
}

std::vector<std::string> as_path_list(const toml::node& n, const std::string& what) {
  std::vector<std::string> out = as_string_list(n, what);
  const auto& arr = *n.as_array();
  for (std::size_t i = 0; i < out.size(); ++i) check_path_chars(arr[i], what, out[i]);
  return out;
}

// A list of workspace-relative paths, normalised; `refuse` returns why a
// normalised path is not allowed here (empty: allowed). Errors point at the
// element.
template <typename Refuse>
std::vector<std::string> as_normalized_paths(const toml::node& n, const std::string& what, Refuse refuse) {
  auto paths = as_path_list(n, what);
  const auto& arr = *n.as_array();
  std::vector<std::string> out;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto norm = normalize_relative(paths[i]);
    if (!norm) fail(arr[i].source(), fmt::format("{}: {}", what, norm.error()));
    if (std::string why = refuse(*norm); !why.empty()) fail(arr[i].source(), fmt::format("{}: {}", what, why));
    out.push_back(*norm);
  }
  return out;
}

// "8GiB", "512MB" or a byte count.
std::uint64_t as_size(const toml::node& n, const std::string& what) {
  if (n.is_integer()) return static_cast<std::uint64_t>(as_int(n, what, 1));
  auto size = parse_size(as_string(n, what));
  if (!size) fail(n.source(), what + ": " + size.error());
  return *size;
}

Asil as_asil(const toml::node& n, const std::string& what) {
  auto a = parse_asil(as_string(n, what));
  if (!a) fail(n.source(), fmt::format("{} must be one of QM, A, B, C, D, not '{}'", what, n.as_string()->get()));
  return *a;
}

std::string as_priority(const toml::node& n, const std::string& what) {
  std::string p = as_string(n, what);
  if (priority_rank(p) < 0) fail(n.source(), fmt::format("{} must be low, normal, high or critical, not '{}'", what, p));
  return p;
}

nlohmann::json to_json(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: {
      nlohmann::json o = nlohmann::json::object();
      for (auto&& [k, v] : *n.as_table()) o[std::string(k.str())] = to_json(v);
      return o;
    }
    case toml::node_type::array: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : *n.as_array()) a.push_back(to_json(e));
      return a;
    }
    case toml::node_type::string: return std::string(n.as_string()->get());
    case toml::node_type::integer: return n.as_integer()->get();
    case toml::node_type::floating_point: return n.as_floating_point()->get();
    case toml::node_type::boolean: return n.as_boolean()->get();
    default: {
      std::ostringstream ss;
      n.visit([&](auto&& v) { ss << v; });
      return ss.str();
    }
  }
}

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

void parse_settings(const toml::table& t, Settings& s) {
  check_keys(t, "[settings]", schema::settings());
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string what = "settings." + key;
    if (key == "max_parallel_jobs") s.max_parallel_jobs = static_cast<int>(as_int(v, what, 1));
    else if (key == "timeout_minutes") s.timeout_minutes = as_positive_number(v, what);
    else if (key == "max_attempts") s.max_attempts = static_cast<int>(as_int(v, what, 1));
    else if (key == "cache_dir") s.cache_dir = as_path(v, what);
    else if (key == "plugin_path") s.plugin_path = as_path_list(v, what);
    else if (key == "memory_limit") s.memory_limit = as_size(v, what);
    else if (key == "cached_log_limit") s.cached_log_limit = as_size(v, what);
    else if (key == "remote_cache") s.remote_cache = as_string(v, what);
    else if (key == "remote_upload") s.remote_upload = as_bool(v, what);
    else if (key == "remote_cache_trusted_keys") s.remote_cache_trusted_keys = as_path_list(v, what);
    else if (key == "remote_cache_compression") {
      s.remote_cache_compression = as_string(v, what);
      if (s.remote_cache_compression != "none" && s.remote_cache_compression != "zstd")
        fail(v.source(), fmt::format("{} must be none or zstd, not '{}'", what, s.remote_cache_compression));
    }
    else if (key == "cache_max_size") {
      if (v.is_integer()) {
        s.cache_max_size = static_cast<std::uint64_t>(as_int(v, what, 1));
      } else {
        auto size = parse_size(as_string(v, what));
        if (!size) fail(v.source(), what + ": " + size.error());
        s.cache_max_size = *size;
      }
    } else {
      unhandled(v, what);
    }
  }
}

NotifyConfig parse_notify(const toml::node& node) {
  NotifyConfig n;
  n.pos = pos_of(node.source());
  const auto& t = as_table(node, "[notify]");
  check_keys(t, "[notify]", schema::notify());
  n.on = {"failure", "gate-block"};
  if (auto* on = t.get("on")) {
    n.on = as_string_list(*on, "notify.on");
    const std::vector<std::string> events = {"failure", "gate-block", "gate-warn", "recovered"};
    const auto& arr = *on->as_array();
    for (std::size_t i = 0; i < n.on.size(); ++i)
      if (std::find(events.begin(), events.end(), n.on[i]) == events.end()) {
        std::string hint = did_you_mean(n.on[i], events);
        fail(arr[i].source(), fmt::format("notify.on: unknown event '{}'; one of failure, gate-block, gate-warn, recovered{}",
                                          n.on[i], hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
      }
  }
  if (auto* v = t.get("timeout_s")) n.timeout_s = as_positive_number(*v, "notify.timeout_s");
  if (auto* w = t.get("webhook")) {
    const auto& wt = as_table(*w, "[notify.webhook]");
    check_keys(wt, "[notify.webhook]", schema::notify_webhook());
    if (auto* u = wt.get("url")) {
      n.webhook_url = as_string(*u, "notify.webhook.url");
      if (n.webhook_url.rfind("http://", 0) != 0 && n.webhook_url.rfind("https://", 0) != 0)
        fail(u->source(), "notify.webhook.url must start with http:// or https://");
    }
    if (auto* u = wt.get("url_env")) n.webhook_url_env = as_string(*u, "notify.webhook.url_env");
    if (n.webhook_url.empty() == n.webhook_url_env.empty())
      fail(w->source(), "[notify.webhook] needs either 'url' or 'url_env' (the variable holding a secret URL)");
    if (auto* f = wt.get("format")) {
      n.webhook_format = as_string(*f, "notify.webhook.format");
      if (n.webhook_format != "slack" && n.webhook_format != "json")
        fail(f->source(), "notify.webhook.format must be \"slack\" or \"json\"");
    }
  }
  if (auto* e = t.get("email")) {
    const auto& et = as_table(*e, "[notify.email]");
    check_keys(et, "[notify.email]", schema::notify_email());
    if (auto* to = et.get("to")) n.email_to = as_string_list(*to, "notify.email.to");
    if (n.email_to.empty()) fail(e->source(), "[notify.email] needs 'to', a list of addresses");
    for (const auto& a : n.email_to)
      if (a.find('@') == std::string::npos || a.find_first_of("\r\n,<> ") != std::string::npos)
        fail(et.get("to")->source(), fmt::format("notify.email.to: '{}' is not an address", a));
    if (auto* f = et.get("from")) {
      n.email_from = as_string(*f, "notify.email.from");
      if (n.email_from.find_first_of("\r\n") != std::string::npos) fail(f->source(), "notify.email.from: one line only");
    }
    n.email_command = {"sendmail", "-t", "-i"};
    if (auto* c = et.get("command")) {
      n.email_command = as_string_list(*c, "notify.email.command");
      if (n.email_command.empty()) fail(c->source(), "notify.email.command must name a program");
    }
  }
  if (auto* g = t.get("github")) {
    const auto& gt = as_table(*g, "[notify.github]");
    check_keys(gt, "[notify.github]", schema::notify_github());
    n.github = true;
    if (auto* r = gt.get("repository")) {
      n.github_repository = as_string(*r, "notify.github.repository");
      const auto slash = n.github_repository.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == n.github_repository.size() ||
          n.github_repository.find('/', slash + 1) != std::string::npos)
        fail(r->source(), "notify.github.repository must be OWNER/NAME");
    }
    if (auto* v = gt.get("token_env")) n.github_token_env = as_string(*v, "notify.github.token_env");
    if (auto* v = gt.get("api_url")) {
      n.github_api_url = as_string(*v, "notify.github.api_url");
      if (n.github_api_url.rfind("http://", 0) != 0 && n.github_api_url.rfind("https://", 0) != 0)
        fail(v->source(), "notify.github.api_url must start with http:// or https://");
    }
    if (auto* v = gt.get("labels")) n.github_labels = as_string_list(*v, "notify.github.labels");
  }
  if (!n.configured()) fail(node.source(), "[notify] needs a channel: [notify.webhook], [notify.email] or [notify.github]");
  return n;
}

StageConfig parse_stage(const std::string& name, const toml::node& node) {
  StageConfig st;
  st.name = name;
  st.pos = pos_of(node.source());
  const std::string where = fmt::format("[stages.{}]", name);
  const auto& t = as_table(node, where);
  check_keys(t, where, schema::stage());
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string what = fmt::format("stages.{}.{}", name, key);
    st.key_pos[key] = pos_of(v.source());
    if (key == "plugin") {
      st.plugin = as_string(v, what);
      if (!valid_name(st.plugin)) fail(v.source(), fmt::format("{}: '{}' is not a plugin name", what, st.plugin));
    } else if (key == "needs") {
      st.needs = as_string_list(v, what);
    } else if (key == "inputs") {
      st.inputs = as_path_list(v, what);
      const auto& arr = *v.as_array();
      for (std::size_t i = 0; i < st.inputs.size(); ++i) {
        std::string err = glob_pattern_error(st.inputs[i]);
        if (!err.empty()) fail(arr[i].source(), fmt::format("{}: {}", what, err));
      }
    } else if (key == "outputs") {
      st.outputs = as_normalized_paths(v, what, [](const std::string& p) {
        return p == "." ? std::string("the whole workspace cannot be an output") : std::string();
      });
    } else if (key == "state") {
      st.state = as_normalized_paths(v, what, state_dir_refusal);
    } else if (key == "env") {
      st.env = as_string_list(v, what);
    } else if (key == "timeout_minutes") {
      st.timeout_minutes = as_positive_number(v, what);
    } else if (key == "max_attempts") {
      st.max_attempts = static_cast<int>(as_int(v, what, 1));
    } else if (key == "cache") {
      st.cache = as_bool(v, what);
    } else if (key == "with") {
      st.with = to_json(as_table(v, what));
    } else if (key == "description") {
      as_string(v, what);
    } else if (key == "for_each") {
      st.extras_mut().for_each = as_string(v, what);
      if (st.extras().for_each != "component")
        fail(v.source(), fmt::format("{} must be \"component\", not \"{}\"", what, st.extras().for_each));
    } else if (key == "components") {
      st.extras_mut().only_components = as_string_list(v, what);
    } else if (key == "min_asil") {
      st.extras_mut().min_asil = as_asil(v, what);
    } else if (key == "asil") {
      st.asil = as_asil(v, what);
    } else if (key == "priority") {
      st.extras_mut().priority = as_priority(v, what);
    } else if (key == "cpus") {
      st.cpus = static_cast<int>(as_int(v, what, 1));
    } else if (key == "memory") {
      st.memory = as_size(v, what);
    } else if (key == "when") {
      const auto& wt = as_table(v, what);
      check_keys(wt, what, schema::stage_when());
      for (auto&& [wk, wv] : wt) {
        const std::string wkey(wk.str());
        std::vector<std::string> patterns =
            wv.is_string() ? std::vector<std::string>{as_string(wv, what + "." + wkey)} : as_string_list(wv, what + "." + wkey);
        if (patterns.empty()) fail(wv.source(), fmt::format("{}.{} needs at least one pattern", what, wkey));
        StageCondition& when = st.extras_mut().when;
        (wkey == "branch" ? when.branch : wkey == "tag" ? when.tag : when.event) = std::move(patterns);
      }
      if (st.extras().when.empty()) fail(v.source(), fmt::format("{} needs branch, tag or event", what));
    } else if (key == "requires_gate") {
      st.extras_mut().requires_gate = as_string(v, what);
      if (st.extras().requires_gate != "pass" && st.extras().requires_gate != "warn")
        fail(v.source(), fmt::format("{} must be \"pass\" or \"warn\", not \"{}\"", what, st.extras().requires_gate));
    } else if (key == "min_verified_asil") {
      st.extras_mut().min_verified_asil = as_asil(v, what);
    } else {
      unhandled(v, what);
    }
  }
  if (st.extras().for_each.empty()) {
    for (const char* k : {"components", "min_asil"})
      if (auto it = st.key_pos.find(k); it != st.key_pos.end())
        throw ConfigError{it->pos, fmt::format("stages.{}.{} needs for_each = \"component\"", name, k)};
  } else if (st.asil) {
    throw ConfigError{st.key_pos["asil"],
                      fmt::format("stages.{}: a for_each stage takes each component's asil; use min_asil to filter", name)};
  }
  return st;
}

ComponentConfig parse_component(const std::string& name, const toml::node& node) {
  ComponentConfig c;
  c.name = name;
  c.pos = pos_of(node.source());
  const std::string where = fmt::format("[components.{}]", name);
  const auto& t = as_table(node, where);
  check_keys(t, where, schema::component());
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string what = fmt::format("components.{}.{}", name, key);
    if (key == "paths") {
      c.paths = as_path_list(v, what);
      const auto& arr = *v.as_array();
      for (std::size_t i = 0; i < c.paths.size(); ++i) {
        std::string err = glob_pattern_error(c.paths[i]);
        if (!err.empty()) fail(arr[i].source(), fmt::format("{}: {}", what, err));
      }
    } else if (key == "asil") {
      c.asil = as_asil(v, what);
    } else if (key == "requirements") {
      c.requirements = as_string_list(v, what);
    } else if (key == "description") {
      as_string(v, what);
    } else {
      unhandled(v, what);
    }
  }
  if (c.paths.empty()) fail(node.source(), fmt::format("{} needs paths = [...] (what the component is made of)", where));
  return c;
}

void parse_asil_profiles(const toml::table& t, AsilProfile* profiles) {
  for (auto&& [k, v] : t) {
    std::string level(k.str());
    auto a = parse_asil(level);
    if (!a || level != asil_name(*a) || !schema::asil_levels().find(level))
      fail(k.source(), fmt::format("unknown ASIL level '{}' in [asil] (QM, A, B, C or D)", level));
    const std::string where = fmt::format("[asil.{}]", level);
    const auto& pt = as_table(v, where);
    check_keys(pt, where, schema::asil_profile());
    AsilProfile& p = profiles[static_cast<int>(*a)];
    for (auto&& [pk, pv] : pt) {
      std::string key(pk.str());
      std::string what = fmt::format("asil.{}.{}", level, key);
      if (key == "timeout_minutes") p.timeout_minutes = as_positive_number(pv, what);
      else if (key == "priority") p.priority = as_priority(pv, what);
      else if (key == "coverage_target") p.coverage_target = as_positive_number(pv, what);
      else if (key == "verifier") p.verifier = to_json(as_table(pv, what));
      else if (key == "on_failure") {
        p.on_failure = as_string(pv, what);
        if (p.on_failure != "allow" && p.on_failure != "warn" && p.on_failure != "block")
          fail(pv.source(), fmt::format("{} must be allow, warn or block, not '{}'", what, p.on_failure));
      } else {
        unhandled(pv, what);
      }
    }
  }
}

// Checks on the raw text, before toml++ sees it, for inputs that toml++ 3.3
// does not survive. It skips strings and comments as TOML defines them.
//
// Nesting: toml++ parses and frees dotted keys, table headers and inline
// arrays and tables recursively; a 20,000-segment key `a.a.a...` overflowed
// the stack. The depth is over-estimated: every '.' outside a string counts as
// a key segment (a float's '.' too), every '[' and '{' as a level, and the
// segments of a [table] header count under every key of that table (those of
// an [[array.of.tables]] twice).
//
// Non-ASCII: toml++ 3.3 asks whether a non-ASCII character is whitespace with
// a function that reaches __builtin_unreachable for most of U+00A1..U+0499
// (toml++ issues 190 and 295). It does so for any character outside strings
// and comments, which TOML does not allow there anyway, for characters up to
// the end of an unquoted value (invalid TOML too), and for the first
// character after a line-ending backslash in a """ string.
constexpr int kMaxNesting = 100;

struct ScanError {
  SourcePos pos;
  std::string message;
};

// The code point of the UTF-8 sequence at text[i], if it is one.
std::optional<std::uint32_t> decode_utf8(std::string_view text, std::size_t i) {
  const auto b = [&](std::size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  const unsigned lead = b(i);
  const int len = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
  if (len == 0) return std::nullopt;
  std::uint32_t cp = lead & (0x7Fu >> len);
  for (int k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  return cp;
}

std::string describe_non_ascii(std::string_view text, std::size_t i) {
  if (auto cp = decode_utf8(text, i)) return fmt::format("U+{:04X}", *cp);
  return fmt::format("byte 0x{:02X}", static_cast<unsigned char>(text[i]));
}

// `headers` (optional): where each [table] and [[array]] header starts
// (its first '[') and ends (after its last ']'), in order.
std::optional<ScanError> prescan(std::string_view text,
                                 std::vector<std::pair<std::size_t, std::size_t>>* headers = nullptr) {
  struct Level {
    int dots = 0;         // '.' seen in this level's current key and value
    int weight = 1;       // levels this bracket adds
    bool header = false;  // a [table] or [[array]] header
    bool array = false;   // an inline array: its elements are values
  };
  std::vector<Level> levels(1);  // [0]: the top-level statement
  levels[0].weight = 0;
  int header_depth = 0;  // of the table the following keys go into
  int depth = 0;         // header_depth + the levels' dots and weights
  const std::size_t n = text.size();
  std::size_t i = 0;
  std::uint32_t line = 1, column = 1;
  std::optional<ScanError> error;
  auto advance = [&](std::size_t count) {
    for (std::size_t end = std::min(n, i + count); i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
        ++column;
      }
    }
  };
  auto non_ascii = [&](std::size_t at) { return at < n && static_cast<unsigned char>(text[at]) >= 0x80; };
  // A backslash at text[i] inside a """ string.
  auto skip_escape = [&] {
    std::size_t j = i + 1;
    while (j < n && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n')) ++j;
    if (!non_ascii(j)) {
      advance(2);
      return;
    }
    advance(j - i);
    const auto cp = decode_utf8(text, i);
    const std::string escape = !cp ? "\\uXXXX" : *cp > 0xFFFF ? fmt::format("\\U{:08X}", *cp) : fmt::format("\\u{:04X}", *cp);
    error = ScanError{{line, column},
                      fmt::format("{} right after a backslash in a \"\"\" string trips a bug in the TOML parser "
                                  "(toml++ 3.3); write it as the escape {} or start the line with an ASCII character",
                                  describe_non_ascii(text, i), escape)};
  };
  auto skip_string = [&] {
    const char q = text[i];
    const bool escapes = q == '"';
    if (i + 2 < n && text[i + 1] == q && text[i + 2] == q) {  // multi-line
      advance(3);
      while (i < n && !error) {
        if (escapes && text[i] == '\\') {
          skip_escape();
        } else if (text[i] == q && i + 2 < n && text[i + 1] == q && text[i + 2] == q) {
          std::size_t run = 3;  // up to two more quotes belong to the string
          while (run < 5 && i + run < n && text[i + run] == q) ++run;
          advance(run);
          return;
        } else {
          advance(1);
        }
      }
      return;
    }
    advance(1);
    while (i < n && text[i] != '\n') {
      if (escapes && text[i] == '\\' && i + 1 < n && text[i + 1] != '\n') {
        advance(2);
      } else if (text[i] == q) {
        advance(1);
        return;
      } else {
        advance(1);
      }
    }
  };
  if (text.substr(0, 3) == "\xEF\xBB\xBF") advance(3);  // a UTF-8 byte order mark
  bool statement_start = true;  // only blanks since the last top-level newline
  bool expect_value = false;    // after '=', and in an array after '[' or ','
  while (i < n) {
    const char c = text[i];
    if (c == '\n') {
      if (levels.size() == 1) {
        depth -= levels[0].dots;
        levels[0].dots = 0;
        statement_start = true;
      }
      advance(1);
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      advance(1);
      continue;
    }
    if (c == '#') {
      while (i < n && text[i] != '\n') advance(1);
      continue;
    }
    const bool at_start = statement_start;
    statement_start = false;
    const bool value_start = expect_value;
    expect_value = false;
    if (c == '"' || c == '\'') {
      skip_string();
      if (error) return error;
      continue;
    }
    const SourcePos here{line, column};
    if (non_ascii(i))
      return ScanError{here, fmt::format("{} outside a string or comment; TOML allows only ASCII there",
                                         describe_non_ascii(text, i))};
    if (value_start && c != '[' && c != '{' && c != ']' && c != '}' && c != ',' && c != '=') {
      // An unquoted value (number, boolean, date): toml++ reads ahead to the
      // next space, ',', ']', '}' or '#', quotes included, asking of every
      // character whether it is whitespace. Valid values are ASCII up to there.
      std::size_t j = i;
      while (j < n && std::string_view(" \t\n\v\f\r,]}#").find(text[j]) == std::string_view::npos && !non_ascii(j)) ++j;
      if (non_ascii(j)) {
        advance(j - i);
        return ScanError{{line, column}, fmt::format("{} in an unquoted value; TOML allows only ASCII there",
                                                     describe_non_ascii(text, j))};
      }
    }
    if (c == '[' || c == '{') {
      Level lv;
      lv.array = c == '[';
      if (c == '[' && at_start && levels.size() == 1) {
        lv.header = true;
        if (headers) headers->emplace_back(i, i);
        lv.array = false;
        depth -= header_depth;
        header_depth = 0;
        if (i + 1 < n && text[i + 1] == '[') {
          lv.weight = 2;
          advance(1);
        }
      }
      levels.push_back(lv);
      expect_value = lv.array;
      depth += lv.weight;
      advance(1);
    } else if (c == ']' || c == '}') {
      if (levels.size() > 1) {
        const Level lv = levels.back();
        levels.pop_back();
        depth -= lv.weight + lv.dots;
        if (lv.header) {
          if (lv.weight == 2 && i + 1 < n && text[i + 1] == ']') advance(1);
          if (headers && !headers->empty()) headers->back().second = i + 1;
          header_depth = lv.weight * (lv.dots + 1);
          depth += header_depth;
        }
      }
      advance(1);
    } else if (c == '.') {
      ++levels.back().dots;
      ++depth;
      advance(1);
    } else if (c == '=') {
      expect_value = true;
      advance(1);
    } else if (c == ',') {
      expect_value = levels.back().array;
      depth -= levels.back().dots;
      levels.back().dots = 0;
      advance(1);
    } else {
      advance(1);
    }
    if (depth > kMaxNesting)
      return ScanError{here, fmt::format("keys, tables and arrays nest more than {} levels deep", kMaxNesting)};
  }
  return std::nullopt;
}

}  // namespace

const std::string* intern_stage_key(std::string_view key) {
  // A stage's keys are the schema's: found without a lock. Anything else
  // (a newer key in an old list, tests) goes to a pool that only grows.
  static const std::vector<std::string> kKnown = [] {
    std::vector<std::string> names;
    for (const auto& k : schema::stage().keys) names.push_back(k.name);
    return names;
  }();
  for (const auto& k : kKnown)
    if (k == key) return &k;
  static std::mutex mu;
  static std::set<std::string, std::less<>> pool;
  std::lock_guard<std::mutex> lock(mu);
  auto it = pool.find(key);
  if (it == pool.end()) it = pool.emplace(key).first;
  return &*it;
}

const StageConfig* Config::find_stage(const std::string& name) const {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

const ComponentConfig* Config::find_component(const std::string& name) const {
  for (const auto& c : components)
    if (c.name == name) return &c;
  return nullptr;
}

std::vector<std::string> Config::resolve_stage_name(const std::string& name) const {
  if (auto it = groups.find(name); it != groups.end()) return it->second;
  if (find_stage(name)) return {name};
  return {};
}

const PipelineConfig* Config::find_pipeline(const std::string& name) const {
  for (const auto& p : pipelines)
    if (p.name == name) return &p;
  return nullptr;
}

std::string Config::where(const SourcePos& pos) const {
  if (pos.line == 0) return file.string();
  return fmt::format("{}:{}:{}", file.string(), pos.line, pos.column);
}

namespace {

Result<Config> convert_config(std::string_view text, const fs::path& file) {
  Config cfg;
  cfg.file = file;
  cfg.workspace = file.parent_path();
  if (auto bad = prescan(text))
    return Error{escape_control(fmt::format("{}: {}", cfg.where(bad->pos), bad->message))};
  // The document lives only while it is converted (see [stages] below), in
  // a heap of its own (heap.h), whose pages go back to the system when
  // `document_heap` ends (declared first, it ends after the document).
  ScratchArena document_heap(ScratchArena::kParse);
  auto root_ptr = std::make_unique<toml::table>();
  toml::table& root = *root_ptr;
  try {
    root = toml::parse(text, file.string());
    document_heap.leave();
  } catch (const toml::parse_error& e) {
    return Error{escape_control(fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line,
                                            e.source().begin.column, e.description()))};
  }
  try {
    check_keys(root, "wrt.toml", schema::root());
    for (auto&& [k, v] : root)
      if (!is_one_of(k.str(), {"project", "settings", "stages", "pipelines", "components", "asil", "notify"}))
        unhandled(v, std::string(k.str()));
    for (int a = 0; a < kAsilLevels; ++a) cfg.asil_profiles[a] = default_asil_profile(static_cast<Asil>(a));
    if (auto* c = root.get("components"))
      for (auto&& [k, v] : as_table(*c, "[components]")) {
        std::string name(k.str());
        if (!valid_name(name))
          fail(k.source(), fmt::format("component name '{}' may use only letters, digits, '_', '-' and '.'", name));
        cfg.components.push_back(parse_component(name, v));
      }
    if (auto* a = root.get("asil")) parse_asil_profiles(as_table(*a, "[asil]"), cfg.asil_profiles);
    if (auto* p = root.get("project")) {
      const auto& t = as_table(*p, "[project]");
      check_keys(t, "[project]", schema::project());
      for (auto&& [k, v] : t)
        if (!is_one_of(k.str(), {"name", "description", "version"})) unhandled(v, "project." + std::string(k.str()));
      if (auto* n = t.get("name")) cfg.project_name = as_string(*n, "project.name");
      if (auto* d = t.get("description")) as_string(*d, "project.description");
      if (auto* d = t.get("version")) as_string(*d, "project.version");
    }
    if (auto* s = root.get("settings")) parse_settings(as_table(*s, "[settings]"), cfg.settings);
    if (auto* n = root.get("notify")) cfg.notify = parse_notify(*n);
    if (auto* s = root.get("stages")) {
      // Each stage's table is dropped once it is converted, and the model's
      // array is sized once: toml++'s document is several times the size
      // of the model, and the two side by side were the peak memory of a
      // first run over 10,000 stages (issue 17).
      as_table(*s, "[stages]");
      toml::table& stages = *s->as_table();
      cfg.stages.reserve(stages.size());
      std::size_t converted = 0;
      for (auto it = stages.begin(); it != stages.end(); it = stages.erase(it)) {
        // The dropped tables' pages go back every 256 stages: nothing else
        // allocates in the document's heap now, and it keeps them until
        // purged (heap.h).
        if (++converted % 256 == 0) document_heap.purge();
        auto&& [k, v] = *it;
        std::string name(k.str());
        if (!valid_name(name))
          fail(k.source(), fmt::format("stage name '{}' may use only letters, digits, '_', '-' and '.'", name));
        cfg.stages.push_back(parse_stage(name, v));
      }
    }
    if (auto* s = root.get("pipelines")) {
      for (auto&& [k, v] : as_table(*s, "[pipelines]")) {
        PipelineConfig p;
        p.name = std::string(k.str());
        p.pos = pos_of(v.source());
        const std::string where = fmt::format("[pipelines.{}]", p.name);
        const auto& t = as_table(v, where);
        check_keys(t, where, schema::pipeline());
        for (auto&& [k, v] : t)
          if (!is_one_of(k.str(), {"stages", "description"})) unhandled(v, where + " " + std::string(k.str()));
        if (auto* st = t.get("stages")) {
          p.stages = as_string_list(*st, "pipelines." + p.name + ".stages");
          const auto& arr = *st->as_array();
          std::vector<std::string> names;
          for (const auto& sc : cfg.stages) names.push_back(sc.name);
          for (std::size_t i = 0; i < p.stages.size(); ++i) {
            if (cfg.find_stage(p.stages[i])) continue;
            std::string hint = did_you_mean(p.stages[i], names);
            fail(arr[i].source(), fmt::format("pipeline '{}' names unknown stage '{}'{}", p.name, p.stages[i],
                                              hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
          }
        } else {
          fail(v.source(), fmt::format("{} needs a 'stages' list", where));
        }
        if (auto* d = t.get("description")) as_string(*d, "description");
        cfg.pipelines.push_back(std::move(p));
      }
    }
  } catch (const ConfigError& e) {
    return Error{escape_control(fmt::format("{}: {}", cfg.where(e.pos), e.message))};
  }
  root_ptr.reset();
  // toml++ keeps tables in key order; users think in file order.
  std::stable_sort(cfg.stages.begin(), cfg.stages.end(), [](const StageConfig& a, const StageConfig& b) {
    return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
  });
  std::stable_sort(cfg.pipelines.begin(), cfg.pipelines.end(), [](const PipelineConfig& a, const PipelineConfig& b) {
    return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
  });
  std::stable_sort(cfg.components.begin(), cfg.components.end(), [](const ComponentConfig& a, const ComponentConfig& b) {
    return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
  });
  if (Status st = expand_components(cfg); !st) return Error{escape_control(st.error())};
  return cfg;
}

}  // namespace

Result<Config> parse_config(std::string_view text, const fs::path& file) {
  // The model and the temporaries of its making in a heap of their own too;
  // the model is then copied out compactly and that heap's pages go back to
  // the system (heap.h).
  ScratchArena build_heap(ScratchArena::kBuild);
  Result<Config> made = convert_config(text, file);
  if (!build_heap.active() || !made) return made;
  build_heap.leave();
  Config model = *made;
  made = Error{};
  build_heap.purge();
  return model;
}

std::optional<Settings> peek_settings(std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> headers;
  if (prescan(text, &headers)) return std::nullopt;
  // The settings must be one [settings] section and nothing else: no
  // [settings.x], no dotted `settings.x = ...` before the first header, no
  // second [settings] (an error the full parse reports). Anything that so
  // much as mentions "settings" elsewhere in those places is left to it.
  const std::size_t first = headers.empty() ? text.size() : headers.front().first;
  if (text.substr(0, first).find("settings") != std::string_view::npos) return std::nullopt;
  std::optional<std::size_t> section;
  for (std::size_t h = 0; h < headers.size(); ++h) {
    std::string_view head = text.substr(headers[h].first, headers[h].second - headers[h].first);
    if (head.find("settings") == std::string_view::npos) continue;
    std::string bare;
    for (char c : head)
      if (c != ' ' && c != '\t') bare += c;
    if (bare != "[settings]" || section) return std::nullopt;
    section = h;
  }
  Settings settings;
  if (!section) return settings;
  const std::size_t begin = headers[*section].second;
  const std::size_t end = *section + 1 < headers.size() ? headers[*section + 1].first : text.size();
  try {
    toml::table t = toml::parse(text.substr(begin, end - begin));
    parse_settings(t, settings);
  } catch (const toml::parse_error&) {
    return std::nullopt;
  } catch (const ConfigError&) {
    return std::nullopt;
  }
  return settings;
}

Result<Config> load_config(const fs::path& file) {
  std::error_code ec;
  fs::path abs = fs::absolute(file, ec);
  if (ec) abs = file;
  std::ifstream in(abs, std::ios::binary);
  if (!in) {
    return Error{fmt::format("{}: cannot read ({}); run 'wrt init' to create one, or pass -C DIR", abs.string(),
                             std::strerror(errno))};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), abs.lexically_normal());
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    // Levenshtein distance, two rows.
    std::vector<std::size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (std::size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= c.size(); ++j) {
        std::size_t sub = prev[j - 1] + (word[i - 1] == c[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_d) {
      best_d = prev[c.size()];
      best = c;
    }
  }
  return best;
}

std::string escape_control(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", c);
    else out += ch;
  }
  return out;
}

Result<std::string> normalize_relative(const std::string& path) {
  if (path.empty()) return Error{"empty path"};
  if (path[0] == '/') return Error{fmt::format("'{}' is outside the workspace (absolute path)", path)};
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") {
      if (parts.empty()) return Error{fmt::format("'{}' is outside the workspace", path)};
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  if (parts.empty()) return std::string(".");
  std::string out = parts[0];
  for (std::size_t k = 1; k < parts.size(); ++k) out += "/" + parts[k];
  return out;
}

std::string state_dir_refusal(const std::string& p) {
  const bool wrt_own = p == "." || p == ".wrt" || p.rfind(".wrt/", 0) == 0 || p == ".git" || p.rfind(".git/", 0) == 0;
  return wrt_own ? fmt::format("'{}' cannot be a state directory", p) : std::string();
}

std::string starter_config(const std::string& project_name) {
  return fmt::format(R"(# wrt pipeline. Docs: README.md of wrt, section "wrt.toml".
[project]
name = "{}"

[settings]
# max_parallel_jobs = 4        # default: number of CPUs
timeout_minutes = 30
max_attempts = 1
cache_dir = ".wrt/cache"

[stages.build]
plugin = "command"
inputs = ["src/**"]
outputs = ["out/"]
with = {{ run = "mkdir -p out && echo built > out/build.txt" }}

[stages.test]
needs = ["build"]
inputs = ["tests/**"]
with = {{ run = "test -f out/build.txt" }}

[pipelines.ci]
stages = ["test"]
)",
                     project_name);
}

}  // namespace wrt

namespace wrt {

const char* asil_name(Asil a) {
  static const char* const kNames[kAsilLevels] = {"QM", "A", "B", "C", "D"};
  int i = static_cast<int>(a);
  return i >= 0 && i < kAsilLevels ? kNames[i] : "?";
}

std::optional<Asil> parse_asil(const std::string& text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (t.rfind("ASIL-", 0) == 0) t = t.substr(5);
  for (int a = 0; a < kAsilLevels; ++a)
    if (t == asil_name(static_cast<Asil>(a))) return static_cast<Asil>(a);
  return std::nullopt;
}

// The WRT CI/CD guide's matrix: timeouts 30/45/60/90/120 min, priorities
// low/high/high/critical/critical; C and D block, A and B warn, QM allows.
AsilProfile default_asil_profile(Asil a) {
  static const double kTimeout[kAsilLevels] = {30, 45, 60, 90, 120};
  static const char* const kPriority[kAsilLevels] = {"low", "high", "high", "critical", "critical"};
  static const char* const kOnFailure[kAsilLevels] = {"allow", "warn", "warn", "block", "block"};
  static const double kCoverage[kAsilLevels] = {0, 80, 85, 90, 95};
  int i = static_cast<int>(a);
  AsilProfile p;
  p.timeout_minutes = kTimeout[i];
  p.priority = kPriority[i];
  p.on_failure = kOnFailure[i];
  if (kCoverage[i] > 0) p.coverage_target = kCoverage[i];
  return p;
}

int priority_rank(const std::string& priority) {
  if (priority == "low") return 0;
  if (priority == "normal") return 1;
  if (priority == "high") return 2;
  if (priority == "critical") return 3;
  return -1;
}

}  // namespace wrt
