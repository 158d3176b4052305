#include "core/config/config_cache.h"

#include <catch2/catch.hpp>

#include "core/util/state_file.h"
#include "support.h"

using namespace wrt;
using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

// Sets every field of the model to something other than its default, so a
// field the encoding forgets shows up as a round-trip difference.
const char* kEveryField = R"(
[project]
name = "every-field"

[settings]
max_parallel_jobs = 3
timeout_minutes = 12.5
max_attempts = 2
cache_dir = "cache-here"
cache_max_size = "1GiB"
plugin_path = ["p1", "p2"]
memory_limit = "2GiB"
cached_log_limit = "4MiB"

[notify]
on = ["failure", "recovered"]
timeout_s = 7.5
[notify.webhook]
url_env = "HOOK"
format = "json"
[notify.email]
to = ["a@example.com", "b@example.com"]
from = "ci@example.com"
command = ["msmtp", "-t"]
[notify.github]
repository = "o/r"
token_env = "TOK"
api_url = "http://127.0.0.1:9"
labels = ["ci", "wrt"]

[components.memory]
paths = ["src/memory/**"]
asil = "D"
requirements = ["REQ-MEM-001", "REQ-MEM-002"]

[components.ui]
paths = ["src/ui/**"]

[asil.B]
on_failure = "block"
timeout_minutes = 50
priority = "critical"
coverage_target = 81.5
verifier = { default_unwind = 8, solver = "minisat", ratio = 0.25, neg = -3 }

[stages.build]
plugin = "command"
inputs = ["src/**/*.c"]
outputs = ["out/app"]
env = ["CC", "CFLAGS"]
timeout_minutes = 5
max_attempts = 4
cache = false
priority = "high"
cpus = 2
memory = "512MiB"
asil = "C"
with = { run = "make", nested = { a = [1, 2.5, true, "x", -7, [], {}, [[false]]] }, "kl\u00fcft \"q\"" = "\u2713\n", at = 1979-05-27T07:32:00Z, day = 1979-05-27, big = 9223372036854775807, tiny = -1e-300, b = {}, a = [] }
when = { branch = ["main", "release/*"], tag = "v*", event = "push" }
requires_gate = "warn"
min_verified_asil = "C"

[stages.prove]
for_each = "component"
components = ["memory"]
min_asil = "A"
needs = ["build"]
inputs = ["models/{component}.pml"]
with = { run = "echo {component}" }

[pipelines.ci]
stages = ["build", "prove"]
)";

Config must_parse(const std::string& text, const fs::path& file) {
  auto c = parse_config(text, file);
  INFO((c ? std::string() : c.error()));
  REQUIRE(c.ok());
  return std::move(*c);
}

}  // namespace

TEST_CASE("config cache: the encoding round-trips every field of the model", "[config-cache]") {
  Config c = must_parse(kEveryField, "/ws/wrt.toml");
  REQUIRE(c.stages.size() == 2);
  REQUIRE(!c.groups.empty());
  REQUIRE(c.stages[1].component == "memory");
  auto back = decode_config(encode_config(c));
  REQUIRE(back.ok());
  CHECK(*back == c);
  // The plugin configuration must come back byte-identical: it enters the
  // cache key as its JSON text.
  CHECK(back->stages[0].with.dump() == c.stages[0].with.dump());
  CHECK(back->profile(Asil::B).verifier.dump() == c.profile(Asil::B).verifier.dump());
}

TEST_CASE("config cache: a stage that sets none of the rarely used keys holds no allocation for them",
          "[config-cache]") {
  Config c = must_parse("[stages.plain]\nwith = { run = \"true\" }\n[stages.gated]\nrequires_gate = \"pass\"\n",
                        "/ws/wrt.toml");
  const StageConfig fresh;
  REQUIRE(c.stages.size() == 2);
  CHECK(&c.stages[0].extras() == &fresh.extras());  // the shared default: nothing allocated
  CHECK(&c.stages[1].extras() != &fresh.extras());
  CHECK(c.stages[1].extras().requires_gate == "pass");
  auto back = decode_config(encode_config(c));
  REQUIRE(back.ok());
  CHECK(*back == c);
  CHECK(&back->stages[0].extras() == &fresh.extras());
  CHECK(back->stages[1].extras().requires_gate == "pass");
  // Copies are deep: a copy's extras are its own.
  StageConfig copy = c.stages[1];
  copy.extras_mut().requires_gate = "warn";
  CHECK(c.stages[1].extras().requires_gate == "pass");
  CHECK_FALSE(copy == c.stages[1]);
}

