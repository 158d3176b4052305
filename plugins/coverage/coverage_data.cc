#include "plugins/coverage/coverage_data.h"

namespace wrt::plugins::coverage {

CoverageSummary summarize(const FileCoverage& file) {
  CoverageSummary s;
  for (const auto& [line, hits] : file.line_hits) {
    ++s.lines.total;
    if (hits > 0) ++s.lines.covered;
  }
  for (const auto& [line, outcomes] : file.branches)
    for (const auto& b : outcomes) {
      ++s.branches.total;
      if (b.taken && *b.taken > 0) ++s.branches.covered;
    }
  for (const auto& f : file.functions) {
    ++s.functions.total;
    if (f.hits > 0) ++s.functions.covered;
  }
  return s;
}

void add(CoverageSummary& into, const CoverageSummary& part) {
  into.lines.covered += part.lines.covered;
  into.lines.total += part.lines.total;
  into.branches.covered += part.branches.covered;
  into.branches.total += part.branches.total;
  into.functions.covered += part.functions.covered;
  into.functions.total += part.functions.total;
}

CoverageSummary summarize(const CoverageData& data) {
  CoverageSummary s;
  for (const auto& f : data.files) add(s, summarize(f));
  return s;
}

}  // namespace wrt::plugins::coverage
