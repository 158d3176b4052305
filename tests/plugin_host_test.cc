#include "core/host/plugin_host.h"

#include <catch2/catch.hpp>

#include "core/host/host_api.h"
#include "support.h"

using namespace wrt;

TEST_CASE("plugin_host: loads built-in and test plugins, refuses bad ones", "[plugin_host]") {
  PluginHost host({std::filesystem::path(WRT_BUILD_DIR) / "plugins", WRT_TEST_PLUGIN_DIR}, host_table());
  auto cmd = host.find("command");
  REQUIRE(cmd.ok());
  CHECK((*cmd)->version == "1.0.0");
  CHECK((*cmd)->abi_major == WRT_ABI_VERSION_MAJOR);
  auto again = host.find("command");
  REQUIRE(again.ok());
  CHECK(*again == *cmd);  // loaded once

  auto future = host.find("abi-v2");
  REQUIRE_FALSE(future.ok());
  CHECK_THAT(future.error(), Catch::Contains("ABI 2.0") && Catch::Contains("ABI 1." + std::to_string(WRT_ABI_VERSION_MINOR)));

  auto none = host.find("noentry");
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error(), Catch::Contains("not a wrt plugin"));

  auto missing = host.find("does-not-exist");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error(), Catch::Contains("plugin 'does-not-exist' not found"));

  wrt::test::TempDir tmp;
  wrt::test::write_file(tmp / "wrt-plugin-junk.so", "not an ELF file");
  auto junk = host.load_library(tmp / "wrt-plugin-junk.so");
  REQUIRE_FALSE(junk.ok());
  CHECK_THAT(junk.error(), Catch::Contains("wrt-plugin-junk.so: cannot load plugin library"));
}

TEST_CASE("plugin_host: the plugin exports exactly one dynamic symbol", "[plugin_host]") {
  auto r = wrt::test::run_command(
      {"sh", "-c", std::string("nm -D --defined-only ") + WRT_BUILD_DIR + "/plugins/wrt-plugin-command.so | awk '$2 ~ /[TDBR]/ {print $3}'"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "wrt_plugin_entry\n");
}
