#include "plugins/spin/pan_output.h"

#include <cctype>
#include <cstdlib>

namespace wrt::plugins::spin {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The integer right after `key` in `line` ("depth reached 23" -> 23); -1 when absent.
std::int64_t number_after(std::string_view line, std::string_view key) {
  auto pos = line.find(key);
  if (pos == std::string_view::npos) return -1;
  pos += key.size();
  while (pos < line.size() && line[pos] == ' ') ++pos;
  std::int64_t v = 0;
  bool any = false;
  while (pos < line.size() && std::isdigit(static_cast<unsigned char>(line[pos]))) {
    v = v * 10 + (line[pos++] - '0');
    any = true;
  }
  return any ? v : -1;
}

// Leading integer of a line such as "      38 states, stored".
std::int64_t leading_number(std::string_view line) {
  line = trim(line);
  std::int64_t v = 0;
  std::size_t i = 0;
  for (; i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])); ++i) v = v * 10 + (line[i] - '0');
  return i ? v : -1;
}

// "file.pml:19" -> (file.pml, 19); false when there is no ":<digits>".
bool split_location(std::string_view loc, std::string* file, std::uint32_t* line) {
  auto colon = loc.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= loc.size()) return false;
  std::uint32_t n = 0;
  for (std::size_t i = colon + 1; i < loc.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(loc[i]))) return false;
    n = n * 10 + static_cast<std::uint32_t>(loc[i] - '0');
  }
  *file = std::string(loc.substr(0, colon));
  *line = n;
  return true;
}

std::string error_kind(std::string_view text) {
  static const char* const kKinds[] = {"assertion violated", "acceptance cycle", "non-progress cycle",
                                       "invalid end state", "end-state in claim reached"};
  for (const char* k : kKinds)
    if (starts_with(text, k)) return k;
  auto paren = text.find(" (at depth");
  return std::string(trim(text.substr(0, paren)));
}

}  // namespace

std::variant<PanReport, ParseError> parse_pan_output(std::string_view text, const std::string& source) {
  PanReport r;
  bool summary_seen = false;
  std::string unreached_in;
  auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string_view t = trim(line);
    if (starts_with(line, "pan: ltl formula ")) {
      r.claim = std::string(trim(line.substr(17)));
    } else if (starts_with(line, "pan:") && line.size() > 4 && std::isdigit(static_cast<unsigned char>(line[4]))) {
      // "pan:1: assertion violated (in_cs==1) (at depth 7)"
      auto colon = line.find(": ", 4);
      if (colon == std::string_view::npos) continue;
      PanError e;
      e.text = std::string(trim(line.substr(colon + 2)));
      e.kind = error_kind(e.text);
      e.depth = number_after(line, "(at depth");
      r.error_lines.push_back(std::move(e));
    } else if (starts_with(line, "pan: wrote ") && line.find(".trail") != std::string_view::npos) {
      r.trail_written = true;
    } else if (line.find("search depth too small") != std::string_view::npos) {
      r.depth_too_small = true;
    } else if (starts_with(line, "pan: out of memory") || t == "out of memory") {
      r.out_of_memory = true;
    } else if (starts_with(line, "State-vector ")) {
      std::int64_t errors = number_after(line, "errors:");
      std::int64_t depth = number_after(line, "depth reached");
      if (errors < 0 || depth < 0)
        return ParseError{source, static_cast<std::uint32_t>(i + 1), 1,
                          "malformed summary line, expected \"State-vector N byte, depth reached N, errors: N\""};
      r.errors = errors;
      r.depth_reached = depth;
      summary_seen = true;
    } else if (t.find("states, stored") != std::string_view::npos) {
      r.states_stored = leading_number(t);
    } else if (t.find("transitions (=") != std::string_view::npos) {
      r.transitions = leading_number(t);
    } else if (starts_with(line, "unreached in ")) {
      unreached_in = std::string(trim(line.substr(13)));
      if (starts_with(unreached_in, "proctype ")) unreached_in.erase(0, 9);
    } else if (!unreached_in.empty() && !line.empty() && line[0] == '\t' && !starts_with(t, "(")) {
      // "\tmutex_ok.pml:19, state 9, \"-end-\""
      UnreachedCode u;
      u.proctype = unreached_in;
      auto comma = t.find(", state ");
      if (comma == std::string_view::npos || !split_location(t.substr(0, comma), &u.file, &u.line)) continue;
      auto quote = t.find('"');
      if (quote != std::string_view::npos && t.size() > quote + 1)
        u.statement = std::string(t.substr(quote + 1, t.size() - quote - 2));
      r.unreached.push_back(std::move(u));
    } else if (!starts_with(line, "\t")) {
      unreached_in.clear();
    }
  }
  if (!summary_seen) {
    if (r.out_of_memory) return r;  // pan may stop before printing a summary; still a verdict
    return ParseError{source, static_cast<std::uint32_t>(lines.size() + (lines.empty() ? 1 : 0)), 1,
                      "no \"State-vector ... errors: N\" summary: pan did not complete"};
  }
  return r;
}

