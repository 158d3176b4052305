#include "core/cache/cache_key.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <type_traits>

#include <fmt/core.h>

namespace wrt {

namespace {

// True when dump() would write the string between quotes unchanged: printable
// ASCII without '"' or '\\'. (DEL, 0x7f, is not escaped by dump().)
bool plain_json_string(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
  return true;
}

// A string as dump() quotes it: plain ones directly, others through dump().
void append_json_string(std::string& out, const std::string& s) {
  if (!plain_json_string(s)) {
    out += nlohmann::json(s).dump();
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

}  // namespace

void append_json_dump(std::string& out, const nlohmann::json& v) {
  using T = nlohmann::json::value_t;
  switch (v.type()) {
    case T::null:
      out += "null";
      return;
    case T::boolean:
      out += v.get_ref<const bool&>() ? "true" : "false";
      return;
    case T::number_integer:
      fmt::format_to(std::back_inserter(out), "{}", v.get_ref<const nlohmann::json::number_integer_t&>());
      return;
    case T::number_unsigned:
      fmt::format_to(std::back_inserter(out), "{}", v.get_ref<const nlohmann::json::number_unsigned_t&>());
      return;
    case T::string:
      append_json_string(out, v.get_ref<const std::string&>());
      return;
    case T::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ',';
        first = false;
        append_json_dump(out, e);
      }
      out += ']';
      return;
    }
    case T::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, e] : v.items()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, key);
        out += ':';
        append_json_dump(out, e);
      }
      out += '}';
      return;
    }
    default:  // floats, binary, discarded: nlohmann's own formatting
      break;
  }
  out += v.dump();
}

Digest compute_key(const KeyInputs& k) {
  Sha256 h;
  // v2: cache entries carry a checksum and symlink/dir outputs (entry format
  // 2). v3: entries carry their small blobs inline (entry format 3). v4:
  // remote entries are framed as remote_entry.h says, no longer a JSON
  // envelope each. Old entries are never looked up (an older wrt sharing
  // the store or the server never reads a newer entry either), and gc
  // removes them.
  h.update_field("wrt-key-v4");
  h.update_field(k.plugin);
  h.update_field(k.plugin_version);
  {
    char abi[24];
    auto* end = fmt::format_to_n(abi, sizeof abi, "{}.{}", k.abi_major, k.abi_minor).out;
    h.update_field(std::string_view(abi, static_cast<std::size_t>(end - abi)));
  }
  // nlohmann objects are key-sorted: canonical. No table hashes as null.
  // One buffer per thread: the text is hashed and dropped, once per stage.
  {
    thread_local std::string with_text;
    with_text.clear();
    if (k.with)
      append_json_dump(with_text, *k.with);
    else
      with_text = "null";
    h.update_field(with_text);
    if (with_text.capacity() > (1u << 16)) std::string().swap(with_text);
  }
  h.update_field(std::uint64_t{k.outputs.size()});
  for (const auto& o : k.outputs) h.update_field(o);
  h.update_field(std::uint64_t{k.files.size()});
  for (const auto& [path, d] : k.files) {
    h.update_field(path);
    h.update(d.data(), d.size());
  }
  h.update_field(std::uint64_t{k.env.size()});
  for (const auto& [name, value] : k.env) {
    h.update_field(name);
    h.update_field(value ? "=" + *value : "unset");
  }
  h.update_field(std::uint64_t{k.fingerprints.size()});
  for (const auto& [name, value] : k.fingerprints) {
    h.update_field(name);
    h.update_field(value);
  }
  h.update_field(std::uint64_t{k.upstream.size()});
  for (const auto& [name, d] : k.upstream) {
    h.update_field(name);
    h.update(d.data(), d.size());
  }
  return h.finish();
}

nlohmann::json key_inputs_to_json(const KeyInputs& k) {
  nlohmann::json j;
  j["stage"] = k.stage;
  j["plugin"] = k.plugin;
  j["plugin_version"] = k.plugin_version;
  j["abi"] = fmt::format("{}.{}", k.abi_major, k.abi_minor);
  j["with"] = k.with ? *k.with : nlohmann::json();
  j["outputs"] = k.outputs;
  j["files"] = nlohmann::json::object();
  for (const auto& [p, d] : k.files) j["files"][p] = to_hex(d);
  j["env"] = nlohmann::json::object();
  for (const auto& [n, v] : k.env) j["env"][n] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  j["fingerprints"] = nlohmann::json::object();
  for (const auto& [n, v] : k.fingerprints) j["fingerprints"][n] = v;
  j["upstream"] = nlohmann::json::object();
  for (const auto& [n, d] : k.upstream) j["upstream"][n] = to_hex(d);
  j["key"] = to_hex(compute_key(k));
  return j;
}

