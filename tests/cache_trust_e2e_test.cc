// End-to-end tests of the cache's trust rules through the real binary: a
// cached result must be as good as a fresh one. Checksummed entries,
// confined restores, symlinks as data, write-once entries, the guard against
// inputs changing while a stage runs, one run per checkout, temp files that
// never become data, and bounded compressed logs.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/util/hash.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json report_of(const TempDir& ws) { return read_json(ws / "report.json"); }


CommandResult wrt_run(const TempDir& ws, std::vector<std::string> extra = {}, std::vector<std::string> env = {}) {
  std::vector<std::string> args{"run", "--report", (ws / "report.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_wrt(args, ws.path(), env);
}

fs::path entry_path(const TempDir& ws, const std::string& key) {
  return ws / ".wrt/cache/entries" / key.substr(0, 2) / key;
}


unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

bool nothing_below(const fs::path& dir) {
  std::error_code ec;
  return !fs::exists(dir, ec) || fs::is_empty(dir, ec);
}

}  // namespace

TEST_CASE("cache trust: a flipped bit in an entry is a miss with a warning, and cache verify finds it", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.a0]
outputs = ["out/a0.txt"]
with = { run = "mkdir -p out && echo zero > out/a0.txt" }
[stages.a1]
outputs = ["out/a1.txt"]
with = { run = "mkdir -p out && echo one > out/a1.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  const std::string key = report_stage(report_of(ws), "a1")["cache_key"];
  fs::path file = entry_path(ws, key);
  std::string text = read_file(file);
  std::size_t at = text.find("out/a1.txt");
  REQUIRE(at != std::string::npos);
  text[at + 5] = '0';  // out/a1.txt -> out/a0.txt, the checksum left as it was
  write_file(file, text);

  SECTION("cache verify names it and exits non-zero") {
    auto v = run_wrt({"cache", "verify"}, ws.path());
    INFO(v.out << v.err);
    CHECK(v.exit_code != 0);
    CHECK(v.out.find(file.string()) != std::string::npos);
    CHECK(v.out.find("checksum mismatch") != std::string::npos);
  }
  SECTION("a run treats it as a miss and runs the stage") {
    fs::remove_all(ws / "out");
    auto r = wrt_run(ws);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("checksum mismatch") != std::string::npos);
    CHECK(report_stage(report_of(ws), "a1")["status"] == "passed");
    CHECK(report_stage(report_of(ws), "a0")["status"] == "cached");
    CHECK(read_file(ws / "out/a1.txt") == "one\n");
    CHECK(read_file(ws / "out/a0.txt") == "zero\n");
  }
}

TEST_CASE("cache trust: after cache verify or gc removed an entry, the run index no longer answers for it", "[e2e][cache-trust]") {
  // Found by tests/reliability (corrupt scenario, seed 58308264): the run
  // index kept reporting `cached` for an entry `cache verify` had removed,
  // so the store never got it back and the next restore missed.
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.a]
outputs = ["out/a.txt"]
with = { run = "mkdir -p out && echo a > out/a.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  const std::string key = report_stage(report_of(ws), "a")["cache_key"];
  fs::path file = entry_path(ws, key);
  REQUIRE(fs::exists(file));

  SECTION("cache verify removed a damaged entry") {
    std::string text = read_file(file);
    text[text.size() - 3] ^= 1;
    write_file(file, text);
    auto v = run_wrt({"cache", "verify"}, ws.path());
    INFO(v.out << v.err);
    REQUIRE(v.exit_code != 0);
  }
  SECTION("cache gc evicted every entry") {
    auto g = run_wrt({"cache", "gc", "--max-size", "0"}, ws.path());
    INFO(g.out << g.err);
    REQUIRE(g.exit_code == 0);
  }
  REQUIRE_FALSE(fs::exists(file));
  // Outputs still in place: the index alone would call this a hit.
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(report_stage(report_of(ws), "a")["status"] == "passed");
  CHECK(fs::exists(file));
  // The store holds the entry again: a checkout without outputs restores it.
  fs::remove_all(ws / "out");
  auto again = wrt_run(ws);
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(report_stage(report_of(ws), "a")["status"] == "cached");
  CHECK(read_file(ws / "out/a.txt") == "a\n");
}