TEST_CASE("config cache: every shipped wrt.toml round-trips", "[config-cache]") {
  std::vector<fs::path> files = {fs::path(WRT_SOURCE_DIR) / "wrt.toml"};
  for (const auto& e : fs::directory_iterator(fs::path(WRT_SOURCE_DIR) / "examples"))
    if (fs::exists(e.path() / "wrt.toml")) files.push_back(e.path() / "wrt.toml");
  REQUIRE(files.size() >= 5);
  for (const auto& f : files) {
    INFO(f.string());
    Config c = must_parse(read_file(f), f);
    auto back = decode_config(encode_config(c));
    REQUIRE(back.ok());
    CHECK(*back == c);
  }
}

TEST_CASE("config cache: truncated or garbled encodings are rejected, never half-read", "[config-cache]") {
  Config c = must_parse(kEveryField, "/ws/wrt.toml");
  std::string bytes = encode_config(c);
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, bytes.size() / 3, bytes.size() - 1})
    CHECK_FALSE(decode_config(std::string_view(bytes).substr(0, cut)).ok());
  CHECK_FALSE(decode_config(bytes + "x").ok());
}

TEST_CASE("config cache: a second load uses the cache, an edit, corruption or bad TOML re-parses", "[config-cache]") {
  TempDir ws;
  const fs::path toml = ws / "wrt.toml";
  const fs::path cache = ws / ".wrt/state/config-cache";
  write_file(toml, kEveryField);
  // Older than the racy window, so its stat alone vouches for it.
  fs::last_write_time(toml, fs::last_write_time(toml) - std::chrono::seconds(10));

  auto first = load_config_cached(toml, cache);
  REQUIRE(first.ok());
  REQUIRE(fs::exists(cache));
  CHECK(*first == must_parse(kEveryField, toml));

  // A hit does not rewrite the cache file.
  auto stamp = fs::last_write_time(cache);
  fs::last_write_time(cache, stamp - std::chrono::hours(1));
  stamp = fs::last_write_time(cache);
  auto second = load_config_cached(toml, cache);
  REQUIRE(second.ok());
  CHECK(*second == *first);
  CHECK(fs::last_write_time(cache) == stamp);

  // A touch without a content change: the model is reused and the cache
  // learns the new stat.
  fs::last_write_time(toml, fs::last_write_time(toml) + std::chrono::seconds(5));
  auto touched = load_config_cached(toml, cache);
  REQUIRE(touched.ok());
  CHECK(*touched == *first);

  // An edit of wrt.toml (same size, so only the content tells) is seen.
  std::string edited = kEveryField;
  edited.replace(edited.find("every-field"), 11, "EVERY-FIELD");
  write_file(toml, edited);
  auto third = load_config_cached(toml, cache);
  REQUIRE(third.ok());
  CHECK(third->project_name == "EVERY-FIELD");

  // A corrupt cache is rebuilt, not trusted.
  std::string bytes = read_file(cache);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_file(cache, bytes);
  auto fourth = load_config_cached(toml, cache);
  REQUIRE(fourth.ok());
  CHECK(fourth->project_name == "EVERY-FIELD");
  bool missing = false;
  auto rebuilt = read_state_file(cache, &missing);
  REQUIRE(rebuilt.ok());
  CHECK(rebuilt->view() != bytes);

  // Bad TOML is an error even though the cache holds the previous model.
  write_file(toml, std::string(kEveryField) + "\n[stages.broken\n");
  auto fifth = load_config_cached(toml, cache);
  REQUIRE_FALSE(fifth.ok());
  CHECK_THAT(fifth.error(), Catch::Contains("wrt.toml:"));
}

