#include "plugins/deploy/approvals.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plugins/deploy/ledger.h"

namespace fs = std::filesystem;

namespace wrt::deploy {

std::string approval_statement(const std::string& environment, const std::string& release, const std::string& commit) {
  // nlohmann::json keeps object keys sorted: one text per statement.
  return nlohmann::json{{"type", "wrt-approval/v1"}, {"environment", environment}, {"release", release}, {"commit", commit}}
      .dump();
}

std::string pae(const std::string& type, const std::string& body) {
  return "DSSEv1 " + std::to_string(type.size()) + " " + type + " " + std::to_string(body.size()) + " " + body;
}

bool base64_decode(const std::string& in, std::string& out) {
  out.clear();
  if (in.size() % 4 != 0) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
    int v[4];
    for (int k = 0; k < 4 - pad; ++k)
      if ((v[k] = value(in[i + static_cast<std::size_t>(k)])) < 0) return false;
    for (int k = 4 - pad; k < 4; ++k) v[k] = 0;
    const unsigned triple = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
    out += static_cast<char>((triple >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((triple >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(triple & 0xff);
  }
  return true;
}

bool ed25519_verify(const std::string& public_key_pem, const std::string& message, const std::string& signature) {
  BIO* bio = BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size()));
  if (!bio) return false;
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) return false;
  bool ok = false;
  if (EVP_PKEY_id(key) == EVP_PKEY_ED25519) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    EVP_MD_CTX_free(ctx);
  }
  EVP_PKEY_free(key);
  return ok;
}

ApprovalCount count_approvals(const std::string& dir, const std::string& statement, const std::vector<Approver>& approvers,
                              const std::string& requester) {
  ApprovalCount out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (const std::string n = e.path().filename().string(); n.size() > 10 && n.compare(n.size() - 10, 10, ".dsse.json") == 0)
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const std::string file = f.filename().string();
    const std::string name = file.substr(0, file.size() - std::string(".dsse.json").size());
    const std::string where = "approvals/" + fs::path(dir).filename().string() + "/" + file;
    const Approver* who = nullptr;
    for (const auto& a : approvers)
      if (a.name == name) who = &a;
    if (!who) {
      out.problems.push_back(where + ": " + name + " is not an approver listed in wrt.toml");
      continue;
    }
    if (name == requester) {
      out.problems.push_back(where + ": " + name + " asked for this deployment and cannot approve it");
      continue;
    }
    std::ifstream in(f, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto env = nlohmann::json::parse(text.str(), nullptr, false);
    std::string payload;
    if (env.is_discarded() || !env.is_object() || env.value("payloadType", "") != kApprovalType ||
        !env.contains("payload") || !env["payload"].is_string() || !base64_decode(env["payload"].get<std::string>(), payload) ||
        !env.contains("signatures") || !env["signatures"].is_array()) {
      out.problems.push_back(where + ": not a DSSE approval envelope");
      continue;
    }
    if (payload != statement) {
      out.problems.push_back(where + ": approves another release, commit or environment");
      continue;
    }
    bool verified = false;
    for (const auto& s : env["signatures"]) {
      std::string sig;
      if (s.is_object() && s.contains("sig") && s["sig"].is_string() && base64_decode(s["sig"].get<std::string>(), sig) &&
          ed25519_verify(who->public_key_pem, pae(kApprovalType, payload), sig))
        verified = true;
    }
    if (!verified) {
      out.problems.push_back(where + ": the signature does not verify with " + name + "'s key");
      continue;
    }
    out.approved_by.push_back(name);
  }
  return out;
}

}  // namespace wrt::deploy
