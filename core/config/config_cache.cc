#include "core/config/config_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

#include <fmt/core.h>

#include "core/util/atomic_file.h"
#include "core/cache/file_digester.h"
#include "core/util/hash.h"
#include "core/util/heap.h"
#include "core/util/state_file.h"

namespace wrt {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kMagic[9] = "WRTCONF\n";
constexpr std::uint32_t kVersion = 9;  // 3: stages.*.state; 4: [notify]; 5: when, requires_gate; 6, 7: remote cache settings;
                                       // 8: the stage's rarely set keys as one optional group; 9: JSON as a tagged tree

// A field added to one of these structs must be added to encode/decode below
// (and to the round-trip test's config); these checks make the compiler say so.
#if defined(__x86_64__) && defined(__GLIBCXX__) && !defined(_GLIBCXX_DEBUG)
static_assert(sizeof(StageConfig) == 328, "StageConfig changed: update config_cache.cc");
static_assert(sizeof(StageExtras) == 248, "StageExtras changed: update config_cache.cc");
static_assert(sizeof(Settings) == 200, "Settings changed: update config_cache.cc");
static_assert(sizeof(AsilProfile) == 104, "AsilProfile changed: update config_cache.cc");
static_assert(sizeof(ComponentConfig) == 96, "ComponentConfig changed: update config_cache.cc");
static_assert(sizeof(PipelineConfig) == 64, "PipelineConfig changed: update config_cache.cc");
static_assert(sizeof(NotifyConfig) == 344, "NotifyConfig changed: update config_cache.cc");
static_assert(sizeof(Config) == 1296, "Config changed: update config_cache.cc");
#endif

// --- encoding ---------------------------------------------------------------

// Declared first so the container templates below find them.
void put(StateWriter& w, const AsilProfile& p);
void put(StateWriter& w, const ComponentConfig& c);
void put(StateWriter& w, const PipelineConfig& p);
void put(StateWriter& w, const StageConfig& s);
void put(StateWriter& w, const SourcePos& p);
void put(StateWriter& w, const KeyPositions& k);
bool get(StateReader& r, AsilProfile& p);
bool get(StateReader& r, ComponentConfig& c);
bool get(StateReader& r, PipelineConfig& p);
bool get(StateReader& r, StageConfig& s);
bool get(StateReader& r, SourcePos& p);
bool get(StateReader& r, KeyPositions& k);

void put(StateWriter& w, const std::string& s) { w.str(s); }
void put(StateWriter& w, bool b) { w.put(static_cast<std::uint8_t>(b ? 1 : 0)); }
void put(StateWriter& w, int v) { w.put(static_cast<std::int64_t>(v)); }
void put(StateWriter& w, double v) { w.put(v); }
void put(StateWriter& w, std::uint64_t v) { w.put(v); }
void put(StateWriter& w, Asil a) { w.put(static_cast<std::uint8_t>(a)); }
void put(StateWriter& w, const SourcePos& p) {
  w.put(p.line);
  w.put(p.column);
}
// A JSON value (a stage's `with` table) as a tagged tree, decoded straight
// into nlohmann values: from_cbor's parser per table was 7 % of a no-op run
// over 10,000 stages, all of it before the first stage could start.
enum class JsonTag : std::uint8_t { kNull, kFalse, kTrue, kInt, kUnsigned, kFloat, kString, kArray, kObject, kCbor };
// Deeper than the TOML parser lets a table be (config.cc bounds nesting).
constexpr int kMaxJsonDepth = 256;

void put(StateWriter& w, const json& j) {
  auto tag = [&](JsonTag t) { w.put(static_cast<std::uint8_t>(t)); };
  switch (j.type()) {
    case json::value_t::null:
      return tag(JsonTag::kNull);
    case json::value_t::boolean:
      return tag(j.get<bool>() ? JsonTag::kTrue : JsonTag::kFalse);
    case json::value_t::number_integer:
      tag(JsonTag::kInt);
      return w.put(j.get<std::int64_t>());
    case json::value_t::number_unsigned:
      tag(JsonTag::kUnsigned);
      return w.put(j.get<std::uint64_t>());
    case json::value_t::number_float:
      tag(JsonTag::kFloat);
      return w.put(j.get<double>());
    case json::value_t::string:
      tag(JsonTag::kString);
      return w.str(j.get_ref<const std::string&>());
    case json::value_t::array:
      tag(JsonTag::kArray);
      w.put(static_cast<std::uint64_t>(j.size()));
      for (const auto& e : j) put(w, e);
      return;
    case json::value_t::object:
      tag(JsonTag::kObject);
      w.put(static_cast<std::uint64_t>(j.size()));
      for (const auto& [k, e] : j.items()) {
        w.str(k);
        put(w, e);
      }
      return;
    default: {  // binary (never from TOML): CBOR keeps it exactly
      tag(JsonTag::kCbor);
      std::vector<std::uint8_t> cbor = json::to_cbor(j);
      w.str(std::string_view(reinterpret_cast<const char*>(cbor.data()), cbor.size()));
      return;
    }
  }
}
template <typename T>
void put(StateWriter& w, const std::optional<T>& v) {
  put(w, v.has_value());
  if (v) put(w, *v);
}
template <typename T>
void put(StateWriter& w, const std::vector<T>& v) {
  w.put(static_cast<std::uint64_t>(v.size()));
  for (const auto& x : v) put(w, x);
}
template <typename V>
void put(StateWriter& w, const std::map<std::string, V>& m) {
  w.put(static_cast<std::uint64_t>(m.size()));
  for (const auto& [k, v] : m) {
    put(w, k);
    put(w, v);
  }
}

void put(StateWriter& w, const KeyPositions& k) {
  w.put(static_cast<std::uint64_t>(k.size()));
  for (const auto& item : k) {
    w.str(*item.key);
    put(w, item.pos);
  }
}

void put(StateWriter& w, const AsilProfile& p) {
  put(w, p.timeout_minutes);
  put(w, p.priority);
  put(w, p.coverage_target);
  put(w, p.on_failure);
  put(w, p.verifier);
}

void put(StateWriter& w, const ComponentConfig& c) {
  put(w, c.name);
  put(w, c.paths);
  put(w, c.asil);
  put(w, c.requirements);
  put(w, c.pos);
}

void put(StateWriter& w, const PipelineConfig& p) {
  put(w, p.name);
  put(w, p.stages);
  put(w, p.pos);
}

void put(StateWriter& w, const StageConfig& s) {
  put(w, s.name);
  put(w, s.plugin);
  put(w, s.needs);
  put(w, s.inputs);
  put(w, s.outputs);
  put(w, s.state);
  put(w, s.env);
  put(w, s.timeout_minutes);
  put(w, s.max_attempts);
  put(w, s.cache);
  put(w, s.with);
  put(w, s.asil);
  put(w, s.component);
  put(w, s.cpus);
  put(w, s.memory);
  put(w, s.pos);
  put(w, s.key_pos);
  // The extras only when some are set: decoding them allocates.
  const StageExtras& x = s.extras();
  const bool any = !(x == StageExtras{});
  put(w, any);
  if (!any) return;
  put(w, x.for_each);
  put(w, x.only_components);
  put(w, x.min_asil);
  put(w, x.group);
  put(w, x.priority);
  put(w, x.when.branch);
  put(w, x.when.tag);
  put(w, x.when.event);
  put(w, x.requires_gate);
  put(w, x.min_verified_asil);
}

void put(StateWriter& w, const NotifyConfig& n) {
  put(w, n.on);
  put(w, n.timeout_s);
  put(w, n.webhook_url);
  put(w, n.webhook_url_env);
  put(w, n.webhook_format);
  put(w, n.email_to);
  put(w, n.email_from);
  put(w, n.email_command);
  put(w, n.github);
  put(w, n.github_repository);
  put(w, n.github_token_env);
  put(w, n.github_api_url);
  put(w, n.github_labels);
  put(w, n.pos);
}

void put(StateWriter& w, const Settings& s) {
  put(w, s.max_parallel_jobs);
  put(w, s.timeout_minutes);
  put(w, s.max_attempts);
  put(w, s.cache_dir);
  put(w, s.cache_max_size);
  put(w, s.plugin_path);
  put(w, s.memory_limit);
  put(w, s.cached_log_limit);
  put(w, s.remote_cache);
  put(w, s.remote_upload);
  put(w, s.remote_cache_trusted_keys);
  put(w, s.remote_cache_compression);
}

// --- decoding (every getter fails on truncated or out-of-range data) --------

bool get(StateReader& r, std::string& s) { return r.str(s); }
bool get(StateReader& r, bool& b) {
  std::uint8_t v = 0;
  if (!r.get(v) || v > 1) return false;
  b = v == 1;
  return true;
}
bool get(StateReader& r, int& v) {
  std::int64_t x = 0;
  if (!r.get(x) || x < INT32_MIN || x > INT32_MAX) return false;
  v = static_cast<int>(x);
  return true;
}
bool get(StateReader& r, double& v) { return r.get(v); }
bool get(StateReader& r, std::uint64_t& v) { return r.get(v); }
bool get(StateReader& r, Asil& a) {
  std::uint8_t v = 0;
  if (!r.get(v) || v >= kAsilLevels) return false;
  a = static_cast<Asil>(v);
  return true;
}
bool get(StateReader& r, SourcePos& p) { return r.get(p.line) && r.get(p.column); }
bool get_json(StateReader& r, json& j, int depth) {
  std::uint8_t t = 0;
  if (depth > kMaxJsonDepth || !r.get(t)) return false;
  switch (static_cast<JsonTag>(t)) {
    case JsonTag::kNull:
      j = nullptr;
      return true;
    case JsonTag::kFalse:
    case JsonTag::kTrue:
      j = static_cast<JsonTag>(t) == JsonTag::kTrue;
      return true;
    case JsonTag::kInt: {
      std::int64_t v = 0;
      if (!r.get(v)) return false;
      j = v;
      return true;
    }
    case JsonTag::kUnsigned: {
      std::uint64_t v = 0;
      if (!r.get(v)) return false;
      j = v;
      return true;
    }
    case JsonTag::kFloat: {
      double v = 0;
      if (!r.get(v)) return false;
      j = v;
      return true;
    }
    case JsonTag::kString: {
      std::string_view v;
      if (!r.view(v)) return false;
      j = std::string(v);
      return true;
    }
    case JsonTag::kArray: {
      std::uint64_t n = 0;
      if (!r.count(n, 1)) return false;
      j = json::array();
      auto& a = j.get_ref<json::array_t&>();
      a.resize(static_cast<std::size_t>(n));
      for (auto& e : a)
        if (!get_json(r, e, depth + 1)) return false;
      return true;
    }
    case JsonTag::kObject: {
      std::uint64_t n = 0;
      if (!r.count(n, 4 + 1)) return false;
      j = json::object();
      auto& o = j.get_ref<json::object_t&>();
      for (std::uint64_t i = 0; i < n; ++i) {
        std::string_view k;
        if (!r.view(k)) return false;
        // Written in key order: each goes at the end; a key out of order or
        // repeated means the data is not what put() wrote.
        if (!o.empty() && !(o.rbegin()->first < k)) return false;
        auto at = o.emplace_hint(o.end(), std::string(k), json());
        if (!get_json(r, at->second, depth + 1)) return false;
      }
      return true;
    }
    case JsonTag::kCbor: {
      std::string_view bytes;
      if (!r.view(bytes)) return false;
      j = json::from_cbor(bytes, /*strict=*/true, /*allow_exceptions=*/false);
      return !j.is_discarded();
    }
  }
  return false;  // an unknown tag
}
bool get(StateReader& r, json& j) { return get_json(r, j, 0); }
template <typename T>
bool get(StateReader& r, std::optional<T>& v) {
  bool has = false;
  if (!get(r, has)) return false;
  if (!has) {
    v.reset();
    return true;
  }
  T x{};
  if (!get(r, x)) return false;
  v = std::move(x);
  return true;
}
template <typename T>
bool get(StateReader& r, std::vector<T>& v) {
  std::uint64_t n = 0;
  if (!r.count(n, 1)) return false;
  v.clear();
  v.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    T x{};
    if (!get(r, x)) return false;
    v.push_back(std::move(x));
  }
  return true;
}
template <typename V>
bool get(StateReader& r, std::map<std::string, V>& m) {
  std::uint64_t n = 0;
  if (!r.count(n, 1)) return false;
  m.clear();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string k;
    V v{};
    if (!get(r, k) || !get(r, v)) return false;
    m.emplace(std::move(k), std::move(v));
  }
  return true;
}

