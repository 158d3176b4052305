// Parser for libtest's human output (`cargo test`, `cargo bench`, doc-tests):
// per-test result lines, the failure sections that hold each failed test's
// panic message, and the per-binary "test result:" summaries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/common/tool.h"

namespace wrt::plugins::cargo {

struct LibtestCase {
  enum class Outcome { kPassed, kFailed, kIgnored };
  std::string suite;  // "unittests src/lib.rs", "tests/api.rs", "doc-tests mycrate"; "" before any header
  std::string name;   // "tests::parses", "src/lib.rs - adler32 (line 16)"
  Outcome outcome = Outcome::kPassed;
  std::string message;                 // failed: the panic message; ignored: the reason, if given
  std::optional<double> bench_ns_per_iter;  // `bench:` lines (nightly #[bench])
};

struct LibtestTotals {
  std::int64_t passed = 0;
  std::int64_t failed = 0;
  std::int64_t ignored = 0;
  std::int64_t measured = 0;
  std::int64_t filtered_out = 0;
  std::int64_t total() const { return passed + failed + ignored + measured; }
};

struct LibtestRun {
  std::vector<LibtestCase> cases;
  LibtestTotals totals;        // sum of every "test result:" line
  int binaries = 0;            // how many "test result:" lines there were
};

// Lines that are not libtest's (cargo status lines, JSON messages) are
// ignored. A "test result:" line that does not have libtest's shape is a
// ParseError naming `source`, line and column.
std::variant<LibtestRun, ParseError> parse_libtest_output(std::string_view text, const std::string& source);

}  // namespace wrt::plugins::cargo
