// Inputs that broke the wrt.toml loader: the ones issue 10 found among 3,000
// fuzzed files and the ones tests/fuzz/config_fuzz found since. Each must be a
// one-line error naming the file, line and column (or load fine), never a
// crash, a hang or a runaway walk.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/config/glob.h"
#include "core/config/graph.h"
#include "support.h"

using namespace wrt;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

Result<Config> parse(const std::string& text) { return parse_config(text, "/ws/wrt.toml"); }

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

void require_error(const Result<Config>& r, const std::string& expected) {
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::StartsWith(expected));
  CHECK(r.error().find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("config fuzz: a 20,000-segment dotted key is an error, not a stack overflow", "[config]") {
  // "a.a.a..." in [project]: the 100th '.' (column 200) makes 101 levels.
  auto key = parse("[project]\nname = \"x\"\n" + repeat("a.", 20000) + "a = 1\n");
  require_error(key, "/ws/wrt.toml:3:200: keys, tables and arrays nest more than 100 levels deep");

  auto header = parse("[" + repeat("a.", 20000) + "a]\n");
  require_error(header, "/ws/wrt.toml:1:201: keys, tables and arrays nest more than 100 levels deep");

  auto in_with = parse("[stages.s]\nwith = { " + repeat("a.", 20000) + "a = 1 }\n");
  require_error(in_with, "/ws/wrt.toml:2:205: keys, tables and arrays nest more than 100 levels deep");
}

TEST_CASE("config fuzz: 20,000 nested arrays or inline tables are an error", "[config]") {
  // "x = [[[...": the 101st '[' is at column 105.
  auto arrays = parse("x = " + repeat("[", 20000) + repeat("]", 20000) + "\n");
  require_error(arrays, "/ws/wrt.toml:1:105: keys, tables and arrays nest more than 100 levels deep");
  auto unclosed = parse("x = " + repeat("[", 20000));
  require_error(unclosed, "/ws/wrt.toml:1:105: keys, tables and arrays nest more than 100 levels deep");
  auto tables = parse("[stages.s]\nwith = " + repeat("{a=", 20000) + "1" + repeat("}", 20000) + "\n");
  require_error(tables, "/ws/wrt.toml:2:");
  CHECK_THAT(tables.error(), Catch::Contains("nest more than 100 levels deep"));
  // Depth adds up across a [table] header, a dotted key and brackets.
  auto mixed = parse("[" + repeat("t.", 40) + "t]\n" + repeat("k.", 40) + "k = " + repeat("[", 30) + "\n");
  require_error(mixed, "/ws/wrt.toml:2:");
}

TEST_CASE("config fuzz: nesting below the limit and brackets in strings and comments still load", "[config]") {
  // 60 levels of arrays inside `with` reach the plugin intact.
  auto deep = parse("[stages.s]\nwith = { a = " + repeat("[", 60) + "1" + repeat("]", 60) + " }\n");
  REQUIRE(deep.ok());
  const nlohmann::json* v = &deep->stages[0].with["a"];
  int levels = 0;
  while (v->is_array()) {
    v = &(*v)[0];
    ++levels;
  }
  CHECK(levels == 60);
  CHECK(*v == 1);

  // Dots and brackets inside every kind of string and in comments are text.
  const std::string noise = repeat("a.[{", 300);
  auto strings = parse("# " + noise + "\n[stages.s]  # " + noise + "\nwith = { basic = \"" + noise +
                       "\\\"\", literal = '" + noise + "', multi = \"\"\"\n" + noise + "\n\"\"\"\"\", raw = '''" + noise +
                       "\n''''' }\n" + "outputs = [\"" + noise + "\"]\n");
  REQUIRE(strings.ok());
  CHECK(strings->stages[0].with["basic"] == noise + "\"");
  CHECK(strings->stages[0].with["literal"] == noise);
  CHECK(strings->stages[0].with["multi"] == noise + "\n\"\"");
  CHECK(strings->stages[0].with["raw"] == noise + "\n''");
  CHECK(strings->stages[0].outputs == std::vector<std::string>{noise});

  // Floats, dates and many keys per line do not add up.
  std::string many = "[stages.s]\nwith = { ";
  for (int i = 0; i < 300; ++i) many += "k" + std::to_string(i) + ".x = 1.5, ";
  many += "d = 1979-05-27T00:32:00.999 }\n";
  auto flat = parse(many);
  REQUIRE(flat.ok());
  CHECK(flat->stages[0].with["k299"]["x"] == 1.5);
}

TEST_CASE("config fuzz: control characters in paths are errors with a position", "[config]") {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"[stages.a]\ninputs = [\"\\u0000\"]\n",
       "/ws/wrt.toml:2:11: stages.a.inputs: \"\\u0000\" contains the control character U+0000; paths may not"},
      {"[stages.a]\ninputs = [\"src/*.c\", \"src/\\u0000/**\"]\n",
       "/ws/wrt.toml:2:22: stages.a.inputs: \"src/\\u0000/**\" contains the control character U+0000"},
      {"[stages.a]\noutputs = [\"out\\tdir\"]\n",
       "/ws/wrt.toml:2:12: stages.a.outputs: \"out\\u0009dir\" contains the control character U+0009"},
      {"[stages.a]\noutputs = [\"out\\n\"]\n", "/ws/wrt.toml:2:12: stages.a.outputs: \"out\\u000A\""},
      {"[settings]\ncache_dir = \"c\\u001f\"\n", "/ws/wrt.toml:2:13: settings.cache_dir: \"c\\u001F\""},
      {"[settings]\nplugin_path = [\"ok\", \"p\\u007f\"]\n",
       "/ws/wrt.toml:2:22: settings.plugin_path: \"p\\u007F\" contains the control character U+007F"},
      {"[components.c]\npaths = [\"\\u0001\"]\n", "/ws/wrt.toml:2:10: components.c.paths: \"\\u0001\""},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    require_error(parse(c.text), c.expected);
  }
  // Tabs and the like are still fine where the value is not a path.
  auto with = parse("[stages.a]\nwith = { run = \"a\\tb\\n\" }\n");
  REQUIRE(with.ok());
  CHECK(with->stages[0].with["run"] == "a\tb\n");
}

