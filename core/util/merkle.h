// A Merkle tree over SHA-256 as RFC 6962 (Certificate Transparency) defines
// it, §2.1: leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 || left
// || right), a tree of n leaves split at the largest power of two below n.
// The prefixes keep a leaf from passing for a node (no second preimages).
//
// What it is for: one signature over a batch of remote cache entries
// (remote_cache.h). The writer signs the root of its batch's leaves; each
// entry carries its index, the batch size and its inclusion proof, so a
// reader checks an entry alone, with log2(batch) hashes and a signature it
// verifies once per batch. Ed25519 costs ~60 us to sign and ~160 us to
// verify here: per entry, that was most of a remote restore's CPU.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "core/util/hash.h"

namespace wrt {

Digest merkle_leaf_hash(std::string_view data);
Digest merkle_node_hash(const Digest& left, const Digest& right);
// The root of the tree over `leaves` (leaf hashes); SHA-256("") when empty.
Digest merkle_root(const std::vector<Digest>& leaves);
// The inclusion proof (audit path, RFC 6962 §2.1.1) of leaf `index`; empty
// when there is one leaf or `index` is out of range.
std::vector<Digest> merkle_proof(const std::vector<Digest>& leaves, std::size_t index);
// The root that leaf hash `leaf` at `index` of a tree of `size` leaves
// implies with `proof` (RFC 9162 §2.1.3.2); nullopt when the proof cannot
// belong to such a tree (index out of range, too many or too few hashes).
// The caller compares it with the root it trusts.
std::optional<Digest> merkle_root_from_proof(const Digest& leaf, std::size_t index, std::size_t size,
                                             const std::vector<Digest>& proof);

}  // namespace wrt