TEST_CASE("config cache: a checkout elsewhere with the same wrt.toml takes the model from the shared cache directory",
          "[config-cache]") {
  TempDir a, b, c, d, root;
  const fs::path shared = root / "cache";
  auto files_in = [&] {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(shared / "config", ec); !ec && it != fs::directory_iterator(); ++it) ++n;
    return n;
  };
  for (const TempDir* ws : {&a, &b, &c, &d}) write_file(*ws / "wrt.toml", kEveryField);
  auto load = [&](const TempDir& ws, wrt::ConfigSource* source) {
    return load_config_cached(ws / "wrt.toml", ws / ".wrt/state/config-cache", shared, source);
  };
  wrt::ConfigSource source{};

  // No cache directory yet: a load creates none.
  REQUIRE(load(a, &source).ok());
  CHECK(source == wrt::ConfigSource::kParsed);
  CHECK_FALSE(fs::exists(shared));
  // Once it exists, A's next load (from its state cache) shares its model.
  fs::create_directories(shared);
  REQUIRE(load(a, &source).ok());
  CHECK(source != wrt::ConfigSource::kParsed);
  CHECK(files_in() == 1);

  // B, another path: the shared model, moved to B -- what parsing B's own
  // wrt.toml gives; then B's own state cache.
  auto mb = load(b, &source);
  REQUIRE(mb.ok());
  CHECK(source == wrt::ConfigSource::kShared);
  CHECK(*mb == must_parse(kEveryField, b / "wrt.toml"));
  CHECK(mb->workspace == b.path());
  REQUIRE(load(b, &source).ok());
  CHECK(source != wrt::ConfigSource::kShared);
  CHECK(source != wrt::ConfigSource::kParsed);

  // A damaged shared copy is not used (C parses) and is replaced.
  const fs::path copy = fs::directory_iterator(shared / "config")->path();
  std::string bytes = read_file(copy);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_file(copy, bytes);
  auto mc = load(c, &source);
  REQUIRE(mc.ok());
  CHECK(source == wrt::ConfigSource::kParsed);
  CHECK(*mc == must_parse(kEveryField, c / "wrt.toml"));
  CHECK(read_file(copy) != bytes);
  CHECK(files_in() == 1);

  // Other text: never another text's model, even under its name.
  std::string edited = kEveryField;
  edited.replace(edited.find("every-field"), 11, "EVERY-FIELD");
  write_file(d / "wrt.toml", edited);
  auto md = load(d, &source);
  REQUIRE(md.ok());
  CHECK(source == wrt::ConfigSource::kParsed);
  CHECK(md->project_name == "EVERY-FIELD");
  CHECK(files_in() == 2);
  fs::path edited_copy;
  for (const auto& f : fs::directory_iterator(shared / "config"))
    if (f.path() != copy) edited_copy = f.path();
  fs::copy_file(copy, edited_copy, fs::copy_options::overwrite_existing);  // the every-field model, renamed
  TempDir e;
  write_file(e / "wrt.toml", edited);
  auto me = load(e, &source);
  REQUIRE(me.ok());
  CHECK(source == wrt::ConfigSource::kParsed);
  CHECK(me->project_name == "EVERY-FIELD");
  // Eight texts at most: the oldest go.
  for (int i = 0; i < 10; ++i) {
    TempDir f;
    std::string text = kEveryField;
    text.replace(text.find("every-field"), 11, "every-field-" + std::to_string(i));
    write_file(f / "wrt.toml", text);
    REQUIRE(load(f, &source).ok());
    CHECK(source == wrt::ConfigSource::kParsed);
  }
  CHECK(files_in() == 8);
}

TEST_CASE("config cache: an unwritable state directory only costs the cache", "[config-cache]") {
  TempDir ws;
  write_file(ws / "wrt.toml", kEveryField);
  write_file(ws / "blocker", "a file where the state directory should be");
  auto c = load_config_cached(ws / "wrt.toml", ws / "blocker" / "config-cache");
  REQUIRE(c.ok());
  CHECK(c->project_name == "every-field");
}

TEST_CASE("state file: seal and unseal reject bad magic, version and checksum", "[config-cache]") {
  const char magic[9] = "WRTTEST\n";
  std::string sealed = seal_state(magic, 3, "payload");
  auto ok = unseal_state(sealed, magic, 3);
  REQUIRE(ok.ok());
  CHECK(*ok == "payload");
  CHECK_THAT(unseal_state(sealed, magic, 4).error(), Catch::Contains("version 3"));
  const char other[9] = "WRTOTHR\n";
  CHECK_THAT(unseal_state(sealed, other, 3).error(), Catch::Contains("magic"));
  std::string flipped = sealed;
  flipped[18] ^= 1;
  CHECK_THAT(unseal_state(flipped, magic, 3).error(), Catch::Contains("checksum"));
  CHECK_THAT(unseal_state(sealed.substr(0, 10), magic, 3).error(), Catch::Contains("truncated"));
}

TEST_CASE("config cache: a fresh checkout running with another checkout's --cache-dir restores without parsing wrt.toml",
          "[config-cache][e2e]") {
  TempDir base, fresh;
  const char* toml = R"toml(
[stages.gen]
inputs = ["src/*.txt"]
outputs = ["out/gen.txt"]
with = { run = "mkdir -p out && cat src/*.txt > out/gen.txt" }
)toml";
  for (const TempDir* ws : {&base, &fresh}) {
    write_file(*ws / "wrt.toml", toml);
    write_file(*ws / "src/a.txt", "hello\n");
  }
  auto r = run_wrt({"run"}, base.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // The cache directory did not exist when the first run loaded wrt.toml:
  // the run shares the model once it has made it.
  std::size_t shared = 0;
  for (const auto& f : fs::directory_iterator(base / ".wrt/cache/config")) shared += f.is_regular_file();
  CHECK(shared == 1);
  const std::string cache = (base / ".wrt/cache").string();
  r = run_wrt({"-v", "run", "--cache-dir", cache}, fresh.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find(" ms from the shared cache") != std::string::npos);
  CHECK(r.out.find("1 cached") != std::string::npos);
  CHECK(read_file(fresh / "out/gen.txt") == "hello\n");
  // An edit there: parsed, as always.
  write_file(fresh / "wrt.toml", std::string(toml) + "\n# edited\n");
  r = run_wrt({"-v", "run", "--cache-dir", cache}, fresh.path());
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find(" ms from parsing") != std::string::npos);
}
