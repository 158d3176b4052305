// libFuzzer target for cache entries, the files a hostile shared cache can
// hand wrt: the bytes are an entry's body (its line of JSON, then the
// inlined blobs), given the header with a good checksum so that the fuzzer
// reaches the reader instead of the checksum. Built by scripts/fuzz.sh with
// -DWRT_FUZZ=ON; see README.md next to this file.
//
// Besides crashes, hangs and sanitizer reports it checks that the reader of
// canonical entries (the fast path a cache hit takes) and the general JSON
// reader give the same answer: the same entry, or the same refusal.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/cache/cache_store.h"
#include "core/util/hash.h"

namespace {

[[noreturn]] void broken(const char* what, const std::string& body) {
  std::fprintf(stderr, "cache_entry_fuzz: %s\nbody: %s\n", what, body.c_str());
  std::abort();
}

bool same_entry(const wrt::CacheEntry& a, const wrt::CacheEntry& b) {
  if (a.result != b.result || a.outputs != b.outputs || a.log != b.log || a.log_encoding != b.log_encoding ||
      a.log_truncated != b.log_truncated || a.log_inlined != b.log_inlined || a.inlined_bytes != b.inlined_bytes ||
      a.inlined.size() != b.inlined.size())
    return false;
  for (std::size_t i = 0; i < a.inlined.size(); ++i)
    if (a.inlined[i].digest != b.inlined[i].digest || a.inlined[i].bytes != b.inlined[i].bytes) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string kKey(64, 'a');
  const std::string body(reinterpret_cast<const char*>(data), size);
  const std::string text = "wrt-entry 3 " + wrt::to_hex(wrt::sha256(body)) + "\n" + body;
  std::string why_fast, why_general;
  auto fast = wrt::decode_cache_entry(kKey, text, &why_fast);
  auto general = wrt::decode_cache_entry_general(kKey, text, &why_general);
  if (fast.has_value() != general.has_value())
    broken(fast ? "only the canonical reader accepted it" : "only the general reader accepted it", body);
  if (fast && !same_entry(*fast, *general)) broken("the two readers decoded different entries", body);
  if (!fast && why_fast != why_general) broken("the two readers refused it for different reasons", body);
  return 0;
}