bool get(StateReader& r, KeyPositions& k) {
  std::uint64_t n = 0;
  if (!r.count(n, 4 + 8)) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string key;
    if (!r.str(key) || !get(r, k[key])) return false;
  }
  return true;
}

bool get(StateReader& r, AsilProfile& p) {
  return get(r, p.timeout_minutes) && get(r, p.priority) && get(r, p.coverage_target) && get(r, p.on_failure) &&
         get(r, p.verifier);
}

bool get(StateReader& r, ComponentConfig& c) {
  return get(r, c.name) && get(r, c.paths) && get(r, c.asil) && get(r, c.requirements) && get(r, c.pos);
}

bool get(StateReader& r, PipelineConfig& p) { return get(r, p.name) && get(r, p.stages) && get(r, p.pos); }

bool get(StateReader& r, StageConfig& s) {
  bool any = false;
  if (!(get(r, s.name) && get(r, s.plugin) && get(r, s.needs) && get(r, s.inputs) && get(r, s.outputs) &&
        get(r, s.state) && get(r, s.env) && get(r, s.timeout_minutes) && get(r, s.max_attempts) && get(r, s.cache) &&
        get(r, s.with) && get(r, s.asil) && get(r, s.component) && get(r, s.cpus) && get(r, s.memory) &&
        get(r, s.pos) && get(r, s.key_pos) && get(r, any)))
    return false;
  if (!any) return true;
  StageExtras& x = s.extras_mut();
  return get(r, x.for_each) && get(r, x.only_components) && get(r, x.min_asil) && get(r, x.group) &&
         get(r, x.priority) && get(r, x.when.branch) && get(r, x.when.tag) && get(r, x.when.event) &&
         get(r, x.requires_gate) && get(r, x.min_verified_asil);
}

