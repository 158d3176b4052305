// The content-addressed cache store shared by runs, checkouts and CI machines.
//
// Layout under the cache directory:
//   blobs/ab/abcdef…      file contents, named by their SHA-256
//   entries/ab/abcdef…    one entry per cache key: a header line
//                         "wrt-entry 3 <sha256 of the body>", a JSON line
//                         that names its own key, then the contents of the
//                         small blobs it carries inline (CacheEntry::inlined)
//   tmp/                  temp files, renamed into place (atomic publish)
//   size-estimate         the store's size as last measured plus what
//                         writers added since (over_limit(); decides only
//                         when gc runs)
//   lock                  flock: runs hold it shared, gc/verify exclusive
// Every write is temp file + rename, so a crash or a concurrent writer never
// leaves a half-written blob or entry; two processes writing the same key
// write the same content. Every blob is checked against its digest when it is
// restored, and every entry against its checksum and key when it is read; a
// mismatch is reported as corruption and the entry is a miss. Entries are
// write-once: a second, different result for a key never replaces the first
// (put_entry reports the difference: the stage is not deterministic).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/hash.h"
#include "core/cache/output_tree.h"
#include "core/util/result.h"

namespace wrt {

// One path of a stage's outputs: a regular file (content in a blob), a
// symlink (its target text; digest = symlink_digest(target)) or an empty
// directory (zero digest).
struct CachedFile {
  CachedFile() = default;
  CachedFile(std::string p, const Digest& d, std::uint64_t sz, bool exec, OutputKind k = OutputKind::kFile,
             std::string link_target = {})
      : path(std::move(p)), digest(d), size(sz), executable(exec), kind(k), target(std::move(link_target)) {}
  std::string path;      // workspace-relative
  Digest digest{};
  std::uint64_t size = 0;
  bool executable = false;
  OutputKind kind = OutputKind::kFile;
  std::string target;    // symlinks only
  // Files only: the content travels inside the cache entry
  // (CacheEntry::inlined), not as a blob. How a result is stored, not what
  // it is: same_output() ignores it.
  bool inlined = false;
  bool operator==(const CachedFile&) const = default;
};

// The same output (path, kind, content, mode, target), however stored.
bool same_output(const CachedFile& a, const CachedFile& b);

// A small blob carried inside its entry. A fresh checkout then restores a
// small output from the entry it has read anyway (no blob to open), and a
// remote hit writes one file into the local store instead of one per blob
// (bench/README, seventeenth session). Bazel's remote API does the same
// with ActionResult's inline outputs.
struct InlinedBlob {
  Digest digest{};
  std::string bytes;
};
// Limits: a blob of at most kEntryInlineBlob bytes is inlined while the
// entry's inlined bytes stay within kEntryInlineTotal; larger ones are blobs.
inline constexpr std::uint64_t kEntryInlineBlob = 16u << 10;
inline constexpr std::uint64_t kEntryInlineTotal = 64u << 10;

struct CacheEntry {
  nlohmann::json result;            // the stage's recorded result (status, metrics, …)
  std::vector<CachedFile> outputs;  // sorted by path
  std::optional<Digest> log;        // the stage log as a blob
  // How the log blob is encoded: "" (plain) or "zstd"; `log_truncated` says
  // only the end of a large log was kept.
  std::string log_encoding;
  bool log_truncated = false;
  bool log_inlined = false;  // the log's content is in `inlined`
  // The contents of the inlined blobs (CachedFile::inlined, log_inlined),
  // each once, sorted by digest; checked against their digests when the
  // entry is read.
  std::vector<InlinedBlob> inlined;
  std::uint64_t inlined_bytes = 0;  // their sizes added up

