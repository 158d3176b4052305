// A remote cache shared by checkouts and CI runners, over Bazel's HTTP
// cache protocol so existing servers work (nginx with WebDAV PUT,
// bazel-remote): `<base>/ac/<key hex>` holds entries, `<base>/cas/<sha256
// hex>` blobs; GET 200 = hit, 404 (or 204) = miss; PUT stores.
//
// Local first, remote second: on a local miss the stage runner asks
// fetch(), which downloads the entry and every blob it names, checks each
// blob against its digest and the entry against its checksum, key and
// signature, and writes them into the local store; the hit is then served
// from there like any other. After a stage ran here and its entry was
// stored locally, upload() puts its blobs first and the entry last, so no
// reader sees an entry whose blobs are not there yet.
//
// Transfers. Every request goes through one HttpTransfers (curl multi, kept-
// alive connections shared by all threads). fetch() asks for the entry, then
// for all its missing blobs at once, streaming each into the local store
// (BlobReceiver: hashed on the way, published only when it matches), so no
// blob is held in memory. upload() only queues an upload and returns: the
// upload thread reads its blobs, signs it and starts its transfers, which
// proceed while the run goes on, and finish_uploads() waits for them at the
// end of the run. Small blobs travel inside the entry, as the local store
// keeps them (CacheEntry::inlined), so a stage with small outputs costs one
// request each way; other blobs up to kPutWithoutAsking bytes are PUT at
// once, larger ones only when a HEAD says the server lacks them.
//
// Trust. An entry on the server is the local entry's text signed with its
// upload batch (remote_entry.h): a DSSE statement (dsse.h), signed with the
// writer's Ed25519 key, names the Merkle root of the batch, and the entry
// carries its inclusion proof. Only entries under a statement signed by a
// key in `trusted` are read; unsigned, wrongly signed or damaged ones are a
// miss with a warning -- the server's storage is not trusted. Without a
// signing key nothing is uploaded.
//
// Bundles. A writer also puts each signed batch's entries into one CAS
// blob, a bundle (remote_entry.h), whose digest the batch statement names.
// The first trusted hit of a batch fetches its bundle (once per run) and
// keeps the entries it holds; a later lookup of one of those keys is then
// answered from it, without a request: a fresh checkout restoring 10,000
// stages asks the server ~10,000 / kUploadBatch times for bundles, not
// 10,000 times for entries. As trustworthy as asking: the bundle's bytes
// must hash to the digest the trusted signature covers, or it is not used
// (the entries are then asked for one by one, as without bundles).
//
// Never fails the run: an unreachable, slow or failing server (no answer,
// 5xx, 507, 401/403, garbage) gives one warning and the rest of the run is
// local only (a circuit breaker). A blob missing on the server is a miss.
// Thread-safe: stages call it from several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cache/cache_store.h"
#include "core/cache/remote_entry.h"
#include "core/util/http_transfers.h"
#include "core/util/dsse.h"

namespace wrt {

inline constexpr const char* kRemoteEntryType = "application/vnd.wrt.cache-entry.v1";
// The statement a batch of uploaded entries is signed by: {"merkleRoot":
// hex, "size": n} over the entries' leaves (merkle.h, sign_batch()), and
// for a batch of two or more {"bundle": hex, "bundleSize": n}, the batch's
// bundle (remote_entry.h). Readers ignore a bundle they cannot use.
inline constexpr const char* kRemoteBatchType = "application/vnd.wrt.cache-batch.v1";

struct RemoteCacheOptions {
  std::string url;                       // base, without a trailing slash
  std::vector<std::string> headers;      // "Name: value" (credentials: never printed)
  bool upload = true;
  std::vector<Ed25519Key> trusted;       // whose entries are read
  std::optional<Ed25519Key> signer;      // signs uploads; none: read only
  std::chrono::milliseconds timeout{30000};  // per request
  std::uint64_t max_blob = 1ull << 40;   // larger blobs are not transferred (a miss / not uploaded)
  int connections = 16;                  // at most this many requests at once
  // Blobs sent zstd-compressed (Content-Encoding: zstd, X-Digest-SizeBytes)
  // and asked for so (Accept-Encoding: zstd), as bazel-remote speaks it. A
  // plain WebDAV server would store the compressed bytes: readers then find
  // a digest mismatch (a miss), never a wrong result.
  bool zstd = false;
};

// Smaller blobs are uploaded without asking the server whether it has them:
// a HEAD costs a round trip, as much as the PUT of a small body.
inline constexpr std::uint64_t kPutWithoutAsking = 64u << 10;
// The upload thread takes queued uploads in batches: kUploadBatch, or what
// came within kUploadDelay of the first, or what is left at the end of the
// run. Each batch costs one wake-up of the upload thread and one of the
// transfer thread instead of one of each per upload: in a full run on a
// 2-CPU machine those wake-ups were most of the uploads' cost to wrt
// (2026-12-02, bench/README.md).
inline constexpr std::size_t kUploadBatch = 64;
inline constexpr std::chrono::milliseconds kUploadDelay{100};

// With zstd, blobs up to this size are compressed (in memory, on the
// stage's thread); larger ones go up as they are, streamed from the store.
inline constexpr std::uint64_t kCompressInMemory = 16u << 20;

struct RemoteCacheStats {
  std::uint64_t hits = 0;        // entries fetched into the local store
  std::uint64_t bundled = 0;     // of those, answered from a bundle (no request for the entry)
  std::uint64_t misses = 0;      // asked, not usable (absent, untrusted, a blob missing)
  std::uint64_t uploads = 0;     // entries put
  std::uint64_t bytes_down = 0;
  std::uint64_t bytes_up = 0;
  double transfer_s = 0;         // time spent in requests, summed over threads
  bool disabled = false;         // the circuit breaker tripped
};

// What the server answered when asked for an entry (RemoteCache::ask).
struct RemoteAnswer {
  bool asked = false;        // false: nothing was asked (disabled, a bad key): a miss
  TransferResult response;
  // Answered from a bundle already checked against its signed digest:
  // response.body is the entry's payload (status 200), no framing.
  bool bundled = false;
};

class RemoteCache {
 public:
  explicit RemoteCache(RemoteCacheOptions options);
  ~RemoteCache();
  RemoteCache(const RemoteCache&) = delete;
  RemoteCache& operator=(const RemoteCache&) = delete;