bool get(StateReader& r, NotifyConfig& n) {
  return get(r, n.on) && get(r, n.timeout_s) && get(r, n.webhook_url) && get(r, n.webhook_url_env) &&
         get(r, n.webhook_format) && get(r, n.email_to) && get(r, n.email_from) && get(r, n.email_command) &&
         get(r, n.github) && get(r, n.github_repository) && get(r, n.github_token_env) && get(r, n.github_api_url) &&
         get(r, n.github_labels) && get(r, n.pos);
}

bool get(StateReader& r, Settings& s) {
  return get(r, s.max_parallel_jobs) && get(r, s.timeout_minutes) && get(r, s.max_attempts) && get(r, s.cache_dir) &&
         get(r, s.cache_max_size) && get(r, s.plugin_path) && get(r, s.memory_limit) &&
         get(r, s.cached_log_limit) && get(r, s.remote_cache) && get(r, s.remote_upload) &&
         get(r, s.remote_cache_trusted_keys) && get(r, s.remote_cache_compression);
}

// Which wrt made the cache, for which file: a cache made by another build of
// wrt or for another path is stale. Empty when the executable cannot be
// identified (then nothing is cached: a rebuilt wrt could trust an old model).
std::string executable() {
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return {};
  exe[n] = '\0';
  struct stat st;
  if (::stat(exe, &st) != 0) return {};
  return fmt::format("wrt {}\n{}:{}:{}.{}:{}", WRT_VERSION, exe, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     st.st_ino);
}

