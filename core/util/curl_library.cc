#include "core/util/curl_library.h"

#include <dlfcn.h>

#include <type_traits>

namespace wrt {

const CurlLibrary& curl_library() {
  static const CurlLibrary c = [] {
    CurlLibrary c{};
    void* h = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      c.error = std::string("cannot load libcurl (Debian package libcurl4): ") + (e ? e : "not found");
      return c;
    }
    bool ok = true;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
      ok = ok && fn != nullptr;
    };
    CURLcode (*global_init)(long) = nullptr;
    sym(global_init, "curl_global_init");
    sym(c.easy_init, "curl_easy_init");
    sym(c.easy_setopt, "curl_easy_setopt");
    sym(c.easy_perform, "curl_easy_perform");
    sym(c.easy_getinfo, "curl_easy_getinfo");
    sym(c.easy_cleanup, "curl_easy_cleanup");
    sym(c.easy_reset, "curl_easy_reset");
    sym(c.easy_strerror, "curl_easy_strerror");
    sym(c.slist_append, "curl_slist_append");
    sym(c.slist_free_all, "curl_slist_free_all");
    sym(c.multi_init, "curl_multi_init");
    sym(c.multi_setopt, "curl_multi_setopt");
    sym(c.multi_add_handle, "curl_multi_add_handle");
    sym(c.multi_remove_handle, "curl_multi_remove_handle");
    sym(c.multi_perform, "curl_multi_perform");
    sym(c.multi_poll, "curl_multi_poll");      // 7.66
    sym(c.multi_wakeup, "curl_multi_wakeup");  // 7.68
    sym(c.multi_info_read, "curl_multi_info_read");
    sym(c.multi_cleanup, "curl_multi_cleanup");
    sym(c.version_info, "curl_version_info");
    if (!ok) {
      c = CurlLibrary{};
      c.error = "libcurl.so.4 lacks a function wrt needs (libcurl 7.68 or later is required)";
      return c;
    }
    global_init(CURL_GLOBAL_DEFAULT);
    return c;
  }();
  return c;
}

void curl_set_common(const CurlLibrary& lib, CURL* c, const std::string& url, long timeout_ms) {
  lib.easy_setopt(c, CURLOPT_URL, url.c_str());
  lib.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  lib.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  lib.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  lib.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
  lib.easy_setopt(c, CURLOPT_USERAGENT, "wrt/" WRT_VERSION);
}

}  // namespace wrt
