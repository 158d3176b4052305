#include "plugins/coverage/lcov.h"

#include <charconv>
#include <map>
#include <optional>

namespace wrt::plugins::coverage {
namespace {

struct Field {
  std::string_view text;
  std::uint32_t column = 0;  // 1-based column of the field's first byte
};

// Splits "a,b,c" into at most `max_fields` fields; the last one keeps any
// further commas (function names may contain them).
std::vector<Field> split_fields(std::string_view value, std::uint32_t first_column, std::size_t max_fields) {
  std::vector<Field> out;
  std::size_t start = 0;
  while (out.size() + 1 < max_fields) {
    std::size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) break;
    out.push_back({value.substr(start, comma - start), first_column + static_cast<std::uint32_t>(start)});
    start = comma + 1;
  }
  out.push_back({value.substr(start), first_column + static_cast<std::uint32_t>(start)});
  return out;
}

template <typename Int>
std::optional<Int> to_int(std::string_view s) {
  Int v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

class LcovReader {
 public:
  LcovReader(const std::string& file_name) : file_name_(file_name) {}

  std::optional<ParseError> line(std::string_view raw, std::uint32_t line_no) {
    line_no_ = line_no;
    std::string_view text = trim(raw);
    if (text.empty()) return std::nullopt;
    std::uint32_t indent = static_cast<std::uint32_t>(raw.find(text.front()));
    if (text == "end_of_record") {
      if (!current_) return error(indent + 1, "end_of_record without a preceding SF record");
      data_.files.push_back(std::move(*current_));
      current_.reset();
      return std::nullopt;
    }
    std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) return error(indent + 1, "expected KEY:VALUE, got \"" + std::string(text) + "\"");
    std::string_view key = text.substr(0, colon);
    std::string_view value = text.substr(colon + 1);
    std::uint32_t value_column = indent + static_cast<std::uint32_t>(colon) + 2;
    if (key == "TN" || key == "VER") return std::nullopt;
    if (key == "SF") {
      if (current_) return error(indent + 1, "SF record inside the record for " + current_->path + " (missing end_of_record)");
      if (value.empty()) return error(value_column, "SF record without a file name");
      current_.emplace();
      current_->path = std::string(value);
      open_line_ = line_no;
      functions_by_name_.clear();
      return std::nullopt;
    }
    static const char* const kKnown[] = {"FN", "FNDA", "FNF", "FNH", "DA", "BRDA", "BRF", "BRH", "LF", "LH"};
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) return std::nullopt;  // e.g. FNL/FNA/LN from newer lcov: not needed for the figures
    if (!current_) return error(indent + 1, std::string(key) + " record outside an SF ... end_of_record block");
    if (key == "DA") {
      auto f = split_fields(value, value_column, 3);
      if (f.size() < 2) return error(value_column, "DA needs LINE,HITS");
      auto line = to_int<std::uint32_t>(f[0].text);
      if (!line) return error(f[0].column, "bad line number \"" + std::string(f[0].text) + "\"");
      auto hits = to_int<std::uint64_t>(f[1].text);
      if (!hits) return error(f[1].column, "bad hit count \"" + std::string(f[1].text) + "\"");
      current_->line_hits[*line] += *hits;
    } else if (key == "BRDA") {
      auto f = split_fields(value, value_column, 4);
      if (f.size() != 4) return error(value_column, "BRDA needs LINE,BLOCK,BRANCH,TAKEN");
      auto line = to_int<std::uint32_t>(f[0].text);
      if (!line) return error(f[0].column, "bad line number \"" + std::string(f[0].text) + "\"");
      auto block = to_int<std::uint32_t>(f[1].text);
      if (!block) return error(f[1].column, "bad block number \"" + std::string(f[1].text) + "\"");
      auto branch = to_int<std::uint32_t>(f[2].text);
      if (!branch) return error(f[2].column, "bad branch number \"" + std::string(f[2].text) + "\"");
      BranchOutcome b{*block, *branch, std::nullopt};
      if (f[3].text != "-") {
        b.taken = to_int<std::uint64_t>(f[3].text);
        if (!b.taken) return error(f[3].column, "bad taken count \"" + std::string(f[3].text) + "\" (a number or -)");
      }
      current_->branches[*line].push_back(b);
    } else if (key == "FN") {
      // lcov 1.x: FN:LINE,NAME; lcov 2.x: FN:LINE,END_LINE,NAME.
      auto f = split_fields(value, value_column, 2);
      if (f.size() != 2) return error(value_column, "FN needs LINE,NAME");
      auto line = to_int<std::uint32_t>(f[0].text);
      if (!line) return error(f[0].column, "bad line number \"" + std::string(f[0].text) + "\"");
      Field name = f[1];
      if (auto rest = split_fields(f[1].text, f[1].column, 2); rest.size() == 2 && to_int<std::uint32_t>(rest[0].text))
        name = rest[1];
      if (name.text.empty()) return error(name.column, "FN record without a function name");
      function(name.text).line = *line;
    } else if (key == "FNDA") {
      auto f = split_fields(value, value_column, 2);
      if (f.size() != 2 || f[1].text.empty()) return error(value_column, "FNDA needs HITS,NAME");
      auto hits = to_int<std::uint64_t>(f[0].text);
      if (!hits) return error(f[0].column, "bad hit count \"" + std::string(f[0].text) + "\"");
      function(f[1].text).hits += *hits;
    } else {
      // Totals (LF, LH, ...) are recomputed from the detail records; only
      // check that they are numbers.
      if (!to_int<std::uint64_t>(value)) return error(value_column, "bad count \"" + std::string(value) + "\"");
    }
    return std::nullopt;
  }

