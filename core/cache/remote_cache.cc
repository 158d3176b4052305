#include "core/cache/remote_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <zstd.h>

#include "core/cache/remote_entry.h"
#include "core/util/merkle.h"
#include "core/util/thread_name.h"

namespace wrt {

namespace {

bool valid_hex(const std::string& s) {
  if (s.size() < 3 || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool stored(int status) { return status == 200 || status == 201 || status == 202 || status == 204; }

std::string failure(const TransferResult& r, const char* on = "") {
  return r.status == 0 ? r.error : fmt::format("HTTP {}{}", r.status, on);
}

// Level 3, zstd's default: fast, and smaller than gzip's best.
std::optional<std::string> zstd_compress(const std::string& plain) {
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), plain.data(), plain.size(), 3);
  if (ZSTD_isError(n)) return std::nullopt;
  out.resize(n);
  return out;
}

// An answer from a loaded bundle (RemoteAnswer::bundled).
RemoteAnswer from_bundle(std::string payload) {
  return RemoteAnswer{true, TransferResult{200, std::move(payload), false, false, {}, 0}, true};
}

}  // namespace

// One upload: its blob transfers, then the entry.
struct RemoteCache::Upload {
  std::string key_hex;
  std::string payload;                   // the entry's text, as signed
  std::vector<std::pair<Transfer, bool>> blob_puts;   // transfer, ask first (HEAD)
  std::string envelope;  // the signed entry
  std::size_t blobs_left = 0;  // touched on the transfer thread only
  bool failed = false;
  std::vector<int> fds;  // blobs streamed from the store; closed when it ends
  ~Upload() {
    for (int fd : fds) ::close(fd);
  }
};

// An upload waiting for the upload thread.
struct RemoteCache::Queued {
  std::string key_hex;
  CacheEntry entry;
  CacheStore* local = nullptr;
  std::string label;
};

RemoteCache::RemoteCache(RemoteCacheOptions options)
    : options_(std::move(options)), transfers_(std::make_unique<HttpTransfers>(options_.connections)) {
  while (!options_.url.empty() && options_.url.back() == '/') options_.url.pop_back();
  if (uploads())
    preparer_ = std::thread([this] {
      name_this_thread("wrt-upload");
      prepare_uploads();
    });
}

RemoteCache::~RemoteCache() {
  // Uploads still queued or in flight end (the queued ones unstarted, the
  // others as the transfers are destroyed); none may start another then.
  disabled_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (preparer_.joinable()) preparer_.join();
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

Transfer RemoteCache::request(const std::string& method, const std::string& path) const {
  Transfer t;
  t.method = method;
  t.url = options_.url + "/" + path;
  t.headers = options_.headers;
  if (method == "PUT") t.headers.push_back("Content-Type: application/octet-stream");
  t.timeout = options_.timeout;
  return t;
}

void RemoteCache::trip(const std::string& why, std::string* note) {
  if (!disabled_.exchange(true) && note)
    *note = fmt::format("remote cache {}: {}; local cache only for the rest of this run", display_url(), why);
}

Transfer RemoteCache::entry_request(const std::string& key_hex) const {
  Transfer get = request("GET", "ac/" + key_hex);
  get.max_body = 16u << 20;
  return get;
}

bool RemoteCache::fetch(const std::string& key_hex, CacheStore& local, std::string* note,
                        std::optional<CacheEntry>* fetched) {
  if (disabled_.load() || !valid_hex(key_hex)) return false;
  if (auto payload = take_bundled(key_hex)) return fetch(key_hex, from_bundle(std::move(*payload)), local, note, fetched);
  RemoteAnswer answer{true, std::move(transfers_->run({entry_request(key_hex)}).front())};
  if (RemoteCache::found(answer) && !answer.response.truncated) prefetch_bundle(answer.response.body);
  return fetch(key_hex, answer, local, note, fetched);
}

RemoteCache::BatchStatement RemoteCache::statement_for(std::string_view bytes) {
  // The same bytes in every entry of a batch, so the signature is verified
  // once per batch (an Ed25519 verification costs ~160 us here). Keyed by
  // those bytes: a statement that differs in any byte is checked anew.
  {
    std::lock_guard<std::mutex> lock(statements_mu_);
    if (auto it = statements_.find(bytes); it != statements_.end()) return it->second;
  }
  BatchStatement signed_root;
  auto statement = nlohmann::json::parse(bytes, nullptr, false);
  DsseCheck check;
  if (statement.is_object()) check = dsse_verify(statement, options_.trusted);
  auto body = nlohmann::json::parse(check.payload, nullptr, false);
  if (!statement.is_object() || check.payload_type != kRemoteBatchType)
    signed_root.problem = "its batch statement is not a wrt batch statement";
  else if (check.verified.empty())
    signed_root.problem = check.problems.empty() ? "not signed by a trusted key" : check.problems.front();
  else if (!body.is_object() || !body.contains("merkleRoot") || !body["merkleRoot"].is_string() ||
           !digest_from_hex(body["merkleRoot"].get<std::string>()) || !body.contains("size") ||
           !body["size"].is_number_unsigned() || body["size"].get<std::uint64_t>() == 0)
    signed_root.problem = "its signed batch statement is malformed (merkleRoot, size)";
  else {
    signed_root.root = *digest_from_hex(body["merkleRoot"].get<std::string>());
    signed_root.size = body["size"].get<std::uint64_t>();
    // A bundle named in a way this reader does not understand is not
    // used; the entries are still checked one by one.
    auto bundle = body.find("bundle");
    auto bundle_size = body.find("bundleSize");
    if (bundle != body.end() && bundle->is_string() && bundle_size != body.end() &&
        bundle_size->is_number_unsigned() && bundle_size->get<std::uint64_t>() <= kMaxRemoteBundle) {
      signed_root.bundle = digest_from_hex(bundle->get<std::string>());
      signed_root.bundle_size = bundle_size->get<std::uint64_t>();
    }
  }
  std::lock_guard<std::mutex> lock(statements_mu_);
  if (statements_.size() >= 4096) statements_.clear();  // bounded, whatever a server sends
  statements_.emplace(std::string(bytes), signed_root);
  return signed_root;
}

std::optional<std::string_view> RemoteCache::check_batched(const RemoteEntry& framed, std::string* problem) {
  const BatchStatement signed_root = statement_for(framed.statement);
  if (!signed_root.problem.empty()) {
    *problem = signed_root.problem;
    return std::nullopt;
  }
  const Digest leaf = merkle_leaf_hash(dsse_pae(kRemoteEntryType, std::string(framed.payload)));
  auto root = merkle_root_from_proof(leaf, framed.index, signed_root.size, framed.proof);
  if (!root || *root != signed_root.root) {
    *problem = "it is not in the batch its signature covers (Merkle proof)";
    return std::nullopt;
  }
  return framed.payload;
}

void RemoteCache::prefetch_bundle(std::string_view entry_body) {
  if (disabled_.load() || options_.trusted.empty()) return;
  std::string why;
  auto framed = decode_remote_entry(entry_body, &why);
  if (!framed) return;  // fetch() says why
  const BatchStatement statement = statement_for(framed->statement);
  if (!statement.problem.empty() || !statement.bundle) return;
  const std::string hex = to_hex(*statement.bundle);
  {
    std::lock_guard<std::mutex> lock(bundles_mu_);
    if (bundles_asked_.size() >= 65536) return;  // bounded, whatever a server sends
    if (bundled_bytes_ + statement.bundle_size > kMaxBundled) return;
    if (!bundles_asked_.insert(hex).second) return;
  }
  Transfer get = request("GET", "cas/" + hex);
  get.max_body = statement.bundle_size;
  transfers_->start(std::move(get), [this, digest = *statement.bundle, size = statement.bundle_size](TransferResult&& r) {
    bundle_arrived(digest, size, r);
  });
}

void RemoteCache::bundle_arrived(const Digest& digest, std::uint64_t size, const TransferResult& r) {
  transfer_us_ += static_cast<std::uint64_t>(r.seconds * 1e6);
  // Not there (evicted, or its upload failed), damaged, or not what was
  // signed: not used, and not worth a warning -- each entry is then asked
  // for and checked on its own. A server failure here trips nothing: the
  // entry requests around it will, if it persists.
  if (r.status != 200 || r.truncated || r.body.size() != size) return;
  bytes_down_ += r.wire_down;
  const std::string hex = to_hex(digest).substr(0, 16);
  if (sha256(r.body) != digest) {
    spdlog::debug("remote cache bundle {}: does not match its signed digest; not used", hex);
    return;
  }
  std::string why;
  auto plain = unpack_remote_bundle(r.body, &why);
  if (!plain) {
    spdlog::debug("remote cache bundle {}: {}; not used", hex, why);
    return;
  }
  auto entries = decode_remote_bundle(*plain, &why);
  if (!entries) {
    spdlog::debug("remote cache bundle {}: {}; not used", hex, why);
    return;
  }
  std::lock_guard<std::mutex> lock(bundles_mu_);
  if (bundled_bytes_ + plain->size() > kMaxBundled) return;
  for (const BundledEntry& e : *entries) {
    auto [it, added] = bundled_.try_emplace(std::string(e.key_hex), e.payload);
    if (added) bundled_bytes_ += e.payload.size();
  }
}

std::optional<std::string> RemoteCache::take_bundled(const std::string& key_hex) {
  std::lock_guard<std::mutex> lock(bundles_mu_);
  return take_bundled_locked(key_hex);
}

std::optional<std::string> RemoteCache::take_bundled_locked(const std::string& key_hex) {
  if (bundled_.empty()) return std::nullopt;
  auto it = bundled_.find(key_hex);
  if (it == bundled_.end()) return std::nullopt;
  std::string payload = std::move(it->second);
  bundled_.erase(it);
  bundled_bytes_ -= payload.size();
  return payload;
}

void RemoteCache::ask(const std::string& key_hex, std::function<void(RemoteAnswer&&)> answered) {
  if (disabled_.load() || !valid_hex(key_hex)) return answered(RemoteAnswer{});
  {
    std::unique_lock<std::mutex> lock(bundles_mu_);
    if (auto payload = take_bundled_locked(key_hex)) {
      lock.unlock();
      return answered(from_bundle(std::move(*payload)));
    }
    if (asks_in_flight_ >= options_.connections) {
      pending_asks_.push_back(PendingAsk{key_hex, std::move(answered)});
      return;
    }
    ++asks_in_flight_;
  }
  send_ask(key_hex, std::move(answered));
}

void RemoteCache::send_ask(const std::string& key_hex, std::function<void(RemoteAnswer&&)> answered) {
  transfers_->start(entry_request(key_hex), [this, answered = std::move(answered)](TransferResult&& r) {
    // The rest of the entry's batch, if it has a bundle not asked for yet:
    // asked for now, while the stages after this one are still to be asked.
    if (r.status == 200 && !r.truncated) prefetch_bundle(r.body);
    answered(RemoteAnswer{true, std::move(r)});
    ask_ended();
  });
}

// On the transfer thread: the slot of an ask that ended goes to the next
// waiting one; those a bundle loaded meanwhile holds are answered from it.
void RemoteCache::ask_ended() {
  for (;;) {
    std::unique_lock<std::mutex> lock(bundles_mu_);
    if (pending_asks_.empty()) {
      --asks_in_flight_;
      return;
    }
    PendingAsk next = std::move(pending_asks_.front());
    pending_asks_.pop_front();
    if (auto payload = take_bundled_locked(next.key_hex)) {
      lock.unlock();
      next.answered(from_bundle(std::move(*payload)));
      continue;  // the slot is still free
    }
    lock.unlock();
    // Disabled (the breaker tripped): nothing more is asked; a miss.
    if (disabled_.load()) {
      next.answered(RemoteAnswer{});
      continue;
    }
    return send_ask(next.key_hex, std::move(next.answered));
  }
}

bool RemoteCache::fetch(const std::string& key_hex, const RemoteAnswer& answer, CacheStore& local,
                        std::string* note, std::optional<CacheEntry>* fetched) {
  if (!answer.asked || disabled_.load() || !valid_hex(key_hex)) return false;
  auto miss = [&](std::string why) {
    ++misses_;
    if (!why.empty() && note) *note = std::move(why);
    return false;
  };
  // A server failure (no answer, 5xx, auth) trips the breaker; anything
  // but 200 / 404 / 204 counts as one.
  auto failed = [&](const TransferResult& r) {
    trip(failure(r), note);
    ++misses_;
    return false;
  };
  const TransferResult& a = answer.response;
  transfer_us_ += static_cast<std::uint64_t>(a.seconds * 1e6);
  if (a.status == 404 || a.status == 204) return miss("");
  if (a.status != 200) return failed(a);
  bytes_down_ += a.wire_down;
  const std::string what = fmt::format("remote cache entry {}", key_hex.substr(0, 16));
  std::string payload;
  if (answer.bundled) {
    payload = a.body;  // from a bundle whose signed digest matched (load_bundle)
  } else {
    std::string problem;
    auto framed = decode_remote_entry(a.body, &problem);
    if (a.truncated || !framed) {
      if (a.truncated) problem = "larger than an entry can be";
      return miss(fmt::format("{}: not a signed wrt entry ({}); ignored", what, problem));
    }
    if (options_.trusted.empty())
      return miss(what + ": no remote_cache_trusted_keys, so no remote entry is trusted; ignored");
    auto checked = check_batched(*framed, &problem);
    if (!checked) return miss(fmt::format("{}: {}; ignored", what, problem));
    payload.assign(*checked);
    take_bundled(key_hex);  // its copy in its batch's bundle, if that came: read once
  }
  std::string why;
  auto entry = decode_cache_entry(key_hex, payload, &why);
  if (!entry) return miss(fmt::format("{}: {}; ignored", what, why));

  // Every blob the local store lacks, all at once, each streamed into the
  // store through a receiver that publishes it only if its digest matches.
  struct Wanted {
    std::string hex;
    Digest digest;
    std::unique_ptr<BlobReceiver> receiver;
    std::string write_error;
    bool too_large = false;
  };
  std::vector<Wanted> wanted;
  for (const auto& hex : cache_entry_blobs(*entry)) {
    auto digest = digest_from_hex(hex);
    if (!digest) return miss(what + ": a blob name is not a digest; ignored");
    if (local.has_blob(*digest)) continue;
    auto receiver = local.receive_blob();
    if (!receiver) return miss(fmt::format("{}: cannot store blob {} locally: {}", what, hex.substr(0, 16), receiver.error()));
    wanted.push_back({hex, *digest, std::move(*receiver), {}, false});
  }
  std::vector<Transfer> batch;
  batch.reserve(wanted.size());
  for (auto& w : wanted) {
    Transfer t = request("GET", "cas/" + w.hex);
    t.accept_zstd = options_.zstd;
    const std::uint64_t limit = options_.max_blob;
    t.sink = [&w, limit](const char* data, std::size_t n) {
      if (w.receiver->size() + n > limit) {
        w.too_large = true;
        return false;
      }
      if (Status s = w.receiver->write(data, n); !s) {
        w.write_error = s.error();
        return false;
      }
      return true;
    };
    batch.push_back(std::move(t));
  }
  std::vector<TransferResult> got = transfers_->run(std::move(batch));
  for (auto& r : got) transfer_us_ += static_cast<std::uint64_t>(r.seconds * 1e6);
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    Wanted& w = wanted[i];
    const TransferResult& b = got[i];
    const std::string blob = w.hex.substr(0, 16);
    if (!w.write_error.empty()) return miss(fmt::format("{}: cannot store blob {} locally: {}", what, blob, w.write_error));
    if (w.too_large) return miss(fmt::format("{}: blob {} is larger than the transfer limit", what, blob));
    if (b.status == 404 || b.status == 204)
      return miss(fmt::format("{}: blob {} is missing on the server; running the stage", what, blob));
    if (b.status != 200) return failed(b);
    bytes_down_ += b.wire_down;
    if (Status s = w.receiver->commit(w.digest); !s)
      return miss(fmt::format("{}: blob {} on the server does not match its digest ({}); ignored", what, blob, s.error()));
  }
  // Written as it came (the signed payload, just decoded and checked).
  auto put = local.put_entry(key_hex, *entry, /*blobs_checked=*/false, payload);
  if (!put) return miss(fmt::format("{}: cannot store it locally: {}", what, put.error()));
  // (Another writer's entry kept for the key: the caller reads that one.)
  if (fetched && put->stored) *fetched = std::move(*entry);
  ++hits_;
  if (answer.bundled) ++bundled_hits_;
  return true;
}

void RemoteCache::upload(const std::string& key_hex, const CacheEntry& entry, CacheStore& local,
                         const std::string& label) {
  if (disabled_.load() || !uploads() || !valid_hex(key_hex)) return;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    ++uploading_;
    queued_.push_back(Queued{key_hex, entry, &local, label});
    // The upload thread waits for the first of a batch, then for a full one
    // (prepare_uploads); in between, queueing wakes nobody.
    wake = queued_.size() == 1 || queued_.size() == kUploadBatch;
  }
  if (wake) queue_cv_.notify_one();
}

