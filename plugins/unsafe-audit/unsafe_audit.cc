// The `unsafe-audit` plugin: counts `unsafe` blocks, functions, impls and
// traits in Rust sources and fails on any that the inline allow list
// (`allow = [{ file, max, reason }]`) does not approve, or when the total
// exceeds `budget`. Needs no external tool.
#include <wrt/plugin.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "plugins/unsafe-audit/audit_policy.h"
#include "plugins/unsafe-audit/source_glob.h"
#include "plugins/unsafe-audit/unsafe_lexer.h"

namespace {

namespace fs = std::filesystem;
using namespace wrt::plugins::unsafe_audit;

struct AuditConfig {
  std::vector<std::string> paths{"src/**/*.rs"};
  std::vector<AllowEntry> allow;
  std::optional<std::int64_t> budget;
  wrt_severity severity = WRT_SEVERITY_ERROR;
};

void reject_unknown_keys(const wrt::sdk::Stage& s, const std::string& table, const std::set<std::string>& known) {
  for (std::int64_t i = 0;; ++i) {
    const char* key = s.host()->config_key_at(s.handle(), table.c_str(), i);
    if (!key) return;
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw std::runtime_error("unsafe-audit: unknown key with." + (table.empty() ? "" : table + ".") + key +
                               " (known: " + list + ")");
    }
  }
}

AuditConfig parse_config(const wrt::sdk::Stage& s) {
  // component/profile: added by the host to stages expanded per component.
  reject_unknown_keys(s, "", {"paths", "allow", "budget", "severity", "component", "profile"});
  AuditConfig c;
  if (auto p = s.strings("paths")) {
    if (p->empty()) throw std::runtime_error("with.paths must not be empty");
    c.paths = *p;
  }
  std::int64_t n = s.host()->config_array_size(s.handle(), "allow");
  if (n < 0 && s.host()->config_string(s.handle(), "allow", nullptr) != 0)
    throw std::runtime_error("with.allow must be an array of { file = \"...\", max = N, reason = \"...\" }");
  for (std::int64_t i = 0; i < n; ++i) {
    std::string at = "allow[" + std::to_string(i) + "]";
    if (!s.host()->config_key_at(s.handle(), at.c_str(), 0))
      throw std::runtime_error("with." + at + " must be a table { file = \"...\", max = N, reason = \"...\" }");
    reject_unknown_keys(s, at, {"file", "max", "reason"});
    AllowEntry e;
    auto file = s.string(at + ".file");
    auto max = s.integer(at + ".max");
    auto reason = s.string(at + ".reason");
    if (!file || file->empty()) throw std::runtime_error("with." + at + ".file is required");
    if (!max || *max < 0) throw std::runtime_error("with." + at + ".max is required and must not be negative");
    if (!reason || wrt::plugins::trim(*reason).empty())
      throw std::runtime_error("with." + at + ".reason is required: say why this unsafe code is acceptable");
    e.file = fs::path(*file).lexically_normal().generic_string();
    e.max = *max;
    e.reason = *reason;
    c.allow.push_back(std::move(e));
  }
  if (auto b = s.integer("budget")) {
    if (*b < 0) throw std::runtime_error("with.budget must not be negative");
    c.budget = *b;
  }
  if (auto sev = s.string("severity")) {
    if (*sev == "error") c.severity = WRT_SEVERITY_ERROR;
    else if (*sev == "warning") c.severity = WRT_SEVERITY_WARNING;
    else throw std::runtime_error("with.severity must be \"error\" or \"warning\", not \"" + *sev + "\"");
  }
  return c;
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    parse_config(s);
    return WRT_STATUS_PASSED;
  });
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    AuditConfig c = parse_config(s);
    fs::path root = s.workspace();
    std::vector<FileUses> files;
    std::map<UnsafeKind, std::int64_t> per_kind;
    for (const std::string& rel : expand_sources(root, c.paths)) {
      auto found = find_unsafe(wrt::plugins::read_text_file((root / rel).string()), rel);
      if (auto* e = std::get_if<wrt::plugins::ParseError>(&found)) {
        s.message("cannot scan " + e->to_string());
        return WRT_STATUS_ERROR;
      }
      FileUses f{rel, std::get<std::vector<UnsafeUse>>(found)};
      for (const auto& u : f.uses) {
        ++per_kind[u.kind];
        s.log(WRT_LOG_INFO, rel + ":" + std::to_string(u.line) + ":" + std::to_string(u.column) + ": unsafe " +
                                kind_name(u.kind));
      }
      files.push_back(std::move(f));
    }
    AuditResult r = audit(files, c.allow, c.budget);
    for (const auto& u : r.unapproved)
      s.finding(c.severity, "unsafe-code", u.file, u.use.line, u.use.column,
                std::string("unsafe ") + kind_name(u.use.kind) + " " + u.why);
    for (const auto& e : r.unused_entries)
      s.finding(WRT_SEVERITY_NOTE, "unsafe-allow-unused", "", 0, 0,
                "allow-list entry for " + e + " matches no unsafe code; remove it");
    s.metric("unsafe.total", static_cast<double>(r.total));
    s.metric("unsafe.allowed", static_cast<double>(r.allowed));
    s.metric("unsafe.unapproved", static_cast<double>(r.unapproved.size()));
    s.metric("unsafe.blocks", static_cast<double>(per_kind[UnsafeKind::kBlock]));
    s.metric("unsafe.fns", static_cast<double>(per_kind[UnsafeKind::kFn]));
    s.metric("unsafe.impls", static_cast<double>(per_kind[UnsafeKind::kImpl]));
    s.metric("unsafe.traits", static_cast<double>(per_kind[UnsafeKind::kTrait]));
    s.metric("files", static_cast<double>(files.size()));

    std::string summary = std::to_string(r.total) + " unsafe use(s) in " + std::to_string(files.size()) +
                          " file(s), " + std::to_string(r.allowed) + " allowed";
    if (r.over_budget) {
      s.message(summary + "; over budget = " + std::to_string(*c.budget));
      return WRT_STATUS_FAILED;
    }
    if (!r.unapproved.empty()) {
      const auto& first = r.unapproved.front();
      std::string msg = std::to_string(r.unapproved.size()) + " unapproved unsafe use(s), first " + first.file + ":" +
                        std::to_string(first.use.line) + ":" + std::to_string(first.use.column) + " (" + summary +
                        ")";
      s.message(msg);
      // severity = "warning" reports without blocking.
      return c.severity == WRT_SEVERITY_ERROR ? WRT_STATUS_FAILED : WRT_STATUS_PASSED;
    }
    s.message(summary);
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kUnsafeAudit = {
    sizeof(wrt_plugin),
    "unsafe-audit",
    "1.0.0",
    "Counts unsafe code in Rust sources and fails on uses outside an allow list or over budget",
    fingerprint,
    run,
    nullptr,
};
const wrt_plugin* const kPlugins[] = {&kUnsafeAudit};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
