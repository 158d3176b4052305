#include "core/util/http_transfers.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <unordered_set>

#include "core/util/blocking_region.h"
#include "core/util/curl_library.h"
#include "core/util/thread_name.h"

namespace wrt {

using Clock = std::chrono::steady_clock;

struct HttpTransfers::Job {
  Transfer t;
  std::function<void(TransferResult&&)> done;
  TransferResult r;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::uint64_t sent = 0;  // PUT: body bytes handed to curl so far
  Clock::time_point t0 = Clock::now();
  char error[CURL_ERROR_SIZE] = {0};
};

namespace {

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* job = static_cast<HttpTransfers::Job*>(user);
  const size_t bytes = size * n;
  if (job->t.sink) {
    if (!job->t.sink(data, bytes)) {
      job->r.aborted = true;
      return 0;  // curl ends the transfer (CURLE_WRITE_ERROR)
    }
    return bytes;
  }
  const size_t room = job->t.max_body - std::min(job->t.max_body, job->r.body.size());
  job->r.body.append(data, std::min(bytes, room));
  if (bytes > room) job->r.truncated = true;
  return bytes;
}

size_t on_read(char* buffer, size_t size, size_t n, void* user) {
  // A body streamed from a file (in-memory bodies go as post fields).
  auto* job = static_cast<HttpTransfers::Job*>(user);
  const size_t want = static_cast<size_t>(std::min<std::uint64_t>(size * n, job->t.body_size - job->sent));
  if (want == 0) return 0;
  for (;;) {
    ssize_t got = ::pread(job->t.body_fd, buffer, want, static_cast<off_t>(job->sent));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return CURL_READFUNC_ABORT;  // the file shrank or cannot be read
    job->sent += static_cast<std::uint64_t>(got);
    return static_cast<size_t>(got);
  }
}

bool curl_has_zstd() {
  static const bool has = [] {
    const curl_version_info_data* v = curl_library().version_info(CURLVERSION_NOW);
    return v && (v->features & CURL_VERSION_ZSTD) != 0;
  }();
  return has;
}

// The innermost live Batch of this thread (HttpTransfers::Batch).
thread_local HttpTransfers::Batch* t_batch = nullptr;

}  // namespace

HttpTransfers::Batch* HttpTransfers::Batch::of(Batch* from, const HttpTransfers& transfers) {
  for (Batch* b = from; b; b = b->outer_)
    if (&b->transfers_ == &transfers) return b;
  return nullptr;
}

HttpTransfers::Batch::Batch(HttpTransfers& transfers) : transfers_(transfers), outer_(t_batch) { t_batch = this; }

HttpTransfers::Batch::~Batch() {
  t_batch = outer_;
  if (!wake_) return;
  // An outer Batch of the same transfers wakes for this one's, later.
  if (Batch* outer = of(outer_, transfers_)) {
    outer->wake_ = true;
    return;
  }
  std::lock_guard<std::mutex> lock(transfers_.mu_);
  transfers_.wake();
}

void HttpTransfers::wake() {
  if (!multi_) return;
  ++wakeups_;
  curl_library().multi_wakeup(static_cast<CURLM*>(multi_));
}

HttpTransfers::HttpTransfers(int max_connections) : max_connections_(std::max(1, max_connections)) {}

const std::string& HttpTransfers::error() const { return curl_library().error; }

HttpTransfers::~HttpTransfers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    wake();
  }
  if (thread_.joinable()) thread_.join();
  // Queued after the thread stopped taking work.
  std::deque<std::unique_ptr<Job>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(queued_);
  }
  for (auto& job : left) {
    job->r.aborted = true;
    job->r.error = "aborted";
    if (job->done) job->done(std::move(job->r));
  }
  for (void* c : spare_) curl_library().easy_cleanup(static_cast<CURL*>(c));
  if (multi_) curl_library().multi_cleanup(static_cast<CURLM*>(multi_));
}

void HttpTransfers::start(Transfer t, std::function<void(TransferResult&&)> done) {
  auto job = std::make_unique<Job>();
  job->t = std::move(t);
  job->done = std::move(done);
  const CurlLibrary& lib = curl_library();
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (lib.error.empty() && !stopping_) {
      if (!multi_) {
        multi_ = lib.multi_init();
        if (multi_) {
          auto* m = static_cast<CURLM*>(multi_);
          lib.multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(max_connections_));
          lib.multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(max_connections_));
          lib.multi_setopt(m, CURLMOPT_MAXCONNECTS, static_cast<long>(max_connections_));
          thread_ = std::thread([this] {
            name_this_thread("wrt-http");
            loop();
          });
          loop_id_ = thread_.get_id();  // under mu_, which loop() takes first
        }
      }
      if (multi_) {
        queued_.push_back(std::move(job));
        // On the transfer thread (a callback starting a follow-up) the loop
        // takes it before it polls again; within a Batch, the Batch wakes.
        if (std::this_thread::get_id() == loop_id_) return;
        if (Batch* batch = Batch::of(t_batch, *this))
          batch->wake_ = true;
        else
          wake();
        return;
      }
    }
  }
  // No transfer thread to take it: ends here and now.
  job->r.error = !lib.error.empty() ? lib.error : stopping_ ? "aborted" : "cannot create a libcurl multi handle";
  job->r.aborted = stopping_;
  if (job->done) job->done(std::move(job->r));
}

