// A cache entry as the remote cache stores it (`<base>/ac/<key>`): the
// local entry's text, signed with its upload batch.
//
//   wrt-remote-entry 1 <statement bytes> <index> <proof hashes> <payload bytes>\n
//   <statement><proof: hashes x 32 raw bytes><payload>
//
// - statement: the batch statement, a DSSE envelope (JSON, dsse.h) of type
//   kRemoteBatchType over {"merkleRoot": hex, "size": n} (and the
//   batch's bundle, below: "bundle", "bundleSize"), signed by the
//   writer; the same bytes in every entry of the batch, so a reader
//   verifies its signature once per batch (keyed by these bytes);
// - index, proof: the entry's place in the batch and its inclusion proof
//   (merkle.h), from its leaf, merkle_leaf_hash(dsse_pae(kRemoteEntryType,
//   payload)), to the signed root;
// - payload: the entry exactly as the local store keeps it (cache_store.h,
//   entry format 3, small blobs inline), so a verified hit is written into
//   the local store as it came.
//
// Why not a DSSE envelope per entry, as until 2026-12-02: its JSON and the
// base64 payload in it cost a reader more CPU than anything else of a hit
// but the transfer (bench/README.md). The signature still covers exactly
// what DSSE's PAE covers: the payload type (kRemoteEntryType, implied by
// the header) and the payload bytes.
//
// The framing is checked strictly, none of it is trusted: decode refuses
// a header that is not exactly this, numbers with a sign or leading zeros,
// sizes that do not add up to the body, more than kMaxRemoteProof hashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/hash.h"

namespace wrt {

inline constexpr std::string_view kRemoteEntryMagic = "wrt-remote-entry 1 ";
// A proof of 64 hashes covers a batch of 2^64 entries.
inline constexpr std::size_t kMaxRemoteProof = 64;
// A signed statement is a few hundred bytes; a header claiming more is damaged.
inline constexpr std::size_t kMaxRemoteStatement = 64u << 10;

struct RemoteEntry {
  std::string_view statement;  // the batch statement's DSSE envelope (JSON text)
  std::uint64_t index = 0;
  std::vector<Digest> proof;
  std::string_view payload;    // the local entry's text
};

// A batch's entries in one blob (`<base>/cas/<sha256 of the blob>`), so
// that a reader fetches a batch with one request instead of one per entry.
// The blob is one zstd frame (pack_remote_bundle(); the entries' JSON and
// hex digests shrink ~4x) of:
//
//   wrt-remote-bundle 1 <entries>\n
//   then for each entry: <key hex> <payload bytes>\n<payload>
//
// The batch statement names the bundle's digest and size ({"bundle": hex,
// "bundleSize": n}, signed with the Merkle root), so a bundle whose bytes
// hash to that digest holds exactly the entries the writer signed; a
// reader that finds one serves its entries without asking the server for
// each (remote_cache.h). Decoded as strictly as an entry.
struct BundledEntry {
  std::string_view key_hex;
  std::string_view payload;  // the local entry's text, as in RemoteEntry
};
// A bundle larger than this is not fetched (nor written: kUploadBatch
// entries are far below it unless their outputs are large, then they go
// without a bundle).
inline constexpr std::uint64_t kMaxRemoteBundle = 16u << 20;
inline constexpr std::string_view kRemoteBundleMagic = "wrt-remote-bundle 1 ";

// A decimal of a framing header: no sign, no leading zeros, at most 19
// digits (no overflow), followed by `end`; advances `at` past `end`.
bool read_frame_number(std::string_view s, std::size_t& at, char end, std::uint64_t& value);

std::string encode_remote_entry(const RemoteEntry& e);
// Views into `body`, which must outlive them; nullopt with `why` when the
// framing is not exactly the above.
std::optional<RemoteEntry> decode_remote_entry(std::string_view body, std::string* why);

std::string encode_remote_bundle(const std::vector<BundledEntry>& entries);
// The blob of an encoded bundle, and back: nullopt with `why` unless
// `packed` is one zstd frame that states its size, at most
// kMaxRemoteBundle, and decompresses to exactly that.
std::string pack_remote_bundle(std::string_view plain);
std::optional<std::string> unpack_remote_bundle(std::string_view packed, std::string* why);
// The same for a frame of at most `max_size` bytes unpacked (remote_model.h).
std::optional<std::string> unpack_remote_frame(std::string_view packed, std::uint64_t max_size, std::string* why);
// Views into `body`; nullopt with `why` when the framing is not exactly the
// above (a key that is not lowercase hex of 3 to 128 digits, sizes that do
// not add up, bytes after the last entry).
std::optional<std::vector<BundledEntry>> decode_remote_bundle(std::string_view body, std::string* why);

}  // namespace wrt