  // Takes `bytes` (content `digest`) into `inlined` when it is small enough
  // and the entry's budget allows, or when it is there already; false: store
  // it as a blob instead.
  bool offer_inline(const Digest& digest, std::string_view bytes);
  // The inlined content `digest`, or null.
  const std::string* inlined_content(const Digest& digest) const;
};

// What put_entry did. A different entry already stored for the key is kept;
// `differences` then names what differs (output paths, or "status").
struct PutEntryOutcome {
  bool stored = false;        // this call published the entry
  bool replaced_corrupt = false;
  std::vector<std::string> differences;
};

struct CacheStats {
  std::uint64_t entries = 0;
  std::uint64_t blobs = 0;
  std::uint64_t bytes = 0;          // blobs + entries on disk
  std::uint64_t max_bytes = 0;
};

struct GcResult {
  std::uint64_t entries_removed = 0;
  std::uint64_t blobs_removed = 0;
  std::uint64_t bytes_before = 0;
  std::uint64_t bytes_after = 0;
};

struct VerifyResult {
  std::uint64_t blobs_checked = 0;
  std::uint64_t entries_checked = 0;
  std::vector<std::string> problems;  // one line each; the bad files are removed
};

class CacheStore;

// A blob arriving from elsewhere (the remote cache) piece by piece, into a
// temp file of the store, hashed on the way: commit() publishes it only when
// the bytes hash to the digest expected, so nothing unverified ever sits
// under a blob's name. Destroyed uncommitted, the temp file is removed.
// Not thread-safe; write() and commit() may run on different threads one
// after the other.
class BlobReceiver {
 public:
  ~BlobReceiver();
  BlobReceiver(const BlobReceiver&) = delete;
  BlobReceiver& operator=(const BlobReceiver&) = delete;

  Status write(const char* data, std::size_t size);
  std::uint64_t size() const { return size_; }
  // Error when the content is not `expected` (nothing published) or the
  // file cannot be written.
  Status commit(const Digest& expected);

 private:
  friend class CacheStore;
  BlobReceiver(CacheStore& store, std::filesystem::path path, int fd);
  CacheStore& store_;
  std::filesystem::path path_;
  int fd_;
  Sha256 hash_;
  std::uint64_t size_ = 0;
};

class CacheStore {
 public:
  CacheStore(std::filesystem::path dir, std::uint64_t max_bytes);
  ~CacheStore();
  CacheStore(const CacheStore&) = delete;
  CacheStore& operator=(const CacheStore&) = delete;

  // Creates the layout if needed and takes the shared lock. Error names the
  // directory. Must be called before anything else.
  Status open();
  const std::filesystem::path& dir() const { return dir_; }

  // Copies a file into the store (hashing while copying); returns its digest.
  // Thread-safe.
  Result<Digest> put_file(const std::filesystem::path& file);
  Result<Digest> put_bytes(std::string_view data);
  // Starts receiving a blob (BlobReceiver above). Thread-safe.
  Result<std::unique_ptr<BlobReceiver>> receive_blob();
  bool has_blob(const Digest& digest) const;

  // Writes blob `digest` to `dest` (atomic: temp beside dest + rename),
  // creating parent directories, checking the content's digest on the way.
  // A corrupt blob is deleted and the error says so. Thread-safe.
  Status restore_file(const Digest& digest, const std::filesystem::path& dest, bool executable);
  // The same, into `name` inside the open directory `dir_fd`: with
  // open_dir_beneath this never follows a symlink in the workspace. When
  // `name` does not exist it is created in place (O_EXCL, as tar and
  // compilers write outputs: a rename per restore costs a fresh checkout
  // about a tenth of its time) and removed again if the blob turns out
  // corrupt or a write fails; a killed restore can leave it short, which
  // the next run's digest check sees. An existing `name` is replaced
  // atomically (temp file in that directory + renameat), so an output in
  // place is never seen half rewritten.
  // `written`, when given, receives the restored file's stat taken on its
  // descriptor when it was created in place (nothing renamed after it, which
  // would change its ctime); else it is left empty. Saves the caller a stat
  // by path.
  Status restore_file_at(const Digest& digest, int dir_fd, const std::string& name, bool executable,
                         std::string_view display_path, std::optional<struct stat>* written = nullptr);
  // The same for a file output of `entry`: from the content the entry
  // carries for its digest (checked when the entry was read), else from its
  // blob.
  Status restore_output_at(const CacheEntry& entry, const CachedFile& file, int dir_fd, const std::string& name,
                           std::optional<struct stat>* written = nullptr);
  // The content of the entry's log, inlined or from its blob (checked).
  Result<std::string> read_log(const CacheEntry& entry);
  Result<std::string> read_blob(const Digest& digest);
  // Where blob `digest` lives (present or not), for streaming it out as it
  // is (the remote cache's uploads). Never write there: use put_*.
  std::filesystem::path blob_path(const Digest& d) const;