std::vector<TransferResult> HttpTransfers::run(std::vector<Transfer> batch) {
  if (batch.empty()) return {};  // nothing to wait for (a remote hit whose blobs are all inline)
  std::vector<TransferResult> results(batch.size());
  std::mutex mu;
  std::condition_variable cv;
  std::size_t left = batch.size();
  for (std::size_t i = 0; i < batch.size(); ++i)
    start(std::move(batch[i]), [&, i](TransferResult&& r) {
      std::lock_guard<std::mutex> lock(mu);
      results[i] = std::move(r);
      if (--left == 0) cv.notify_all();
    });
  // A pool thread that waits here lets another run (blocking_region.h).
  BlockingRegion waiting;
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return left == 0; });
  return results;
}

void HttpTransfers::finish(Job* job, int code) {
  const CurlLibrary& lib = curl_library();
  if (code == CURLE_OK) {
    long status = 0;
    lib.easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
    job->r.status = static_cast<int>(status);
    curl_off_t down = 0, up = 0;
    lib.easy_getinfo(job->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
    lib.easy_getinfo(job->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    job->r.wire_down = static_cast<std::uint64_t>(std::max<curl_off_t>(0, down));
    job->r.wire_up = static_cast<std::uint64_t>(std::max<curl_off_t>(0, up));
  } else if (job->r.aborted) {
    job->r.error = "aborted";
  } else {
    job->r.error = job->error[0] ? job->error : lib.easy_strerror(static_cast<CURLcode>(code));
  }
  job->r.seconds = std::chrono::duration<double>(Clock::now() - job->t0).count();
  lib.multi_remove_handle(static_cast<CURLM*>(multi_), job->easy);
  if (spare_.size() < static_cast<std::size_t>(2 * max_connections_)) spare_.push_back(job->easy);
  else lib.easy_cleanup(job->easy);
  lib.slist_free_all(job->headers);
  job->easy = nullptr;
  job->headers = nullptr;
  std::unique_ptr<Job> owned(job);
  if (owned->done) owned->done(std::move(owned->r));
}

void HttpTransfers::loop() {
  const CurlLibrary& lib = curl_library();
  auto* multi = static_cast<CURLM*>(multi_);
  std::unordered_set<Job*> active;
  for (;;) {
    std::deque<std::unique_ptr<Job>> incoming;
    bool stop = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      incoming.swap(queued_);
      stop = stopping_;
    }
    if (stop) {
      for (auto& job : incoming) queued_.push_back(std::move(job));  // the destructor ends them
      for (Job* job : std::vector<Job*>(active.begin(), active.end())) {
        job->r.aborted = true;
        finish(job, CURLE_ABORTED_BY_CALLBACK);
      }
      return;
    }
    for (auto& owned : incoming) {
      Job* job = owned.release();
      const Transfer& t = job->t;
      CURL* c = nullptr;
      if (!spare_.empty()) {
        c = static_cast<CURL*>(spare_.back());
        spare_.pop_back();
        lib.easy_reset(c);
      } else {
        c = lib.easy_init();
      }
      if (!c) {
        job->r.error = "cannot create a libcurl handle";
        std::unique_ptr<Job> gone(job);
        if (gone->done) gone->done(std::move(gone->r));
        continue;
      }
      job->easy = c;
      for (const auto& h : t.headers) job->headers = lib.slist_append(job->headers, h.c_str());
      curl_set_common(lib, c, t.url, static_cast<long>(t.timeout.count()));
      lib.easy_setopt(c, CURLOPT_PRIVATE, job);
      lib.easy_setopt(c, CURLOPT_ERRORBUFFER, job->error);
      lib.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
      lib.easy_setopt(c, CURLOPT_WRITEDATA, job);
      if (t.accept_zstd && curl_has_zstd()) lib.easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "zstd");
      if (t.method == "HEAD") {
        lib.easy_setopt(c, CURLOPT_NOBODY, 1L);
      } else if (t.method == "PUT") {
        // No "Expect: 100-continue": a round trip per upload, for nothing
        // when the server takes the body anyway.
        job->headers = lib.slist_append(job->headers, "Expect:");
        if (t.body_fd >= 0) {
          lib.easy_setopt(c, CURLOPT_UPLOAD, 1L);
          lib.easy_setopt(c, CURLOPT_READFUNCTION, on_read);
          lib.easy_setopt(c, CURLOPT_READDATA, job);
          lib.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t.body_size));
        } else {
          // A body in memory goes as "post fields" of a PUT: libcurl then
          // sends a small one in the same packet as the headers (one send,
          // one server wake-up), where an upload through the read callback
          // costs two -- for each of a run's thousands of entries.
          lib.easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
          lib.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.body.size()));
          lib.easy_setopt(c, CURLOPT_POSTFIELDS, t.body.data());
        }
      } else {
        lib.easy_setopt(c, CURLOPT_HTTPGET, 1L);
      }
      lib.easy_setopt(c, CURLOPT_HTTPHEADER, job->headers);
      if (lib.multi_add_handle(multi, c) != CURLM_OK) {
        job->r.error = "cannot start the transfer";
        lib.easy_cleanup(c);
        lib.slist_free_all(job->headers);
        std::unique_ptr<Job> gone(job);
        if (gone->done) gone->done(std::move(gone->r));
        continue;
      }
      active.insert(job);
    }
    int running = 0;
    lib.multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = lib.multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Job* job = nullptr;
      lib.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &job);
      const CURLcode code = msg->data.result;  // msg is invalid after the handle is removed
      active.erase(job);
      finish(job, code);
    }
    // Callbacks may have started follow-ups (start() on this thread does
    // not wake it): those go out before waiting.
    bool more = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      more = !queued_.empty() || stopping_;
    }
    if (!more) lib.multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
}

}  // namespace wrt
