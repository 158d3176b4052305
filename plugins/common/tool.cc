#include "plugins/common/tool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace wrt::plugins {

std::optional<std::string> find_program(const std::string& program) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return program;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    // Built by appending (not `dir = "."` then `dir + "/" + program`):
    // GCC 12 at -O3 reports a false -Wrestrict in those inlined string
    // operations (GCC bug 105329), which breaks a packager's Release build.
    std::string candidate(end > start ? std::string_view(dirs).substr(start, end - start) : std::string_view("."));
    candidate += '/';
    candidate += program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

std::string missing_tool_message(const std::string& program, const std::string& debian_package) {
  return program + " was not found on PATH; it is in the Debian package " + debian_package + " (apt-get install " +
         debian_package + ")";
}

std::string require_tool(const std::string& program, const std::string& debian_package) {
  auto p = find_program(program);
  if (!p) throw std::runtime_error(missing_tool_message(program, debian_package));
  return *p;
}

std::string tool_version(const wrt::sdk::Stage& stage, const std::vector<std::string>& argv) {
  if (argv.empty()) return {};
  auto exe = find_program(argv[0]);
  if (!exe) return {};
  // The host caches the answer per installed binary (ABI 1.2), so a no-op
  // run starts no --version process.
  if (stage.host_has(&wrt_host::tool_version)) {
    auto out = stage.tool_version(argv);
    if (!out) return {};
    for (auto line : split_lines(*out))
      if (auto t = trim(line); !t.empty()) return std::string(t);
    return {};
  }
  struct stat st {};
  ::stat(exe->c_str(), &st);
  std::string memo_key = *exe + '\0' + std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec);
  for (std::size_t i = 1; i < argv.size(); ++i) memo_key += '\0' + argv[i];
  static std::mutex mu;
  static std::map<std::string, std::string> memo;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = memo.find(memo_key); it != memo.end()) return it->second;
  }
  auto r = stage.spawn(argv, {}, {}, true);
  std::string version;
  if (r.started && !r.timed_out && !r.interrupted)
    for (auto line : split_lines(r.output))
      if (auto t = trim(line); !t.empty()) {
        version = std::string(t);
        break;
      }
  std::lock_guard<std::mutex> lock(mu);
  memo[memo_key] = version;
  return version;
}

std::string workspace_relative(const std::string& path, const std::string& workspace) {
  std::string p = path;
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  if (!workspace.empty() && p.size() > workspace.size() && p.compare(0, workspace.size(), workspace) == 0) {
    std::size_t cut = workspace.size();
    if (workspace.back() == '/') return p.substr(cut);
    if (p[cut] == '/') return p.substr(cut + 1);
  }
  return p;
}

void declare_build_state(const wrt::sdk::Stage& stage, const std::string& dir) {
  const std::filesystem::path ws = std::filesystem::path(stage.workspace()).lexically_normal();
  std::filesystem::path p = std::filesystem::path(dir);
  if (!p.is_absolute()) p = ws / p;
  const std::filesystem::path rel = p.lexically_normal().lexically_relative(ws);
  if (rel.empty() || *rel.begin() == ".." || rel == ".") return;
  stage.declare_state(rel.generic_string());
}

std::string cargo_workspace_root(const std::string& manifest_dir, const std::string& top) {
  namespace fs = std::filesystem;
  const fs::path manifest = fs::path(manifest_dir).lexically_normal();
  const fs::path stop = fs::path(top).lexically_normal();
  for (fs::path dir = manifest;; dir = dir.parent_path()) {
    std::error_code ec;
    if (fs::is_regular_file(dir / "Cargo.toml", ec)) {
      std::string text;
      try {
        text = read_text_file((dir / "Cargo.toml").string());
      } catch (const std::exception&) {
      }
      for (auto line : split_lines(text))
        if (trim(line) == "[workspace]") return dir.string();
    }
    if (dir == stop || !dir.has_parent_path() || dir.parent_path() == dir) break;
  }
  return manifest.string();
}

void reject_unknown_keys(const wrt::sdk::Stage& stage, const std::string& plugin, const std::set<std::string>& known) {
  // ABI 1.2: the host's check, with a "did you mean" (message set by the host).
  if (stage.host_has(&wrt_host::check_keys)) {
    std::vector<const char*> list;
    for (const auto& k : known) list.push_back(k.c_str());
    list.push_back(nullptr);
    if (stage.host()->check_keys(stage.handle(), "", list.data()) == 0) throw wrt::sdk::MessageSet{};
    return;
  }
  for (std::int64_t i = 0;; ++i) {
    const char* key = stage.host()->config_key_at(stage.handle(), "", i);
    if (!key) break;
    std::string k = key;
    if (known.count(k) || k == "component" || k == "profile") continue;
    std::string list;
    for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
    throw std::runtime_error("with." + k + " is not a " + plugin + " option (known: " + list + ")");
  }
}

TempReportFile::TempReportFile(const std::string& tool, const std::string& suffix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("wrt-" + tool + "-XXXXXX" + suffix)).string();
  int fd = ::mkstemps(tmpl.data(), static_cast<int>(suffix.size()));
  if (fd < 0) throw std::runtime_error("cannot create a temporary file for " + tool + "'s report in " + tmpl);
  ::close(fd);
  path_ = tmpl;
}

TempReportFile::~TempReportFile() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void write_file_atomically(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  const fs::path tmp = p.parent_path() / (".tmp-" + p.filename().string() + "-" + std::to_string(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) throw std::runtime_error(path + ": cannot write");
  }
  fs::rename(tmp, p);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    start = end + 1;
  }
  return out;
}

std::pair<std::uint32_t, std::uint32_t> line_column_of(std::string_view text, std::size_t offset) {
  std::uint32_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string ParseError::to_string() const {
  std::string s = file;
  if (line) {
    // Appended piecewise: `":" + std::to_string(n)` trips GCC 12's false
    // -Wrestrict at -O3 (GCC bug 105329).
    s += ':';
    s += std::to_string(line);
    if (column) {
      s += ':';
      s += std::to_string(column);
    }
  }
  s += ": ";
  s += message;
  return s;
}

FindingPolicy FindingPolicy::from_config(const wrt::sdk::Stage& stage) {
  FindingPolicy p;
  if (auto f = stage.string("fail_on")) {
    if (*f == "error") p.fail_on = FailOn::kError;
    else if (*f == "warning") p.fail_on = FailOn::kWarning;
    else if (*f == "never") p.fail_on = FailOn::kNever;
    else throw std::runtime_error("with.fail_on must be \"error\", \"warning\" or \"never\", not \"" + *f + "\"");
  }
  if (auto m = stage.integer("max_warnings")) {
    if (*m < 0) throw std::runtime_error("with.max_warnings must not be negative");
    p.max_warnings = *m;
  }
  return p;
}

wrt_status FindingPolicy::evaluate(std::int64_t errors, std::int64_t warnings, std::string* reason) const {
  std::string why;
  if (fail_on != FailOn::kNever && errors > 0)
    why = std::to_string(errors) + " error" + (errors == 1 ? "" : "s");
  else if (fail_on == FailOn::kWarning && warnings > 0)
    why = std::to_string(warnings) + " warning" + (warnings == 1 ? "" : "s") + " (fail_on = \"warning\")";
  else if (max_warnings && warnings > *max_warnings)
    why = std::to_string(warnings) + " warnings, more than max_warnings = " + std::to_string(*max_warnings);
  if (why.empty()) return WRT_STATUS_PASSED;
  if (reason) *reason = why;
  return WRT_STATUS_FAILED;
}

}  // namespace wrt::plugins