std::string maker(const std::string& exe, const fs::path& file) {
  return exe.empty() ? std::string() : exe + "\n" + file.string();
}

// Cache payload: str maker | stat of wrt.toml (size, mtime, ctime, inode,
// mode) | i64 cached_at_ns | digest of wrt.toml | model. The stat vouches for
// the content only outside the racy window (file_digester.h).
struct CacheHeader {
  std::string maker;
  FileStat stat;
  std::int64_t cached_at_ns = 0;
  Digest text_digest{};
};

bool read_header(StateReader& r, CacheHeader& h) {
  return r.str(h.maker) && r.get(h.stat.size) && r.get(h.stat.mtime_ns) && r.get(h.stat.ctime_ns) &&
         r.get(h.stat.inode) && r.get(h.stat.mode) && r.get(h.cached_at_ns) && r.get(h.text_digest);
}

void put_header(StateWriter& w, const CacheHeader& h) {
  w.str(h.maker);
  w.put(h.stat.size);
  w.put(h.stat.mtime_ns);
  w.put(h.stat.ctime_ns);
  w.put(h.stat.inode);
  w.put(h.stat.mode);
  w.put(h.cached_at_ns);
  w.put(h.text_digest);
}

// `portable`: without the two absolute paths (a reader sets its own).
void put_model(StateWriter& w, const Config& c, bool portable = false) {
  put(w, portable ? std::string() : c.file.string());
  put(w, portable ? std::string() : c.workspace.string());
  put(w, c.project_name);
  put(w, c.settings);
  put(w, c.stages);
  put(w, c.pipelines);
  put(w, c.components);
  for (const auto& p : c.asil_profiles) put(w, p);
  put(w, c.groups);
  put(w, c.notify);
}