TEST_CASE("config fuzz: a NUL pattern is an error for the glob expander itself", "[config]") {
  test::TempDir ws;
  test::write_file(ws / "src/a.c", "");
  CHECK_FALSE(glob_pattern_error(std::string("\0", 1)).empty());
  CHECK_FALSE(glob_pattern_error(std::string("src/\0a.c", 8)).empty());
  GlobExpander g(ws.path(), {".wrt"});
  for (const std::string& p : {std::string("\0", 1), std::string("src\0", 4), std::string("src/*\0", 6)}) {
    auto r = g.expand(p);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains("NUL"));
  }
  auto fine = g.expand("src/*.c");
  REQUIRE(fine.ok());
  CHECK(*fine == std::vector<std::string>{"src/a.c"});
}

TEST_CASE("config fuzz: a directory tree deeper than the descriptor limit is walked completely", "[config]") {
  test::TempDir ws;
  const int depth = 200;
  std::string deep_dir;
  for (int i = 0; i < depth; ++i) deep_dir += (i ? "/d" : "d");
  test::write_file(ws / (deep_dir + "/leaf.c"), "");
  test::write_file(ws / "top.c", "");

  // Allow a few descriptors more than are open now, far fewer than levels:
  // a walk holding one open directory per level cannot finish.
  int open_fds = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++open_fds;
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(open_fds + 16);
  REQUIRE(low.rlim_cur < static_cast<rlim_t>(depth));
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  GlobExpander g(ws.path(), {});
  auto r = g.expand("**/*.c");
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  REQUIRE(r.ok());
  CHECK(*r == std::vector<std::string>{deep_dir + "/leaf.c", "top.c"});
}

