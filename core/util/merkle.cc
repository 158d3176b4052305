#include "core/util/merkle.h"

namespace wrt {

namespace {

// The largest power of two below n (n >= 2).
std::size_t split_of(std::size_t n) {
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Digest root_of(const Digest* leaves, std::size_t n) {
  if (n == 1) return leaves[0];
  const std::size_t k = split_of(n);
  return merkle_node_hash(root_of(leaves, k), root_of(leaves + k, n - k));
}

void proof_of(const Digest* leaves, std::size_t n, std::size_t index, std::vector<Digest>& out) {
  if (n <= 1) return;
  const std::size_t k = split_of(n);
  if (index < k) {
    proof_of(leaves, k, index, out);
    out.push_back(root_of(leaves + k, n - k));
  } else {
    proof_of(leaves + k, n - k, index - k, out);
    out.push_back(root_of(leaves, k));
  }
}

}  // namespace

Digest merkle_leaf_hash(std::string_view data) {
  Sha256 h;
  const char prefix = 0x00;
  h.update(std::string_view(&prefix, 1));
  h.update(data);
  return h.finish();
}

Digest merkle_node_hash(const Digest& left, const Digest& right) {
  Sha256 h;
  const char prefix = 0x01;
  h.update(std::string_view(&prefix, 1));
  h.update(std::string_view(reinterpret_cast<const char*>(left.data()), left.size()));
  h.update(std::string_view(reinterpret_cast<const char*>(right.data()), right.size()));
  return h.finish();
}

Digest merkle_root(const std::vector<Digest>& leaves) {
  if (leaves.empty()) return sha256("");
  return root_of(leaves.data(), leaves.size());
}

std::vector<Digest> merkle_proof(const std::vector<Digest>& leaves, std::size_t index) {
  std::vector<Digest> out;
  if (index < leaves.size()) proof_of(leaves.data(), leaves.size(), index, out);
  return out;
}

std::optional<Digest> merkle_root_from_proof(const Digest& leaf, std::size_t index, std::size_t size,
                                             const std::vector<Digest>& proof) {
  // RFC 9162 §2.1.3.2, with fn = index and sn = size - 1.
  if (index >= size) return std::nullopt;
  std::size_t fn = index, sn = size - 1;
  Digest r = leaf;
  for (const Digest& p : proof) {
    if (sn == 0) return std::nullopt;  // more hashes than the path has
    if ((fn & 1) == 1 || fn == sn) {
      r = merkle_node_hash(p, r);
      if ((fn & 1) == 0)
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = merkle_node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return std::nullopt;  // fewer hashes than the path has
  return r;
}

}  // namespace wrt