// The header, then the model: encoded straight into the file's bytes (one
// buffer of the file's size, not three copies; issue 17).
void write_cache(const fs::path& cache_file, const CacheHeader& h, std::string_view model) {
  StateWriter w = StateWriter::for_file();
  put_header(w, h);
  w.bytes().append(model);
  (void)write_file_atomically(cache_file, w.seal(kMagic, kVersion));
}

void write_cache(const fs::path& cache_file, const CacheHeader& h, const Config& model) {
  StateWriter w = StateWriter::for_file();
  put_header(w, h);
  put_model(w, model);
  (void)write_file_atomically(cache_file, w.seal(kMagic, kVersion));
}

}  // namespace

std::string encode_config(const Config& c, bool portable) {
  StateWriter w;
  put_model(w, c, portable);
  return std::move(w.bytes());
}

Result<Config> decode_config(std::string_view payload) {
  StateReader r(payload);
  Config c;
  std::string file, workspace;
  bool ok = get(r, file) && get(r, workspace) && get(r, c.project_name) && get(r, c.settings) && get(r, c.stages) &&
            get(r, c.pipelines) && get(r, c.components);
  for (auto& p : c.asil_profiles) ok = ok && get(r, p);
  ok = ok && get(r, c.groups) && get(r, c.notify);
  if (!ok) return Error{"truncated or malformed config model"};
  if (r.left() != 0) return Error{fmt::format("{} trailing bytes after the config model", r.left())};
  c.file = file;
  c.workspace = workspace;
  return c;
}