void RemoteCache::prepare_uploads() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    queue_cv_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
    if (queued_.empty()) return;  // stopping, nothing left
    // A batch: kUploadBatch uploads, or what came within kUploadDelay of
    // the first, or what is left when the run ends.
    queue_cv_.wait_for(lock, kUploadDelay, [&] { return stopping_ || flushing_ || queued_.size() >= kUploadBatch; });
    std::deque<Queued> batch;
    batch.swap(queued_);
    preparing_ = true;
    lock.unlock();
    {
      // Each read and checked; then one signature for all of them (over
      // their Merkle root), and their transfers wake the transfer thread
      // once (HttpTransfers::Batch).
      std::vector<std::shared_ptr<Upload>> ready;
      for (const Queued& q : batch) {
        // Disabled (the breaker, an interrupted run, the end): dropped unstarted.
        std::string note;
        auto up = disabled_.load() ? nullptr : prepare_upload(q, &note);
        if (up)
          ready.push_back(std::move(up));
        else
          upload_ended(note.empty() ? note : q.label + ": " + note);
      }
      std::string note, bundle;
      if (!ready.empty() && !sign_batch(ready, &bundle, &note)) {
        for (std::size_t i = 0; i < ready.size(); ++i) upload_ended(i == 0 ? note : std::string());
        ready.clear();
      }
      HttpTransfers::Batch wake_once(*transfers_);
      // The bundle first: a reader that finds one of the entries then
      // mostly finds the bundle too (if not, it asks entry by entry).
      if (!bundle.empty()) start_bundle_upload(std::move(bundle));
      for (auto& up : ready) start_upload(up);
    }
    lock.lock();
    preparing_ = false;
    uploads_done_.notify_all();  // an interrupted finish_uploads() waits for this thread to leave transfers_ alone
  }
}