TEST_CASE("cache trust: a crafted entry cannot restore outside the stage's declared outputs", "[e2e][cache-trust]") {
  TempDir ws;
  fs::create_directories(ws / ".git/hooks");
  write_file(ws / ".git/config", "[core]\n");
  write_file(ws / "wrt.toml", R"(
[stages.gen]
outputs = ["out/gen.txt"]
with = { run = "test ! -L out && mkdir -p out && echo fresh > out/gen.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  const std::string key = report_stage(report_of(ws), "gen")["cache_key"];
  fs::path file = entry_path(ws, key);
  wrt::test::EntryFile entry = wrt::test::split_entry(read_file(file));
  json& body = entry.body;
  json good_output = body["outputs"][0];  // its content is inlined in the entry
  REQUIRE(entry.inlined.count(good_output["digest"].get<std::string>()) == 1);

  std::string target, expect;
  SECTION(".git/hooks/post-checkout, executable") {
    target = ".git/hooks/post-checkout";
    expect = "inside a .git directory";
  }
  SECTION(".git/config") {
    target = ".git/config";
    expect = "inside a .git directory";
  }
  SECTION("wrt.toml") {
    target = "wrt.toml";
    expect = "wrt.toml";
  }
  SECTION("a path that is not a declared output") {
    target = "src/evil.c";
    expect = "not one of the stage's declared outputs";
  }
  json evil = good_output;
  evil["path"] = target;
  evil["executable"] = true;
  body["outputs"] = json::array({good_output, evil});
  if (target < std::string("out/gen.txt")) body["outputs"] = json::array({evil, good_output});
  body["result"]["status"] = "passed";
  write_file(file, wrt::test::seal_entry(entry));
  const std::string git_config = read_file(ws / ".git/config");
  const std::string toml = read_file(ws / "wrt.toml");
  fs::remove_all(ws / "out");

  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("refused") != std::string::npos);
  CHECK(r.out.find(expect) != std::string::npos);
  CHECK(report_stage(report_of(ws), "gen")["status"] == "passed");  // ran, not replayed
  CHECK_FALSE(fs::exists(ws / ".git/hooks/post-checkout"));
  CHECK(read_file(ws / ".git/config") == git_config);
  CHECK(read_file(ws / "wrt.toml") == toml);
  CHECK_FALSE(fs::exists(ws / "src/evil.c"));
  CHECK(read_file(ws / "out/gen.txt") == "fresh\n");
}

TEST_CASE("cache trust: an entry missing a declared output is a miss", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.gen]
outputs = ["out/a.txt", "out/b.txt"]
with = { run = "mkdir -p out && echo a > out/a.txt && echo b > out/b.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  fs::path file = entry_path(ws, report_stage(report_of(ws), "gen")["cache_key"]);
  wrt::test::EntryFile entry = wrt::test::split_entry(read_file(file));
  REQUIRE(entry.body["outputs"].size() == 2);
  entry.body["outputs"].erase(1);
  write_file(file, wrt::test::seal_entry(entry));  // b's inlined content goes too
  fs::remove_all(ws / "out");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("does not contain the declared output 'out/b.txt'") != std::string::npos);
  CHECK(report_stage(report_of(ws), "gen")["status"] == "passed");
  CHECK(read_file(ws / "out/b.txt") == "b\n");
}

TEST_CASE("cache trust: a restore never writes through a symlinked output directory", "[e2e][cache-trust]") {
  TempDir ws, outside;
  write_file(ws / "wrt.toml", R"(
[stages.gen]
outputs = ["out/gen.txt"]
with = { run = "test ! -L out && mkdir -p out && echo fresh > out/gen.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  fs::remove_all(ws / "out");
  fs::create_symlink(outside.path(), ws / "out");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  CHECK(r.out.find("out is a symlink") != std::string::npos);
  CHECK(r.exit_code == 1);  // the stage itself refuses the symlink too
  CHECK(nothing_below(outside.path()));
}

TEST_CASE("cache trust: symlink outputs are stored as links, links out of the workspace fail the stage", "[e2e][cache-trust]") {
  TempDir ws;
  SECTION("inside: round trip, also as a directory output") {
    write_file(ws / "wrt.toml", R"(
[stages.lib]
outputs = ["build"]
with = { run = "mkdir -p build/lib build/bin build/empty && printf ELF > build/lib/libfoo.so.1 && ln -sf libfoo.so.1 build/lib/libfoo.so && printf '#!/bin/sh\necho ok\n' > build/bin/t && chmod 755 build/bin/t && ln -sfn lib build/lib64" }
[stages.use]
needs = ["lib"]
with = { run = "test -L build/lib/libfoo.so && test -x build/bin/t && build/bin/t" }
)");
    REQUIRE(wrt_run(ws).exit_code == 0);
    fs::remove_all(ws / "build");
    auto r = wrt_run(ws);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(report_stage(report_of(ws), "lib")["status"] == "cached");
    CHECK(fs::is_symlink(ws / "build/lib/libfoo.so"));
    CHECK(fs::read_symlink(ws / "build/lib/libfoo.so") == "libfoo.so.1");
    CHECK(fs::is_symlink(ws / "build/lib64"));
    CHECK(fs::read_symlink(ws / "build/lib64") == "lib");
    CHECK(read_file(ws / "build/lib/libfoo.so.1") == "ELF");
    CHECK(mode_of(ws / "build/bin/t") == 0755);
    CHECK(mode_of(ws / "build/lib/libfoo.so.1") == 0644);
    CHECK(fs::is_directory(ws / "build/empty"));

    // Re-pointing a link is a change of the output: the next no-op restores it.
    fs::remove(ws / "build/lib/libfoo.so");
    fs::create_symlink("elsewhere", ws / "build/lib/libfoo.so");
    r = wrt_run(ws);
    REQUIRE(r.exit_code == 0);
    CHECK(fs::read_symlink(ws / "build/lib/libfoo.so") == "libfoo.so.1");
  }
  SECTION("outside: the stage fails with the link named, nothing is cached") {
    write_file(ws / "wrt.toml", R"(
[stages.gen]
outputs = ["out"]
with = { run = "mkdir -p out && ln -sf /etc/passwd out/p" }
)");
    auto r = wrt_run(ws);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("output 'out/p' is a symlink to an absolute path (/etc/passwd)") != std::string::npos);
    CHECK(nothing_below(ws / ".wrt/cache/entries"));
    write_file(ws / "wrt.toml", R"(
[stages.gen]
outputs = ["out"]
with = { run = "mkdir -p out && ln -sf ../../../etc/passwd out/p" }
)");
    r = wrt_run(ws);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("pointing outside the workspace") != std::string::npos);
  }
}

