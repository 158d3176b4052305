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

void decide(Harness& h, bool cbmc_timeout, bool out_of_memory) {
  if (cbmc_timeout || out_of_memory) {
    h.verdict = HarnessVerdict::kInconclusive;
    h.inconclusive_reason = cbmc_timeout ? "CBMC timed out" : "CBMC ran out of memory";
    return;
  }
  bool real_failure = false, unwinding_failure = false;
  std::int64_t undetermined = 0;
  for (const auto& c : h.checks) {
    if (c.status == "FAILURE") (is_unwinding(c) ? unwinding_failure : real_failure) = true;
    if (c.status == "UNDETERMINED") ++undetermined;
  }
  if (h.checks.empty()) undetermined = h.undetermined;
  if (h.verdict == HarnessVerdict::kFailed && !real_failure && unwinding_failure) {
    h.verdict = HarnessVerdict::kInconclusive;
    h.inconclusive_reason = "unwinding assertion failed: the loop bound is too small (raise default_unwind)";
  } else if (h.verdict != HarnessVerdict::kFailed && undetermined > 0) {
    h.verdict = HarnessVerdict::kInconclusive;
    h.inconclusive_reason = std::to_string(undetermined) + " check(s) UNDETERMINED";
  } else if (h.verdict == HarnessVerdict::kFailed && !real_failure && !unwinding_failure && undetermined > 0 &&
             h.failed == 0) {
    h.verdict = HarnessVerdict::kInconclusive;
    h.inconclusive_reason = std::to_string(undetermined) + " check(s) UNDETERMINED";
  }
}

}  // namespace

std::variant<KaniRun, ParseError> parse_kani_output(std::string_view raw, const std::string& source) {
  KaniRun run;
  std::string text = strip_ansi(raw);
  auto lines = split_lines(text);
  Harness* h = nullptr;
  Check* check = nullptr;
  bool cbmc_timeout = false, oom = false;
  auto finish = [&] {
    if (h) decide(*h, cbmc_timeout, oom);
    cbmc_timeout = oom = false;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    // `cargo kani -j N` prefixes each line of a harness's output with the
    // worker thread: "Thread 3: Checking harness ...".
    if (starts_with(line, "Thread ")) {
      std::size_t d = 7;
      while (d < line.size() && std::isdigit(static_cast<unsigned char>(line[d]))) ++d;
      if (d > 7 && line.substr(d, 2) == ": ") line.remove_prefix(d + 2);
    }
    std::string_view t = trim(line);
    auto lineno = static_cast<std::uint32_t>(i + 1);
    if (starts_with(t, "Checking harness ")) {
      finish();
      std::string_view name = t.substr(17);
      if (name.size() >= 3 && name.substr(name.size() - 3) == "...") name.remove_suffix(3);
      run.harnesses.emplace_back();
      run.harnesses.back().name = std::string(name);
      h = &run.harnesses.back();
      check = nullptr;
      continue;
    }
    if (starts_with(t, "Check ") && t.find(": ") != std::string_view::npos &&
        std::isdigit(static_cast<unsigned char>(t.size() > 6 ? t[6] : 'x'))) {
      if (!h) return ParseError{source, lineno, 1, "check result before any \"Checking harness\" line"};
      h->checks.emplace_back();
      h->checks.back().name = std::string(t.substr(t.find(": ") + 2));
      check = &h->checks.back();
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
    if (starts_with(t, "** ") && t.find(" of ") != std::string_view::npos && t.find(" failed") != std::string_view::npos) {
      if (!h) continue;  // cover summaries outside harness blocks
      h->failed = to_int(t.substr(3));
      h->total = to_int(t.substr(t.find(" of ") + 4));
      if (auto u = t.find(" undetermined"); u != std::string_view::npos) {
        std::size_t b = u;
        while (b > 0 && std::isdigit(static_cast<unsigned char>(t[b - 1]))) --b;
        h->undetermined = to_int(t.substr(b));
      }
      if (auto u = t.find(" unreachable"); u != std::string_view::npos) {
        std::size_t b = u;
        while (b > 0 && std::isdigit(static_cast<unsigned char>(t[b - 1]))) --b;
        h->unreachable = to_int(t.substr(b));
      }
      continue;
    }
    if (starts_with(t, "Failed Checks: ")) {
      if (!h) continue;
      // " File: "src/lib.rs", line 12, in fn" on the next line completes a check without a Location.
      std::string desc(t.substr(15));
      if (i + 1 < lines.size() && starts_with(trim(lines[i + 1]), "File: ")) {
        std::string_view f = trim(lines[i + 1]).substr(6);
        for (auto& c : h->checks)
          if (c.status == "FAILURE" && c.description == desc && c.file.empty()) {
            auto q = f.find('"', 1);
            if (q != std::string_view::npos) c.file = std::string(f.substr(1, q - 1));
            if (auto l = f.find(", line "); l != std::string_view::npos)
              c.line = static_cast<std::uint32_t>(to_int(f.substr(l + 7)));
            if (auto fn = f.find(", in "); fn != std::string_view::npos) c.function = std::string(f.substr(fn + 5));
          }
        ++i;
      }
      bool known = false;
      for (const auto& c : h->checks) known = known || (c.status == "FAILURE" && c.description == desc);
      if (!known) {  // terse output has no RESULTS list: the failed check comes only from here
        Check c;
        c.status = "FAILURE";
        c.description = desc;
        h->checks.push_back(c);
      }
      continue;
    }
    if (starts_with(t, "VERIFICATION:- ")) {
      if (!h) return ParseError{source, lineno, 1, "verdict before any \"Checking harness\" line"};
      std::string_view v = t.substr(15);
      if (v == "SUCCESSFUL") h->verdict = HarnessVerdict::kSuccessful;
      else if (v == "FAILED") h->verdict = HarnessVerdict::kFailed;
      else return ParseError{source, lineno, 16, "unknown verdict \"" + std::string(v) + "\""};
      continue;
    }
    if (starts_with(t, "Verification Time: ")) {
      if (h) h->seconds = std::strtod(std::string(t.substr(19)).c_str(), nullptr);
      continue;
    }
    if (t.find("CBMC timed out") != std::string_view::npos) {
      cbmc_timeout = true;
      if (h && h->verdict == HarnessVerdict::kUnknown) h->verdict = HarnessVerdict::kFailed;
      continue;
    }
    if (t.find("Out of memory") != std::string_view::npos || t.find("out of memory") != std::string_view::npos) {
      oom = true;
      if (h && h->verdict == HarnessVerdict::kUnknown) h->verdict = HarnessVerdict::kFailed;
      continue;
    }
    if (starts_with(t, "Complete - ")) {
      finish();
      h = nullptr;
      check = nullptr;
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
  finish();
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
