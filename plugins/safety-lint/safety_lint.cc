// The `safety-lint` plugin: scans Rust sources for constructs a safety case
// must justify (unsafe blocks, panics, unwrap/expect), grades them by the
// component's target ASIL and reports the ASIL the code achieves. The rules
// and the severity table are in safety_rules.h.
#include <wrt/plugin.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/common/tool.h"
#include "plugins/safety-lint/rust_lexer.h"
#include "plugins/safety-lint/safety_rules.h"
#include "plugins/common/workspace_glob.h"

namespace safety = wrt::plugins::safety;
using wrt::plugins::ParseError;

namespace {

struct Config {
  std::vector<std::string> paths{"src/**/*.rs"};
  std::vector<safety::AllowedUnsafe> allowed;
  safety::Asil target = safety::Asil::kQM;
  std::string allowed_file;  // when allowed_unsafe names a JSON file
};

std::vector<safety::AllowedUnsafe> allowed_from_json(const std::string& path) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(wrt::plugins::read_text_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(path + ": invalid JSON: " + e.what());
  }
  if (doc.is_object() && doc.contains("allowed")) doc = doc["allowed"];
  if (!doc.is_array()) throw std::runtime_error(path + ": expected an array of {file, function, reason}");
  std::vector<safety::AllowedUnsafe> out;
  for (const auto& e : doc) {
    if (!e.is_object() || !e.contains("file") || !e["file"].is_string())
      throw std::runtime_error(path + ": every entry needs a \"file\" string");
    out.push_back({e["file"].get<std::string>(), e.value("function", ""), e.value("reason", ""),
                   e.value("asil_justification", "")});
  }
  return out;
}

Config parse(const wrt::sdk::Stage& s, bool load_files) {
  Config c;
  if (auto p = s.strings("paths")) {
    if (p->empty()) throw std::runtime_error("with.paths must not be empty");
    c.paths = *p;
  }
  std::int64_t n = s.host()->config_array_size(s.handle(), "allowed_unsafe");
  if (n < 0) {
    if (auto f = s.string("allowed_unsafe")) {
      c.allowed_file = *f;
      if (load_files) c.allowed = allowed_from_json(s.workspace() + "/" + *f);
    }
  } else {
    for (std::int64_t i = 0; i < n; ++i) {
      std::string k = "allowed_unsafe[" + std::to_string(i) + "]";
      auto file = s.string(k + ".file");
      if (!file) throw std::runtime_error("with." + k + ".file must be a path");
      c.allowed.push_back({*file, s.string(k + ".function").value_or(""), s.string(k + ".reason").value_or(""),
                           s.string(k + ".asil_justification").value_or("")});
    }
  }
  std::string asil = s.string("component.asil").value_or(s.string("asil").value_or("QM"));
  auto parsed = safety::parse_asil(asil);
  if (!parsed) throw std::runtime_error("ASIL must be QM, A, B, C or D, not \"" + asil + "\"");
  c.target = *parsed;
  return c;
}

wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Config c = parse(s, false);
    // The allow list is policy: a change to it must re-run the lint even
    // when it is not among the stage's inputs.
    if (!c.allowed_file.empty())
      s.fingerprint("allowed_unsafe", wrt::plugins::read_text_file(s.workspace() + "/" + c.allowed_file));
    return WRT_STATUS_PASSED;
  });
}

wrt_severity to_severity(safety::Level l) {
  return l == safety::Level::kCritical ? WRT_SEVERITY_ERROR
         : l == safety::Level::kMajor  ? WRT_SEVERITY_WARNING
                                       : WRT_SEVERITY_NOTE;
}

wrt_status run(const wrt_host* host, wrt_stage* stage) {
  return wrt::sdk::guarded(host, stage, [](const wrt::sdk::Stage& s) {
    Config c = parse(s, true);
    const std::string ws = s.workspace();
    auto files = wrt::plugins::expand_globs(ws, c.paths);
    std::map<std::string, int> counts;
    int critical = 0, major = 0, minor = 0, allowed = 0, scanned = 0;
    std::string first_critical, first_major;
    for (const auto& file : files) {
      if (safety::is_test_path(file)) continue;
      ++scanned;
      auto lexed = safety::lex_rust(wrt::plugins::read_text_file(ws + "/" + file), file);
      if (auto* e = std::get_if<ParseError>(&lexed)) {
        s.finding(WRT_SEVERITY_ERROR, "lex-error", e->file, e->line, e->column, e->message);
        s.message(e->to_string());
        return WRT_STATUS_ERROR;
      }
      for (const auto& v : safety::scan_tokens(std::get<std::vector<safety::Token>>(lexed))) {
        std::string where = v.function.empty() ? "" : " in fn " + v.function;
        if (v.rule == "unsafe-block") {
          if (const auto* a = safety::find_allowance(c.allowed, file, v.function)) {
            ++allowed;
            s.finding(WRT_SEVERITY_NOTE, "unsafe-block-allowed", file, v.line, v.column,
                      "allowed unsafe block" + where + (a->reason.empty() ? "" : ": " + a->reason));
            continue;
          }
        }
        ++counts[v.rule];
        safety::Level level = safety::severity(v.rule, c.target);
        std::string msg = safety::level_name(level) + " at ASIL " + safety::asil_name(c.target) + ": " +
                          (v.rule == "unsafe-block" ? "unsafe block not on the allow list"
                           : v.rule == "unwrap" || v.rule == "expect" ? "." + v.rule + "() can panic"
                                                                        : v.rule + "! aborts") +
                          where;
        s.finding(to_severity(level), v.rule, file, v.line, v.column, msg);
        std::string located = file + ":" + std::to_string(v.line) + ":" + std::to_string(v.column) + ": " + msg;
        if (level == safety::Level::kCritical) {
          ++critical;
          if (first_critical.empty()) first_critical = located;
        } else if (level == safety::Level::kMajor) {
          ++major;
          if (first_major.empty()) first_major = located;
        } else {
          ++minor;
        }
      }
    }
    safety::Asil achieved = safety::achieved_asil(c.target, critical > 0, major > 0);
    s.metric("safety.achieved_asil", static_cast<int>(achieved));
    s.metric("safety.target_asil", static_cast<int>(c.target));
    s.metric("safety.files", scanned);
    s.metric("safety.unsafe_blocks", counts["unsafe-block"]);
    s.metric("safety.unsafe_allowed", allowed);
    s.metric("safety.panics", counts["panic"] + counts["todo"] + counts["unimplemented"]);
    s.metric("safety.unwraps", counts["unwrap"]);
    s.metric("safety.expects", counts["expect"]);
    s.metric("safety.critical", critical);
    s.metric("safety.major", major);
    s.metric("safety.minor", minor);
    std::string msg = "achieved ASIL " + safety::asil_name(achieved) + " (target " + safety::asil_name(c.target) + ")";
    if (achieved < c.target) {
      s.message(msg + ": " + (critical ? first_critical : first_major));
      return WRT_STATUS_FAILED;
    }
    s.message(msg);
    return WRT_STATUS_PASSED;
  });
}

const wrt_plugin kSafetyLint = {
    sizeof(wrt_plugin), "safety-lint", "1.0.0", "Grades Rust sources against an ASIL target (unsafe, panics, unwrap)",
    fingerprint, run, nullptr,
};
const wrt_plugin* const kPlugins[] = {&kSafetyLint};
const wrt_entry kEntry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, nullptr, nullptr, 1, kPlugins,
};

}  // namespace

extern "C" WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &kEntry; }
