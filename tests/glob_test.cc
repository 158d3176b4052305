#include "core/config/glob.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

namespace fs = std::filesystem;
using wrt::glob_match;
using wrt::glob_pattern_error;
using wrt::GlobExpander;
using wrt::test::TempDir;
using wrt::test::write_file;
using Files = std::vector<std::string>;

namespace {

Files expand_ok(GlobExpander& g, const std::string& pattern) {
  auto r = g.expand(pattern);
  INFO("pattern " << pattern);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("glob: star and question mark stay within one component") {
  CHECK(glob_match("*.c", "a.c"));
  CHECK(glob_match("*.c", ".c"));
  CHECK_FALSE(glob_match("*.c", "a.h"));
  CHECK_FALSE(glob_match("*.c", "dir/a.c"));
  CHECK(glob_match("src/*.c", "src/main.c"));
  CHECK_FALSE(glob_match("src/*.c", "src/sub/main.c"));
  CHECK_FALSE(glob_match("a*b", "a/b"));
  CHECK(glob_match("a*b*c", "axxbyyc"));
  CHECK_FALSE(glob_match("a*b*c", "axxbyy"));
  CHECK(glob_match("a?c", "abc"));
  CHECK_FALSE(glob_match("a?c", "ac"));
  CHECK_FALSE(glob_match("a?c", "a/c"));
  CHECK(glob_match("a**b", "axyb"));  // "**" inside a component is a plain star
  CHECK_FALSE(glob_match("a**b", "ax/yb"));
  CHECK(glob_match("src/main.c", "src/main.c"));
  CHECK_FALSE(glob_match("src/main.c", "src/main.cc"));
  CHECK_FALSE(glob_match("src", "src/main.c"));
}

TEST_CASE("glob: ** matches zero or more whole components at start, middle and end") {
  // start
  CHECK(glob_match("**/*.c", "a.c"));
  CHECK(glob_match("**/*.c", "x/y/z/a.c"));
  CHECK_FALSE(glob_match("**/*.c", "x/y/a.h"));
  // middle
  CHECK(glob_match("src/**/*.c", "src/a.c"));
  CHECK(glob_match("src/**/*.c", "src/x/a.c"));
  CHECK(glob_match("src/**/*.c", "src/x/y/a.c"));
  CHECK_FALSE(glob_match("src/**/*.c", "srcx/a.c"));
  CHECK_FALSE(glob_match("src/**/*.c", "other/src/a.c"));
  CHECK_FALSE(glob_match("src/**/*.c", "src/x/a.h"));
  CHECK(glob_match("a/**/b/**/c", "a/b/c"));
  CHECK(glob_match("a/**/b/**/c", "a/x/b/y/z/c"));
  CHECK_FALSE(glob_match("a/**/b/**/c", "a/x/c"));
  // end
  CHECK(glob_match("src/**", "src/a"));
  CHECK(glob_match("src/**", "src/x/y/z"));
  CHECK(glob_match("src/**", "src"));  // zero components
  CHECK_FALSE(glob_match("src/**", "srcx/a"));
  CHECK(glob_match("**", "anything/at/all"));
  // "**" must be a whole component to cross directories
  CHECK_FALSE(glob_match("src**/a.c", "src/x/a.c"));
  CHECK(glob_match("**/**/a", "a"));
}

TEST_CASE("glob: character classes") {
  CHECK(glob_match("[abc].c", "b.c"));
  CHECK_FALSE(glob_match("[abc].c", "d.c"));
  CHECK(glob_match("f[0-9].txt", "f7.txt"));
  CHECK_FALSE(glob_match("f[0-9].txt", "fa.txt"));
  CHECK(glob_match("[!a]x", "bx"));
  CHECK_FALSE(glob_match("[!a]x", "ax"));
  CHECK(glob_match("[a-cx-z]", "y"));
  CHECK_FALSE(glob_match("[a-cx-z]", "m"));
  CHECK(glob_match("[]]", "]"));  // ']' first is a member
  CHECK(glob_match("[-a]", "-"));
  CHECK_FALSE(glob_match("[ab]", "ab"));
  CHECK(glob_match("*[0-9]", "file9"));
  CHECK_FALSE(glob_match("*[0-9]", "file"));
}

TEST_CASE("glob: has_wildcard") {
  CHECK(wrt::has_wildcard("src/*.c"));
  CHECK(wrt::has_wildcard("a?"));
  CHECK(wrt::has_wildcard("[ab]"));
  CHECK(wrt::has_wildcard("src/**"));
  CHECK_FALSE(wrt::has_wildcard("src/main.c"));
  CHECK_FALSE(wrt::has_wildcard("src"));
}

TEST_CASE("glob: malformed patterns are rejected with a message naming them") {
  CHECK(glob_pattern_error("src/**/*.c").empty());
  CHECK(glob_pattern_error("src/").empty());
  CHECK(glob_pattern_error("[]]x").empty());
  CHECK(glob_pattern_error("a/.hidden/*").empty());
  CHECK(glob_pattern_error("..a/b..").empty());
  CHECK_FALSE(glob_pattern_error("").empty());
  for (std::string bad : {"/etc/passwd", "../x", "a/../b", "src/..", "src/[ab", "a[/]b", "a//b", "./a", "[!"}) {
    INFO(bad);
    std::string err = glob_pattern_error(bad);
    CHECK_FALSE(err.empty());
    CHECK(err.find(bad) != std::string::npos);
  }
  CHECK(glob_pattern_error("src/[ab").find("'['") != std::string::npos);
  CHECK(glob_pattern_error("/abs").find("absolute") != std::string::npos);
  CHECK(glob_pattern_error("a/../b").find("..") != std::string::npos);
}

TEST_CASE("glob: expand walks files, skips skip dirs, sorts") {
  TempDir t;
  for (const char* f : {"top.c", "src/b.c", "src/a.c", "src/a.h", "src/x/y/c.c", ".git/objects/z.c",
                        ".wrt/state.c", "build/cache/k.c", "build/out.c", "docs/readme.md"})
    write_file(t / f, "x");
  GlobExpander g(t.path(), {".wrt", ".git", "build/cache"});

  CHECK(expand_ok(g, "**/*.c") == Files{"build/out.c", "src/a.c", "src/b.c", "src/x/y/c.c", "top.c"});
  CHECK(expand_ok(g, "src/**/*.c") == Files{"src/a.c", "src/b.c", "src/x/y/c.c"});
  CHECK(expand_ok(g, "src/*.c") == Files{"src/a.c", "src/b.c"});
  CHECK(expand_ok(g, "src/?.[ch]") == Files{"src/a.c", "src/a.h", "src/b.c"});
  CHECK(expand_ok(g, "*.c") == Files{"top.c"});
  CHECK(expand_ok(g, "src/**") == Files{"src/a.c", "src/a.h", "src/b.c", "src/x/y/c.c"});
  CHECK(expand_ok(g, "nothing/**/*.c").empty());
  CHECK(expand_ok(g, "**/*.rs").empty());
  // a pattern reaching into a skipped directory finds nothing there
  CHECK(expand_ok(g, ".git/**").empty());
  CHECK(expand_ok(g, "build/**") == Files{"build/out.c"});
}

TEST_CASE("glob: absolute skip dir inside the workspace is honoured") {
  TempDir t;
  write_file(t / "cache/blob.c", "x");
  write_file(t / "a.c", "x");
  GlobExpander g(t.path(), {(t.path() / "cache").string(), "/somewhere/else"});
  CHECK(expand_ok(g, "**/*.c") == Files{"a.c"});
}

TEST_CASE("glob: literal patterns name a file, a directory, or nothing") {
  TempDir t;
  write_file(t / "src/a.c", "x");
  write_file(t / "src/sub/b.c", "x");
  write_file(t / "other.txt", "x");
  GlobExpander g(t.path(), {".wrt"});
  CHECK(expand_ok(g, "src/a.c") == Files{"src/a.c"});
  CHECK(expand_ok(g, "src") == Files{"src/a.c", "src/sub/b.c"});
  CHECK(expand_ok(g, "src/") == Files{"src/a.c", "src/sub/b.c"});
  CHECK(expand_ok(g, "missing.c").empty());
  CHECK(expand_ok(g, "other.txt/below").empty());  // ENOTDIR is "does not exist"

  // A literal file is one stat and no walk: a file created afterwards is
  // still seen by the first wildcard pattern over its directory.
  GlobExpander fresh(t.path(), {".wrt"});
  CHECK(expand_ok(fresh, "src/a.c") == Files{"src/a.c"});
  write_file(t / "src/new.c", "x");
  CHECK(expand_ok(fresh, "src/*.c") == Files{"src/a.c", "src/new.c"});
}

TEST_CASE("glob: expand returns an error naming a malformed pattern") {
  TempDir t;
  GlobExpander g(t.path(), {});
  for (std::string bad : {"src/[ab", "../up", "/abs/*.c", ""}) {
    auto r = g.expand(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    if (!bad.empty()) CHECK(r.error().find(bad) != std::string::npos);
  }
}

TEST_CASE("glob: symlinks to files count, symlinked directories are not followed") {
  TempDir t;
  write_file(t / "real/a.c", "x");
  fs::create_symlink("real/a.c", t / "link.c");
  fs::create_symlink("..", t / "real/loop");      // would cycle if followed
  fs::create_symlink("real", t / "dirlink");
  fs::create_symlink("missing", t / "dangling.c");
  GlobExpander g(t.path(), {});
  CHECK(expand_ok(g, "**/*.c") == Files{"link.c", "real/a.c"});
  CHECK(expand_ok(g, "**") == Files{"link.c", "real/a.c"});
  // Named explicitly, a symlinked directory is entered.
  CHECK(expand_ok(g, "dirlink") == Files{"dirlink/a.c"});
  CHECK(expand_ok(g, "dirlink/*.c") == Files{"dirlink/a.c"});
}

TEST_CASE("glob: walks are cached until invalidate, and cover only the literal prefix") {
  TempDir t;
  write_file(t / "src/a.c", "x");
  write_file(t / "lib/l.c", "x");
  GlobExpander g(t.path(), {});
  CHECK(expand_ok(g, "src/**/*.c") == Files{"src/a.c"});

  write_file(t / "src/b.c", "x");
  write_file(t / "lib/m.c", "x");
  // src was walked and cached; lib was not walked by the src pattern.
  CHECK(expand_ok(g, "src/*.c") == Files{"src/a.c"});
  CHECK(expand_ok(g, "lib/*.c") == Files{"lib/l.c", "lib/m.c"});

  g.invalidate();
  CHECK(expand_ok(g, "src/*.c") == Files{"src/a.c", "src/b.c"});
}

TEST_CASE("glob: a subdirectory served from a cached ancestor walk matches a fresh walk") {
  TempDir t;
  for (const char* f : {"a/b/1.c", "a/b/c/2.c", "a/bb/3.c", "a/b.c", "z.c"}) write_file(t / f, "x");
  fs::create_symlink("b", t / "a/blink");
  GlobExpander warm(t.path(), {});
  CHECK(expand_ok(warm, "**").size() == 5);
  GlobExpander cold(t.path(), {});
  for (const char* p : {"a/b/**", "a/b/*/*.c", "a/blink/**", "a/b", "a/bb/*"}) {
    INFO(p);
    CHECK(expand_ok(warm, p) == expand_ok(cold, p));
  }
  CHECK(expand_ok(warm, "a/b/**") == Files{"a/b/1.c", "a/b/c/2.c"});
  CHECK(expand_ok(warm, "a/blink/**") == Files{"a/blink/1.c", "a/blink/c/2.c"});
}

TEST_CASE("glob: concurrent expand gives the same results") {
  TempDir t;
  for (int i = 0; i < 50; ++i) write_file(t / ("d" + std::to_string(i % 5)) / ("f" + std::to_string(i) + ".c"), "x");
  GlobExpander g(t.path(), {});
  const Files all = expand_ok(g, "**/*.c");
  REQUIRE(all.size() == 50);
  g.invalidate();
  std::vector<Files> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 20; ++k) {
        if (i == 0 && k % 5 == 0) g.invalidate();
        auto r = g.expand(k % 2 ? "**/*.c" : "d1/*.c");
        if (r.ok() && k % 2) got[i] = *r;
      }
    });
  for (auto& th : threads) th.join();
  for (const auto& f : got) CHECK(f == all);
}