namespace {

// A model file (the state cache, or a shared copy) with a valid seal:
// its header, and its model's bytes. `model` points into `data`, whose
// bytes stay where they are when it is moved.
struct ModelFile {
  FileBytes data;
  CacheHeader header;
  std::string_view model;
};

std::optional<ModelFile> read_model_file(const fs::path& path) {
  auto data = read_state_file(path, nullptr);
  if (!data) return std::nullopt;
  ModelFile f{std::move(*data), {}, {}};
  auto payload = unseal_state(f.data.view(), kMagic, kVersion);
  if (!payload) return std::nullopt;
  StateReader r(*payload);
  if (!read_header(r, f.header)) return std::nullopt;
  f.model = payload->substr(payload->size() - r.left());
  return f;
}

fs::path absolute_normal(const fs::path& file) {
  std::error_code ec;
  fs::path abs = fs::absolute(file, ec);
  return (ec ? file : abs).lexically_normal();
}

constexpr std::size_t kSharedModels = 8;

// The shared copy of the model made from text with `digest` by wrt `exe`:
// one file per (wrt build, wrt.toml content), in `shared_dir`/config/.
fs::path shared_model_path(const fs::path& shared_dir, const std::string& exe, const Digest& digest) {
  return shared_dir / "config" / to_hex(sha256(fmt::format("{}\n{}\n{}", exe, kVersion, to_hex(digest))));
}

// Writes the shared copy when there is none yet and the shared directory
// exists (a load creates no cache directory). Best effort, like the cache.
// `replace`: the copy there is damaged (shared_model() refused it).
void share_model(const fs::path& shared_dir, const std::string& exe, const Digest& digest, std::string_view model,
                 bool replace = false) {
  if (shared_dir.empty() || exe.empty()) return;
  const fs::path path = shared_model_path(shared_dir, exe, digest);
  struct stat st;
  if ((!replace && ::stat(path.c_str(), &st) == 0) || ::stat(shared_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return;
  write_cache(path, CacheHeader{exe, FileStat{}, 0, digest}, model);
  // Each edit of wrt.toml (and each wrt build) adds one: the newest
  // kSharedModels stay, so the directory does not grow without end.
  std::vector<std::pair<fs::file_time_type, fs::path>> models;
  for (auto it = fs::directory_iterator(path.parent_path(), ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code time_ec;
    const auto t = it->last_write_time(time_ec);
    if (!time_ec) models.emplace_back(t, it->path());
  }
  if (models.size() <= kSharedModels) return;
  std::sort(models.begin(), models.end());
  for (std::size_t i = 0; i + kSharedModels < models.size(); ++i)
    if (models[i].second != path) fs::remove(models[i].second, ec);
}

// The shared copy for this text, made by this wrt: the model, moved to
// `file`'s workspace (only the file and workspace paths are absolute in
// it; everything else is workspace-relative).
// `damaged`: there is a copy, and it is not usable.
std::optional<Config> shared_model(const fs::path& shared_dir, const std::string& exe, const Digest& digest,
                                   const fs::path& file, bool* damaged) {
  if (shared_dir.empty() || exe.empty()) return std::nullopt;
  const fs::path path = shared_model_path(shared_dir, exe, digest);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  *damaged = true;
  auto f = read_model_file(path);
  if (!f || f->header.maker != exe || f->header.text_digest != digest) return std::nullopt;
  auto model = decode_config(f->model);
  if (!model) return std::nullopt;
  model->file = file;
  model->workspace = file.parent_path();
  *damaged = false;
  return std::move(*model);
}

}  // namespace

Result<Config> load_config_cached(const fs::path& file, const fs::path& cache_file, const fs::path& shared_dir,
                                  ConfigSource* source, const RemoteModelSource& remote, Digest* text_digest) {
  ConfigSource ignored;
  if (!source) source = &ignored;
  Digest ignored_digest;
  if (!text_digest) text_digest = &ignored_digest;
  const fs::path abs = absolute_normal(file);
  const std::int64_t started = wall_clock_ns();
  const std::string exe = executable();
  const std::string made_by = maker(exe, abs);
  const Result<FileStat> before = stat_file(abs);
  auto unchanged = [&] {
    auto now = stat_file(abs);
    return before && now && *now == *before;
  };

  // 1. The cache vouches for this exact stat: wrt.toml is not even read.
  std::optional<ModelFile> state;
  std::string_view model_bytes;
  CacheHeader cached;
  if (!made_by.empty() && before) {
    state = read_model_file(cache_file);
    if (state && state->header.maker == made_by) {
      cached = state->header;
      model_bytes = state->model;
      if (cached.stat == *before && before->mtime_ns < cached.cached_at_ns - kRacyWindowNs) {
        if (auto model = decode_config(model_bytes)) {
          share_model(shared_dir, exe, cached.text_digest, model_bytes);
          *source = ConfigSource::kStateCache;
          *text_digest = cached.text_digest;
          return model;
        }
        model_bytes = {};
      }
    }
  }

  auto text = read_state_file(abs, nullptr);
  if (!text) {
    return Error{fmt::format("{}: cannot read ({}); run 'wrt init' to create one, or pass -C DIR", abs.string(),
                             text.error())};
  }
  const Digest digest = sha256(text->view());
  *text_digest = digest;
  CacheHeader fresh{made_by, before ? *before : FileStat{}, started, digest};
  // 2. Touched but not changed (same content): reuse the model, refresh the stat.
  if (!model_bytes.empty() && cached.text_digest == digest) {
    if (auto model = decode_config(model_bytes)) {
      if (unchanged()) write_cache(cache_file, fresh, model_bytes);
      share_model(shared_dir, exe, digest, model_bytes);
      *source = ConfigSource::kStateCacheSameText;
      return model;
    }
  }
  // 3. Another checkout's model of the same text (a fresh CI checkout with
  // a restored cache directory): moved here, and cached here.
  bool shared_damaged = false;
  if (auto model = shared_model(shared_dir, exe, digest, abs, &shared_damaged)) {
    text = Error{};
    if (unchanged()) write_cache(cache_file, fresh, *model);
    *source = ConfigSource::kShared;
    return std::move(*model);
  }
  // 4. A model another machine made of the same text (a new CI runner with
  // an empty cache, and a remote one), kept here as if parsed here.
  if (remote) {
    if (auto got = remote(digest, text->view())) {
      text = Error{};
      got->model.file = abs;
      got->model.workspace = abs.parent_path();
      if (!made_by.empty() && unchanged()) {
        write_cache(cache_file, fresh, got->model);  // with this checkout's paths
        share_model(shared_dir, exe, digest, got->encoding, shared_damaged);
      }
      *source = ConfigSource::kRemote;
      return std::move(got->model);
    }
  }
  // 5. Parse. Only a valid configuration, unchanged while it was read, is cached.
  auto cfg = parse_config(text->view(), abs);
  if (cfg && !made_by.empty() && unchanged()) {
    write_cache(cache_file, fresh, *cfg);
    if (!shared_dir.empty()) share_model(shared_dir, exe, digest, encode_config(*cfg), shared_damaged);
  }
  *source = ConfigSource::kParsed;
  // The text and the cache's bytes (a few MB each for big pipelines) would
  // stay resident through the run otherwise (heap.h).
  text = Error{};
  return_free_pages();
  return cfg;
}

void share_config_model(const fs::path& file, const fs::path& cache_file, const fs::path& shared_dir) {
  const std::string exe = executable();
  if (exe.empty()) return;
  auto f = read_model_file(cache_file);
  if (!f || f->header.maker != maker(exe, absolute_normal(file))) return;
  share_model(shared_dir, exe, f->header.text_digest, f->model);
}

}  // namespace wrt
