// A small blocking HTTP client over libcurl, for what wrt sends out of a
// run (notifications today; the remote cache builds on it). One request per
// call, bounded by a total timeout; no retries here -- the caller decides
// which answers are worth another try (notify: 5xx and 429 only).
// Thread-safe: libcurl is initialised once, each call has its own handle.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace wrt {

struct HttpRequest {
  std::string method = "GET";             // GET | POST | PATCH | PUT | DELETE
  std::string url;
  std::vector<std::string> headers;       // "Name: value"
  std::string body;
  std::chrono::milliseconds timeout{10000};  // the whole exchange
};

struct HttpResponse {
  int status = 0;            // 0: no answer (see error)
  std::string body;          // at most 4 MiB kept
  std::string retry_after;   // the Retry-After header, if any
  std::string error;         // why there was no answer (DNS, refused, timeout)
};

HttpResponse http_request(const HttpRequest& request);

// The delay a Retry-After value asks for (delta-seconds only; an HTTP date
// or garbage gives `fallback`), capped at `cap`.
std::chrono::milliseconds retry_after_delay(const std::string& value, std::chrono::milliseconds fallback,
                                            std::chrono::milliseconds cap);

}  // namespace wrt
