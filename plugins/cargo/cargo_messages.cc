#include "plugins/cargo/cargo_messages.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

namespace wrt::plugins::cargo {
namespace {

using nlohmann::json;

// A cargo message that is valid JSON but not of the shape cargo documents.
struct ShapeError {
  std::string message;
};

const json& member(const json& object, const char* key) {
  if (!object.is_object()) throw ShapeError{std::string("expected an object around \"") + key + "\""};
  auto it = object.find(key);
  if (it == object.end()) throw ShapeError{std::string("missing \"") + key + "\""};
  return *it;
}

std::string string_member(const json& object, const char* key) {
  const json& v = member(object, key);
  if (!v.is_string()) throw ShapeError{std::string("\"") + key + "\" must be a string"};
  return v.get<std::string>();
}

// Absent and null both mean "none" in cargo's messages.
std::string optional_string_member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) throw ShapeError{std::string("\"") + key + "\" must be a string or null"};
  return it->get<std::string>();
}

std::uint32_t position_member(const json& object, const char* key) {
  const json& v = member(object, key);
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
      v.get<std::int64_t>() > std::numeric_limits<std::uint32_t>::max())
    throw ShapeError{std::string("\"") + key + "\" must be a non-negative integer"};
  return v.get<std::uint32_t>();
}

std::vector<std::string> string_array_member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_array()) throw ShapeError{std::string("\"") + key + "\" must be an array"};
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) throw ShapeError{std::string("\"") + key + "\" must hold strings"};
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Spans inside macro definitions from the standard library point at
// /rustc/... or <macros>; the expansion chain leads back to the user's code.
bool is_user_file(const std::string& file) { return !file.empty() && file[0] != '<' && file.rfind("/rustc/", 0) != 0; }

const json* user_span(const json& span) {
  const json* s = &span;
  for (int depth = 0; depth < 64 && s; ++depth) {
    if (is_user_file(string_member(*s, "file_name"))) return s;
    auto exp = s->find("expansion");
    if (exp == s->end() || exp->is_null()) break;
    s = &member(*exp, "span");
  }
  return &span;
}

void read_diagnostic(const json& msg, CargoOutput& out) {
  const json& m = member(msg, "message");
  std::string level = string_member(m, "level");
  Diagnostic d;
  // "error: internal compiler error" is an error too.
  if (level.rfind("error", 0) == 0) d.level = Diagnostic::Level::kError;
  else if (level == "warning") d.level = Diagnostic::Level::kWarning;
  else return;  // note, help, failure-note: context, not findings
  d.message = string_member(m, "message");
  d.rendered = optional_string_member(m, "rendered");
  auto code = m.find("code");
  if (code != m.end() && !code->is_null()) d.code = string_member(*code, "code");
  const json& spans = member(m, "spans");
  if (!spans.is_array()) throw ShapeError{"\"spans\" must be an array"};
  const json* primary = nullptr;
  for (const auto& span : spans) {
    const json& flag = member(span, "is_primary");
    if (!flag.is_boolean()) throw ShapeError{"\"is_primary\" must be true or false"};
    if (flag.get<bool>()) {
      primary = &span;
      break;
    }
  }
  if (!primary && !spans.empty()) primary = &spans.front();
  if (primary) {
    const json& s = *user_span(*primary);
    d.file = string_member(s, "file_name");
    d.line = position_member(s, "line_start");
    d.column = position_member(s, "column_start");
  }
  if (std::find(out.diagnostics.begin(), out.diagnostics.end(), d) == out.diagnostics.end())
    out.diagnostics.push_back(std::move(d));
}

void read_artifact(const json& msg, CargoOutput& out) {
  Artifact a;
  const json& target = member(msg, "target");
  a.target_name = string_member(target, "name");
  a.kinds = string_array_member(target, "kind");
  a.filenames = string_array_member(msg, "filenames");
  a.executable = optional_string_member(msg, "executable");
  auto profile = msg.find("profile");
  if (profile != msg.end() && profile->is_object()) {
    auto test = profile->find("test");
    a.test_profile = test != profile->end() && test->is_boolean() && test->get<bool>();
  }
  out.artifacts.push_back(std::move(a));
}

void read_message(const json& msg, CargoOutput& out) {
  std::string reason = string_member(msg, "reason");
  if (reason == "compiler-message") {
    read_diagnostic(msg, out);
  } else if (reason == "compiler-artifact") {
    read_artifact(msg, out);
  } else if (reason == "build-finished") {
    const json& ok = member(msg, "success");
    if (!ok.is_boolean()) throw ShapeError{"\"success\" must be true or false"};
    out.build_finished = true;
    out.build_succeeded = ok.get<bool>();
  }
  // build-script-executed and reasons added by later cargo versions carry
  // nothing the plugin reports.
}

}  // namespace

std::int64_t CargoOutput::error_count() const {
  return std::count_if(diagnostics.begin(), diagnostics.end(),
                       [](const Diagnostic& d) { return d.level == Diagnostic::Level::kError; });
}

std::int64_t CargoOutput::warning_count() const {
  return std::count_if(diagnostics.begin(), diagnostics.end(),
                       [](const Diagnostic& d) { return d.level == Diagnostic::Level::kWarning; });
}

std::variant<CargoOutput, ParseError> parse_cargo_output(std::string_view text, const std::string& source) {
  CargoOutput out;
  std::uint32_t line_no = 0;
  for (std::string_view line : split_lines(text)) {
    ++line_no;
    if (line.rfind("{\"reason\":", 0) != 0) {
      if (line.rfind("error", 0) == 0) out.error_lines.emplace_back(line);
      continue;
    }
    json msg;
    try {
      msg = json::parse(line);
    } catch (const json::parse_error& e) {
      // nlohmann counts the byte after the problem; report the byte itself.
      auto column = static_cast<std::uint32_t>(std::min<std::size_t>(e.byte == 0 ? 1 : e.byte, line.size() + 1));
      return ParseError{source, line_no, column, "malformed cargo JSON message"};
    }
    try {
      read_message(msg, out);
    } catch (const ShapeError& e) {
      return ParseError{source, line_no, 1, "unexpected cargo message: " + e.message};
    } catch (const json::exception& e) {
      return ParseError{source, line_no, 1, std::string("unexpected cargo message: ") + e.what()};
    }
  }
  return out;
}

}  // namespace wrt::plugins::cargo