  // On a local miss: true when the entry for `key_hex` and all its blobs
  // are now in `local`. `note` gets one warning line when something was
  // wrong (an untrusted entry, a damaged blob, the server failing).
  // `fetched` (optional) gets the entry as stored locally, sparing a re-read.
  bool fetch(const std::string& key_hex, CacheStore& local, std::string* note,
             std::optional<CacheEntry>* fetched = nullptr);
  // fetch() in two steps, so that waiting for the server holds no thread:
  // ask() sends the request for the entry and returns; `answered` gets the
  // answer on the transfer thread (at once on this thread when nothing was
  // asked) and must only hand it on. Unless found(), the answer is a miss
  // or a failure that fetch() settles without I/O, on any thread; a found
  // entry still has its blobs to download and verify, which may wait.
  void ask(const std::string& key_hex, std::function<void(RemoteAnswer&&)> answered);
  static bool found(const RemoteAnswer& a) { return a.asked && a.response.status == 200; }
  // While one is alive, the asks this thread makes go out together when it
  // ends: one wake-up of the transfer thread (HttpTransfers::Batch). For a
  // caller that prepares several stages in a row; `remote` may be null.
  class AskBatch {
   public:
    explicit AskBatch(RemoteCache* remote) {
      if (remote) batch_.emplace(*remote->transfers_);
    }

   private:
    std::optional<HttpTransfers::Batch> batch_;
  };
  // The rest of fetch(), from ask()'s answer for `key_hex`.
  bool fetch(const std::string& key_hex, const RemoteAnswer& answer, CacheStore& local, std::string* note,
             std::optional<CacheEntry>* fetched = nullptr);

  // After the entry was stored locally: queues its upload and returns at
  // once. The upload thread then reads the blobs, signs the entry, puts the
  // blobs (those the server lacks) and then the signed entry: none of that
  // holds the caller's job slot. No-op when read only or disabled. `local`
  // must outlive finish_uploads(); a warning (a blob that cannot be read)
  // is returned by finish_uploads(), prefixed with `label` (the stage).
  void upload(const std::string& key_hex, const CacheEntry& entry, CacheStore& local, const std::string& label);
  // Waits until every upload queued has ended; returns the warnings they
  // gave (the breaker's, a blob that could not be read), each once. When
  // `*interrupted` is or becomes true (Ctrl-C), aborts what is left instead
  // of waiting for it: a hanging server must not hold an interrupted run
  // for the transfer timeout.
  std::vector<std::string> finish_uploads(const std::atomic<bool>* interrupted = nullptr);

  // For an object that needs to be on the server once, not per run (the
  // parsed wrt.toml: remote_model.h): a HEAD of `ac/<key_hex>`, and only
  // if the server has none there, a PUT of what `make` builds -- called on
  // the transfer thread, once per such object. Counted as an upload:
  // finish_uploads() waits for it, or aborts it when interrupted; a failing
  // server trips the breaker as an upload does. Nothing without uploads().
  void offer(const std::string& key_hex, std::function<Result<std::string>()> make);

  RemoteCacheStats stats() const;
  bool uploads() const { return options_.upload && options_.signer.has_value(); }
  // The URL without credentials (user:password@ removed), for messages.
  std::string display_url() const;
  const RemoteCacheOptions& options() const { return options_; }

