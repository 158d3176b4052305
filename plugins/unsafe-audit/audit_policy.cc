#include "plugins/unsafe-audit/audit_policy.h"

#include <algorithm>

#include "plugins/unsafe-audit/source_glob.h"

namespace wrt::plugins::unsafe_audit {

AuditResult audit(const std::vector<FileUses>& files, const std::vector<AllowEntry>& allow,
                  std::optional<std::int64_t> budget) {
  AuditResult r;
  std::vector<bool> entry_used(allow.size(), false);
  for (const FileUses& f : files) {
    r.total += static_cast<std::int64_t>(f.uses.size());
    auto entry = std::find_if(allow.begin(), allow.end(), [&](const AllowEntry& e) {
      return e.file == f.file || glob_match(e.file, f.file);
    });
    std::int64_t covered = 0;
    if (entry != allow.end()) {
      covered = std::min<std::int64_t>(entry->max, static_cast<std::int64_t>(f.uses.size()));
      if (!f.uses.empty()) entry_used[static_cast<std::size_t>(entry - allow.begin())] = true;
    }
    r.allowed += covered;
    for (std::size_t i = static_cast<std::size_t>(covered); i < f.uses.size(); ++i) {
      std::string why = entry == allow.end()
                            ? std::string("outside the allow list")
                            : "over the allow-list budget of " + std::to_string(entry->max) + " for " + entry->file;
      r.unapproved.push_back({f.file, f.uses[i], why});
    }
  }
  for (std::size_t i = 0; i < allow.size(); ++i)
    if (!entry_used[i]) r.unused_entries.push_back(allow[i].file);
  r.over_budget = budget && r.total > *budget;
  return r;
}

}  // namespace wrt::plugins::unsafe_audit
