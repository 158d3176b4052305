#include "core/util/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>

#include <fmt/core.h>

namespace wrt {

namespace fs = std::filesystem;

namespace {

Error write_error(const fs::path& file, const std::string& reason) {
  return Error{fmt::format("{}: cannot write: {}", file.string(), reason)};
}

std::string errno_text(int e) { return e != 0 ? std::strerror(e) : "write failed"; }

}  // namespace

Status write_file_atomically(const fs::path& file, const std::function<void(std::ostream&)>& fill) {
  std::error_code ec;
  if (file.has_parent_path()) {
    fs::create_directories(file.parent_path(), ec);
    if (ec) return write_error(file, ec.message());
  }
  static std::atomic<unsigned> counter{0};
  fs::path tmp = file;
  tmp += fmt::format(".tmp.{}.{}", ::getpid(), counter++);
  std::string failure;
  {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return write_error(file, errno_text(errno));
    try {
      fill(out);
      out.close();  // flushes; sets failbit if the data did not reach the file
      if (!out) failure = errno_text(errno);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (failure.empty() && ::rename(tmp.c_str(), file.c_str()) != 0) failure = errno_text(errno);
  if (!failure.empty()) {
    fs::remove(tmp, ec);
    return write_error(file, failure);
  }
  return Status::Ok();
}

Status write_file_atomically(const fs::path& file, std::string_view content) {
  return write_file_atomically(file, [content](std::ostream& out) {
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  });
}

}  // namespace wrt
