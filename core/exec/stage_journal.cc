#include "core/exec/stage_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "core/util/atomic_file.h"

namespace wrt {

namespace {

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

}  // namespace

StageJournal::StageJournal(std::filesystem::path file, bool read_only)
    : file_(std::move(file)), read_only_(read_only) {
  std::ifstream in(file_);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 2) continue;
    std::string name = line.substr(1);
    if (!valid_name(name)) continue;
    if (line[0] == '+') open_.insert(std::move(name));
    else if (line[0] == '-') open_.erase(name);
  }
}

StageJournal::~StageJournal() {
  if (fd_ >= 0) ::close(fd_);
}

bool StageJournal::was_interrupted(const std::string& stage) const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.count(stage) != 0;
}

Status StageJournal::started(const std::string& stage) {
  if (read_only_) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) {
    fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return Error{fmt::format("{}: cannot open: {}", file_.string(), std::strerror(errno))};
  }
  std::string line = "+" + stage + "\n";
  // O_APPEND: one write per line, whole or not at all for lines this short
  // (a torn line is ignored when read).
  if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return Error{fmt::format("{}: cannot write: {}", file_.string(), std::strerror(errno))};
  open_.insert(stage);
  return Status::Ok();
}

void StageJournal::finished(const std::string& stage) {
  if (read_only_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (open_.erase(stage) == 0) return;
  // Best effort: a lost "-" line only costs the next run a removal of this
  // stage's outputs and their restore (or a re-run), never a wrong result.
  if (fd_ < 0) fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return;
  std::string line = "-" + stage + "\n";
  (void)!::write(fd_, line.data(), line.size());
}

Status StageJournal::close() {
  if (read_only_) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (open_.empty()) {
    if (::unlink(file_.c_str()) != 0 && errno != ENOENT)
      return Error{fmt::format("{}: cannot remove: {}", file_.string(), std::strerror(errno))};
    return Status::Ok();
  }
  std::string text;
  for (const auto& s : open_) text += "+" + s + "\n";
  return write_file_atomically(file_, text);
}

}  // namespace wrt
