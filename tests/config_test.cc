#include "core/config/config.h"

#include <catch2/catch.hpp>

using namespace wrt;

namespace {
Result<Config> parse(const std::string& text) { return parse_config(text, "/ws/wrt.toml"); }
}  // namespace

TEST_CASE("config: full schema v1 parses into the model", "[config]") {
  auto c = parse(R"(
[project]
name = "demo"

[settings]
max_parallel_jobs = 2
timeout_minutes = 30
max_attempts = 1
cache_dir = ".wrt/cache"
cache_max_size = "1GiB"
plugin_path = ["build/plugins"]

[stages.build]
plugin = "command"
needs = []
inputs = ["src/**/*.c", "Makefile"]
outputs = ["./out//app"]
env = ["CC"]
timeout_minutes = 5
max_attempts = 2
cache = true
with = { run = "make out/app", nested = { a = [1, 2] } }

[stages.test]
needs = ["build"]

[pipelines.ci]
stages = ["build", "test"]
)");
  REQUIRE(c.ok());
  CHECK(c->project_name == "demo");
  CHECK(c->settings.max_parallel_jobs == 2);
  CHECK(c->settings.cache_max_size == (1ull << 30));
  CHECK(c->settings.plugin_path == std::vector<std::string>{"build/plugins"});
  REQUIRE(c->stages.size() == 2);
  const auto& b = c->stages[0];
  CHECK(b.name == "build");
  CHECK(b.outputs == std::vector<std::string>{"out/app"});
  CHECK(b.env == std::vector<std::string>{"CC"});
  CHECK(b.timeout_minutes == 5);
  CHECK(b.max_attempts == 2);
  CHECK(b.with["run"] == "make out/app");
  CHECK(b.with["nested"]["a"][1] == 2);
  CHECK(c->stages[1].plugin == "command");
  REQUIRE(c->find_pipeline("ci"));
  CHECK(c->find_pipeline("ci")->stages.size() == 2);
  CHECK(c->workspace == "/ws");
}

TEST_CASE("config: stages keep file order, not key order", "[config]") {
  auto c = parse("[stages.zeta]\n[stages.alpha]\n[stages.mid]\n");
  REQUIRE(c.ok());
  CHECK(c->stages[0].name == "zeta");
  CHECK(c->stages[1].name == "alpha");
  CHECK(c->stages[2].name == "mid");
}

TEST_CASE("config: errors carry file:line:col", "[config]") {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"[stages.a]\nplugn = \"x\"\n", "/ws/wrt.toml:2:1: unknown key 'plugn' in [stages.a] (did you mean 'plugin'?)"},
      {"[setings]\n", "/ws/wrt.toml:1:2: unknown key 'setings' in wrt.toml (did you mean 'settings'?)"},
      {"[settings]\nmax_parallel_jobs = 0\n", "/ws/wrt.toml:2:21: settings.max_parallel_jobs must be at least 1, not 0"},
      {"[settings]\ntimeout_minutes = \"x\"\n", "/ws/wrt.toml:2:19: settings.timeout_minutes must be a number, not a string"},
      {"[stages.a]\nneeds = \"b\"\n", "/ws/wrt.toml:2:9: stages.a.needs must be an array of strings, not a string"},
      {"[stages.a]\ninputs = [\"/etc/passwd\"]\n", "/ws/wrt.toml:2:11: stages.a.inputs: "},
      {"[stages.a]\noutputs = [\"a/../../b\"]\n", "/ws/wrt.toml:2:12: stages.a.outputs: 'a/../../b' is outside the workspace"},
      {"[stages.a]\ncache = 1\n", "/ws/wrt.toml:2:9: stages.a.cache must be true or false, not an integer"},
      {"[stages.\"a b\"]\n", "may use only letters"},
      {"[stages.a]\n[pipelines.ci]\nstages = [\"b\"]\n", "/ws/wrt.toml:3:11: pipeline 'ci' names unknown stage 'b'"},
      {"[pipelines.ci]\n", "needs a 'stages' list"},
      {"[settings]\ncache_max_size = \"lots\"\n", "/ws/wrt.toml:2:18: settings.cache_max_size: "},
      {"x = = 1\n", "/ws/wrt.toml:1:"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text);
    INFO(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains(c.expected));
    CHECK(r.error().find('\n') == std::string::npos);
  }
}

