#include "plugins/api-stability/abi_verdict.h"

#include <elf.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <vector>

namespace wrt::plugins::api {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    start = nl + 1;
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The number before `word` in "1 Removed, 0 Changed (1 filtered out), 2 Added":
// nullopt when the word is not there.
std::optional<long> count_before(std::string_view line, std::string_view word) {
  std::size_t at = line.find(word);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t end = at;
  while (end > 0 && line[end - 1] == ' ') --end;
  std::size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(line[begin - 1]))) --begin;
  if (begin == end) return std::nullopt;
  return std::stol(std::string(line.substr(begin, end - begin)));
}

// A section header: "1 Removed function:", "2 Added variables:",
// "1 function with some indirect sub-type change:", "1 Removed function
// symbol not referenced by debug info:". Returns the noun its entries name.
std::optional<std::string> section_noun(std::string_view line) {
  if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0])) || line.back() != ':') return std::nullopt;
  std::string noun = line.find("variable") != std::string_view::npos ? "variable" : "function";
  if (line.find("symbol") != std::string_view::npos) noun += " symbol";
  return noun;
}

// One "[D] 'function int sub(int, int)'    {sub}" entry.
AbiChange parse_entry(char tag, std::string_view rest, const std::string& noun) {
  AbiChange c;
  c.kind = tag == 'D' ? AbiChange::Kind::kRemoved : tag == 'A' ? AbiChange::Kind::kAdded : AbiChange::Kind::kChanged;
  rest = trim(rest);
  std::string what;
  std::string_view after;
  if (!rest.empty() && rest.front() == '\'') {
    std::size_t close = rest.find('\'', 1);
    if (close == std::string_view::npos) close = rest.size();
    what = std::string(rest.substr(1, close - 1));
    after = close < rest.size() ? rest.substr(close + 1) : std::string_view();
  } else {
    std::size_t end = rest.find_first_of(" \t");
    what = std::string(rest.substr(0, end));
    after = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  // Variables are printed as their declaration ("int counter"), functions
  // with the word already ("function int sub(int, int)").
  if (!starts_with(what, noun + " ") && !starts_with(what, "function ")) what = noun + " " + what;
  c.what = what;
  // " at v2.c:4:1 has some indirect sub-type changes:"
  after = trim(after);
  if (starts_with(after, "at ")) {
    std::string_view loc = after.substr(3);
    loc = loc.substr(0, loc.find(' '));
    std::size_t c1 = loc.find(':');
    if (c1 != std::string_view::npos) {
      c.file = std::string(loc.substr(0, c1));
      std::string_view num = loc.substr(c1 + 1);
      std::uint32_t n = 0;
      for (char ch : num) {
        if (!std::isdigit(static_cast<unsigned char>(ch))) break;
        n = n * 10 + static_cast<std::uint32_t>(ch - '0');
      }
      c.line = n;
    }
  }
  return c;
}

const char* verb(AbiChange::Kind k) {
  switch (k) {
    case AbiChange::Kind::kRemoved: return "removed";
    case AbiChange::Kind::kAdded: return "added";
    case AbiChange::Kind::kChanged: break;
  }
  return "changed";
}

std::string first_line(std::string_view text) {
  for (auto line : lines_of(text))
    if (auto t = trim(line); !t.empty()) return std::string(t);
  return {};
}

}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kNone: return "none";
    case Verdict::kMinor: return "minor";
    case Verdict::kNeedsReview: return "needs-review";
    case Verdict::kMajor: return "major";
    case Verdict::kSkipped: return "skipped";
    case Verdict::kError: break;
  }
  return "error";
}

std::optional<Verdict> parse_verdict(std::string_view name) {
  for (Verdict v : {Verdict::kNone, Verdict::kMinor, Verdict::kNeedsReview, Verdict::kMajor, Verdict::kError,
                    Verdict::kSkipped})
    if (name == verdict_name(v)) return v;
  return std::nullopt;
}

int verdict_rank(Verdict v) {
  switch (v) {
    case Verdict::kNone: return 0;
    case Verdict::kMinor: return 1;
    case Verdict::kNeedsReview: return 2;
    case Verdict::kMajor: return 3;
    case Verdict::kError:
    case Verdict::kSkipped: break;
  }
  return -1;
}