 private:
  struct Upload;
  struct Queued;
  // The upload thread: prepares queued uploads, a batch at a time.
  void prepare_uploads();
  // Reads and checks the blobs and inlines the small ones; null when the
  // entry cannot be uploaded (`note` says why, when it is worth a warning).
  std::shared_ptr<Upload> prepare_upload(const Queued& q, std::string* note);
  // Signs a batch of prepared uploads at once (Merkle root); false when it
  // cannot (`note` says why). `bundle` gets the batch's bundle, whose digest
  // the statement names (empty: none, for a batch of one or too large).
  bool sign_batch(std::vector<std::shared_ptr<Upload>>& batch, std::string* bundle, std::string* note);
  // Puts a signed batch's bundle (an upload of its own for finish_uploads()).
  void start_bundle_upload(std::string bundle);
  // The end of a PUT that is an upload of its own (a bundle, an offered
  // object): its time and bytes counted, a failure trips the breaker.
  void lone_put_ended(const TransferResult& r);
  // Starts the blobs' transfers, then the entry's.
  void start_upload(const std::shared_ptr<Upload>& up);
  Transfer request(const std::string& method, const std::string& path) const;
  Transfer entry_request(const std::string& key_hex) const;  // GET ac/<key>
  // Batch statements already checked (check_batched()), by their bytes: a
  // root and size, or why the statement is not trusted; and the bundle
  // the statement names, if any.
  struct BatchStatement {
    Digest root{};
    std::uint64_t size = 0;
    std::string problem;
    std::optional<Digest> bundle;
    std::uint64_t bundle_size = 0;
  };
  // A batch statement's bytes, parsed and its signature verified (once:
  // cached by the bytes).
  BatchStatement statement_for(std::string_view bytes);
  // An entry signed with its batch (sign_batch(), remote_entry.h): its
  // payload when the batch statement is signed by a trusted key and the
  // entry's Merkle proof leads to the statement's root; else `problem`
  // says why.
  std::optional<std::string_view> check_batched(const RemoteEntry& framed, std::string* problem);
  // On an entry's arrival (the transfer thread): when its batch statement
  // is trusted and names a bundle not asked for yet, asks for it;
  // bundle_arrived() keeps its entries for take_bundled() if its bytes
  // hash to the signed digest.
  void prefetch_bundle(std::string_view entry_body);
  void bundle_arrived(const Digest& digest, std::uint64_t size, const TransferResult& r);
  // The payload for `key_hex` from a loaded bundle (removed: a key is
  // looked up once a run), if one held it.
  std::optional<std::string> take_bundled(const std::string& key_hex);
  std::optional<std::string> take_bundled_locked(const std::string& key_hex);  // bundles_mu_ held
  // ask()'s request, and what follows when it ended (the next waiting ask).
  void send_ask(const std::string& key_hex, std::function<void(RemoteAnswer&&)> answered);
  void ask_ended();
  // Trips the breaker (first time: fills `note`).
  void trip(const std::string& why, std::string* note);
  // An upload's blob transfers ended: the entry goes up when all succeeded.
  void blob_uploaded(const std::shared_ptr<Upload>& up, const TransferResult& r);
  void upload_ended(const std::string& warning);

  RemoteCacheOptions options_;
  std::atomic<bool> disabled_{false};
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, uploads_{0}, bytes_down_{0}, bytes_up_{0}, transfer_us_{0};
  std::mutex mu_;  // guards the two below
  std::condition_variable uploads_done_;
  std::size_t uploading_ = 0;            // uploads queued or started, not ended
  std::vector<std::string> late_notes_;  // what they had to say
  std::deque<Queued> queued_;            // waiting for the upload thread
  std::condition_variable queue_cv_;
  bool stopping_ = false;
  bool flushing_ = false;                // finish_uploads(): no more batching
  bool preparing_ = false;               // the upload thread is preparing or starting uploads
  std::thread preparer_;                 // joined in the destructor, before transfers_ goes
  std::mutex statements_mu_;
  struct StatementHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, BatchStatement, StatementHash, std::equal_to<>> statements_;
  // Bundles asked for (each once a run), and the entries of those loaded
  // not yet taken, with their bytes (at most kMaxBundled: a run that never
  // asks for most keys of the bundles it loads must not grow without end).
  std::mutex bundles_mu_;
  std::unordered_set<std::string> bundles_asked_;  // by digest hex
  std::unordered_map<std::string, std::string> bundled_;  // key hex -> payload
  std::uint64_t bundled_bytes_ = 0;
  std::atomic<std::uint64_t> bundled_hits_{0};
  // At most options_.connections asks are sent at once; the others wait
  // here, not in curl's queue, so that a bundle's request is not queued
  // behind the very asks it would answer, and an ask that waited is
  // answered from a bundle that came meanwhile (ask_ended()).
  struct PendingAsk {
    std::string key_hex;
    std::function<void(RemoteAnswer&&)> answered;
  };
  std::deque<PendingAsk> pending_asks_;
  int asks_in_flight_ = 0;
  static constexpr std::uint64_t kMaxBundled = 64u << 20;
  // Last member: destroyed first, so no transfer outlives what it uses.
  std::unique_ptr<HttpTransfers> transfers_;
};

}  // namespace wrt
