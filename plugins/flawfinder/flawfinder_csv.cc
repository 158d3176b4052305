#include "plugins/flawfinder/flawfinder_csv.h"

#include <charconv>
#include <map>

namespace wrt::plugins::flawfinder {
namespace {

struct Field {
  std::string value;
  std::uint32_t line = 0;    // where the field starts, 1-based
  std::uint32_t column = 0;
};
using Record = std::vector<Field>;

// RFC 4180 as Python's csv module writes it: ',' separates fields, CRLF
// or LF ends a record, a quoted field may hold ',', '"' (doubled) and line
// breaks. Anything else (an unclosed quote, text after a closing quote, a
// quote inside an unquoted field) is an error at its position.
class CsvReader {
 public:
  CsvReader(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  // False at the end of input or on error (then error() is set).
  bool next(Record* record) {
    record->clear();
    if (pos_ >= text_.size() || error_) return false;
    record_line_ = line_;
    for (;;) {
      Field f;
      f.line = line_;
      f.column = column();
      if (pos_ < text_.size() && text_[pos_] == '"') {
        if (!quoted_field(&f.value)) return false;
      } else if (!plain_field(&f.value)) {
        return false;
      }
      record->push_back(std::move(f));
      if (pos_ >= text_.size()) return true;
      char c = text_[pos_];
      if (c == ',') {
        ++pos_;
        continue;
      }
      // plain_field and quoted_field stop only at ',', a line break or the end.
      if (c == '\r') ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
      new_line();
      return true;
    }
  }

  const std::optional<ParseError>& error() const { return error_; }
  std::uint32_t record_line() const { return record_line_; }

 private:
  bool plain_field(std::string* out) {
    std::size_t start = pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ',' || c == '\n' || c == '\r') break;
      if (c == '"') return fail(line_, column(), "quote inside an unquoted field");
      ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '\r' && (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '\n'))
      return fail(line_, column(), "carriage return without a line feed");
    out->assign(text_.substr(start, pos_ - start));
    return true;
  }

  bool quoted_field(std::string* out) {
    std::uint32_t open_line = line_, open_column = column();
    ++pos_;  // opening quote
    for (;;) {
      if (pos_ >= text_.size()) return fail(open_line, open_column, "unclosed quote");
      char c = text_[pos_];
      if (c == '"') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
          out->push_back('"');
          pos_ += 2;
          continue;
        }
        ++pos_;  // closing quote
        break;
      }
      out->push_back(c);
      ++pos_;
      if (c == '\n') new_line();
    }
    if (pos_ < text_.size()) {
      char c = text_[pos_];
      bool crlf = c == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n';
      if (c != ',' && c != '\n' && !crlf) return fail(line_, column(), "text after a closing quote");
    }
    return true;
  }

  void new_line() {
    ++line_;
    line_start_ = pos_;
  }
  std::uint32_t column() const { return static_cast<std::uint32_t>(pos_ - line_start_ + 1); }
  bool fail(std::uint32_t line, std::uint32_t column, std::string message) {
    error_ = ParseError{source_, line, column, std::move(message)};
    return false;
  }

  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;
  std::size_t line_start_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t record_line_ = 1;
  std::optional<ParseError> error_;
};

// The columns the hits are built from; flawfinder writes more (Context,
// Fingerprint, ...), which are ignored, and a later one may add some.
const char* const kRequiredColumns[] = {"File", "Line", "Column", "Level", "Category", "Name",
                                        "Warning", "Suggestion", "Note", "CWEs", "RuleId"};

template <typename Int>
bool to_int(const std::string& s, Int* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

FlawfinderParseResult parse_flawfinder_csv(std::string_view csv, const std::string& source_name) {
  FlawfinderParseResult out;
  auto fail = [&](std::uint32_t line, std::uint32_t column, std::string message) {
    out.hits.clear();
    out.error = ParseError{source_name, line, column, std::move(message)};
    return out;
  };
  CsvReader reader(csv, source_name);
  Record header;
  if (!reader.next(&header)) {
    if (reader.error()) {
      out.error = reader.error();
      return out;
    }
    return fail(1, 1, "empty output; expected flawfinder's CSV header (File,Line,Column,...)");
  }
  if (header.empty() || header[0].value != "File")
    return fail(1, 1, "not a flawfinder CSV report: the header does not start with \"File\"");
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < header.size(); ++i) index[header[i].value] = i;
  for (const char* column : kRequiredColumns)
    if (!index.count(column))
      return fail(1, 1, std::string("flawfinder CSV header has no \"") + column + "\" column");

  Record record;
  while (reader.next(&record)) {
    if (record.size() == 1 && record[0].value.empty()) continue;  // blank line
    if (record.size() != header.size())
      return fail(reader.record_line(), 1,
                  "record has " + std::to_string(record.size()) + " fields, the header " + std::to_string(header.size()));
    auto field = [&](const char* name) -> const Field& { return record[index.at(name)]; };
    FlawfinderHit hit;
    hit.file = field("File").value;
    if (hit.file.empty()) return fail(field("File").line, field("File").column, "empty File field");
    for (const char* name : {"Line", "Column"}) {
      const Field& f = field(name);
      std::uint32_t* target = name[0] == 'L' ? &hit.line : &hit.column;
      if (!to_int(f.value, target)) return fail(f.line, f.column, std::string(name) + " is not a number: \"" + f.value + "\"");
    }
    const Field& level = field("Level");
    if (!to_int(level.value, &hit.level) || hit.level < 0 || hit.level > 5)
      return fail(level.line, level.column, "Level is not a risk level 0-5: \"" + level.value + "\"");
    hit.category = field("Category").value;
    hit.name = field("Name").value;
    hit.warning = field("Warning").value;
    hit.suggestion = field("Suggestion").value;
    hit.note = field("Note").value;
    hit.cwes = field("CWEs").value;
    hit.rule_id = field("RuleId").value;
    out.hits.push_back(std::move(hit));
  }
  if (reader.error()) {
    out.hits.clear();
    out.error = reader.error();
  }
  return out;
}

std::string hit_message(const FlawfinderHit& hit) {
  std::string m = hit.name + " (level " + std::to_string(hit.level) + "): " + hit.warning;
  if (!hit.cwes.empty() && hit.warning.find("CWE-") == std::string::npos) m += " (" + hit.cwes + ")";
  if (!hit.suggestion.empty()) m += " " + hit.suggestion;
  if (!hit.note.empty()) m += " " + hit.note;
  return m;
}

std::string hit_rule(const FlawfinderHit& hit) { return hit.rule_id.empty() ? hit.name : hit.rule_id; }

}  // namespace wrt::plugins::flawfinder