// On the upload thread (the blobs were just written, so reading the small
// ones costs little); sign_batch() and start_upload() follow.
std::shared_ptr<RemoteCache::Upload> RemoteCache::prepare_upload(const Queued& q, std::string* note) {
  const std::string& key_hex = q.key_hex;
  const CacheEntry& entry = q.entry;
  CacheStore& local = *q.local;
  auto up = std::make_shared<Upload>();
  up->key_hex = key_hex;
  up->payload = encode_cache_entry(key_hex, entry);
  std::vector<std::pair<Transfer, bool>>& blobs = up->blob_puts;
  for (const auto& hex : cache_entry_blobs(entry)) {
    auto digest = digest_from_hex(hex);
    if (!digest) return nullptr;
    const std::string path = local.blob_path(*digest);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (note) *note = fmt::format("remote cache: blob {} not uploaded: it is not in the local cache", hex.substr(0, 16));
      return nullptr;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > options_.max_blob) return nullptr;  // too large to share; the entry is not uploaded either
    // Read whole (PUT from memory); checks the digest, so a
    // damaged blob is not shared.
    auto read_checked = [&]() -> std::optional<std::string> {
      auto bytes = local.read_blob(*digest);
      if (!bytes) {
        if (note) *note = fmt::format("remote cache: blob {} not uploaded: {}", hex.substr(0, 16), bytes.error());
        return std::nullopt;
      }
      return std::move(*bytes);
    };
    Transfer put = request("PUT", "cas/" + hex);
    put.max_body = 4096;
    const bool compress = options_.zstd && size <= kCompressInMemory;
    if (size <= kPutWithoutAsking || compress) {
      auto bytes = read_checked();
      if (!bytes) return nullptr;
      std::optional<std::string> packed;
      if (compress) packed = zstd_compress(*bytes);
      if (packed) {
        // bazel-remote: the digest (and this size) name the plain bytes.
        put.headers.push_back("Content-Encoding: zstd");
        put.headers.push_back(fmt::format("X-Digest-SizeBytes: {}", size));
        put.body = std::move(*packed);
      } else {
        put.body = std::move(*bytes);
      }
      blobs.emplace_back(std::move(put), size > kPutWithoutAsking);
    } else {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (note) *note = fmt::format("remote cache: blob {} not uploaded: cannot read it", hex.substr(0, 16));
        return nullptr;
      }
      up->fds.push_back(fd);
      put.body_fd = fd;
      put.body_size = size;
      blobs.emplace_back(std::move(put), true);
    }
  }
  return up;
}

