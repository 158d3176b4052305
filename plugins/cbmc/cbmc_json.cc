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

}  // namespace

std::variant<CbmcRun, ParseError> parse_cbmc_json(std::string_view text, const std::string& source) {
  // CBMC may print plain-text lines (e.g. from a wrapper) before the array.
  std::size_t start = text.find('[');
  if (start == std::string_view::npos) return ParseError{source, 1, 1, "no JSON array in CBMC output"};
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.substr(start));
  } catch (const nlohmann::json::parse_error& e) {
    return at_offset(text, start + (e.byte > 0 ? e.byte - 1 : 0), source, "invalid JSON from cbmc --json-ui");
  }
  if (!doc.is_array()) return ParseError{source, 1, 1, "CBMC --json-ui output is not an array"};
  CbmcRun run;
  for (const auto& item : doc) {
    if (!item.is_object()) continue;
    if (item.contains("program")) run.program = str(item, "program");
    if (item.contains("cProverStatus")) run.prover_status = str(item, "cProverStatus");
    if (item.contains("messageText")) {
      std::string text_msg = str(item, "messageText");
      if (str(item, "messageType") == "ERROR") run.errors.push_back(text_msg);
      if (text_msg.find("Out of memory") != std::string::npos || text_msg.find("out of memory") != std::string::npos)
        run.out_of_memory = true;
    }
    auto result = item.find("result");
    if (result == item.end()) continue;
    if (!result->is_array()) return ParseError{source, 1, 1, "\"result\" is not an array"};
    for (const auto& r : *result) {
      if (!r.is_object()) continue;
      Property p;
      p.property = str(r, "property");
      p.description = str(r, "description");
      p.status = str(r, "status");
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
          if (type == "failure" || type == "assertion" || str(step, "property") == p.property) {
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
  if (run.prover_status.empty()) return {Verdict::kInconclusive, "CBMC stopped before its final status"};
  if (run.prover_status != "success") return {Verdict::kFailed, ""};
  return {Verdict::kProved, ""};
}

}  // namespace wrt::plugins::cbmc