TEST_CASE("config: did_you_mean and normalize_relative", "[config]") {
  CHECK(did_you_mean("inptus", {"inputs", "outputs"}) == "inputs");
  CHECK(did_you_mean("zzzzzz", {"inputs", "outputs"}).empty());
  CHECK(*normalize_relative("./a//b/") == "a/b");
  CHECK(*normalize_relative("a/x/../b") == "a/b");
  CHECK_FALSE(normalize_relative("../a").ok());
  CHECK_FALSE(normalize_relative("/abs").ok());
  CHECK(*normalize_relative(".") == ".");
}

TEST_CASE("config: starter config is valid", "[config]") {
  auto c = parse(starter_config("demo"));
  REQUIRE(c.ok());
  CHECK(c->project_name == "demo");
  CHECK(c->find_pipeline("ci") != nullptr);
}

TEST_CASE("config: peek_settings reads one plain [settings] section alone, and nothing it cannot be sure of",
          "[config]") {
  const std::string stages = "[stages.a]\nwith = { run = \"true\" }\n";
  const std::string settings =
      "[settings]\nremote_cache = \"http://h:1/x\"   # trailing comment\nremote_cache_trusted_keys = [\"k1.pub\", "
      "'k2.pub']\nmax_parallel_jobs = 3\n";
  // Before, between and after the stages; with blanks inside the brackets.
  for (const std::string& text :
       {settings + stages, stages + settings, stages + settings + "[stages.b]\nwith = { run = \"x\" }\n",
        "# a comment\n\n" + stages + "[ settings ]\nremote_cache = \"http://h:1/x\"\n"
        "remote_cache_trusted_keys = [\"k1.pub\", 'k2.pub']\nmax_parallel_jobs = 3\n"}) {
    INFO(text);
    auto s = wrt::peek_settings(text);
    REQUIRE(s);
    CHECK(s->remote_cache == "http://h:1/x");
    CHECK(s->remote_cache_trusted_keys == std::vector<std::string>{"k1.pub", "k2.pub"});
    CHECK(s->max_parallel_jobs == 3);
    // What the full parse makes of the same text.
    auto full = wrt::parse_config(text, "/w/wrt.toml");
    REQUIRE(full);
    CHECK(full->settings.remote_cache_trusted_keys == s->remote_cache_trusted_keys);
    CHECK(full->settings.remote_cache == s->remote_cache);
  }
  // No settings at all: the defaults.
  auto none = wrt::peek_settings(stages);
  REQUIRE(none);
  CHECK(none->remote_cache.empty());
  CHECK(none->remote_cache_trusted_keys.empty());
  // Whatever else might define or hide settings: not read alone.
  for (const std::string& text : {
           "settings.remote_cache = \"http://evil\"\n" + stages,                  // dotted, at the top
           "x = 1 # settings\n" + stages + settings,                              // any mention above the headers
           settings + "[settings.extra]\nx = 1\n" + stages,                       // a sub-table
           settings + stages + settings,                                          // twice
           "[[settings]]\nx = 1\n" + stages,                                      // an array of tables
           "[\"settings\"]\nremote_cache = \"http://h:1/x\"\n" + stages,          // quoted
           stages + "[settings]\nremote_cache = \n",                              // broken value
           stages + "[settings]\nno_such_key = 1\n",                              // unknown key
           stages + "[settings]\nmax_parallel_jobs = \"three\"\n",                // wrong type
           "a = \"\"\"\n[settings]\nremote_cache_trusted_keys = [\"evil.pub\"]\n\"\"\"\n" + stages + settings,
       }) {
    INFO(text);
    auto s = wrt::peek_settings(text);
    // The string case: the header inside the string is no header, so the
    // real section is read -- never the keys in the string.
    if (s) {
      CHECK(s->remote_cache_trusted_keys == std::vector<std::string>{"k1.pub", "k2.pub"});
      CHECK(text.find("a = \"\"\"") == 0);
    }
  }
  // A [settings] header inside a multi-line string is not a header.
  auto in_string = wrt::peek_settings(stages + "[stages.b]\nwith.run = '''\n[settings]\nremote_cache = \"http://evil\"\n'''\n");
  REQUIRE(in_string);
  CHECK(in_string->remote_cache.empty());
}
