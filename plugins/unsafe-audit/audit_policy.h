// Which unsafe uses are approved: an allow list of files (or globs), each
// with a budget of uses and a reason, plus an optional budget for the whole
// code base.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plugins/unsafe-audit/unsafe_lexer.h"

namespace wrt::plugins::unsafe_audit {

struct AllowEntry {
  std::string file;     // workspace-relative path or glob
  std::int64_t max = 0; // unsafe uses allowed in each matching file
  std::string reason;   // why; required so every approval is justified
};

struct FileUses {
  std::string file;  // workspace-relative
  std::vector<UnsafeUse> uses;
};

struct Unapproved {
  std::string file;
  UnsafeUse use;
  std::string why;  // "outside the allow list" / "over the allow-list budget of 1 for src/ffi.rs"
};

struct AuditResult {
  std::int64_t total = 0;
  std::int64_t allowed = 0;
  std::vector<Unapproved> unapproved;
  std::vector<std::string> unused_entries;  // allow entries that matched no unsafe use
  bool over_budget = false;                 // total > budget
};

// A file's first `max` uses (in source order) are covered by the first
// allow entry matching it; the rest, and every use in a file no entry
// matches, are unapproved.
AuditResult audit(const std::vector<FileUses>& files, const std::vector<AllowEntry>& allow,
                  std::optional<std::int64_t> budget);

}  // namespace wrt::plugins::unsafe_audit