TEST_CASE("cache trust: a second, different result for one key keeps the first and is flagged", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.stamp]
outputs = ["out/stamp.txt"]
with = { run = "mkdir -p out && date +%s%N > out/stamp.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  const std::string first = read_file(ws / "out/stamp.txt");
  CHECK_FALSE(report_stage(report_of(ws), "stamp").contains("nondeterministic"));
  auto r = wrt_run(ws, {"--no-cache"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("stamp: non-deterministic stage") != std::string::npos);
  CHECK(r.out.find("out/stamp.txt") != std::string::npos);
  CHECK(report_stage(report_of(ws), "stamp")["nondeterministic"] == true);
  REQUIRE(read_file(ws / "out/stamp.txt") != first);
  // The cache kept the first result.
  fs::remove_all(ws / "out");
  REQUIRE(wrt_run(ws).exit_code == 0);
  CHECK(report_stage(report_of(ws), "stamp")["status"] == "cached");
  CHECK(read_file(ws / "out/stamp.txt") == first);
}

TEST_CASE("cache trust: an input edited while its stage runs is not cached", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "in.txt", "before\n");
  write_file(ws / "wrt.toml", R"(
[stages.copy]
inputs = ["in.txt"]
outputs = ["out.txt"]
with = { run = "touch started && sleep 1 && cat in.txt > out.txt" }
)");
  std::thread editor([&] {
    for (int i = 0; i < 200 && !fs::exists(ws / "started"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    write_file(ws / "in.txt", "after!\n");
  });
  auto r = wrt_run(ws);
  editor.join();
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("copy: result not cached: input in.txt changed while the stage ran") != std::string::npos);
  CHECK(report_stage(report_of(ws), "copy")["not_stored"] == "input in.txt changed while the stage ran");
  CHECK(nothing_below(ws / ".wrt/cache/entries"));
  // Restore the keyed content: the next run must run again (nothing cached
  // under the old key), and then it is right.
  write_file(ws / "in.txt", "before\n");
  fs::remove(ws / "started");
  r = wrt_run(ws);
  REQUIRE(r.exit_code == 0);
  CHECK(report_stage(report_of(ws), "copy")["status"] == "passed");
  CHECK(read_file(ws / "out.txt") == "before\n");
}

TEST_CASE("cache trust: one run per checkout, a second waits, or exits 2 with --no-wait", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.slow]
with = { run = "touch started && sleep 2" }
cache = false
)");
  CommandResult first;
  std::thread t([&] { first = wrt_run(ws); });
  for (int i = 0; i < 500 && !fs::exists(ws / "started"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(fs::exists(ws / "started"));
  auto busy = run_wrt({"run", "--no-wait"}, ws.path());
  CHECK(busy.exit_code == 2);
  CHECK(busy.err.find("another wrt run (pid ") != std::string::npos);
  CHECK(busy.err.find("--no-wait") != std::string::npos);
  // Read-only commands do not wait.
  auto list = run_wrt({"list"}, ws.path());
  CHECK(list.exit_code == 0);
  auto dry = run_wrt({"run", "--dry-run"}, ws.path());
  CHECK(dry.exit_code == 0);
  // Without --no-wait the second run waits for the first, then runs.
  auto second = run_wrt({"run"}, ws.path());
  t.join();
  INFO(second.out << second.err);
  CHECK(first.exit_code == 0);
  CHECK(second.exit_code == 0);
  CHECK(second.err.find("waiting for another wrt run in this checkout (pid ") != std::string::npos);
}

TEST_CASE("cache trust: a restore temp file left by a killed run never becomes data", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.gen]
outputs = ["out"]
with = { run = "mkdir -p out && echo a > out/a.txt" }
)");
  // What kill -9 in the middle of a restore leaves: a temp file beside the
  // destination.
  write_file(ws / "out/.wrt-restore.4242.deadbeef.1.0", "half-written");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto outs = report_stage(report_of(ws), "gen")["outputs"];
  CHECK(outs == json::array({"out/a.txt"}));
  CHECK_FALSE(fs::exists(ws / "out/.wrt-restore.4242.deadbeef.1.0"));
}

