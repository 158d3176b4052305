// Unit tests of core/output_tree: listing outputs without following
// symlinks, and the confinement rules for restores.
#include "core/cache/output_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support.h"

using namespace wrt;
using wrt::test::TempDir;
using wrt::test::write_file;
namespace fs = std::filesystem;

namespace {
struct WsFd {
  int fd;
  explicit WsFd(const fs::path& p) : fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) { REQUIRE(fd >= 0); }
  ~WsFd() { ::close(fd); }
};
}  // namespace

TEST_CASE("output_tree: lists files, symlinks and empty directories without following links", "[output_tree]") {
  TempDir ws;
  write_file(ws / "build/lib/libfoo.so.1", "ELF");
  fs::create_symlink("libfoo.so.1", ws / "build/lib/libfoo.so");
  write_file(ws / "build/bin/tool", "#!/bin/sh\n");
  fs::permissions(ws / "build/bin/tool", fs::perms::owner_exec, fs::perm_options::add);
  fs::create_directories(ws / "build/empty");
  fs::create_directories(ws / "elsewhere/dir");
  write_file(ws / "elsewhere/dir/secret", "x");
  fs::create_symlink("../elsewhere/dir", ws / "build/linked");  // a link to a directory is listed as a link
  write_file(ws / "build/lib/.wrt-restore.123.abc", "half a restore");
  WsFd fd(ws.path());
  auto r = list_output_tree(fd.fd, {"build"});
  REQUIRE(r.ok());
  std::vector<std::string> paths;
  for (const auto& o : *r) paths.push_back(o.path + ":" + std::string(output_kind_name(o.kind)));
  CHECK(paths == std::vector<std::string>{"build/bin/tool:file", "build/empty:dir", "build/lib/libfoo.so:symlink",
                                          "build/lib/libfoo.so.1:file", "build/linked:symlink"});
  CHECK((*r)[0].executable);
  CHECK((*r)[2].target == "libfoo.so.1");
  // The restore temp file was removed, not listed.
  CHECK_FALSE(fs::exists(ws / "build/lib/.wrt-restore.123.abc"));
}

