#include "core/cache/remote_entry.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

namespace wrt {

std::string encode_remote_entry(const RemoteEntry& e) {
  std::string out = fmt::format("{}{} {} {} {}\n", kRemoteEntryMagic, e.statement.size(), e.index, e.proof.size(),
                                e.payload.size());
  out.reserve(out.size() + e.statement.size() + e.proof.size() * sizeof(Digest) + e.payload.size());
  out.append(e.statement);
  for (const Digest& d : e.proof) out.append(reinterpret_cast<const char*>(d.data()), d.size());
  out.append(e.payload);
  return out;
}

bool read_frame_number(std::string_view s, std::size_t& at, char end, std::uint64_t& value) {
  const std::size_t start = at;
  value = 0;
  while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
    if (at - start == 19) return false;
    value = value * 10 + static_cast<std::uint64_t>(s[at] - '0');
    ++at;
  }
  const std::size_t digits = at - start;
  if (digits == 0 || (digits > 1 && s[start] == '0')) return false;
  if (at >= s.size() || s[at] != end) return false;
  ++at;
  return true;
}

std::optional<RemoteEntry> decode_remote_entry(std::string_view body, std::string* why) {
  auto fail = [&](const char* what) -> std::optional<RemoteEntry> {
    if (why) *why = what;
    return std::nullopt;
  };
  if (body.substr(0, kRemoteEntryMagic.size()) != kRemoteEntryMagic) return fail("no wrt-remote-entry 1 header");
  std::size_t at = kRemoteEntryMagic.size();
  std::uint64_t statement = 0, index = 0, hashes = 0, payload = 0;
  // The header line is short: a number's end is looked for only within it.
  const std::string_view head = body.substr(0, at + 4 * 21);
  if (!read_frame_number(head, at, ' ', statement) || !read_frame_number(head, at, ' ', index) ||
      !read_frame_number(head, at, ' ', hashes) || !read_frame_number(head, at, '\n', payload))
    return fail("its header is malformed");
  if (statement == 0 || statement > kMaxRemoteStatement) return fail("its statement size is out of range");
  if (hashes > kMaxRemoteProof) return fail("its proof is longer than any batch needs");
  const std::uint64_t rest = body.size() - at;
  const std::uint64_t proof_bytes = hashes * sizeof(Digest);
  // No overflow: statement <= 64 KiB, proof <= 2 KiB, payload checked first.
  if (payload > rest || statement + proof_bytes + payload != rest)
    return fail("its sizes do not add up to its length (truncated or padded)");
  RemoteEntry e;
  e.statement = body.substr(at, statement);
  at += statement;
  e.index = index;
  e.proof.resize(hashes);
  for (Digest& d : e.proof) {
    std::memcpy(d.data(), body.data() + at, d.size());
    at += d.size();
  }
  e.payload = body.substr(at);
  return e;
}

std::string encode_remote_bundle(const std::vector<BundledEntry>& entries) {
  std::size_t size = kRemoteBundleMagic.size() + 21;
  for (const auto& e : entries) size += e.key_hex.size() + 22 + e.payload.size();
  std::string out;
  out.reserve(size);
  out += fmt::format("{}{}\n", kRemoteBundleMagic, entries.size());
  for (const auto& e : entries) {
    out += fmt::format("{} {}\n", e.key_hex, e.payload.size());
    out.append(e.payload);
  }
  return out;
}

std::optional<std::vector<BundledEntry>> decode_remote_bundle(std::string_view body, std::string* why) {
  auto fail = [&](const char* what) -> std::optional<std::vector<BundledEntry>> {
    if (why) *why = what;
    return std::nullopt;
  };
  if (body.substr(0, kRemoteBundleMagic.size()) != kRemoteBundleMagic) return fail("no wrt-remote-bundle 1 header");
  std::size_t at = kRemoteBundleMagic.size();
  std::uint64_t count = 0;
  if (!read_frame_number(body.substr(0, at + 21), at, '\n', count)) return fail("its header is malformed");
  // Each entry takes at least 6 bytes ("abc 0\n"): a count beyond that is a lie.
  if (count > (body.size() - at) / 6) return fail("it claims more entries than it can hold");
  std::vector<BundledEntry> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t key_start = at;
    while (at < body.size() && at - key_start <= 128 &&
           ((body[at] >= '0' && body[at] <= '9') || (body[at] >= 'a' && body[at] <= 'f')))
      ++at;
    const std::size_t key_len = at - key_start;
    if (key_len < 3 || key_len > 128 || at >= body.size() || body[at] != ' ') return fail("an entry's key is malformed");
    ++at;
    std::uint64_t size = 0;
    if (!read_frame_number(body.substr(0, std::min(body.size(), at + 21)), at, '\n', size))
      return fail("an entry's size is malformed");
    if (size > body.size() - at) return fail("an entry is cut short");
    out.push_back({body.substr(key_start, key_len), body.substr(at, size)});
    at += size;
  }
  if (at != body.size()) return fail("bytes follow its last entry");
  return out;
}

// Level 1: a bundle is packed on the upload thread during the run.
std::string pack_remote_bundle(std::string_view plain) {
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), plain.data(), plain.size(), 1);
  if (ZSTD_isError(n)) return {};
  out.resize(n);
  return out;
}

std::optional<std::string> unpack_remote_bundle(std::string_view packed, std::string* why) {
  return unpack_remote_frame(packed, kMaxRemoteBundle, why);
}

std::optional<std::string> unpack_remote_frame(std::string_view packed, std::uint64_t max_size, std::string* why) {
  auto fail = [&](const char* what) -> std::optional<std::string> {
    if (why) *why = what;
    return std::nullopt;
  };
  const unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return fail("it is not a zstd frame stating its size");
  if (size > max_size) return fail("it is larger than it may be");
  if (ZSTD_findFrameCompressedSize(packed.data(), packed.size()) != packed.size()) return fail("bytes follow its zstd frame");
  std::string out(size, '\0');
  const std::size_t n = ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size());
  if (ZSTD_isError(n) || n != size) return fail("its zstd frame is damaged");
  return out;
}

}  // namespace wrt