// One Ed25519 signature for the batch: a statement naming the Merkle root
// of the entries' leaves (merkle.h), each leaf the hash of the entry's DSSE
// PAE. Each entry's envelope carries the signed statement, its index and
// its inclusion proof; a reader checks it alone (fetch()).
bool RemoteCache::sign_batch(std::vector<std::shared_ptr<Upload>>& batch, std::string* bundle, std::string* note) {
  std::vector<Digest> leaves;
  leaves.reserve(batch.size());
  for (const auto& up : batch) leaves.push_back(merkle_leaf_hash(dsse_pae(kRemoteEntryType, up->payload)));
  nlohmann::json statement_payload{{"merkleRoot", to_hex(merkle_root(leaves))}, {"size", leaves.size()}};
  // The bundle of the batch's entries (remote_entry.h), named by the
  // statement; for a batch of one it would only repeat the entry.
  bundle->clear();
  if (batch.size() > 1) {
    std::vector<BundledEntry> entries;
    entries.reserve(batch.size());
    for (const auto& up : batch) entries.push_back({up->key_hex, up->payload});
    const std::string plain = encode_remote_bundle(entries);
    std::string bytes = plain.size() <= kMaxRemoteBundle ? pack_remote_bundle(plain) : std::string();
    if (!bytes.empty()) {
      statement_payload["bundle"] = to_hex(sha256(bytes));
      statement_payload["bundleSize"] = bytes.size();
      *bundle = std::move(bytes);
    }
  }
  auto statement = dsse_sign(kRemoteBatchType, statement_payload.dump(), {*options_.signer});
  if (!statement) {
    if (note) *note = "remote cache: cannot sign the entries: " + statement.error();
    return false;
  }
  const std::string statement_text = statement->dump();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Upload& up = *batch[i];
    up.envelope = encode_remote_entry({statement_text, i, merkle_proof(leaves, i), up.payload});
    up.payload.clear();
  }
  return true;
}