AbidiffOutcome classify_abidiff(int exit_code, std::string_view report) {
  AbidiffOutcome out;
  const int known = kAbidiffError | kAbidiffUsageError | kAbidiffAbiChange | kAbidiffIncompatibleChange;
  if (exit_code < 0 || (exit_code & ~known) != 0) {
    out.reason = "abidiff ended abnormally (exit status " + std::to_string(exit_code) + ")";
    return out;
  }
  if (exit_code & (kAbidiffError | kAbidiffUsageError)) {
    std::string why = first_line(report);
    out.reason = std::string("abidiff failed (exit status ") + std::to_string(exit_code) +
                 ((exit_code & kAbidiffUsageError) ? ", usage error" : "") + ")" + (why.empty() ? "" : ": " + why);
    return out;
  }
  if ((exit_code & kAbidiffIncompatibleChange) && !(exit_code & kAbidiffAbiChange)) {
    out.reason = "abidiff reported an incompatible change without the change bit (exit status " +
                 std::to_string(exit_code) + ")";
    return out;
  }

  // The entries, and whether anything but additions is in the report.
  bool only_additions = true;
  std::string noun = "function";
  for (auto raw : lines_of(report)) {
    std::string_view line = trim(raw);
    if (line.empty()) continue;
    if (line.find("changes summary:") != std::string_view::npos) {
      auto removed = count_before(line, "Removed");
      auto changed = count_before(line, "Changed");
      if ((removed && *removed != 0) || (changed && *changed != 0) || !removed) only_additions = false;
      continue;
    }
    if (auto n = section_noun(line)) {
      noun = *n;
      if (line.find(" Added ") == std::string_view::npos) only_additions = false;
      continue;
    }
    if (line.size() > 3 && line[0] == '[' && line[2] == ']' && (line[1] == 'D' || line[1] == 'C' || line[1] == 'A')) {
      out.changes.push_back(parse_entry(line[1], line.substr(3), noun));
      if (line[1] != 'A') only_additions = false;
      continue;
    }
    only_additions = false;  // detail of a change, a SONAME or architecture change, anything unknown
  }

  if (exit_code == 0) {
    out.verdict = Verdict::kNone;
  } else if (exit_code & kAbidiffIncompatibleChange) {
    out.verdict = Verdict::kMajor;
  } else {
    bool any_added = false;
    for (const auto& c : out.changes) any_added = any_added || c.kind == AbiChange::Kind::kAdded;
    out.verdict = only_additions && any_added ? Verdict::kMinor : Verdict::kNeedsReview;
  }
  out.reason = describe_changes(out);
  return out;
}

std::string describe_changes(const AbidiffOutcome& o) {
  if (o.verdict == Verdict::kError) return o.reason;
  if (o.changes.empty()) return o.verdict == Verdict::kNone ? "no ABI change" : "ABI changed (see the stage log)";
  // Lead with what decided the verdict: a removal, then a change, then an addition.
  const AbiChange* lead = &o.changes.front();
  for (auto k : {AbiChange::Kind::kRemoved, AbiChange::Kind::kChanged, AbiChange::Kind::kAdded}) {
    bool found = false;
    for (const auto& c : o.changes)
      if (c.kind == k) {
        lead = &c;
        found = true;
        break;
      }
    if (found) break;
  }
  std::string s = std::string(verb(lead->kind)) + " " + lead->what;
  if (o.changes.size() > 1)
    s += " (and " + std::to_string(o.changes.size() - 1) + " more change" + (o.changes.size() > 2 ? "s" : "") + ")";
  return s;
}

Verdict classify_semver_checks(int exit_code, std::string_view output, std::string* reason) {
  std::string summary;
  for (auto raw : lines_of(output)) {
    std::string_view line = trim(raw);
    if (line.find("requires new major version") != std::string_view::npos ||
        line.find("requires new minor version") != std::string_view::npos)
      summary = std::string(line);
  }
  if (exit_code == 0) {
    if (reason) *reason = "no semver violation found by cargo-semver-checks";
    return Verdict::kNone;
  }
  if (exit_code > 0 && !summary.empty()) {
    if (reason) *reason = summary;
    return summary.find("major") != std::string::npos ? Verdict::kMajor : Verdict::kMinor;
  }
  if (reason) {
    std::string last;
    for (auto raw : lines_of(output))
      if (auto t = trim(raw); !t.empty()) last = std::string(t);
    *reason = "cargo semver-checks failed (exit status " + std::to_string(exit_code) + ")" +
              (last.empty() ? "" : ": " + last);
  }
  return Verdict::kError;
}

std::optional<bool> elf_has_debug_info(const std::string& path, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<bool> {
    if (error) *error = path + ": " + why;
    return std::nullopt;
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot open");
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < EI_NIDENT || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0) return fail("not an ELF file");
  if (data[EI_CLASS] != ELFCLASS64 || data[EI_DATA] != ELFDATA2LSB)
    return fail("not a little-endian 64-bit ELF file (only those are checked for debug info)");
  if (data.size() < sizeof(Elf64_Ehdr)) return fail("truncated ELF header");
  Elf64_Ehdr eh;
  std::memcpy(&eh, data.data(), sizeof eh);
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
    return fail("no section headers");
  auto header = [&](std::size_t i) -> std::optional<Elf64_Shdr> {
    std::size_t off = eh.e_shoff + i * sizeof(Elf64_Shdr);
    if (eh.e_shoff > data.size() || off + sizeof(Elf64_Shdr) > data.size()) return std::nullopt;
    Elf64_Shdr sh;
    std::memcpy(&sh, data.data() + off, sizeof sh);
    return sh;
  };
  auto strtab = header(eh.e_shstrndx);
  if (!strtab || strtab->sh_offset > data.size() || strtab->sh_size > data.size() - strtab->sh_offset)
    return fail("truncated section headers");
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    auto sh = header(i);
    if (!sh) return fail("truncated section headers");
    if (sh->sh_name >= strtab->sh_size) continue;
    const char* name = data.data() + strtab->sh_offset + sh->sh_name;
    std::size_t max = strtab->sh_size - sh->sh_name;
    std::string_view n(name, strnlen(name, max));
    if (n == ".debug_info" || n == ".zdebug_info") return true;
  }
  return false;
}

}  // namespace wrt::plugins::api
