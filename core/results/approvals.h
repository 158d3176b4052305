// `wrt approve RUN_ID --key FILE`: signs the approval of the deployment a
// run asked for (the deploy plugin's `approvals = N`).
//
// A deploy stage that lacks approvals writes the request to
// TARGET/approvals/requests/RUN_ID.json: environment, release digest,
// commit, artifacts, who asked, and the statement to sign
//   {"commit","environment","release","type":"wrt-approval/v1"}
// (plugins/deploy/approvals.h; keys sorted, no spaces). Approving signs
// that statement in a DSSE envelope with the approver's Ed25519 key and
// writes TARGET/approvals/SHA256(statement)/NAME.dsse.json, NAME being the
// approver wrt.toml lists with this key's public half. Refused for a key no
// approver has, for the person who asked (no self-approval), and for a
// request whose statement is not its own fields. The deploy stage, run
// again, verifies each signature itself; this side only writes them.
#pragma once

#include <filesystem>
#include <string>

#include "core/config/config.h"
#include "core/util/result.h"

namespace wrt {

struct Approval {
  std::filesystem::path file;  // the envelope written
  std::string stage, approver, environment, release, commit;
  std::size_t artifacts = 0;
  bool already = false;  // this approver had approved it already (rewritten)
};

// The statement a deployment approval signs.
std::string approval_statement(const std::string& environment, const std::string& release, const std::string& commit);

Result<Approval> approve_deployment(const Config& config, const std::string& run_id, const std::filesystem::path& private_key);

}  // namespace wrt
