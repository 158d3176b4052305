// Many HTTP requests at once over libcurl's multi interface, for the remote
// cache: one thread drives every transfer, connections are kept alive and
// shared between them (at most `max_connections` to a host, the rest wait
// their turn inside curl), and a caller either waits for a batch (run) or
// is called back when a transfer ends (start). libcurl is loaded on first
// use (curl_library.h); without it every transfer ends at once, with the
// reason as its error, on the calling thread.
//
// Threads. start() and run() may be called from any thread, also from a
// `done` callback. Callbacks and body sinks run on the transfer thread: they
// must be short and must not wait for other transfers. The transfer thread
// starts on first use; the destructor aborts what is still in flight (each
// ends with error "aborted") and joins it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wrt {

struct Transfer {
  std::string method = "GET";      // GET | HEAD | PUT
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // PUT: the body is `body`, or -- when body_fd >= 0 -- `body_size` bytes
  // read from body_fd (kept open by the caller until the transfer ended).
  std::string body;
  int body_fd = -1;
  std::uint64_t body_size = 0;
  // GET: the response body goes to `sink` when set (return false to abort
  // the transfer), else into TransferResult::body up to max_body bytes.
  std::function<bool(const char*, std::size_t)> sink;
  std::size_t max_body = 4u << 20;
  // Ask for a zstd-encoded answer (Accept-Encoding: zstd); libcurl decodes
  // it, so sinks and bodies always see the plain bytes. Not asked when this
  // libcurl was built without zstd.
  bool accept_zstd = false;
  std::chrono::milliseconds timeout{30000};  // the whole exchange
};

struct TransferResult {
  int status = 0;          // 0: no answer (see error)
  std::string body;        // without a sink: at most max_body bytes
  bool truncated = false;  // the body was longer than max_body
  bool aborted = false;    // the sink refused more, or the transfers were shut down
  std::string error;       // why there was no answer
  double seconds = 0;      // from start to end
  std::uint64_t wire_down = 0, wire_up = 0;  // body bytes as sent (compressed, if they were)
};

class HttpTransfers {
 public:
  explicit HttpTransfers(int max_connections = 16);
  ~HttpTransfers();
  HttpTransfers(const HttpTransfers&) = delete;
  HttpTransfers& operator=(const HttpTransfers&) = delete;

  // Starts `t`; `done` gets its result on the transfer thread.
  void start(Transfer t, std::function<void(TransferResult&&)> done);

  // While one is alive, start() on this thread does not wake the transfer
  // thread for each transfer; it is woken once, when the Batch ends. On
  // this small a machine a wake-up is the dear part of a small request (a
  // write to curl's wake-up socket, a poll that returns, an interrupt to the
  // other CPU): an upload thread starting a few dozen at once saves all but
  // one. Nests; the transfers of one HttpTransfers only.
  class Batch {
   public:
    explicit Batch(HttpTransfers& transfers);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    // The innermost of `from` and its outer Batches that is for `transfers`.
    static Batch* of(Batch* from, const HttpTransfers& transfers);
    HttpTransfers& transfers_;
    Batch* outer_;
    bool wake_ = false;
    friend class HttpTransfers;
  };
  // Runs every transfer of `batch` at once; returns their results in order.
  std::vector<TransferResult> run(std::vector<Transfer> batch);
  // How often the transfer thread was woken for new work so far (tests).
  std::uint64_t wakeups() const { return wakeups_.load(); }
  // True when libcurl could not be loaded (error() says why); every
  // transfer then ends at once with that error.
  const std::string& error() const;

  struct Job;  // one transfer in flight (internal)

 private:
  void loop();
  void finish(Job* job, int curl_code);
  void wake();  // the transfer thread: new work is queued (under mu_)

  const int max_connections_;
  std::mutex mu_;
  std::deque<std::unique_ptr<Job>> queued_;
  bool stopping_ = false;
  void* multi_ = nullptr;  // CURLM*, created by the first start()
  // Ended transfers' easy handles, reset and reused (transfer thread only):
  // a fresh handle allocates its buffers anew, a page fault or more each.
  std::vector<void*> spare_;
  std::thread thread_;
  std::atomic<std::uint64_t> wakeups_{0};
  std::thread::id loop_id_;  // the transfer thread's (set before it takes work)
};

}  // namespace wrt