TEST_CASE("cache trust: logs are stored compressed and bounded", "[e2e][cache-trust]") {
  TempDir ws;
  // ~24 MB of log lines, more than the 16 MiB kept.
  write_file(ws / "wrt.toml", R"(
[stages.chatty]
with = { run = "yes 'some tool output line that repeats' | head -n 600000; echo LAST LINE" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  const auto log_size = fs::file_size(ws / ".wrt/logs/chatty.log");
  REQUIRE(log_size > (20u << 20));
  std::uintmax_t blob_bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(ws / ".wrt/cache/blobs"))
    if (e.is_regular_file()) blob_bytes += e.file_size();
  CHECK(blob_bytes < (1u << 20));  // compressed, not a second copy
  fs::remove(ws / ".wrt/logs/chatty.log");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(report_stage(report_of(ws), "chatty")["status"] == "cached");
  // A cached stage's log is read from the cache, not written on every hit.
  CHECK_FALSE(fs::exists(ws / ".wrt/logs/chatty.log"));
  auto shown = run_wrt({"log", "chatty"}, ws.path());
  REQUIRE(shown.exit_code == 0);
  const std::string& log = shown.out;
  CHECK(log.rfind("[wrt] log truncated in the cache: the first ", 0) == 0);
  CHECK(log.size() <= (16u << 20) + 200);
  CHECK(log.size() > (15u << 20));
  // The stage's last output line, then wrt's line with the exit code.
  std::string body = log.substr(0, log.rfind("[wrt] "));
  CHECK(log.substr(body.size()).rfind("[wrt] /bin/sh exited with code 0", 0) == 0);
  CHECK(body.substr(body.size() - 10) == "LAST LINE\n");
}

TEST_CASE("cache trust: settings.cached_log_limit bounds the cached log", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[settings]
cached_log_limit = "1KiB"
[stages.chatty]
with = { run = "seq 1 5000" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  fs::remove(ws / ".wrt/logs/chatty.log");
  REQUIRE(wrt_run(ws).exit_code == 0);
  auto shown = run_wrt({"log", "chatty"}, ws.path());
  REQUIRE(shown.exit_code == 0);
  const std::string& log = shown.out;
  CHECK(log.rfind("[wrt] log truncated in the cache", 0) == 0);
  CHECK(log.size() < 1024 + 120);
  std::string body = log.substr(0, log.rfind("[wrt] "));
  CHECK(body.substr(body.size() - 5) == "5000\n");
  // Lines are kept whole: after the marker the first line is a complete number.
  std::string first = log.substr(log.find('\n') + 1);
  first = first.substr(0, first.find('\n'));
  CHECK(std::stoi(first) > 4000);
  CHECK(log.find("\n" + std::to_string(std::stoi(first) - 1) + "\n") == std::string::npos);
}

TEST_CASE("cache trust: the restore that a killed run left half done cleans up its temp file", "[e2e][cache-trust]") {
  TempDir ws;
  write_file(ws / "wrt.toml", R"(
[stages.gen]
outputs = ["out/gen.txt", "out/d"]
with = { run = "mkdir -p out/d/sub && echo gen > out/gen.txt && echo x > out/d/sub/x.txt" }
)");
  REQUIRE(wrt_run(ws).exit_code == 0);
  // kill -9 between a restore's write and its rename leaves these behind,
  // with the destinations still missing.
  fs::remove(ws / "out/gen.txt");
  fs::remove(ws / "out/d/sub/x.txt");
  write_file(ws / "out/.wrt-restore.999.deadbeef.1.0", "half of gen.txt");
  write_file(ws / "out/d/sub/.wrt-restore.999.deadbeef.1.1", "half of x.txt");
  auto r = wrt_run(ws);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(report_stage(report_of(ws), "gen")["status"] == "cached");
  CHECK(read_file(ws / "out/gen.txt") == "gen\n");
  CHECK_FALSE(fs::exists(ws / "out/.wrt-restore.999.deadbeef.1.0"));
  CHECK_FALSE(fs::exists(ws / "out/d/sub/.wrt-restore.999.deadbeef.1.1"));
}
