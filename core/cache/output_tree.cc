#include "core/cache/output_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/core.h>

namespace wrt {

namespace {

std::string err_text(int e) { return std::error_code(e, std::generic_category()).message(); }

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = o.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

std::pair<std::string_view, std::string_view> split_parent(std::string_view path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

}  // namespace

bool is_clean_relative_path(std::string_view p) {
  if (p.empty() || p.front() == '/' || has_control_char(p)) return false;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = p.find('/', start);
    std::string_view c = p.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (c.empty() || c == "." || c == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

namespace {

bool is_under(std::string_view path, std::string_view dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

struct Walker {
  std::vector<ListedOutput>& out;
  std::string error;

  // `fd` is an open directory at workspace-relative `rel`.
  bool walk_dir(int fd, const std::string& rel) {
    int dup = ::dup(fd);
    if (dup < 0) return fail(fmt::format("declared output '{}': {}", rel, err_text(errno)));
    DIR* d = ::fdopendir(dup);
    if (!d) {
      ::close(dup);
      return fail(fmt::format("declared output '{}': {}", rel, err_text(errno)));
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    bool any = false;
    for (const auto& n : names) {
      if (n.compare(0, kRestoreTempPrefix.size(), kRestoreTempPrefix) == 0) {
        // A restore killed before its rename: never data. With the checkout
        // lock held no other wrt in this workspace restores here.
        ::unlinkat(fd, n.c_str(), 0);
        continue;
      }
      any = true;
      if (!visit(fd, n, rel + "/" + n)) return false;
    }
    if (!any) out.push_back({rel, OutputKind::kDir, {}, 0, false});
    return true;
  }

  bool visit(int dirfd, const std::string& name, const std::string& rel) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail(errno == ENOENT ? fmt::format("declared output '{}' was not produced", rel)
                                  : fmt::format("declared output '{}': {}", rel, err_text(errno)));
    if (S_ISREG(st.st_mode)) {
      out.push_back({rel, OutputKind::kFile, {}, static_cast<std::uint64_t>(st.st_size), (st.st_mode & S_IXUSR) != 0});
      return true;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) return fail(fmt::format("output '{}': cannot read symlink: {}", rel, err_text(errno)));
      target.resize(static_cast<std::size_t>(n));
      if (!target.empty() && target.front() == '/')
        return fail(fmt::format("output '{}' is a symlink to an absolute path ({}); only relative links inside the "
                                "workspace can be cached",
                                rel, target));
      if (!symlink_stays_inside(rel, target))
        return fail(fmt::format("output '{}' is a symlink pointing outside the workspace ({})", rel, target));
      out.push_back({rel, OutputKind::kSymlink, std::move(target), 0, false});
      return true;
    }
    if (S_ISDIR(st.st_mode)) {
      Fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.get() < 0) return fail(fmt::format("declared output '{}': {}", rel, err_text(errno)));
      return walk_dir(sub.get(), rel);
    }
    return fail(fmt::format("output '{}' is neither a file, a directory nor a symlink", rel));
  }

  bool fail(std::string e) {
    error = std::move(e);
    return false;
  }
};

}  // namespace

std::string_view output_kind_name(OutputKind k) {
  switch (k) {
    case OutputKind::kFile: return "file";
    case OutputKind::kSymlink: return "symlink";
    case OutputKind::kDir: return "dir";
  }
  return "file";
}

bool symlink_stays_inside(std::string_view link_path, std::string_view target) {
  if (target.empty() || target.front() == '/' || has_control_char(target)) return false;
  // Depth of the link's directory below the workspace root.
  long depth = static_cast<long>(std::count(link_path.begin(), link_path.end(), '/'));
  std::size_t start = 0;
  for (;;) {
    std::size_t end = target.find('/', start);
    std::string_view c = target.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (c == "..") {
      if (--depth < 0) return false;
    } else if (!c.empty() && c != ".") {
      ++depth;
    }
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

Digest symlink_digest(std::string_view target) {
  Sha256 h;
  h.update_field("wrt-symlink");
  h.update_field(target);
  return h.finish();
}

Result<int> open_dir_beneath(int workspace_fd, std::string_view rel_dir, bool create) {
  // The workspace itself is duplicated only when it is the answer: the first
  // component opens beneath it directly (two system calls fewer for every
  // output restored).
  if (rel_dir.empty()) {
    int fd = ::dup(workspace_fd);
    if (fd < 0) return Error{fmt::format("cannot open the workspace: {}", err_text(errno))};
    return fd;
  }
  Fd cur;
  std::size_t start = 0;
  while (start < rel_dir.size()) {
    std::size_t end = rel_dir.find('/', start);
    if (end == std::string_view::npos) end = rel_dir.size();
    std::string comp(rel_dir.substr(start, end - start));
    std::string_view so_far = rel_dir.substr(0, end);
    if (comp.empty() || comp == "." || comp == "..")
      return Error{fmt::format("'{}' is not a clean relative path", rel_dir)};
    const int at = cur.get() >= 0 ? cur.get() : workspace_fd;
    int fd = ::openat(at, comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(at, comp.c_str(), 0755) != 0 && errno != EEXIST)
        return Error{fmt::format("cannot create directory {}: {}", so_far, err_text(errno))};
      fd = ::openat(at, comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int e = errno;
      struct stat st {};
      if ((e == ELOOP || e == ENOTDIR) && ::fstatat(at, comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode))
        return Error{fmt::format("{} is a symlink; wrt does not write through symlinks", so_far)};
      if (e == ENOTDIR) return Error{fmt::format("{} is not a directory", so_far)};
      return Error{fmt::format("cannot open directory {}: {}", so_far, err_text(e))};
    }
    cur = Fd(fd);
    start = end + 1;
  }
  return cur.release();
}

Result<std::vector<ListedOutput>> list_output_tree(int workspace_fd, const std::vector<std::string>& declared) {
  std::vector<ListedOutput> out;
  Walker w{out, {}};
  for (const auto& d : declared) {
    auto [parent, name] = split_parent(d);
    auto dir = open_dir_beneath(workspace_fd, parent, /*create=*/false);
    if (!dir) {
      std::string why = dir.error();
      if (why.find("No such file") != std::string::npos) return Error{fmt::format("declared output '{}' was not produced", d)};
      return Error{fmt::format("declared output '{}': {}", d, why)};
    }
    Fd guard(*dir);
    if (!w.visit(guard.get(), std::string(name), d)) return Error{w.error};
  }
  std::sort(out.begin(), out.end(), [](const ListedOutput& a, const ListedOutput& b) { return a.path < b.path; });
  out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path == b.path; }),
            out.end());
  return out;
}

Status check_restorable_path(std::string_view path, const std::vector<std::string>& declared,
                             std::string_view cache_dir_rel) {
  if (!is_clean_relative_path(path)) return Error{fmt::format("'{}' is not a clean relative path", path)};
  std::size_t first_end = path.find('/');
  std::string_view first = path.substr(0, first_end);
  if (first == ".wrt") return Error{fmt::format("'{}' is inside .wrt/", path)};
  if (path == "wrt.toml") return Error{"'wrt.toml' is the pipeline itself"};
  std::size_t start = 0;
  for (;;) {
    std::size_t end = path.find('/', start);
    if (path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start) == ".git")
      return Error{fmt::format("'{}' is inside a .git directory", path)};
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (!cache_dir_rel.empty() && (is_under(path, cache_dir_rel) || is_under(cache_dir_rel, path)))
    return Error{fmt::format("'{}' overlaps the cache directory", path)};
  for (const auto& d : declared)
    if (is_under(path, d)) return Status::Ok();
  return Error{fmt::format("'{}' is not one of the stage's declared outputs", path)};
}

Status restore_symlink(int workspace_fd, const std::string& path, const std::string& target) {
  if (!symlink_stays_inside(path, target))
    return Error{fmt::format("symlink {} -> {} points outside the workspace", path, target)};
  auto [parent, name] = split_parent(path);
  auto dir = open_dir_beneath(workspace_fd, parent, /*create=*/true);
  if (!dir) return Error{dir.error()};
  Fd d(*dir);
  char existing[4096];
  ssize_t n = ::readlinkat(d.get(), std::string(name).c_str(), existing, sizeof existing);
  if (n >= 0 && std::string_view(existing, static_cast<std::size_t>(n)) == target) return Status::Ok();
  static std::atomic<unsigned> counter{0};
  std::string tmp = fmt::format("{}{}.{}", kRestoreTempPrefix, ::getpid(), counter.fetch_add(1));
  if (::symlinkat(target.c_str(), d.get(), tmp.c_str()) != 0)
    return Error{fmt::format("cannot create symlink {}: {}", path, err_text(errno))};
  if (::renameat(d.get(), tmp.c_str(), d.get(), std::string(name).c_str()) != 0) {
    int e = errno;
    ::unlinkat(d.get(), tmp.c_str(), 0);
    return Error{fmt::format("cannot write {}: {}", path, err_text(e))};
  }
  return Status::Ok();
}

int remove_restore_temps(int dir_fd) {
  int dup = ::dup(dir_fd);
  if (dup < 0) return 0;
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return 0;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.compare(0, kRestoreTempPrefix.size(), kRestoreTempPrefix) == 0) names.emplace_back(n);
  }
  ::closedir(d);
  int removed = 0;
  for (const auto& n : names)
    if (::unlinkat(dir_fd, n.c_str(), 0) == 0) ++removed;
  return removed;
}

