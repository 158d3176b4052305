// libcurl, opened with dlopen on first use rather than linked: it pulls in a
// dozen shared libraries (TLS, HTTP/2, LDAP, SSH, Kerberos) whose loading
// every wrt start would pay -- a no-op run included -- while only a run that
// notifies or uses a remote cache needs it. Shared by the blocking client
// (http_client.h) and the parallel transfers (http_transfers.h).
#pragma once

#include <curl/curl.h>

#include <string>

namespace wrt {

struct CurlLibrary {
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  CURLM* (*multi_init)();
  CURLMcode (*multi_setopt)(CURLM*, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM*, CURL*);
  CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
  CURLMcode (*multi_perform)(CURLM*, int*);
  CURLMcode (*multi_poll)(CURLM*, curl_waitfd*, unsigned int, int, int*);
  CURLMcode (*multi_wakeup)(CURLM*);
  CURLMsg* (*multi_info_read)(CURLM*, int*);
  CURLMcode (*multi_cleanup)(CURLM*);
  curl_version_info_data* (*version_info)(CURLversion);
  std::string error;  // why it could not be loaded; the pointers are then null
};

// The library, loaded and globally initialised once (thread-safe).
const CurlLibrary& curl_library();

// What every wrt request sets on its handle: the URL, only HTTP(S) (a URL
// from wrt.toml must not read file:// or talk to other protocols; redirects
// are not followed), no signals, the timeout (connecting: at most 5 s of
// it) and wrt's user agent.
void curl_set_common(const CurlLibrary& lib, CURL* c, const std::string& url, long timeout_ms);

}  // namespace wrt
