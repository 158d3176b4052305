#include "plugins/coverage/gcovr_json.h"

#include <tuple>
#include "plugins/common/tool.h"

#include <nlohmann/json.hpp>

namespace wrt::plugins::coverage {

namespace {

struct ShapeError {
  std::string message;
};

const nlohmann::json& member(const nlohmann::json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) throw ShapeError{where + "." + key + " is missing"};
  return *it;
}

std::uint64_t count(const nlohmann::json& v, const std::string& where) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  throw ShapeError{where + " must be a non-negative integer"};
}

bool flag(const nlohmann::json& line, const char* key) {
  auto it = line.find(key);
  return it != line.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

std::variant<CoverageData, ParseError> parse_gcovr_json(std::string_view text, const std::string& file_name) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based: the position just past the offending byte.
    auto [line, column] = line_column_of(text, e.byte == 0 ? 0 : e.byte - 1);
    return ParseError{file_name, line, column, "malformed JSON: " + std::string(e.what())};
  }
  try {
    if (!doc.is_object()) throw ShapeError{"the document is not a JSON object"};
    const auto& files = member(doc, "files", "$");
    if (!files.is_array()) throw ShapeError{"$.files must be an array"};
    CoverageData data;
    for (std::size_t i = 0; i < files.size(); ++i) {
      std::string where = "$.files[" + std::to_string(i) + "]";
      const auto& f = files[i];
      if (!f.is_object()) throw ShapeError{where + " must be an object"};
      const auto& path = member(f, "file", where);
      if (!path.is_string()) throw ShapeError{where + ".file must be a string"};
      FileCoverage file;
      file.path = path.get<std::string>();
      const auto& lines = member(f, "lines", where);
      if (!lines.is_array()) throw ShapeError{where + ".lines must be an array"};
      for (std::size_t j = 0; j < lines.size(); ++j) {
        std::string lw = where + ".lines[" + std::to_string(j) + "]";
        const auto& l = lines[j];
        if (!l.is_object()) throw ShapeError{lw + " must be an object"};
        if (flag(l, "gcovr/noncode") || flag(l, "gcovr/excluded")) continue;
        auto number = static_cast<std::uint32_t>(count(member(l, "line_number", lw), lw + ".line_number"));
        file.line_hits[number] += count(member(l, "count", lw), lw + ".count");
        if (auto b = l.find("branches"); b != l.end() && b->is_array()) {
          auto& outcomes = file.branches[number];
          for (std::size_t k = 0; k < b->size(); ++k) {
            std::string bw = lw + ".branches[" + std::to_string(k) + "]";
            if (!(*b)[k].is_object()) throw ShapeError{bw + " must be an object"};
            outcomes.push_back({0, static_cast<std::uint32_t>(outcomes.size()), count(member((*b)[k], "count", bw), bw + ".count")});
          }
          if (outcomes.empty()) file.branches.erase(number);
        }
      }
      if (auto fns = f.find("functions"); fns != f.end() && fns->is_array()) {
        for (std::size_t j = 0; j < fns->size(); ++j) {
          std::string fw = where + ".functions[" + std::to_string(j) + "]";
          const auto& fn = (*fns)[j];
          if (!fn.is_object()) throw ShapeError{fw + " must be an object"};
          const auto& name = member(fn, "name", fw);
          if (!name.is_string()) throw ShapeError{fw + ".name must be a string"};
          file.functions.push_back({name.get<std::string>(),
                                    static_cast<std::uint32_t>(count(member(fn, "lineno", fw), fw + ".lineno")),
                                    count(member(fn, "execution_count", fw), fw + ".execution_count")});
        }
      }
      data.files.push_back(std::move(file));
    }
    return data;
  } catch (const ShapeError& e) {
    return ParseError{file_name, 0, 0, "unexpected gcovr JSON: " + e.message};
  }
}

}  // namespace wrt::plugins::coverage
