#include "plugins/coverage/cobertura.h"

#include <pugixml.hpp>

#include <charconv>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

namespace wrt::plugins::coverage {
namespace {

ParseError error_at(std::string_view text, std::ptrdiff_t offset, const std::string& file_name, std::string message) {
  std::uint32_t line = 1, column = 1;
  if (offset < 0) return ParseError{file_name, 0, 0, std::move(message)};
  for (std::ptrdiff_t i = 0; i < offset && i < static_cast<std::ptrdiff_t>(text.size()); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return ParseError{file_name, line, column, std::move(message)};
}

template <typename Int>
std::optional<Int> to_int(std::string_view s) {
  Int v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Hit counts are integers, but some writers emit "1.0".
std::optional<std::uint64_t> to_hits(std::string_view s) {
  if (auto v = to_int<std::uint64_t>(s)) return v;
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || d < 0) return std::nullopt;
  return static_cast<std::uint64_t>(d);
}

// "50% (1/2)" -> {1, 2}
std::optional<std::pair<std::uint32_t, std::uint32_t>> condition_counts(std::string_view s) {
  auto open = s.find('(');
  auto slash = s.find('/', open == std::string_view::npos ? 0 : open);
  auto close = s.find(')', slash == std::string_view::npos ? 0 : slash);
  if (open == std::string_view::npos || slash == std::string_view::npos || close == std::string_view::npos)
    return std::nullopt;
  auto covered = to_int<std::uint32_t>(trim(s.substr(open + 1, slash - open - 1)));
  auto total = to_int<std::uint32_t>(trim(s.substr(slash + 1, close - slash - 1)));
  if (!covered || !total || *covered > *total) return std::nullopt;
  return std::make_pair(*covered, *total);
}

std::string join(const std::string& dir, const std::string& file) {
  if (dir.empty() || file.empty() || file.front() == '/' || dir.front() != '/') return file;
  return dir.back() == '/' ? dir + file : dir + "/" + file;
}

class CoberturaReader {
 public:
  CoberturaReader(std::string_view text, const std::string& file_name) : text_(text), file_name_(file_name) {}

  std::variant<CoverageData, ParseError> read() {
    pugi::xml_document doc;
    auto loaded = doc.load_buffer(text_.data(), text_.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!loaded) return error_at(text_, loaded.offset, file_name_, std::string("malformed XML: ") + loaded.description());
    pugi::xml_node root = doc.child("coverage");
    if (!root) return error_at(text_, doc.first_child().offset_debug(), file_name_, "not a Cobertura report: no <coverage> root element");
    std::string source;
    for (auto s : root.child("sources").children("source")) {
      source = trim(s.text().get());
      break;
    }
    for (auto package : root.child("packages").children("package"))
      for (auto cls : package.child("classes").children("class"))
        if (auto err = read_class(cls, source)) return *err;
    CoverageData data;
    for (auto& [path, file] : files_) data.files.push_back(std::move(file));
    return data;
  }

 private:
  std::optional<ParseError> read_class(pugi::xml_node cls, const std::string& source) {
    pugi::xml_attribute filename = cls.attribute("filename");
    if (!filename || !*filename.value()) return error(cls, "<class> without a filename attribute");
    std::string path = join(source, filename.value());
    FileCoverage& file = files_[path];
    file.path = path;
    for (auto line : cls.child("lines").children("line"))
      if (auto err = read_line(line, file, true)) return err;
    for (auto method : cls.child("methods").children("method")) {
      pugi::xml_attribute name = method.attribute("name");
      if (!name) return error(method, "<method> without a name attribute");
      FunctionCoverage fn{name.value(), 0, 0};
      if (auto first = method.child("lines").child("line")) {
        auto number = to_int<std::uint32_t>(first.attribute("number").value());
        auto hits = to_hits(first.attribute("hits").value());
        if (!number || !hits) return error(first, "<line> needs numeric number and hits attributes");
        fn.line = *number;
        fn.hits = *hits;
      }
      file.functions.push_back(fn);
    }
    return std::nullopt;
  }

  std::optional<ParseError> read_line(pugi::xml_node line, FileCoverage& file, bool record_branches) {
    auto number = to_int<std::uint32_t>(line.attribute("number").value());
    if (!number) return error(line, std::string("<line> has a bad number attribute \"") + line.attribute("number").value() + "\"");
    auto hits = to_hits(line.attribute("hits").value());
    if (!hits) return error(line, std::string("<line> has a bad hits attribute \"") + line.attribute("hits").value() + "\"");
    file.line_hits[*number] += *hits;
    if (!record_branches || std::string_view(line.attribute("branch").value()) != "true") return std::nullopt;
    pugi::xml_attribute cc = line.attribute("condition-coverage");
    if (!cc) return std::nullopt;
    auto counts = condition_counts(cc.value());
    if (!counts) return error(line, std::string("bad condition-coverage \"") + cc.value() + "\" (expected \"P% (COVERED/TOTAL)\")");
    auto& outcomes = file.branches[*number];
    if (!outcomes.empty()) return std::nullopt;  // another class for the same file already gave this line
    for (std::uint32_t i = 0; i < counts->second; ++i)
      outcomes.push_back({0, i, i < counts->first ? std::optional<std::uint64_t>(1) : std::optional<std::uint64_t>(0)});
    return std::nullopt;
  }

  ParseError error(pugi::xml_node node, std::string message) const {
    return error_at(text_, node.offset_debug(), file_name_, std::move(message));
  }

  std::string_view text_;
  const std::string& file_name_;
  std::map<std::string, FileCoverage> files_;
};

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string rate(const Ratio& r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", r.total == 0 ? 1.0 : static_cast<double>(r.covered) / r.total);
  return buf;
}

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

std::variant<CoverageData, ParseError> parse_cobertura(std::string_view text, const std::string& file_name) {
  return CoberturaReader(text, file_name).read();
}

std::string write_cobertura(const CoverageData& data) {
  std::map<std::string, std::vector<const FileCoverage*>> packages;
  for (const auto& f : data.files) packages[directory_of(f.path)].push_back(&f);
  CoverageSummary total = summarize(data);
  std::ostringstream out;
  // timestamp 0: identical coverage gives identical bytes, so dependents of
  // this output stay cached.
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n"
      << "<coverage line-rate=\"" << rate(total.lines) << "\" branch-rate=\"" << rate(total.branches)
      << "\" lines-covered=\"" << total.lines.covered << "\" lines-valid=\"" << total.lines.total
      << "\" branches-covered=\"" << total.branches.covered << "\" branches-valid=\"" << total.branches.total
      << "\" complexity=\"0\" timestamp=\"0\" version=\"wrt\">\n"
      << "  <sources><source>.</source></sources>\n  <packages>\n";
  for (const auto& [dir, files] : packages) {
    CoverageSummary ps;
    for (const auto* f : files) add(ps, summarize(*f));
    std::string name = dir;
    for (char& c : name)
      if (c == '/') c = '.';
    out << "    <package name=\"" << xml_escape(name) << "\" line-rate=\"" << rate(ps.lines) << "\" branch-rate=\""
        << rate(ps.branches) << "\" complexity=\"0\">\n      <classes>\n";
    for (const auto* f : files) {
      CoverageSummary fs = summarize(*f);
      std::string base = f->path.substr(f->path.rfind('/') == std::string::npos ? 0 : f->path.rfind('/') + 1);
      out << "        <class name=\"" << xml_escape(base) << "\" filename=\"" << xml_escape(f->path)
          << "\" line-rate=\"" << rate(fs.lines) << "\" branch-rate=\"" << rate(fs.branches)
          << "\" complexity=\"0\">\n          <methods>\n";
      for (const auto& fn : f->functions)
        out << "            <method name=\"" << xml_escape(fn.name) << "\" signature=\"\" line-rate=\""
            << (fn.hits > 0 ? "1" : "0") << "\" branch-rate=\"1\" complexity=\"0\"><lines><line number=\"" << fn.line
            << "\" hits=\"" << fn.hits << "\"/></lines></method>\n";
      out << "          </methods>\n          <lines>\n";
      for (const auto& [line, hits] : f->line_hits) {
        out << "            <line number=\"" << line << "\" hits=\"" << hits << "\"";
        auto b = f->branches.find(line);
        if (b != f->branches.end() && !b->second.empty()) {
          std::uint64_t covered = 0;
          for (const auto& o : b->second)
            if (o.taken && *o.taken > 0) ++covered;
          std::uint64_t n = b->second.size();
          out << " branch=\"true\" condition-coverage=\"" << (100 * covered / n) << "% (" << covered << "/" << n
              << ")\"";
        } else {
          out << " branch=\"false\"";
        }
        out << "/>\n";
      }
      out << "          </lines>\n        </class>\n";
    }
    out << "      </classes>\n    </package>\n";
  }
  out << "  </packages>\n</coverage>\n";
  return out.str();
}

}  // namespace wrt::plugins::coverage
