#include "core/util/http_client.h"

#include "core/util/curl_library.h"


#include <algorithm>
#include <cctype>

namespace wrt {

namespace {

struct Sink {
  HttpResponse* response;
  std::size_t max_body;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  auto* r = sink->response;
  const size_t bytes = size * n;
  const size_t room = sink->max_body - std::min(sink->max_body, r->body.size());
  r->body.append(data, std::min(bytes, room));
  if (bytes > room) r->truncated = true;
  return bytes;
}

// One handle per thread, reset between requests: libcurl keeps the
// handle's connection cache, so a thread's next request to the same server
// reuses the connection. Cleaned up when the thread ends.
struct ThreadHandle {
  CURL* handle = nullptr;
  ~ThreadHandle() {
    if (handle) curl_library().easy_cleanup(handle);
  }
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Sink*>(user)->response;
  const size_t bytes = size * n;
  std::string line(data, bytes);
  const std::string name = "retry-after:";
  if (line.size() > name.size()) {
    std::string head = line.substr(0, name.size());
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
    if (head == name) {
      std::string v = line.substr(name.size());
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.erase(0, 1);
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
      r->retry_after = v;
    }
  }
  return bytes;
}

}  // namespace

HttpResponse http_request(const HttpRequest& q) {
  HttpResponse r;
  const CurlLibrary& lib = curl_library();
  if (!lib.error.empty()) {
    r.error = lib.error;
    return r;
  }
  thread_local ThreadHandle mine;
  if (!mine.handle) mine.handle = lib.easy_init();
  CURL* c = mine.handle;
  if (!c) {
    r.error = "cannot create a libcurl handle";
    return r;
  }
  lib.easy_reset(c);
  Sink sink{&r, q.max_body};
  curl_slist* headers = nullptr;
  for (const auto& h : q.headers) headers = lib.slist_append(headers, h.c_str());
  curl_set_common(lib, c, q.url, static_cast<long>(q.timeout.count()));  // (a webhook answers itself: no redirects)
  lib.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  lib.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  lib.easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  lib.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  lib.easy_setopt(c, CURLOPT_HEADERDATA, &sink);
  if (q.method == "GET") {
    lib.easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (q.method == "HEAD") {
    lib.easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    lib.easy_setopt(c, CURLOPT_CUSTOMREQUEST, q.method.c_str());
    lib.easy_setopt(c, CURLOPT_POSTFIELDS, q.body.data());
    lib.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(q.body.size()));
  }
  char err[CURL_ERROR_SIZE] = {0};
  lib.easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  CURLcode rc = lib.easy_perform(c);
  if (rc != CURLE_OK) {
    r.error = err[0] ? err : lib.easy_strerror(rc);
  } else {
    long status = 0;
    lib.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r.status = static_cast<int>(status);
  }
  // The handle must not keep pointers to this call's header list or sink.
  lib.easy_setopt(c, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  lib.slist_free_all(headers);
  return r;
}

std::chrono::milliseconds retry_after_delay(const std::string& v, std::chrono::milliseconds fallback,
                                            std::chrono::milliseconds cap) {
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::min(fallback, cap);
  return std::min(std::chrono::milliseconds(std::stoll(v) * 1000), cap);
}

}  // namespace wrt