  // Publishes an entry; its blobs must already be stored. Write-once: when an
  // intact entry for the key exists it is kept, and the outcome lists how the
  // new one differs (empty: same result). A corrupt one is replaced.
  // Thread-safe and safe between processes (link(2) publishes).
  // `blobs_checked`: the caller has just stored or found every blob the
  // entry names, under this store's shared lock (nothing can have removed
  // them since), so they are not looked up again.
  // `encoded`, when not empty, is the entry's stored form as
  // decode_cache_entry() just read it into `entry` (a remote hit): written
  // as it is instead of being encoded again.
  Result<PutEntryOutcome> put_entry(const std::string& key_hex, const CacheEntry& entry, bool blobs_checked = false,
                                    std::string_view encoded = {});
  // The entry for a key, or nullopt when absent, unparsable or missing any of
  // its blobs (then `warning` says which, if it was not simply absent).
  // Marks the entry as recently used. Thread-safe.
  std::optional<CacheEntry> get_entry(const std::string& key_hex, std::string* warning);
  // Marks an entry as recently used without reading it (for hits answered
  // from the workspace's run index). False if the entry or one of `blobs`
  // is not in the store. With `modify` false it only checks (dry runs).
  bool touch_entry(const std::string& key_hex, const std::vector<Digest>& blobs, bool modify = true);
  // Names this store and the last time anything removed an entry or blob
  // from it (gc, verify, a reader that found one corrupt), as read by
  // open(). A run index that recorded another mark must re-check that the
  // store still holds its entries: it is another store, or entries it
  // trusted may be gone.
  const std::string& removal_mark() const;

  CacheStats stats() const;
  // Removes least-recently-used entries until the store is at most
  // `max_bytes`, then every blob no remaining entry references. Takes the
  // exclusive lock (waits for running wrt processes sharing the store).
  Result<GcResult> gc(std::uint64_t max_bytes);
  // Re-hashes every blob, checks every entry's checksum, key and blobs;
  // removes what is bad.
  Result<VerifyResult> verify();

  // Total size above the configured cap? Cheap: judged from the
  // size-estimate file (walked again when it is missing, damaged or a day
  // old) plus what this process wrote, which it adds to the file. Used to
  // trigger gc; no result depends on it.
  bool over_limit() const;

 private:
  friend class BlobReceiver;
  std::filesystem::path entry_path(const std::string& key_hex) const;
  // Publishes a new removal mark (see removal_mark()).
  void note_removal();
  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
  int lock_fd_ = -1;
  // In-process exclusion of gc/verify against other threads (flock only
  // excludes other processes) and the running size estimate.
  struct State;
  std::unique_ptr<State> state_;
};

// An entry's stored form ("wrt-entry 3 <sha256 of body>\n<body>", the body
// naming its key and carrying the inlined blobs), the same text for the same
// entry: what the remote cache transfers and signs (remote_cache.h).
std::string encode_cache_entry(const std::string& key_hex, const CacheEntry& entry);
// Parses and checks it (checksum, key, paths, each inlined blob against its
// digest); nullopt with `why` otherwise.
std::optional<CacheEntry> decode_cache_entry(const std::string& key_hex, const std::string& text, std::string* why);
// The same through the general JSON reader alone. decode_cache_entry first
// tries a reader of exactly the JSON encode_cache_entry writes and falls
// back to this one; tests hold the two to the same answers.
std::optional<CacheEntry> decode_cache_entry_general(const std::string& key_hex, const std::string& text,
                                                     std::string* why);
// The blobs (hex digests) an entry needs from the blob store (not those it
// carries inline), each once, sorted.
std::vector<std::string> cache_entry_blobs(const CacheEntry& entry);

// "5GiB", "500MB", "1024" (bytes) -> bytes. Error text on bad input.
Result<std::uint64_t> parse_size(std::string_view text);
std::string format_size(std::uint64_t bytes);

}  // namespace wrt