// On the upload thread; the transfers proceed on the transfer thread, and
// the upload's last transfer ends it.
void RemoteCache::start_upload(const std::shared_ptr<Upload>& up) {
  std::vector<std::pair<Transfer, bool>> blobs = std::move(up->blob_puts);
  up->blobs_left = blobs.size();
  if (blobs.empty()) return blob_uploaded(up, TransferResult{200, {}, false, false, {}, 0});
  // Each started transfer's callback may run before the next is started;
  // blobs_left counts them all from the start, so the entry waits for all.
  for (auto& [put, ask] : blobs) {
    if (!ask) {
      transfers_->start(std::move(put), [this, up](TransferResult&& r) {
        transfer_us_ += static_cast<std::uint64_t>(r.seconds * 1e6);
        if (stored(r.status)) bytes_up_ += r.wire_up;
        blob_uploaded(up, r);
      });
      continue;
    }
    Transfer head = request("HEAD", put.url.substr(options_.url.size() + 1));
    transfers_->start(std::move(head), [this, up, put = std::move(put)](TransferResult&& h) mutable {
      transfer_us_ += static_cast<std::uint64_t>(h.seconds * 1e6);
      if (h.status == 200 || disabled_.load() || up->failed) return blob_uploaded(up, h.status == 200 ? h : TransferResult{200, {}, false, false, {}, 0});
      if (h.status != 404 && h.status != 204 && h.status != 405) return blob_uploaded(up, h);
      transfers_->start(std::move(put), [this, up](TransferResult&& r) {
        transfer_us_ += static_cast<std::uint64_t>(r.seconds * 1e6);
        if (stored(r.status)) bytes_up_ += r.wire_up;
        blob_uploaded(up, r);
      });
    });
  }
}

