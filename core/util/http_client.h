// A small blocking HTTP client over libcurl, for what wrt sends out of a
// run (notifications today; the remote cache builds on it). One request per
// call, bounded by a total timeout; no retries here -- the caller decides
// which answers are worth another try (notify: 5xx and 429 only).
// Thread-safe: libcurl is initialised once; each thread keeps one handle,
// so consecutive requests from a thread reuse its connections (keep-alive).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace wrt {

struct HttpRequest {
  std::string method = "GET";             // GET | HEAD | POST | PATCH | PUT | DELETE
  std::string url;
  std::vector<std::string> headers;       // "Name: value"
  std::string body;
  std::chrono::milliseconds timeout{10000};  // the whole exchange
  std::size_t max_body = 4u << 20;        // a longer response body is cut (HttpResponse::truncated)
};

struct HttpResponse {
  int status = 0;            // 0: no answer (see error)
  std::string body;          // at most HttpRequest::max_body kept
  bool truncated = false;    // the body was longer
  std::string retry_after;   // the Retry-After header, if any
  std::string error;         // why there was no answer (DNS, refused, timeout)
};

HttpResponse http_request(const HttpRequest& request);

// The delay a Retry-After value asks for (delta-seconds only; an HTTP date
// or garbage gives `fallback`), capped at `cap`.
std::chrono::milliseconds retry_after_delay(const std::string& value, std::chrono::milliseconds fallback,
                                            std::chrono::milliseconds cap);

}  // namespace wrt
