// The coverage model every format converts through: per source file, line
// hit counts, branch outcomes and functions. LCOV, Cobertura and gcovr JSON
// readers fill it; the LCOV and Cobertura writers emit it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace wrt::plugins::coverage {

struct BranchOutcome {
  std::uint32_t block = 0;
  std::uint32_t branch = 0;
  // nullopt: the line holding the branch never ran (LCOV's "-").
  std::optional<std::uint64_t> taken;
};

struct FunctionCoverage {
  std::string name;
  std::uint32_t line = 0;
  std::uint64_t hits = 0;
};

struct FileCoverage {
  std::string path;
  std::map<std::uint32_t, std::uint64_t> line_hits;
  std::map<std::uint32_t, std::vector<BranchOutcome>> branches;  // by line
  std::vector<FunctionCoverage> functions;
};

struct CoverageData {
  std::vector<FileCoverage> files;
};

struct Ratio {
  std::uint64_t covered = 0;
  std::uint64_t total = 0;
  // Nothing to cover counts as fully covered, so an empty figure never
  // trips a threshold.
  double percent() const { return total == 0 ? 100.0 : 100.0 * static_cast<double>(covered) / total; }
};

struct CoverageSummary {
  Ratio lines;
  Ratio branches;
  Ratio functions;
};

CoverageSummary summarize(const FileCoverage& file);
CoverageSummary summarize(const CoverageData& data);
void add(CoverageSummary& into, const CoverageSummary& part);

}  // namespace wrt::plugins::coverage