Status restore_dir(int workspace_fd, const std::string& path) {
  auto dir = open_dir_beneath(workspace_fd, path, /*create=*/true);
  if (!dir) return Error{dir.error()};
  ::close(*dir);
  return Status::Ok();
}

namespace {

// Removes everything inside the open directory `dir_fd` (named `rel` in
// errors); directories are opened with O_NOFOLLOW, so a symlink is removed,
// never followed. `depth` bounds the recursion.
Status empty_dir(int dir_fd, const std::string& rel, int depth) {
  if (depth > 256) return Error{fmt::format("cannot remove {}: nested too deep", rel)};
  int dup = ::dup(dir_fd);
  if (dup < 0) return Error{fmt::format("cannot read directory {}: {}", rel, err_text(errno))};
  DIR* d = ::fdopendir(dup);
  if (!d) {
    int e = errno;
    ::close(dup);
    return Error{fmt::format("cannot read directory {}: {}", rel, err_text(e))};
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    if (::unlinkat(dir_fd, n.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) return Error{fmt::format("cannot remove {}/{}: {}", rel, n, err_text(errno))};
    Fd sub(::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub.get() < 0) return Error{fmt::format("cannot remove {}/{}: {}", rel, n, err_text(errno))};
    if (Status s = empty_dir(sub.get(), rel + "/" + n, depth + 1); !s) return s;
    if (::unlinkat(dir_fd, n.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Error{fmt::format("cannot remove {}/{}: {}", rel, n, err_text(errno))};
  }
  return Status::Ok();
}

}  // namespace

Status remove_output(int workspace_fd, const std::string& path) {
  if (!is_clean_relative_path(path)) return Error{fmt::format("'{}' is not a clean relative path", path)};
  auto [parent, name] = split_parent(path);
  auto dir = open_dir_beneath(workspace_fd, parent, /*create=*/false);
  if (!dir) {
    // Nothing there to remove. (A symlinked parent is refused by the
    // restore or the output listing, naming it.)
    if (dir.error().find("No such file") != std::string::npos) return Status::Ok();
    return Error{fmt::format("cannot remove {}: {}", path, dir.error())};
  }
  Fd d(*dir);
  std::string n(name);
  if (::unlinkat(d.get(), n.c_str(), 0) == 0 || errno == ENOENT) return Status::Ok();
  if (errno != EISDIR && errno != EPERM) return Error{fmt::format("cannot remove {}: {}", path, err_text(errno))};
  Fd sub(::openat(d.get(), n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (sub.get() < 0) return Error{fmt::format("cannot remove {}: {}", path, err_text(errno))};
  if (Status s = empty_dir(sub.get(), path, 0); !s) return s;
  if (::unlinkat(d.get(), n.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return Error{fmt::format("cannot remove {}: {}", path, err_text(errno))};
  return Status::Ok();
}

}  // namespace wrt