TEST_CASE("output_tree: symlinks out of the workspace and symlinked parents are errors", "[output_tree]") {
  TempDir ws, outside;
  WsFd fd(ws.path());
  SECTION("absolute target") {
    fs::create_directories(ws / "out");
    fs::create_symlink("/etc/passwd", ws / "out/p");
    auto r = list_output_tree(fd.fd, {"out"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("out/p") != std::string::npos);
    CHECK(r.error().find("absolute") != std::string::npos);
  }
  SECTION("relative target leaving the workspace") {
    fs::create_directories(ws / "out");
    fs::create_symlink("../../x", ws / "out/p");
    auto r = list_output_tree(fd.fd, {"out/p"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("outside the workspace") != std::string::npos);
  }
  SECTION("declared output below a symlinked directory") {
    write_file(outside / "gen.txt", "not ours");
    fs::create_symlink(outside.path(), ws / "out");
    auto r = list_output_tree(fd.fd, {"out/gen.txt"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("symlink") != std::string::npos);
  }
  SECTION("missing output") {
    auto r = list_output_tree(fd.fd, {"out/none.txt"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "declared output 'out/none.txt' was not produced");
  }
}

TEST_CASE("output_tree: symlink_stays_inside", "[output_tree]") {
  CHECK(symlink_stays_inside("build/lib/libfoo.so", "libfoo.so.1"));
  CHECK(symlink_stays_inside("build/lib/x", "../bin/tool"));
  CHECK(symlink_stays_inside("build/lib/x", "../../README"));
  CHECK_FALSE(symlink_stays_inside("build/lib/x", "../../../README"));
  CHECK_FALSE(symlink_stays_inside("x", "../y"));
  CHECK_FALSE(symlink_stays_inside("x", "/etc/passwd"));
  CHECK_FALSE(symlink_stays_inside("x", ""));
  CHECK(symlink_stays_inside("a/b", "./../c"));
}

TEST_CASE("output_tree: only declared outputs may be restored, never protected paths", "[output_tree]") {
  const std::vector<std::string> declared{"out", "build/app", ".git/hooks"};
  CHECK(check_restorable_path("out/a.txt", declared, "").ok());
  CHECK(check_restorable_path("out", declared, "").ok());
  CHECK(check_restorable_path("build/app", declared, "").ok());
  CHECK_FALSE(check_restorable_path("build/app2", declared, "").ok());
  CHECK_FALSE(check_restorable_path("outside.txt", declared, "").ok());
  CHECK(check_restorable_path("outside.txt", declared, "").error().find("declared outputs") != std::string::npos);
  // Protected even when declared.
  CHECK(check_restorable_path(".git/hooks/post-checkout", declared, "").error().find(".git") != std::string::npos);
  CHECK_FALSE(check_restorable_path("out/sub/.git/config", declared, "").ok());
  CHECK_FALSE(check_restorable_path(".wrt/state/run-index", {".wrt"}, "").ok());
  CHECK_FALSE(check_restorable_path("wrt.toml", {"wrt.toml"}, "").ok());
  CHECK_FALSE(check_restorable_path("cache/entries/x", {"cache"}, "cache").ok());
  CHECK_FALSE(check_restorable_path("out/../wrt.toml", declared, "").ok());
  CHECK_FALSE(check_restorable_path("out//a", declared, "").ok());
  CHECK_FALSE(check_restorable_path("/etc/passwd", declared, "").ok());
  CHECK_FALSE(check_restorable_path(std::string("out/a\nb"), declared, "").ok());
}

TEST_CASE("output_tree: restores never write through a symlinked directory", "[output_tree]") {
  TempDir ws, outside;
  fs::create_symlink(outside.path(), ws / "out");
  WsFd fd(ws.path());
  auto d = open_dir_beneath(fd.fd, "out/sub", /*create=*/true);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().find("out is a symlink") != std::string::npos);
  CHECK(fs::is_empty(outside.path()));
  auto s = restore_symlink(fd.fd, "out/link", "x");
  CHECK_FALSE(s.ok());
  CHECK(fs::is_empty(outside.path()));
  // A symlink restore replaces whatever link is there, without following it.
  fs::create_directories(ws / "real");
  fs::create_symlink(outside.path() / "victim", ws / "real/link");
  REQUIRE(restore_symlink(fd.fd, "real/link", "target.txt").ok());
  CHECK(fs::read_symlink(ws / "real/link") == "target.txt");
  CHECK(fs::is_empty(outside.path()));
}

TEST_CASE("output_tree: remove_output removes a tree without following its symlinks", "[output_tree]") {
  TempDir ws;
  write_file(ws / "outside/keep.txt", "keep");
  write_file(ws / "out/d/a.txt", "a");
  write_file(ws / "out/d/sub/deeper/b.txt", "b");
  fs::create_directories(ws / "out/d/empty");
  fs::create_symlink("../../outside", ws / "out/d/to-dir");           // a link to a directory
  fs::create_symlink("../../outside/keep.txt", ws / "out/d/to-file");  // and to a file
  fs::permissions(ws / "out/d/sub/deeper", fs::perms::owner_write, fs::perm_options::remove);
  WsFd fd(ws.path());

  SECTION("a directory output goes whole; what its links point to stays") {
    fs::permissions(ws / "out/d/sub/deeper", fs::perms::owner_write, fs::perm_options::add);
    REQUIRE(remove_output(fd.fd, "out/d").ok());
    CHECK(!fs::exists(fs::symlink_status(ws / "out/d")));
    CHECK(fs::exists(ws / "out"));
    CHECK(wrt::test::read_file(ws / "outside/keep.txt") == "keep");
  }
  SECTION("a file or a symlink output is removed, a missing one is no error") {
    fs::permissions(ws / "out/d/sub/deeper", fs::perms::owner_write, fs::perm_options::add);
    REQUIRE(remove_output(fd.fd, "out/d/a.txt").ok());
    CHECK(!fs::exists(ws / "out/d/a.txt"));
    REQUIRE(remove_output(fd.fd, "out/d/to-dir").ok());
    CHECK(!fs::exists(fs::symlink_status(ws / "out/d/to-dir")));
    CHECK(fs::exists(ws / "outside/keep.txt"));
    CHECK(remove_output(fd.fd, "out/nothing").ok());
    CHECK(remove_output(fd.fd, "nowhere/at/all").ok());
  }
  SECTION("an output below a symlinked directory is refused, naming it") {
    fs::permissions(ws / "out/d/sub/deeper", fs::perms::owner_write, fs::perm_options::add);
    fs::create_symlink("outside", ws / "linked");
    auto s = remove_output(fd.fd, "linked/keep.txt");
    REQUIRE(!s.ok());
    CHECK(s.error().find("linked is a symlink") != std::string::npos);
    CHECK(fs::exists(ws / "outside/keep.txt"));
    CHECK(!remove_output(fd.fd, "../x").ok());
  }
  SECTION("what cannot be removed is an error naming it") {
    if (::geteuid() == 0) {
      // root ignores directory permissions; the rest of this test still ran.
      fs::permissions(ws / "out/d/sub/deeper", fs::perms::owner_write, fs::perm_options::add);
      return;
    }
    auto s = remove_output(fd.fd, "out/d");
    fs::permissions(ws / "out/d/sub/deeper", fs::perms::owner_write, fs::perm_options::add);
    REQUIRE(!s.ok());
    CHECK(s.error().find("out/d/sub/deeper/b.txt") != std::string::npos);
  }
}