std::string key_record_text(const KeyInputs& k, std::string_view key_hex) {
  // Each map as `j[name] = value` builds it in key_inputs_to_json: an object
  // sorted by name (std::map) holding the last of equal names.
  auto object = [](std::string& out, const auto& pairs, auto&& write_value) {
    using Pair = std::remove_reference_t<decltype(pairs.front())>;
    std::vector<const Pair*> sorted;
    sorted.reserve(pairs.size());
    for (const auto& p : pairs) sorted.push_back(&p);
    std::stable_sort(sorted.begin(), sorted.end(), [](const Pair* a, const Pair* b) { return a->first < b->first; });
    out += '{';
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      if (i + 1 < sorted.size() && sorted[i + 1]->first == sorted[i]->first) continue;  // a later one wins
      if (out.back() != '{') out += ',';
      append_json_string(out, sorted[i]->first);
      out += ':';
      write_value(sorted[i]->second);
    }
    out += '}';
  };
  auto digest = [](std::string& out) {
    return [&out](const Digest& d) {
      out += '"';
      out += to_hex(d);
      out += '"';
    };
  };
  auto text = [](std::string& out) { return [&out](const std::string& v) { append_json_string(out, v); }; };
  std::string out;
  out.reserve(256 + 96 * (k.files.size() + k.upstream.size()));
  fmt::format_to(std::back_inserter(out), "{{\"abi\":\"{}.{}\",\"env\":", k.abi_major, k.abi_minor);
  object(out, k.env, [&out](const std::optional<std::string>& v) {
    if (v)
      append_json_string(out, *v);
    else
      out += "null";
  });
  out += ",\"files\":";
  object(out, k.files, digest(out));
  out += ",\"fingerprints\":";
  object(out, k.fingerprints, text(out));
  out += ",\"key\":";
  append_json_string(out, std::string(key_hex));
  out += ",\"outputs\":[";
  for (std::size_t i = 0; i < k.outputs.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, k.outputs[i]);
  }
  out += "],\"plugin\":";
  append_json_string(out, k.plugin);
  out += ",\"plugin_version\":";
  append_json_string(out, k.plugin_version);
  out += ",\"stage\":";
  append_json_string(out, k.stage);
  out += ",\"upstream\":";
  object(out, k.upstream, digest(out));
  out += ",\"with\":";
  if (k.with)
    append_json_dump(out, *k.with);
  else
    out += "null";
  out += '}';
  return out;
}

namespace {

std::string show(const nlohmann::json& v) {
  if (v.is_null()) return "unset";
  if (v.is_string()) {
    // Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) on "x" + std::string&&.
    std::string quoted = "'";
    quoted += v.get<std::string>();
    quoted += '\'';
    return quoted;
  }
  return v.dump();
}

void diff_map(const nlohmann::json& a, const nlohmann::json& b, const std::string& what, bool show_values,
              std::vector<std::string>& out) {
  const nlohmann::json empty = nlohmann::json::object();
  const auto& x = a.is_object() ? a : empty;
  const auto& y = b.is_object() ? b : empty;
  for (const auto& [k, v] : y.items()) {
    auto it = x.find(k);
    if (it == x.end()) out.push_back(fmt::format("{} {} added{}", what, k, show_values ? " (" + show(v) + ")" : ""));
    else if (*it != v)
      out.push_back(show_values ? fmt::format("{} {} changed: {} -> {}", what, k, show(*it), show(v))
                                : fmt::format("{} {} changed", what, k));
  }
  for (const auto& [k, v] : x.items())
    if (!y.contains(k)) out.push_back(fmt::format("{} {} removed", what, k));
}

}  // namespace

std::vector<std::string> explain_difference(const nlohmann::json& a, const nlohmann::json& b) {
  std::vector<std::string> out;
  auto field = [](const nlohmann::json& j, const char* k) { return j.is_object() && j.contains(k) ? j[k] : nlohmann::json(); };
  for (const char* k : {"plugin", "plugin_version", "abi"})
    if (field(a, k) != field(b, k)) out.push_back(fmt::format("{} changed: {} -> {}", k, show(field(a, k)), show(field(b, k))));
  if (field(a, "with") != field(b, "with"))
    out.push_back(fmt::format("config (with) changed: {} -> {}", field(a, "with").dump(), field(b, "with").dump()));
  if (field(a, "outputs") != field(b, "outputs")) out.push_back("declared outputs changed");
  diff_map(field(a, "files"), field(b, "files"), "input", false, out);
  diff_map(field(a, "env"), field(b, "env"), "env", true, out);
  diff_map(field(a, "fingerprints"), field(b, "fingerprints"), "fingerprint", true, out);
  diff_map(field(a, "upstream"), field(b, "upstream"), "outputs of needed stage", false, out);
  return out;
}

Digest outputs_digest(const std::vector<CachedFile>& outputs) {
  Sha256 h;
  h.update_field("wrt-outputs-v2");
  for (const auto& f : outputs) {
    h.update_field(f.path);
    h.update_field(output_kind_name(f.kind));
    h.update(f.digest.data(), f.digest.size());
    h.update_field(f.executable ? "x" : "-");
  }
  return h.finish();
}

}  // namespace wrt