TEST_CASE("config fuzz: a 1 MB output path among hundreds of outputs is checked for nesting", "[config]") {
  // "x/x/x/...": half a million components.
  const std::string long_path = repeat("x/", 500000) + "f";
  std::string outputs;
  for (int i = 0; i < 300; ++i) outputs += "\"o" + std::to_string(i) + "/f\", ";

  // Siblings only: fine.
  auto ok = parse("[stages.a]\noutputs = [" + outputs + "\"" + long_path + "\"]\n[stages.b]\noutputs = [\"x/y\", \"x-y\", \"" +
                  repeat("x/", 1000) + "g\"]\n");
  REQUIRE(ok.ok());
  REQUIRE(ok->stages[0].outputs.size() == 301);
  CHECK(ok->stages[0].outputs.back().size() == long_path.size());
  CHECK(build_graph(*ok).ok());

  // One stage's output directory holds the other's 1 MB path.
  auto nested = parse("[stages.a]\noutputs = [" + outputs + "\"" + long_path + "\"]\n[stages.b]\noutputs = [\"" +
                      repeat("x/", 1000) + "x\"]\n");
  REQUIRE(nested.ok());
  auto g = build_graph(*nested);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error() == "/ws/wrt.toml:1:1: output '" + long_path + "' of stage 'a' lies inside output '" +
                         repeat("x/", 1000) + "x' of stage 'b'");
}

TEST_CASE("config fuzz: nested outputs are found whatever sorts between them", "[config]") {
  // Byte order puts "a-c" and "a.d" between "a" and "a/b".
  auto c = parse("[stages.s]\noutputs = [\"a\"]\n[stages.t]\noutputs = [\"a-c\", \"a.d\", \"a/b\"]\n");
  REQUIRE(c.ok());
  auto g = build_graph(*c);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error() == "/ws/wrt.toml:3:1: output 'a/b' of stage 't' lies inside output 'a' of stage 's'");

  // Nested in the stage's own output is fine; the error names the first
  // offender and the outermost output of another stage.
  auto own = parse("[stages.s]\noutputs = [\"p\", \"p/q/r\", \"p-q\"]\n");
  REQUIRE(own.ok());
  CHECK(build_graph(*own).ok());
  auto chain = parse("[stages.s]\noutputs = [\"p\", \"p/q/r\"]\n[stages.t]\noutputs = [\"p/q\", \"p/q/r/s\", \"p0\"]\n");
  REQUIRE(chain.ok());
  auto gc = build_graph(*chain);
  REQUIRE_FALSE(gc.ok());
  CHECK(gc.error() == "/ws/wrt.toml:3:1: output 'p/q' of stage 't' lies inside output 'p' of stage 's'");
  auto later = parse("[stages.s]\noutputs = [\"m/n\", \"z\"]\n[stages.t]\noutputs = [\"m/o\", \"z/a/b\", \"z/a/c\"]\n");
  REQUIRE(later.ok());
  auto gl = build_graph(*later);
  REQUIRE_FALSE(gl.ok());
  CHECK(gl.error() == "/ws/wrt.toml:3:1: output 'z/a/b' of stage 't' lies inside output 'z' of stage 's'");
}

