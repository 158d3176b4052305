#include "core/host/tool_versions.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include <fmt/core.h>

#include "core/util/atomic_file.h"
#include "core/util/hash.h"
#include "core/exec/subprocess.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "wrt-tool 1 ";

std::optional<std::string> resolve(const fs::path& workspace, const std::string& program) {
  auto usable = [](const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) {
    fs::path p = fs::path(program).is_absolute() ? fs::path(program) : workspace / program;
    if (usable(p)) return p.string();
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  for (;;) {
    std::size_t end = dirs.find(':', start);
    std::string_view dir(dirs.data() + start, (end == std::string::npos ? dirs.size() : end) - start);
    fs::path p = fs::path(dir.empty() ? std::string_view(".") : dir) / program;
    if (usable(p)) return p.string();
    if (end == std::string::npos) return std::nullopt;
    start = end + 1;
  }
}

}  // namespace

Result<std::string> cached_tool_version(const fs::path& workspace, const std::vector<std::string>& argv,
                                        const std::atomic<bool>* cancel) {
  if (argv.empty() || argv[0].empty()) return Error{"empty command"};
  auto exe = resolve(workspace, argv[0]);
  if (!exe) return Error{fmt::format("{} was not found on PATH", argv[0])};
  struct stat st {};
  if (::stat(exe->c_str(), &st) != 0) return Error{fmt::format("{}: {}", *exe, std::strerror(errno))};
  Sha256 h;
  h.update_field("wrt-tool-v1");
  h.update_field(*exe);
  h.update_field(static_cast<std::uint64_t>(st.st_size));
  h.update_field(static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000ull + st.st_mtim.tv_nsec);
  h.update_field(static_cast<std::uint64_t>(st.st_ctim.tv_sec) * 1'000'000'000ull + st.st_ctim.tv_nsec);
  h.update_field(static_cast<std::uint64_t>(st.st_ino));
  for (std::size_t i = 1; i < argv.size(); ++i) h.update_field(argv[i]);
  const std::string key = to_hex(h.finish());

  static std::mutex mu;
  static std::map<std::string, std::string> memo;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = memo.find(key); it != memo.end()) return it->second;
  }
  const fs::path file = workspace / ".wrt" / "state" / "tools" / key;
  {
    std::string text;
    if (FILE* f = std::fopen(file.c_str(), "rb")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
    }
    std::size_t nl = text.find('\n');
    if (nl != std::string::npos && text.compare(0, kMagic.size(), kMagic) == 0) {
      std::string_view sum(text.data() + kMagic.size(), nl - kMagic.size());
      std::string body = text.substr(nl + 1);
      if (sum == to_hex(sha256(body))) {
        std::lock_guard<std::mutex> lock(mu);
        memo[key] = body;
        return body;
      }
    }
  }
  SpawnOptions o;
  o.argv = argv;
  o.argv[0] = *exe;
  o.cwd = workspace;
  o.capture = true;
  o.cancel = cancel;
  o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  SpawnResult r = run_process(o);
  if (!r.started) return Error{r.error};
  if (r.timed_out) return Error{fmt::format("{} did not answer within 60 s", argv[0])};
  if (r.interrupted) return Error{"interrupted"};
  if (r.exit_code != 0)
    return Error{fmt::format("{} exited with {}", argv[0], r.term_signal ? -r.term_signal : r.exit_code)};
  // Best effort: a cache that cannot be written only costs the next run a process.
  (void)write_file_atomically(file, fmt::format("{}{}\n{}", kMagic, to_hex(sha256(r.output)), r.output));
  std::lock_guard<std::mutex> lock(mu);
  memo[key] = r.output;
  return r.output;
}

}  // namespace wrt
