// Compiled as C++17 with -pedantic -Werror (tests/CMakeLists.txt): the SDK's
// test harness and C++ helper must not need C++20.
#include <wrt/plugin.hpp>
#include <wrt/testing.hpp>

static_assert(__cplusplus == 201703L, "this check must be compiled as C++17");

int sdk_testing_cxx17_check() {
  return static_cast<int>(wrt::sdk::testing::parse_with("{ a = 1 }").keys.size());
}