void RemoteCache::lone_put_ended(const TransferResult& r) {
  transfer_us_ += static_cast<std::uint64_t>(r.seconds * 1e6);
  std::string note;
  if (stored(r.status))
    bytes_up_ += r.wire_up;
  else
    trip(failure(r, " on upload"), &note);
  upload_ended(note);
}

void RemoteCache::start_bundle_upload(std::string bundle) {
  if (disabled_.load()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++uploading_;
  }
  Transfer put = request("PUT", "cas/" + to_hex(sha256(bundle)));
  put.max_body = 4096;
  put.body = std::move(bundle);
  transfers_->start(std::move(put), [this](TransferResult&& r) { lone_put_ended(r); });
}

void RemoteCache::offer(const std::string& key_hex, std::function<Result<std::string>()> make) {
  if (disabled_.load() || !uploads() || !valid_hex(key_hex)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    ++uploading_;
  }
  Transfer head = request("HEAD", "ac/" + key_hex);
  transfers_->start(std::move(head), [this, key_hex, make = std::move(make)](TransferResult&& h) {
    transfer_us_ += static_cast<std::uint64_t>(h.seconds * 1e6);
    std::string note;
    if (h.status == 200 || disabled_.load()) return upload_ended("");
    if (h.status != 404 && h.status != 204 && h.status != 405) {
      trip(failure(h, " on upload"), &note);
      return upload_ended(note);
    }
    auto body = make();
    if (!body) return upload_ended(fmt::format("remote cache: {} was not stored: {}", key_hex.substr(0, 16), body.error()));
    Transfer put = request("PUT", "ac/" + key_hex);
    put.max_body = 4096;
    put.body = std::move(*body);
    transfers_->start(std::move(put), [this](TransferResult&& r) { lone_put_ended(r); });
  });
}

