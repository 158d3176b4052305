// core/util/merkle.h against RFC 6962's tree as transparency-dev/merkle
// (Google's Go implementation, used by Trillian and the Go checksum
// database) tests it. The vectors below are from
// github.com/transparency-dev/merkle v0.0.2:
//   testonly/constants.go        LeafInputs, RootHashes (trees of 1..8 leaves)
//   testonly/reference_test.go   TestRefInclusionProof (0-based leaf index)
//   rfc6962/rfc6962_test.go      TestRFC6962Hasher (leaf "L123456", node "N123","N456")
// and the corruptions of proof/verify_test.go's corruptInclusionProof.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/util/merkle.h"

namespace {

wrt::Digest hd(const std::string& hex) { return *wrt::digest_from_hex(hex); }

std::string unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::vector<wrt::Digest> leaf_hashes(std::size_t n) {
  static const char* inputs[] = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                 "606162636465666768696a6b6c6d6e6f"};
  std::vector<wrt::Digest> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(wrt::merkle_leaf_hash(unhex(inputs[i])));
  return out;
}

}  // namespace

TEST_CASE("merkle: RFC 6962 hashes and the roots of trees of 1 to 8 leaves, as transparency-dev/merkle has them",
          "[merkle]") {
  CHECK(wrt::to_hex(wrt::merkle_leaf_hash("")) == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  CHECK(wrt::to_hex(wrt::merkle_leaf_hash("L123456")) ==
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
  // HashChildren("N123", "N456") hashes the bytes as given, not digests:
  // only the prefixes are checked here, through the roots below.
  CHECK(wrt::to_hex(wrt::merkle_root({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char* roots[] = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  };
  for (std::size_t n = 1; n <= 8; ++n) {
    INFO(n << " leaves");
    CHECK(wrt::to_hex(wrt::merkle_root(leaf_hashes(n))) == roots[n - 1]);
  }
}

TEST_CASE("merkle: inclusion proofs as transparency-dev/merkle's reference, and each leads back to its root",
          "[merkle]") {
  struct Vector {
    std::size_t index, size;
    std::vector<std::string> proof;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {0, 2, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"}},
      {1, 2, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1, 5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
      {0, 8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5, 8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  };
  for (const auto& v : vectors) {
    INFO("leaf " << v.index << " of " << v.size);
    const auto leaves = leaf_hashes(v.size);
    std::vector<std::string> got;
    for (const auto& d : wrt::merkle_proof(leaves, v.index)) got.push_back(wrt::to_hex(d));
    CHECK(got == v.proof);
    std::vector<wrt::Digest> proof;
    for (const auto& h : v.proof) proof.push_back(hd(h));
    auto root = wrt::merkle_root_from_proof(leaves[v.index], v.index, v.size, proof);
    REQUIRE(root);
    CHECK(*root == wrt::merkle_root(leaves));
  }
  // Every leaf of every tree up to 70 leaves (a batch is at most 64).
  for (std::size_t n = 1; n <= 70; ++n) {
    std::vector<wrt::Digest> leaves;
    for (std::size_t i = 0; i < n; ++i) leaves.push_back(wrt::merkle_leaf_hash(std::to_string(i)));
    const wrt::Digest root = wrt::merkle_root(leaves);
    for (std::size_t i = 0; i < n; ++i) {
      auto got = wrt::merkle_root_from_proof(leaves[i], i, n, wrt::merkle_proof(leaves, i));
      REQUIRE(got);
      REQUIRE(*got == root);
    }
  }
}

TEST_CASE("merkle: a proof altered as transparency-dev/merkle's corruptInclusionProof does never gives the root",
          "[merkle]") {
  for (std::size_t n : {1u, 2u, 3u, 5u, 8u, 13u, 64u}) {
    std::vector<wrt::Digest> leaves;
    for (std::size_t i = 0; i < n; ++i) leaves.push_back(wrt::merkle_leaf_hash("entry " + std::to_string(i)));
    const wrt::Digest root = wrt::merkle_root(leaves);
    for (std::size_t i = 0; i < n; ++i) {
      INFO("leaf " << i << " of " << n);
      const auto proof = wrt::merkle_proof(leaves, i);
      auto gives_root = [&](const wrt::Digest& leaf, std::size_t index, std::size_t size,
                            const std::vector<wrt::Digest>& p) {
        auto r = wrt::merkle_root_from_proof(leaf, index, size, p);
        return r && *r == root;
      };
      REQUIRE(gives_root(leaves[i], i, n, proof));
      if (i > 0) CHECK_FALSE(gives_root(leaves[i], i - 1, n, proof));
      if (i + 1 < n) CHECK_FALSE(gives_root(leaves[i], i + 1, n, proof));
      if ((i ^ 2) < n) CHECK_FALSE(gives_root(leaves[i], i ^ 2, n, proof));
      CHECK_FALSE(gives_root(leaves[i], i, n * 2, proof));
      if (n / 2 > i) CHECK_FALSE(gives_root(leaves[i], i, n / 2, proof));
      CHECK_FALSE(gives_root(wrt::merkle_leaf_hash("WrongLeaf"), i, n, proof));
      CHECK_FALSE(wrt::merkle_root_from_proof(leaves[i], n, n, proof));  // index out of range
      auto longer = proof;
      longer.push_back(root);
      CHECK_FALSE(gives_root(leaves[i], i, n, longer));
      auto front = proof;
      front.insert(front.begin(), root);
      CHECK_FALSE(gives_root(leaves[i], i, n, front));
      for (std::size_t k = 0; k < proof.size(); ++k) {
        auto flipped = proof;
        flipped[k][0] ^= 8;
        CHECK_FALSE(gives_root(leaves[i], i, n, flipped));
      }
      if (!proof.empty()) {
        auto shorter = proof;
        shorter.pop_back();
        CHECK_FALSE(gives_root(leaves[i], i, n, shorter));
      }
    }
  }
}
