#include "core/cache/cached_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/core.h>
#include <zstd.h>

#include "core/cache/cache_store.h"

namespace wrt {

namespace {
// Level 3 (zstd's default): fast, and the same input always gives the same
// bytes, so identical logs still share one blob.
constexpr int kLevel = 3;
}  // namespace

Result<EncodedLog> encode_log(const std::filesystem::path& file, std::uint64_t limit) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("{}: {}", file.string(), std::strerror(errno))};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error{fmt::format("{}: {}", file.string(), std::strerror(errno))};
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t skip = size > limit ? size - limit : 0;
  std::string text;
  text.resize(static_cast<std::size_t>(size - skip));
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(skip + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{fmt::format("{}: {}", file.string(), std::strerror(errno))};
    if (n == 0) break;  // shrank meanwhile
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  EncodedLog out;
  if (skip > 0) {
    // Start at the next full line when one begins within 4 KiB.
    std::size_t nl = text.find('\n');
    std::uint64_t dropped = skip;
    if (nl != std::string::npos && nl < 4096) {
      text.erase(0, nl + 1);
      dropped += nl + 1;
    }
    text.insert(0, fmt::format("[wrt] log truncated in the cache: the first {} of {} bytes are not kept\n", dropped, size));
    out.truncated = true;
  }
  out.bytes.resize(ZSTD_compressBound(text.size()));
  // One context per thread: ZSTD_compress would allocate (and clear) a
  // fresh one for every stage.
  struct Ctx {
    ZSTD_CCtx* ctx = ZSTD_createCCtx();
    ~Ctx() { ZSTD_freeCCtx(ctx); }
  };
  thread_local Ctx cctx;
  if (!cctx.ctx) return Error{fmt::format("{}: cannot compress: out of memory", file.string())};
  std::size_t n = ZSTD_compressCCtx(cctx.ctx, out.bytes.data(), out.bytes.size(), text.data(), text.size(), kLevel);
  if (ZSTD_isError(n)) return Error{fmt::format("{}: cannot compress: {}", file.string(), ZSTD_getErrorName(n))};
  out.bytes.resize(n);
  out.encoding = "zstd";
  return out;
}

Result<std::string> decode_log(std::string_view blob, std::string_view encoding, std::uint64_t max_size) {
  if (encoding.empty()) {
    if (blob.size() > max_size) return Error{fmt::format("log of {} bytes exceeds {} bytes", blob.size(), max_size)};
    return std::string(blob);
  }
  if (encoding != "zstd") return Error{fmt::format("unknown log encoding \"{}\"", encoding)};
  unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
    return Error{"log blob is not a complete zstd frame"};
  if (size > max_size) return Error{fmt::format("log would expand to {} bytes, more than {}", size, max_size)};
  std::string out(static_cast<std::size_t>(size), '\0');
  std::size_t n = ZSTD_decompress(out.data(), out.size(), blob.data(), blob.size());
  if (ZSTD_isError(n) || n != size) return Error{fmt::format("corrupt zstd log: {}", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short")};
  return out;
}

Result<std::string> read_cached_log(CacheStore& store, const std::string& key_hex, std::uint64_t limit) {
  std::string warning;
  auto entry = store.get_entry(key_hex, &warning);
  if (!entry)
    return Error{warning.empty() ? fmt::format("no cache entry for key {} in {}", key_hex, store.dir().string())
                                 : warning};
  if (!entry->log) return Error{fmt::format("the cache entry for key {} has no log", key_hex)};
  auto blob = store.read_log(*entry);
  if (!blob) return Error{blob.error()};
  // A cached log is at most the limit plus a marker line; a larger one is
  // not what wrt stored.
  auto text = decode_log(*blob, entry->log_encoding, std::max<std::uint64_t>(limit, kDefaultCachedLogLimit) + 4096);
  if (!text) return Error{fmt::format("the log of cache entry {}: {}", key_hex, text.error())};
  return text;
}

}  // namespace wrt
