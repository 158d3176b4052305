// wrt's own diagnostics through spdlog: -v, --log-level, WRT_LOG_LEVEL and
// --log-file; debug lines on stderr only, nothing extra without them.
#include <catch2/catch.hpp>

#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

void write_workspace(const fs::path& ws) {
  write_file(ws / "in.txt", "1\n");
  write_file(ws / "wrt.toml", R"([stages.a]
plugin = "command"
inputs = ["in.txt"]
with = { run = "cat in.txt" }
)");
}

}  // namespace

TEST_CASE("logging: -v shows plugin loading and cache decisions on stderr, never on stdout", "[logging][e2e]") {
  TempDir ws;
  write_workspace(ws.path());
  auto r = run_wrt({"-v", "run"}, ws.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(has(r.err, "wrt: debug: "));
  CHECK(has(r.err, "wrt-plugin-command.so (ABI "));
  CHECK(has(r.err, "cache miss: stage 'a'"));
  CHECK(has(r.err, "wrt.toml in "));  // the config load time
  CHECK_FALSE(has(r.out, "debug"));

  auto again = run_wrt({"--verbose", "run"}, ws.path());
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(has(again.err, "cache hit: stage 'a'"));

  // Without -v: the same runs print no diagnostics.
  write_file(ws / "in.txt", "2\n");
  auto quiet = run_wrt({"run"}, ws.path());
  CHECK(quiet.exit_code == 0);
  CHECK_FALSE(has(quiet.err, "debug"));
  CHECK_FALSE(has(quiet.err, "cache miss"));
  auto quiet_hit = run_wrt({"run"}, ws.path());
  CHECK(quiet_hit.exit_code == 0);
  CHECK(quiet_hit.err.empty());
}

TEST_CASE("logging: WRT_LOG_LEVEL and --log-level choose the level and --log-file keeps a copy", "[logging][e2e]") {
  TempDir ws;
  write_workspace(ws.path());
  auto env = run_wrt({"run"}, ws.path(), {"WRT_LOG_LEVEL=debug"});
  INFO(env.out << env.err);
  CHECK(env.exit_code == 0);
  CHECK(has(env.err, "cache miss: stage 'a'"));
  CHECK(has(env.err, "loaded plugin library"));

  // --log-level wins over the environment.
  auto off = run_wrt({"--log-level", "off", "run"}, ws.path(), {"WRT_LOG_LEVEL=debug"});
  CHECK(off.exit_code == 0);
  CHECK_FALSE(has(off.err, "debug"));

  auto file = run_wrt({"--log-level", "debug", "--log-file", "wrt.log", "run"}, ws.path());
  CHECK(file.exit_code == 0);
  CHECK(has(file.err, "cache hit: stage 'a'"));
  CHECK(has(read_file(ws / "wrt.log"), "cache hit: stage 'a'"));
}

TEST_CASE("logging: a bad level is a one-line usage error", "[logging][e2e]") {
  TempDir ws;
  write_workspace(ws.path());
  auto opt = run_wrt({"--log-level", "loud", "list"}, ws.path());
  CHECK(opt.exit_code == 2);
  CHECK(opt.err == "wrt: error: --log-level must be trace, debug, info, warn, error or off, not 'loud'\n");
  CHECK(opt.out.empty());
  auto env = run_wrt({"list"}, ws.path(), {"WRT_LOG_LEVEL=verbose"});
  CHECK(env.exit_code == 2);
  CHECK(env.err == "wrt: error: WRT_LOG_LEVEL must be trace, debug, info, warn, error or off, not 'verbose'\n");
}
