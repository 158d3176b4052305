// Signed approvals of a deployment (`approvals = N` in a deploy stage).
//
// What is approved is one release of one commit for one environment, not a
// run: the statement
//   {"type": "wrt-approval/v1", "environment", "release": "sha256:HEX", "commit"}
// (keys sorted, no spaces: `approval_statement`), signed in a DSSE envelope
// (payloadType kApprovalType) with an approver's Ed25519 key. Files in the
// deployment target:
//   approvals/requests/RUN_ID.json       what a run asked to deploy, written
//                                        when approvals were missing; `wrt
//                                        approve RUN_ID` finds it there
//   approvals/STATEMENT_SHA256/NAME.dsse.json   NAME's signed approval
// An approval counts only when its envelope verifies with the public key
// wrt.toml lists for NAME, its payload is exactly the statement being
// deployed, and NAME is not who asked for the deployment (no self-approval).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace wrt::deploy {

inline constexpr const char* kApprovalType = "application/vnd.wrt.approval.v1+json";

std::string approval_statement(const std::string& environment, const std::string& release, const std::string& commit);

struct Approver {
  std::string name;
  std::string public_key_pem;  // the PEM text
};

struct ApprovalCount {
  std::vector<std::string> approved_by;  // valid, distinct, not the requester
  std::vector<std::string> problems;     // "approvals/X/bob.dsse.json: signature does not verify with bob's key"
};

// Reads every NAME.dsse.json in `dir` (approvals/STATEMENT_SHA256/).
ApprovalCount count_approvals(const std::string& dir, const std::string& statement, const std::vector<Approver>& approvers,
                              const std::string& requester);

// DSSE pre-authentication encoding (as core/util/dsse.h).
std::string pae(const std::string& type, const std::string& body);
// Standard base64 (RFC 4648, with padding); false on anything else.
bool base64_decode(const std::string& in, std::string& out);
// Ed25519 signature check with a PEM public key; false on any error.
bool ed25519_verify(const std::string& public_key_pem, const std::string& message, const std::string& signature);

}  // namespace wrt::deploy
