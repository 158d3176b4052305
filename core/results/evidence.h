// `wrt evidence`: the certification evidence package of the current commit,
// built only from what runs recorded, and `wrt evidence verify`.
//
// The package (a directory) holds the last run's history record (gate per
// ASIL level), wrt.toml, the last result of every stage of that run with
// its key record (input digests, tool versions), log and reports (artifacts
// that are declared outputs or key inputs, checked against their recorded
// digests), the same results as JUnit XML, the SARIF
// findings, the reports under .wrt/reports/, and the requirement trace when
// requirements.toml exists; `summary.md` for people; `manifest.json`
// listing every file with its SHA-256 and size. Two in-toto Statements v1
// cover every file: SLSA provenance v1 (`provenance.dsse.json`) and a SLSA
// verification summary carrying the safety gate's verdict
// (`verification-summary.dsse.json`), each in a DSSE envelope signed with
// every given Ed25519 key (dsse.h).
//
// Refused when the last run was for another commit than HEAD, or when a
// stage's key record no longer matches its last result. Stages that were
// not part of the last run (last_results.h: last_run_ids) are left out and
// named in summary.md.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/util/dsse.h"
#include "core/util/result.h"

namespace wrt {

class CacheStore;

struct EvidenceSummary {
  std::filesystem::path dir;
  std::size_t files = 0;
  std::string commit;                  // "" outside git
  bool dirty = false;                  // tracked files changed since the commit
  std::string gate;                    // verdict, "" when no stage carries a level
  std::vector<std::string> stages;     // included
  std::vector<std::string> excluded;   // "stage: why"
  std::size_t signatures = 0;
};

// `store` is where the last run's cached stages came from: their logs are
// the ones stored with their results (read and checked there); null leaves
// those logs out, saying so in `excluded`.
Result<EvidenceSummary> write_evidence(const Config& config, const std::filesystem::path& out,
                                       const std::vector<Ed25519Key>& keys, CacheStore* store);

struct EvidenceCheck {
  std::size_t files_checked = 0;
  std::vector<std::string> signers;    // keyids that signed both statements
  std::vector<std::string> problems;   // one line each, naming the file
};

EvidenceCheck verify_evidence(const std::filesystem::path& dir, const std::vector<Ed25519Key>& keys);

}  // namespace wrt