  std::variant<CoverageData, ParseError> finish() {
    if (current_)
      return ParseError{file_name_, open_line_, 1, "record for " + current_->path + " has no end_of_record"};
    return std::move(data_);
  }

 private:
  FunctionCoverage& function(std::string_view name) {
    auto it = functions_by_name_.find(std::string(name));
    if (it != functions_by_name_.end()) return current_->functions[it->second];
    functions_by_name_[std::string(name)] = current_->functions.size();
    current_->functions.push_back({std::string(name), 0, 0});
    return current_->functions.back();
  }
  ParseError error(std::uint32_t column, std::string message) const {
    return ParseError{file_name_, line_no_, column, std::move(message)};
  }

  const std::string& file_name_;
  CoverageData data_;
  std::optional<FileCoverage> current_;
  std::map<std::string, std::size_t> functions_by_name_;
  std::uint32_t line_no_ = 0;
  std::uint32_t open_line_ = 0;
};

}  // namespace

std::variant<CoverageData, ParseError> parse_lcov(std::string_view text, const std::string& file_name) {
  LcovReader reader(file_name);
  std::uint32_t line_no = 0;
  for (auto line : split_lines(text))
    if (auto err = reader.line(line, ++line_no)) return *err;
  return reader.finish();
}

std::string write_lcov(const CoverageData& data) {
  std::string out;
  for (const auto& file : data.files) {
    CoverageSummary s = summarize(file);
    out += "TN:\nSF:" + file.path + "\n";
    for (const auto& f : file.functions) out += "FN:" + std::to_string(f.line) + "," + f.name + "\n";
    for (const auto& f : file.functions) out += "FNDA:" + std::to_string(f.hits) + "," + f.name + "\n";
    out += "FNF:" + std::to_string(s.functions.total) + "\nFNH:" + std::to_string(s.functions.covered) + "\n";
    for (const auto& [line, hits] : file.line_hits)
      out += "DA:" + std::to_string(line) + "," + std::to_string(hits) + "\n";
    for (const auto& [line, outcomes] : file.branches)
      for (const auto& b : outcomes)
        out += "BRDA:" + std::to_string(line) + "," + std::to_string(b.block) + "," + std::to_string(b.branch) + "," +
               (b.taken ? std::to_string(*b.taken) : std::string("-")) + "\n";
    out += "BRF:" + std::to_string(s.branches.total) + "\nBRH:" + std::to_string(s.branches.covered) + "\n";
    out += "LF:" + std::to_string(s.lines.total) + "\nLH:" + std::to_string(s.lines.covered) + "\n";
    out += "end_of_record\n";
  }
  return out;
}

}  // namespace wrt::plugins::coverage
