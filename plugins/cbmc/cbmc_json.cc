#include "plugins/cbmc/cbmc_json.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace wrt::plugins::cbmc {
namespace {

std::string str(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  return {};
}

std::uint32_t line_of(const nlohmann::json& loc) {
  std::string l = str(loc, "line");
  return l.empty() ? 0 : static_cast<std::uint32_t>(std::strtoul(l.c_str(), nullptr, 10));
}

ParseError at_offset(std::string_view text, std::size_t offset, const std::string& source, std::string message) {
  std::uint32_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return ParseError{source, line, col, std::move(message)};
}

// The end of the JSON value starting at `i` (an object or array), or npos
// when the text ends first. Strings and escapes are skipped.
std::size_t value_end(std::string_view t, std::size_t i) {
  int depth = 0;
  bool in_string = false;
  for (; i < t.size(); ++i) {
    char c = t[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

bool space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

// CBMC writes the array one message at a time, so a CBMC that is killed or
// runs out of memory leaves it unclosed. Each complete element is read; the
// run is then marked `truncated` (never a verdict), while text that is not
// JSON where an element should be is a ParseError at its position.
std::variant<CbmcRun, ParseError> parse_cbmc_json(std::string_view text, const std::string& source) {
  // CBMC may print plain-text lines (e.g. from a wrapper) before the array.
  std::size_t start = text.find('[');
  if (start == std::string_view::npos) return ParseError{source, 1, 1, "no JSON array in CBMC output"};
  nlohmann::json doc = nlohmann::json::array();
  bool closed = false;
  std::size_t i = start + 1;
  for (;;) {
    while (i < text.size() && space(text[i])) ++i;
    if (i >= text.size()) break;
    if (text[i] == ']') {
      closed = true;
      break;
    }
    if (text[i] != '{' && text[i] != '[')
      return at_offset(text, i, source, "invalid JSON from cbmc --json-ui (expected a message object)");
    std::size_t end = value_end(text, i);
    if (end == std::string_view::npos) break;  // cut off inside an element
    try {
      doc.push_back(nlohmann::json::parse(text.substr(i, end - i)));
    } catch (const nlohmann::json::parse_error& e) {
      return at_offset(text, i + (e.byte > 0 ? e.byte - 1 : 0), source, "invalid JSON from cbmc --json-ui");
    }
    i = end;
    while (i < text.size() && space(text[i])) ++i;
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] != ']')
      return at_offset(text, i, source, "invalid JSON from cbmc --json-ui (expected ',' or ']')");
  }
  CbmcRun run;
  run.truncated = !closed;
  auto says_out_of_memory = [](std::string_view t) {
    return t.find("Out of memory") != std::string_view::npos || t.find("out of memory") != std::string_view::npos ||
           t.find("std::bad_alloc") != std::string_view::npos;
  };
  // Text outside the JSON elements is stderr in the same capture (the C++
  // runtime's "terminate called after throwing an instance of
  // 'std::bad_alloc'") or a cut-off element: only there, and in CBMC's ERROR
  // messages, does "out of memory" mean CBMC ran out (a property's
  // description may say it too).
  if (says_out_of_memory(text.substr(0, start)) || says_out_of_memory(text.substr(std::min(i, text.size()))))
    run.out_of_memory = true;
  for (const auto& item : doc) {
    if (!item.is_object()) continue;
    if (item.contains("program")) run.program = str(item, "program");
    if (item.contains("cProverStatus")) run.prover_status = str(item, "cProverStatus");
    if (item.contains("messageText")) {
      std::string text_msg = str(item, "messageText");
      if (str(item, "messageType") == "ERROR") {
        if (says_out_of_memory(text_msg)) run.out_of_memory = true;
        // A parse error's location is in the message's sourceLocation.
        auto loc = item.find("sourceLocation");
        if (loc != item.end() && loc->is_object() && !str(*loc, "file").empty()) {
          if (run.error_file.empty()) {
            run.error_file = str(*loc, "file");
            run.error_line = line_of(*loc);
          }
          text_msg = str(*loc, "file") + ":" + str(*loc, "line") + ": " + text_msg;
        }
        run.errors.push_back(text_msg);
      }
    }
    // --stop-on-fail: the first failure alone, as a top-level object with a
    // lower-case status ("failed") and its trace, and no "result" list.
    const bool stop_on_fail = item.contains("property") && item.contains("status") && !item.contains("result");
    auto result = item.find("result");
    if (result == item.end() && !stop_on_fail) continue;
    if (!stop_on_fail && !result->is_array()) return ParseError{source, 1, 1, "\"result\" is not an array"};
    const nlohmann::json single = nlohmann::json::array({item});
    for (const auto& r : stop_on_fail ? single : *result) {
      if (!r.is_object()) continue;
      Property p;
      p.property = str(r, "property");
      p.description = str(r, "description");
      p.status = str(r, "status");
      if (p.status == "failed") p.status = "FAILURE";
      if (p.status == "NOT CHECKED") p.status = "NOT_CHECKED";
      if (auto loc = r.find("sourceLocation"); loc != r.end() && loc->is_object()) {
        p.file = str(*loc, "file");
        p.line = line_of(*loc);
        p.function = str(*loc, "function");
      }
      if (auto trace = r.find("trace"); trace != r.end() && trace->is_array()) {
        p.trace_steps = trace->size();
        for (const auto& step : *trace) {
          if (!step.is_object()) continue;
          auto loc = step.find("sourceLocation");
          if (loc == step.end() || !loc->is_object()) continue;
          std::string type = str(step, "stepType");
          if (type == "failure" || (!p.property.empty() && str(step, "property") == p.property)) {
            p.trace_file = str(*loc, "file");
            p.trace_line = line_of(*loc);
          }
        }
      }
      run.properties.push_back(std::move(p));
    }
  }
  return run;
}

Judgement judge(const CbmcRun& run) {
  int real_failures = 0, unwinding_failures = 0, undecided = 0;
  for (const auto& p : run.properties) {
    if (p.status == "FAILURE") ++(p.unwinding() ? unwinding_failures : real_failures);
    else if (p.status != "SUCCESS" && p.status != "UNREACHABLE" && p.status != "SKIPPED") ++undecided;
  }
  if (real_failures > 0) return {Verdict::kFailed, ""};
  if (run.out_of_memory) return {Verdict::kInconclusive, "CBMC ran out of memory"};
  if (unwinding_failures > 0)
    return {Verdict::kInconclusive, std::to_string(unwinding_failures) +
                                        " unwinding assertion(s) failed: the loop bound is too small (raise unwind)"};
  if (undecided > 0) return {Verdict::kInconclusive, std::to_string(undecided) + " propert(y/ies) not decided"};
  if (run.truncated) return {Verdict::kInconclusive, "CBMC's output ends before its final status (was it killed?)"};
  if (run.prover_status.empty()) return {Verdict::kInconclusive, "CBMC stopped before its final status"};
  if (run.prover_status != "success") return {Verdict::kFailed, ""};
  return {Verdict::kProved, ""};
}

}  // namespace wrt::plugins::cbmc
