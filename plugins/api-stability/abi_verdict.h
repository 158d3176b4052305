// The api-stability plugin's pure logic: abidiff's exit status and report
// turned into one verdict (none / minor / needs-review / major / error), the
// same for cargo-semver-checks, and a check that an ELF file carries DWARF.
// Only the standard library; unit-tested on real abidiff output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wrt::plugins::api {

// kSkipped: the check could not be made and says so (cargo-semver-checks not
// installed); never a claim of compatibility.
enum class Verdict { kNone, kMinor, kNeedsReview, kMajor, kError, kSkipped };

// "none", "minor", "needs-review", "major", "error", "skipped".
const char* verdict_name(Verdict v);
std::optional<Verdict> parse_verdict(std::string_view name);
// How much a verdict demands, for fail_on: none 0, minor 1, needs-review 2,
// major 3; error and skipped are not on the scale (-1).
int verdict_rank(Verdict v);

// abidiff's exit status is a bit set (libabigail's abidiff_status,
// abg-tools-utils.h; abidiff(1) "Return values"):
constexpr int kAbidiffError = 1;              // ABIDIFF_ERROR: the tool failed
constexpr int kAbidiffUsageError = 2;         // ABIDIFF_USAGE_ERROR
constexpr int kAbidiffAbiChange = 4;          // ABIDIFF_ABI_CHANGE: some change, maybe harmless
constexpr int kAbidiffIncompatibleChange = 8; // ABIDIFF_ABI_INCOMPATIBLE_CHANGE (always with 4)

struct AbiChange {
  enum class Kind { kRemoved, kChanged, kAdded };
  Kind kind = Kind::kChanged;
  std::string what;        // "function int sub(int, int)", "variable int counter", "function symbol mul"
  std::string file;        // where abidiff located it ("v2.c"), or ""
  std::uint32_t line = 0;
};

struct AbidiffOutcome {
  Verdict verdict = Verdict::kError;
  std::vector<AbiChange> changes;  // the report's [D], [C] and [A] entries, in order
  std::string reason;              // for kError: why; otherwise a one-line summary
};

// The verdict for one `abidiff OLD NEW` run:
//  * exit < 0 (a signal), bit 1 or 2 set, or bits abidiff does not define
//    -> error (fail closed: a tool error never reads as "compatible");
//  * 0 -> none;
//  * bit 8 (with 4) -> major;
//  * 4 alone -> minor when the report lists additions only (every summary
//    line says 0 Removed and 0 Changed, every entry is [A], nothing else);
//    otherwise needs-review (a changed sub-type, a SONAME change, a report
//    this parser does not recognise).
AbidiffOutcome classify_abidiff(int exit_code, std::string_view report);

// "removed function int sub(int, int)", with " (and N more changes)".
std::string describe_changes(const AbidiffOutcome& outcome);

// cargo semver-checks run as `check-release --release-type patch`: exit 0 ->
// none; a failure whose summary says "requires new major version" -> major,
// "requires new minor version" -> minor; anything else -> error (the tool or
// the build failed). `reason` gets the summary line or the failure.
Verdict classify_semver_checks(int exit_code, std::string_view output, std::string* reason);

// Whether the ELF file at `path` has DWARF (.debug_info or .zdebug_info).
// nullopt when it is not a readable ELF file (`error` says why).
std::optional<bool> elf_has_debug_info(const std::string& path, std::string* error);

}  // namespace wrt::plugins::api