TrailError parse_trail_replay(std::string_view text) {
  TrailError t;
  bool error_seen = false;
  for (std::string_view line : split_lines(text)) {
    std::string_view s = trim(line);
    if (s.find("<<<<<START OF CYCLE>>>>>") != std::string_view::npos) t.cycle = true;
    if (starts_with(s, "spin: trail ends after ")) {
      t.steps = number_after(s, "after");
      continue;
    }
    if (starts_with(s, "spin: text of failed assertion: ")) {
      if (t.failed_text.empty()) t.failed_text = std::string(s.substr(32));
      continue;
    }
    if (!error_seen && starts_with(s, "spin: ")) {
      // "spin: mutex.pml:13, Error: assertion violated"
      auto comma = s.find(", Error: ");
      if (comma != std::string_view::npos && split_location(s.substr(6, comma - 6), &t.file, &t.line)) {
        t.message = std::string(s.substr(comma + 9));
        error_seen = true;
      }
      continue;
    }
    // "  5:\tproc  1 (user:1) mutex.pml:13 (state 4)\t[assert((in_cs==1))]"
    if (s.find("proc ") != std::string_view::npos && s.find(" (state ") != std::string_view::npos) {
      auto state = s.find(" (state ");
      auto space = s.rfind(' ', state - 1);
      if (space == std::string_view::npos) continue;
      std::string file;
      std::uint32_t n = 0;
      if (split_location(s.substr(space + 1, state - space - 1), &file, &n) && file != "_spin_nvr.tmp" &&
          s.find("(state ") != std::string_view::npos && s.find('[') != std::string_view::npos) {
        t.last_step_file = file;
        t.last_step_line = n;
      }
    }
  }
  return t;
}

std::vector<std::string> ltl_claim_names(std::string_view text) {
  std::vector<std::string> names;
  int unnamed = 0;
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "/*") == 0) {
      auto end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? text.size() : end + 2;
    } else if (text.compare(i, 2, "//") == 0) {
      auto end = text.find('\n', i);
      i = end == std::string_view::npos ? text.size() : end;
    } else if (text[i] == '"') {
      auto end = text.find('"', i + 1);
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else if (ident(text[i])) {
      std::size_t start = i;
      while (i < text.size() && ident(text[i])) ++i;
      if (text.substr(start, i - start) != "ltl") continue;
      std::size_t j = i;
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j < text.size() && text[j] == '{') {
        names.push_back("ltl_" + std::to_string(unnamed++));
      } else {
        std::size_t k = j;
        while (k < text.size() && ident(text[k])) ++k;
        if (k > j) names.emplace_back(text.substr(j, k - j));
        i = k;
      }
    } else {
      ++i;
    }
  }
  return names;
}

}  // namespace wrt::plugins::spin
