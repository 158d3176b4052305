#include "plugins/kani/kani_output.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace wrt::plugins::kani {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Kani colours statuses on a terminal; strip ANSI escapes so captured
// output with colours parses the same.
std::string strip_ansi(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && !std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
      continue;
    }
    out += s[i];
  }
  return out;
}

std::int64_t to_int(std::string_view s) {
  std::int64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "src/lib.rs:12:5 in function f" (file, line and column each optional,
// "Unknown file" when there is none).
void parse_location(std::string_view loc, Check* c) {
  auto in_fn = loc.find(" in function ");
  std::string_view place = loc.substr(0, in_fn);
  if (in_fn != std::string_view::npos) c->function = std::string(loc.substr(in_fn + 13));
  if (place == "Unknown file") return;
  // Split from the right: the file name itself may contain ':' only rarely.
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto colon = place.find(':', start);
    parts.push_back(place.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  auto numeric = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
  };
  std::size_t n = parts.size();
  std::size_t file_parts = n;
  if (n >= 3 && numeric(parts[n - 1]) && numeric(parts[n - 2])) {
    c->line = static_cast<std::uint32_t>(to_int(parts[n - 2]));
    c->column = static_cast<std::uint32_t>(to_int(parts[n - 1]));
    file_parts = n - 2;
  } else if (n >= 2 && numeric(parts[n - 1])) {
    c->line = static_cast<std::uint32_t>(to_int(parts[n - 1]));
    file_parts = n - 1;
  }
  std::string file;
  for (std::size_t i = 0; i < file_parts; ++i) file += (i ? ":" : "") + std::string(parts[i]);
  c->file = file;
}

std::string unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

bool is_unwinding(const Check& c) {
  return c.description.find("unwinding assertion") != std::string::npos ||
         c.name.find(".unwind.") != std::string::npos;
}

bool is_unsupported(const Check& c) {
  return c.name.find(".unsupported_construct.") != std::string::npos ||
         c.description.find("is not currently supported by Kani") != std::string::npos;
}

// The count before `word` in "(2 undetermined,1 unreachable)".
std::int64_t count_before(std::string_view t, std::string_view word) {
  auto u = t.find(word);
  if (u == std::string_view::npos) return 0;
  std::size_t b = u;
  while (b > 0 && t[b - 1] == ' ') --b;
  std::size_t e = b;
  while (b > 0 && std::isdigit(static_cast<unsigned char>(t[b - 1]))) --b;
  return to_int(t.substr(b, e - b));
}

// Per harness, what the parser saw besides its checks.
struct Seen {
  bool cbmc_failed = false, timed_out = false, out_of_memory = false;
  std::string cbmc_status;  // "with status 6"
  std::uint32_t count_line = 0;  // of "** F of N failed"
  std::uint32_t verdict_line = 0;
  std::vector<Check> failed_lines;  // "Failed Checks:" entries
};

std::optional<ParseError> decide(Harness& h, Seen& seen, const std::string& source) {
  if (h.verdict == HarnessVerdict::kUnknown) {
    if (!seen.cbmc_failed)
      return ParseError{source, h.header_line, 1,
                        "harness " + h.name +
                            " has no \"VERIFICATION:-\" verdict (output cut off, or --output-format old, which wrt does "
                            "not read)"};
    h.verdict = HarnessVerdict::kFailed;
  }
  // Terse output lists failed checks only under "Failed Checks:"; regular
  // output lists them twice (RESULTS and Failed Checks), RESULTS with columns.
  if (h.checks.empty()) {
    h.checks = seen.failed_lines;
  } else {
    for (auto& c : h.checks)
      if (c.status == "FAILURE" && c.file.empty())
        for (const auto& f : seen.failed_lines)
          if (f.description == c.description) {
            c.file = f.file;
            c.line = f.line;
            c.function = f.function;
            break;
          }
  }
  std::int64_t failures = 0, undetermined = 0;
  bool real = false, unwinding = false, unsupported = false;
  std::string unsupported_what;
  for (const auto& c : h.checks) {
    if (c.status == "UNDETERMINED") ++undetermined;
    if (c.status != "FAILURE") continue;
    ++failures;
    if (is_unwinding(c)) unwinding = true;
    else if (is_unsupported(c)) {
      unsupported = true;
      if (unsupported_what.empty()) unsupported_what = c.description;
    } else real = true;
  }
  if (seen.count_line && failures != h.failed)
    return ParseError{source, seen.count_line, 1,
                      "harness " + h.name + ": the summary says " + std::to_string(h.failed) + " failed check(s), but " +
                          std::to_string(failures) + " are listed"};
  if (h.verdict != HarnessVerdict::kFailed) return std::nullopt;
  if (seen.cbmc_failed || seen.timed_out || seen.out_of_memory) {
    h.verdict = HarnessVerdict::kInconclusive;
    h.inconclusive_reason = seen.timed_out        ? "CBMC timed out"
                            : seen.out_of_memory ? "CBMC ran out of memory"
                                                 : "CBMC failed" + (seen.cbmc_status.empty() ? "" : " " + seen.cbmc_status);
  } else if (h.verdict_note.find("no panics") != std::string::npos) {
    // #[kani::should_panic] that never panicked: a refuted expectation.
  } else if (!real && (unwinding || unsupported)) {
    h.verdict = HarnessVerdict::kInconclusive;
    h.inconclusive_reason = unwinding ? "unwinding assertion failed: the loop bound is too small (raise default_unwind)"
                                      : "unsupported construct reachable: " + unsupported_what;
    if (undetermined > 0) h.inconclusive_reason += "; " + std::to_string(undetermined) + " check(s) UNDETERMINED";
  }
  return std::nullopt;
}

}  // namespace

std::variant<KaniRun, ParseError> parse_kani_output(std::string_view raw, const std::string& source) {
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  KaniRun run;
  std::string text = strip_ansi(raw);
  auto lines = split_lines(text);
  std::vector<Seen> seen;
  std::vector<std::pair<int, std::size_t>> thread_harness;  // (thread, harness) last started there
  std::size_t cur = kNone;  // the harness the current block belongs to
  Check* check = nullptr;
  std::vector<std::string> reported_failed;  // "Verification failed for - NAME"
  std::uint32_t complete_line = 0;
  auto harness = [&]() -> Harness* { return cur != kNone ? &run.harnesses[cur] : nullptr; };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    const auto lineno = static_cast<std::uint32_t>(i + 1);
    // `cargo kani -j N`: "Thread 3: Checking harness ..." and "Thread 3: "
    // before each result block, which belongs to the harness that thread
    // started last.
    int thread = -1;
    if (starts_with(line, "Thread ")) {
      std::size_t d = 7;
      while (d < line.size() && std::isdigit(static_cast<unsigned char>(line[d]))) ++d;
      if (d > 7 && line.substr(d, 1) == ":") {
        thread = static_cast<int>(to_int(line.substr(7, d - 7)));
        line.remove_prefix(std::min(line.size(), d + 2));
      }
    }
    std::string_view t = trim(line);
    if (starts_with(t, "Checking harness ")) {
      std::string_view name = t.substr(17);
      if (name.size() >= 3 && name.substr(name.size() - 3) == "...") name.remove_suffix(3);
      run.harnesses.emplace_back();
      run.harnesses.back().name = std::string(name);
      run.harnesses.back().header_line = lineno;
      seen.emplace_back();
      cur = run.harnesses.size() - 1;
      check = nullptr;
      bool found = false;
      for (auto& [th, idx] : thread_harness)
        if (th == thread) {
          idx = cur;
          found = true;
        }
      if (!found) thread_harness.emplace_back(thread, cur);
      continue;
    }
    if (thread >= 0) {
      cur = kNone;
      for (const auto& [th, idx] : thread_harness)
        if (th == thread) cur = idx;
      if (cur == kNone) return ParseError{source, lineno, 1, "result for thread " + std::to_string(thread) + " before it checked any harness"};
      check = nullptr;
    }
    if (starts_with(t, "Manual Harness Summary:") || t == "Summary:") {
      cur = kNone;
      check = nullptr;
      continue;
    }
    if (starts_with(t, "Check ") && t.find(": ") != std::string_view::npos &&
        std::isdigit(static_cast<unsigned char>(t.size() > 6 ? t[6] : 'x'))) {
      if (!harness()) return ParseError{source, lineno, 1, "check result before any \"Checking harness\" line"};
      harness()->checks.emplace_back();
      harness()->checks.back().name = std::string(t.substr(t.find(": ") + 2));
      check = &harness()->checks.back();
      continue;
    }
    if (starts_with(t, "- Status: ") || starts_with(t, "- Description: ") || starts_with(t, "- Location: ")) {
      if (!check)
        return ParseError{source, lineno, static_cast<std::uint32_t>(line.find('-') + 1),
                          "check attribute outside a \"Check N:\" block"};
      if (starts_with(t, "- Status: ")) check->status = std::string(trim(t.substr(10)));
      else if (starts_with(t, "- Description: ")) check->description = unquote(t.substr(15));
      else parse_location(trim(t.substr(12)), check);
      continue;
    }
    if (starts_with(t, "** ") && t.find(" cover properties satisfied") != std::string_view::npos) {
      if (!harness()) continue;
      harness()->covers_satisfied = to_int(t.substr(3));
      harness()->covers_total = to_int(t.substr(t.find(" of ") + 4));
      continue;
    }
    if (starts_with(t, "** ") && t.find(" of ") != std::string_view::npos && t.find(" failed") != std::string_view::npos) {
      if (!harness()) continue;
      Harness& h = *harness();
      h.failed = to_int(t.substr(3));
      h.total = to_int(t.substr(t.find(" of ") + 4));
      h.undetermined = count_before(t, "undetermined");
      h.unreachable = count_before(t, "unreachable");
      seen[cur].count_line = lineno;
      continue;
    }
    if (starts_with(t, "Failed Checks: ")) {
      if (!harness()) continue;
      Check c;
      c.status = "FAILURE";
      c.description = std::string(t.substr(15));
      // ' File: "src/lib.rs", line 12, in fn' on the next line.
      if (i + 1 < lines.size() && starts_with(trim(lines[i + 1]), "File: ")) {
        std::string_view f = trim(lines[i + 1]).substr(6);
        auto q = f.find('"', 1);
        if (!f.empty() && f[0] == '"' && q != std::string_view::npos) c.file = std::string(f.substr(1, q - 1));
        if (auto l = f.find(", line "); l != std::string_view::npos) c.line = static_cast<std::uint32_t>(to_int(f.substr(l + 7)));
        if (auto fn = f.find(", in "); fn != std::string_view::npos) c.function = std::string(f.substr(fn + 5));
        ++i;
      }
      seen[cur].failed_lines.push_back(std::move(c));
      continue;
    }
    if (starts_with(t, "VERIFICATION:- ")) {
      if (!harness()) return ParseError{source, lineno, 1, "verdict before any \"Checking harness\" line"};
      std::string_view v = t.substr(15);
      std::string_view word = v.substr(0, v.find(' '));
      if (word == "SUCCESSFUL") harness()->verdict = HarnessVerdict::kSuccessful;
      else if (word == "FAILED") harness()->verdict = HarnessVerdict::kFailed;
      else return ParseError{source, lineno, 16, "unknown verdict \"" + std::string(v) + "\""};
      if (auto open = v.find('('); open != std::string_view::npos && v.back() == ')')
        harness()->verdict_note = std::string(v.substr(open + 1, v.size() - open - 2));
      seen[cur].verdict_line = lineno;
      continue;
    }
    if (starts_with(t, "Verification Time: ")) {
      if (harness()) harness()->seconds = std::strtod(std::string(t.substr(19)).c_str(), nullptr);
      continue;
    }
    if (starts_with(t, "CBMC failed")) {
      if (!harness()) continue;
      seen[cur].cbmc_failed = true;
      if (t.size() > 12) seen[cur].cbmc_status = std::string(t.substr(12));
      continue;
    }
    if (starts_with(t, "CBMC timed out")) {
      if (harness()) seen[cur].timed_out = true;
      continue;
    }
    if (starts_with(t, "CBMC appears to have run out of memory") || t.find("out of memory") != std::string_view::npos) {
      if (harness()) seen[cur].out_of_memory = true;
      continue;
    }
    if (starts_with(t, "Verification failed for - ")) {
      reported_failed.emplace_back(t.substr(26));
      continue;
    }
    if (starts_with(t, "Complete - ")) {
      cur = kNone;
      check = nullptr;
      complete_line = lineno;
      run.summary_successful = to_int(t.substr(11));
      if (auto p = t.find("harnesses, "); p != std::string_view::npos) run.summary_failures = to_int(t.substr(p + 11));
      if (auto p = t.find("failures, "); p != std::string_view::npos) run.summary_total = to_int(t.substr(p + 10));
      continue;
    }
    if (starts_with(t, "No proof harnesses (functions with #[kani::proof]) were found to verify")) {
      run.no_harnesses = true;
      continue;
    }
    if (starts_with(t, "error: ") || starts_with(t, "error[")) run.errors.push_back(std::string(t));
  }
  std::int64_t successful = 0, failed = 0;
  for (std::size_t k = 0; k < run.harnesses.size(); ++k) {
    // Kani's own verdicts, for the cross-check below.
    if (run.harnesses[k].verdict == HarnessVerdict::kSuccessful) ++successful;
    else ++failed;
    if (auto e = decide(run.harnesses[k], seen[k], source)) return *e;
  }
  if (complete_line) {
    auto mismatch = [&](const std::string& what) {
      return ParseError{source, complete_line, 1,
                        "the final summary " + what + ", but the output has " + std::to_string(run.harnesses.size()) +
                            " harness(es), " + std::to_string(successful) + " successful and " + std::to_string(failed) +
                            " failed"};
    };
    if (run.summary_total && *run.summary_total != static_cast<std::int64_t>(run.harnesses.size()))
      return mismatch("counts " + std::to_string(*run.summary_total) + " harnesses");
    if (run.summary_successful && *run.summary_successful != successful)
      return mismatch("counts " + std::to_string(*run.summary_successful) + " successful");
    if (run.summary_failures && *run.summary_failures != failed)
      return mismatch("counts " + std::to_string(*run.summary_failures) + " failures");
    for (const auto& name : reported_failed) {
      bool known = false;
      for (const auto& h : run.harnesses) known = known || (h.name == name && h.verdict != HarnessVerdict::kSuccessful);
      if (!known) return mismatch("names " + name + " as failed");
    }
  }
  return run;
}

std::variant<std::vector<std::string>, ParseError> parse_kani_list(std::string_view json, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    // byte offset -> line:column for the error message
    std::uint32_t line = 1, col = 1;
    for (std::size_t i = 0; i < e.byte && i < json.size(); ++i) {
      if (json[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return ParseError{source, line, col, "invalid JSON"};
  }
  std::vector<std::string> names;
  bool any_section = false;
  for (const char* section : {"standard-harnesses", "contract-harnesses"}) {
    auto it = doc.find(section);
    if (it == doc.end()) continue;
    if (!it->is_object()) return ParseError{source, 1, 1, std::string("\"") + section + "\" is not an object"};
    any_section = true;
    for (const auto& [file, list] : it->items()) {
      if (!list.is_array()) return ParseError{source, 1, 1, "harness list for " + file + " is not an array"};
      for (const auto& n : list)
        if (n.is_string()) names.push_back(n.get<std::string>());
    }
  }
  if (!doc.is_object() || !any_section) return ParseError{source, 1, 1, "no \"standard-harnesses\" in kani list output"};
  return names;
}

}  // namespace wrt::plugins::kani