void RemoteCache::blob_uploaded(const std::shared_ptr<Upload>& up, const TransferResult& r) {
  if (!stored(r.status) && !up->failed) {
    up->failed = true;
    std::string note;
    trip(failure(r, " on upload"), &note);
    if (!note.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      late_notes_.push_back(std::move(note));
    }
  }
  if (up->blobs_left > 0 && --up->blobs_left > 0) return;
  if (up->failed || disabled_.load()) return upload_ended("");
  // Every blob is on the server: now the entry.
  Transfer put = request("PUT", "ac/" + up->key_hex);
  put.max_body = 4096;
  put.body = up->envelope;
  transfers_->start(std::move(put), [this, up](TransferResult&& r) {
    transfer_us_ += static_cast<std::uint64_t>(r.seconds * 1e6);
    std::string note;
    if (stored(r.status)) {
      bytes_up_ += r.wire_up;
      ++uploads_;
    } else {
      trip(failure(r, " on upload"), &note);
    }
    upload_ended(note);
  });
}

void RemoteCache::upload_ended(const std::string& warning) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!warning.empty()) late_notes_.push_back(warning);
  if (--uploading_ == 0) uploads_done_.notify_all();
}

std::vector<std::string> RemoteCache::finish_uploads(const std::atomic<bool>* interrupted) {
  auto stop = [&] { return interrupted && interrupted->load(); };
  {
    // What is queued goes now, without waiting for a batch to fill.
    std::lock_guard<std::mutex> lock(mu_);
    flushing_ = true;
  }
  queue_cv_.notify_all();
  {
    // The flag is polled: a signal handler can only set it.
    std::unique_lock<std::mutex> lock(mu_);
    while (uploading_ != 0 && !stop()) uploads_done_.wait_for(lock, std::chrono::milliseconds(50));
    if (uploading_ == 0) return std::exchange(late_notes_, {});
  }
  // Interrupted: queued uploads end unstarted, one being prepared first
  // finishes starting, and then what is in flight is aborted.
  disabled_ = true;
  {
    std::unique_lock<std::mutex> lock(mu_);
    uploading_ -= queued_.size();
    queued_.clear();
    uploads_done_.wait(lock, [&] { return !preparing_; });
  }
  transfers_.reset();  // aborts what is in flight; their callbacks end the uploads
  transfers_ = std::make_unique<HttpTransfers>(options_.connections);
  std::unique_lock<std::mutex> lock(mu_);
  uploads_done_.wait(lock, [&] { return uploading_ == 0; });
  return std::exchange(late_notes_, {});
}

RemoteCacheStats RemoteCache::stats() const {
  RemoteCacheStats s;
  s.hits = hits_.load();
  s.bundled = bundled_hits_.load();
  s.misses = misses_.load();
  s.uploads = uploads_.load();
  s.bytes_down = bytes_down_.load();
  s.bytes_up = bytes_up_.load();
  s.transfer_s = static_cast<double>(transfer_us_.load()) / 1e6;
  s.disabled = disabled_.load();
  return s;
}

}  // namespace wrt
