#include "core/cache/remote_cache.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/util/http_client.h"

namespace wrt {

namespace {

using Clock = std::chrono::steady_clock;

bool valid_hex(const std::string& s) {
  if (s.size() < 3 || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

struct RemoteCache::Answer {
  int status = 0;
  std::string body;
  bool truncated = false;
  std::string error;
};

RemoteCache::RemoteCache(RemoteCacheOptions options) : options_(std::move(options)) {
  while (!options_.url.empty() && options_.url.back() == '/') options_.url.pop_back();
}

std::string RemoteCache::display_url() const {
  std::string u = options_.url;
  const auto scheme = u.find("://");
  const auto at = u.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  const auto slash = u.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme != std::string::npos && at != std::string::npos && (slash == std::string::npos || at < slash))
    u.erase(scheme + 3, at - scheme - 2);
  return u;
}

RemoteCache::Answer RemoteCache::request(const std::string& method, const std::string& path, const std::string& body,
                                         std::size_t max_body) {
  HttpRequest q;
  q.method = method;
  q.url = options_.url + "/" + path;
  q.headers = options_.headers;
  if (method == "PUT") q.headers.push_back("Content-Type: application/octet-stream");
  q.body = body;
  q.timeout = options_.timeout;
  q.max_body = max_body;
  const auto t0 = Clock::now();
  HttpResponse r = http_request(q);
  transfer_us_ += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
  if (method == "GET" && r.status == 200) bytes_down_ += r.body.size();
  if (method == "PUT") bytes_up_ += body.size();
  return {r.status, std::move(r.body), r.truncated, std::move(r.error)};
}

void RemoteCache::trip(const std::string& why, std::string* note) {
  if (!disabled_.exchange(true) && note)
    *note = fmt::format("remote cache {}: {}; local cache only for the rest of this run", display_url(), why);
}

bool RemoteCache::fetch(const std::string& key_hex, CacheStore& local, std::string* note) {
  if (disabled_.load() || !valid_hex(key_hex)) return false;
  auto miss = [&](std::string why) {
    ++misses_;
    if (!why.empty() && note) *note = std::move(why);
    return false;
  };
  // A server failure (no answer, 5xx, auth) trips the breaker; anything
  // but 200 / 404 / 204 counts as one.
  auto failed = [&](const Answer& a) {
    trip(a.status == 0 ? a.error : fmt::format("HTTP {}", a.status), note);
    ++misses_;
    return false;
  };
  Answer a = request("GET", "ac/" + key_hex, "", 16u << 20);
  if (a.status == 404 || a.status == 204) return miss("");
  if (a.status != 200) return failed(a);
  const std::string what = fmt::format("remote cache entry {}", key_hex.substr(0, 16));
  auto envelope = nlohmann::json::parse(a.body, nullptr, false);
  if (a.truncated || !envelope.is_object()) return miss(what + ": not a signed wrt entry; ignored");
  if (options_.trusted.empty()) return miss(what + ": no remote_cache_trusted_keys, so no remote entry is trusted; ignored");
  DsseCheck check = dsse_verify(envelope, options_.trusted);
  if (check.payload_type != kRemoteEntryType) return miss(what + ": not a wrt cache entry; ignored");
  if (check.verified.empty())
    return miss(what + (check.problems.empty() ? ": not signed by a trusted key; ignored" : ": " + check.problems.front() + "; ignored"));
  std::string why;
  auto entry = decode_cache_entry(key_hex, check.payload, &why);
  if (!entry) return miss(fmt::format("{}: {}; ignored", what, why));
  for (const auto& hex : cache_entry_blobs(*entry)) {
    auto digest = digest_from_hex(hex);
    if (!digest) return miss(what + ": a blob name is not a digest; ignored");
    if (local.has_blob(*digest)) continue;
    Answer b = request("GET", "cas/" + hex, "", options_.max_blob);
    if (b.status == 404 || b.status == 204) return miss(fmt::format("{}: blob {} is missing on the server; running the stage", what, hex.substr(0, 16)));
    if (b.status != 200) return failed(b);
    if (b.truncated) return miss(fmt::format("{}: blob {} is larger than the transfer limit", what, hex.substr(0, 16)));
    if (to_hex(sha256(b.body)) != hex)
      return miss(fmt::format("{}: blob {} on the server does not match its digest; ignored", what, hex.substr(0, 16)));
    auto put = local.put_bytes(b.body);
    if (!put || *put != *digest) return miss(fmt::format("{}: cannot store blob {} locally", what, hex.substr(0, 16)));
  }
  auto stored = local.put_entry(key_hex, *entry);
  if (!stored) return miss(fmt::format("{}: cannot store it locally: {}", what, stored.error()));
  ++hits_;
  return true;
}

void RemoteCache::upload(const std::string& key_hex, const CacheEntry& entry, CacheStore& local, std::string* note) {
  if (disabled_.load() || !uploads() || !valid_hex(key_hex)) return;
  for (const auto& hex : cache_entry_blobs(entry)) {
    Answer head = request("HEAD", "cas/" + hex, "", 0);
    if (head.status == 200) continue;
    if (head.status != 404 && head.status != 204 && head.status != 405) return trip(head.status == 0 ? head.error : fmt::format("HTTP {}", head.status), note);
    auto digest = digest_from_hex(hex);
    if (!digest) return;
    auto bytes = local.read_blob(*digest);
    if (!bytes) {
      if (note) *note = fmt::format("remote cache: blob {} not uploaded: {}", hex.substr(0, 16), bytes.error());
      return;
    }
    if (bytes->size() > options_.max_blob) return;  // too large to share; the entry is not uploaded either
    Answer put = request("PUT", "cas/" + hex, *bytes, 4096);
    if (put.status != 200 && put.status != 201 && put.status != 202 && put.status != 204)
      return trip(put.status == 0 ? put.error : fmt::format("HTTP {} on upload", put.status), note);
  }
  auto envelope = dsse_sign(kRemoteEntryType, encode_cache_entry(key_hex, entry), {*options_.signer});
  if (!envelope) {
    if (note) *note = "remote cache: cannot sign the entry: " + envelope.error();
    return;
  }
  Answer put = request("PUT", "ac/" + key_hex, envelope->dump(), 4096);
  if (put.status != 200 && put.status != 201 && put.status != 202 && put.status != 204)
    return trip(put.status == 0 ? put.error : fmt::format("HTTP {} on upload", put.status), note);
  ++uploads_;
}

RemoteCacheStats RemoteCache::stats() const {
  RemoteCacheStats s;
  s.hits = hits_.load();
  s.misses = misses_.load();
  s.uploads = uploads_.load();
  s.bytes_down = bytes_down_.load();
  s.bytes_up = bytes_up_.load();
  s.transfer_s = static_cast<double>(transfer_us_.load()) / 1e6;
  s.disabled = disabled_.load();
  return s;
}

}  // namespace wrt
