// wrt's private binary state files under <workspace>/.wrt/state (the stat
// cache, the parsed-config cache, the last-run index). They are local to one
// machine, so values are written in native byte order. Every file is sealed:
//   "8-byte magic" | u32 version | u32 reserved | payload | u64 checksum
// and is read back only when magic, version and checksum all match, so a torn
// or bit-flipped file is rejected (and rebuilt) instead of being trusted.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/util/result.h"

namespace wrt {

// Appends values to a payload.
class StateWriter {
 public:
  template <typename T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  // u32 length + bytes.
  void str(std::string_view s) {
    put(static_cast<std::uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  std::string& bytes() { return out_; }

  // A writer for a whole state file: room for the header is kept at the
  // front, so that seal() finishes the file where it was written instead of
  // copying a payload of megabytes (issue 17: memory). bytes() then holds
  // the header's room followed by the payload.
  static StateWriter for_file();
  // Fills in the header and appends the checksum: the same bytes as
  // seal_state(magic, version, payload). The writer holds the sealed file.
  std::string& seal(const char (&magic)[9], std::uint32_t version);

 private:
  std::string out_;
};

// Writes a sealed state file (the same bytes as seal_state) to `out` in
// pieces, for a payload whose size is known before it is written: the file
// is never whole in memory (issue 17: the stat cache of 100,000 stages is
// ~37 MB). finish() appends the checksum; it fails, and the file must not
// be used, when the payload was not exactly `payload_size` bytes.
class SealedStreamWriter {
 public:
  SealedStreamWriter(std::ostream& out, const char (&magic)[9], std::uint32_t version, std::uint64_t payload_size);
  template <typename T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes(std::string_view(reinterpret_cast<const char*>(&v), sizeof v));
  }
  // u32 length + bytes, as StateWriter::str.
  void str(std::string_view s) {
    put(static_cast<std::uint32_t>(s.size()));
    bytes(s);
  }
  void bytes(std::string_view s);
  bool finish();

 private:
  void flush();
  std::ostream& out_;
  std::uint64_t expected_;  // header + payload
  std::uint64_t written_ = 0;
  std::uint64_t h_;         // state_checksum, word by word
  std::string buf_;         // not yet written; hashed up to a multiple of 8
};

// Bounds-checked reader over a payload. Every getter returns false (and
// leaves the reader failed) instead of reading past the end.
class StateReader {
 public:
  explicit StateReader(std::string_view data) : p_(data.data()), left_(data.size()) {}
  template <typename T>
  bool get(T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (!ok_ || left_ < sizeof v) return ok_ = false;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    left_ -= sizeof v;
    return true;
  }
  bool str(std::string& s) {
    std::uint32_t n = 0;
    return get(n) && bytes(s, n);
  }
  // Like str(), as a view into the payload (valid while the payload is).
  bool view(std::string_view& s) {
    std::uint32_t n = 0;
    if (!get(n)) return false;
    if (left_ < n) return ok_ = false;
    s = std::string_view(p_, n);
    p_ += n;
    left_ -= n;
    return true;
  }
  bool bytes(std::string& s, std::size_t n) {
    if (!ok_ || left_ < n) return ok_ = false;
    s.assign(p_, n);
    p_ += n;
    left_ -= n;
    return true;
  }
  // A count of items that each take at least `min_item_bytes`: rejected when
  // the bytes left cannot hold them, so a corrupt count never drives reserve().
  bool count(std::uint64_t& n, std::size_t min_item_bytes) {
    if (!get(n)) return false;
    if (min_item_bytes > 0 && n > left_ / min_item_bytes) return ok_ = false;
    return true;
  }
  bool ok() const { return ok_; }
  std::size_t left() const { return left_; }

 private:
  const char* p_;
  std::size_t left_;
  bool ok_ = true;
};

// Word-at-a-time mix, not cryptographic: it detects torn writes and flipped
// bits (nothing that can write .wrt/ is kept out by a stronger hash).
std::uint64_t state_checksum(const char* data, std::size_t n);

// Header + payload + checksum.
std::string seal_state(const char (&magic)[9], std::uint32_t version, std::string_view payload);
// The payload of a sealed file, or Error saying what is wrong with it
// ("bad magic", "unsupported version 3 (expected 2)", "checksum mismatch").
Result<std::string_view> unseal_state(std::string_view data, const char (&magic)[9], std::uint32_t version);

// A whole file's bytes, mapped read-only and pre-faulted in one go: state
// files are megabytes on big pipelines, and copying them into fresh heap
// pages costs one page fault per 4 KiB. Move-only.
class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(FileBytes&& other) noexcept { swap(other); }
  FileBytes& operator=(FileBytes&& other) noexcept {
    swap(other);
    return *this;
  }
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();
  std::string_view view() const { return {data_, size_}; }

 private:
  friend Result<FileBytes> read_state_file(const std::filesystem::path& path, bool* missing);
  void swap(FileBytes& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(mapped_, o.mapped_);
  }
  const char* data_ = "";
  std::size_t size_ = 0;
  bool mapped_ = false;
};

// Whole file. Error carries the errno text; `*missing` is set when the file
// does not exist (not an error for a cache).
Result<FileBytes> read_state_file(const std::filesystem::path& path, bool* missing);

}  // namespace wrt
