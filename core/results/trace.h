// Traceability: requirements (requirements.toml) mapped to the evidence that
// verifies them — stages and test cases — with each requirement's status
// from the latest results, and verification coverage per ASIL level.
//
//   [[requirement]]
//   id = "REQ-MEM-001"
//   title = "Allocations never overlap"
//   asil = "D"
//   verified_by = ["prove:memory", "unit/greet.bounds"]   # STAGE or STAGE/TEST
//
// A component's `requirements = [...]` adds its for_each instances as
// evidence for those requirements.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/results/last_results.h"
#include "core/util/result.h"

namespace wrt {

struct Requirement {
  std::string id;
  std::string title;
  Asil asil = Asil::QM;
  std::vector<std::string> verified_by;
  SourcePos pos;
};

// Errors: "<file>:<line>:<col>: ..." for TOML syntax, missing id, unknown
// ASIL, duplicate id, and evidence naming a stage wrt.toml does not define.
Result<std::vector<Requirement>> load_requirements(const std::filesystem::path& file, const Config& config);

struct EvidenceStatus {
  std::string ref;     // as written, or the stage name for component evidence
  std::string status;  // passed | failed | not run | (a test's or stage's status)
};

struct RequirementStatus {
  const Requirement* requirement = nullptr;
  std::vector<EvidenceStatus> evidence;
  std::string status;  // verified | failing | not covered
};

struct LevelCoverage {
  int requirements_total = 0, requirements_verified = 0;
  int components_total = 0, components_verified = 0;
};

struct TraceMatrix {
  std::vector<RequirementStatus> requirements;
  LevelCoverage levels[kAsilLevels];
};

TraceMatrix build_trace(const Config& config, const std::vector<Requirement>& requirements, const LastResults& last);
std::string trace_to_markdown(const TraceMatrix& m);
nlohmann::json trace_to_json(const TraceMatrix& m);

}  // namespace wrt