TEST_CASE("config fuzz: non-ASCII where toml++ 3.3 reaches __builtin_unreachable is an error with a position",
          "[config]") {
  // The fuzzer's find: U+030A after a bare key in a table header.
  require_error(parse("[stages.a]\n[stages\xCC\x8Anit-test]\n"),
                "/ws/wrt.toml:2:8: U+030A outside a string or comment; TOML allows only ASCII there");
  require_error(parse("[stages.a]\nx\xC3\xA9 = 1\n"), "/ws/wrt.toml:2:2: U+00E9 outside a string or comment");
  require_error(parse("[stages.a]\nwith = { x = 1\xC3\xA9 }\n"), "/ws/wrt.toml:2:15: U+00E9 in an unquoted value");
  require_error(parse("a = 1 \xFF\n"), "/ws/wrt.toml:1:7: byte 0xFF outside a string or comment");
  // toml++ reads an unquoted value ahead to the next space, quotes included.
  require_error(parse("[stages.a]\niNpfail_onuts =0f\0\0\0\0p;\"-witho\xCC\x99/\0\0\0\0p"s),
                "/ws/wrt.toml:2:31: U+0319 in an unquoted value; TOML allows only ASCII there");
  require_error(parse("x = [1, 2\"\xC3\xA9\"]\n"), "/ws/wrt.toml:1:11: U+00E9 in an unquoted value");
  require_error(parse("x = { a = true'\xC3\xA9' }\n"), "/ws/wrt.toml:1:16: U+00E9 in an unquoted value");
  // A line-ending backslash in a """ string followed by a non-ASCII character.
  require_error(parse("[stages.a]\nwith = { run = \"\"\"\\\n  \xC3\xA9t\xC3\xA9\"\"\" }\n"),
                "/ws/wrt.toml:3:3: U+00E9 right after a backslash in a \"\"\" string trips a bug in the TOML parser "
                "(toml++ 3.3); write it as the escape \\u00E9 or start the line with an ASCII character");

  // Non-ASCII in strings, quoted keys and comments, after a byte order mark,
  // and after an escape or a line-ending backslash followed by ASCII is fine.
  auto ok = parse("\xEF\xBB\xBF# \xC3\xA9t\xC3\xA9\n[stages.a]\nwith = { \"cl\xC3\xA9\" = '\xC3\xA9', run = \"\"\"\\\n  x\xC3\xA9\\u00E9\\\\\n\xC3\xA9\"\"\", "
                  "a = [1,\"\xC3\xA9\",'\xC3\xA9',{b=\"\xC3\xA9\"}], d = 1979-05-27 07:32:00,e=1}#\xC3\xA9\n");
  INFO((ok.ok() ? "" : ok.error()));
  REQUIRE(ok.ok());
  CHECK(ok->stages[0].with["cl\xC3\xA9"] == "\xC3\xA9");
  CHECK(ok->stages[0].with["run"] == "x\xC3\xA9\xC3\xA9\\\n\xC3\xA9");
  CHECK(ok->stages[0].with["a"][3]["b"] == "\xC3\xA9");
  CHECK(ok->stages[0].with["e"] == 1);
}

TEST_CASE("config fuzz: names with newlines keep errors on one line", "[config]") {
  require_error(parse("\"a\\nb\" = 1\n"), "/ws/wrt.toml:1:1: unknown key 'a\\u000Ab' in wrt.toml");
  require_error(parse("[stages.a]\nplugin = \"a\\nb\"\n"), "/ws/wrt.toml:2:10: stages.a.plugin: 'a\\u000Ab' is not a plugin name");
  require_error(parse("[stages.a]\n[pipelines.\"p\\rq\"]\nstages = [\"zz\"]\n"),
                "/ws/wrt.toml:3:11: pipeline 'p\\u000Dq' names unknown stage 'zz'");
  require_error(parse("[stages.a]\nfor_each = \"component\"\ncomponents = [\"a\\nb\"]\n[components.c]\npaths = [\"x\"]\n"),
                "/ws/wrt.toml:3:14: stage 'a' names unknown component 'a\\u000Ab'");
  auto c = parse("[stages.a]\nneeds = [\"x\\ny\"]\n");
  REQUIRE(c.ok());
  auto g = build_graph(*c);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error() == "/ws/wrt.toml:2:9: stage 'a' needs unknown stage 'x\\u000Ay'");
}

TEST_CASE("config fuzz: toml++ messages that quote a newline stay on one line", "[config]") {
  // The fuzzer's find: toml++ says "saw 'f<newline>'".
  auto r = parse("[stages.a]\n1inputs = [# A5small C program bpts = 3\nf\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find('\n') == std::string::npos);
  CHECK_THAT(r.error(), Catch::StartsWith("/ws/wrt.toml:3:2: ") && Catch::Contains("\\u000A"));
}
