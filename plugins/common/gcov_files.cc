#include "plugins/common/gcov_files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <system_error>

#include "plugins/common/tool.h"

namespace wrt::plugins::gcov {
namespace {

namespace fs = std::filesystem;

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Regular files below `dir` whose name ends with one of `suffixes`; symlinks
// are not followed. A missing directory has none.
std::vector<fs::path> files_below(const fs::path& dir, const std::vector<std::string>& suffixes) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw std::runtime_error(dir.string() + ": cannot list: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::runtime_error(dir.string() + ": cannot list: " + ec.message());
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::string name = it->path().filename().string();
    for (const auto& s : suffixes)
      if (has_suffix(name, s)) {
        out.push_back(it->path());
        break;
      }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string digest_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot read");
  std::uint64_t h = 0xcbf29ce484222325ULL;
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 0x100000001b3ULL;
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

fs::path notes_of(const fs::path& gcda) {
  fs::path p = gcda;
  return p.replace_extension(".gcno");
}

std::string relative_to(const fs::path& file, const fs::path& dir) {
  return file.lexically_relative(dir).generic_string();
}

// The same spelling for a path from the database and one from the walk.
std::string canonical_stem(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  if (ec) c = p.lexically_normal();
  return c.replace_extension().string();
}

void remove_file(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
  if (ec) throw std::runtime_error(p.string() + ": cannot remove: " + ec.message());
}

// The shell words of a compile command (CMake quotes with "..." or '...').
std::vector<std::string> shell_words(const std::string& command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < command.size()) word += command[++i];
      else word += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < command.size()) {
      word += command[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// An entry's object file: its "output" (CMake 3.20+ with Makefiles, Meson),
// else the argument of -o in "arguments" or "command"; "" when none.
std::string object_of(const nlohmann::json& entry) {
  if (auto o = entry.find("output"); o != entry.end() && o->is_string()) return o->get<std::string>();
  std::vector<std::string> args;
  if (auto a = entry.find("arguments"); a != entry.end() && a->is_array()) {
    for (const auto& x : *a)
      if (x.is_string()) args.push_back(x.get<std::string>());
  } else if (auto c = entry.find("command"); c != entry.end() && c->is_string()) {
    args = shell_words(c->get<std::string>());
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-o" && i + 1 < args.size()) return args[i + 1];
    if (args[i].size() > 2 && args[i].compare(0, 2, "-o") == 0) return args[i].substr(2);
  }
  return {};
}

}  // namespace

std::size_t remove_counters(const fs::path& dir) {
  auto files = files_below(dir, {".gcda"});
  for (const auto& f : files) remove_file(f);
  return files.size();
}

std::vector<CounterFile> list_counters(const fs::path& dir) {
  std::vector<CounterFile> out;
  for (const auto& gcda : files_below(dir, {".gcda"})) {
    std::error_code ec;
    fs::path gcno = notes_of(gcda);
    out.push_back({relative_to(gcda, dir), digest_of(gcda), fs::is_regular_file(gcno, ec) ? digest_of(gcno) : "-"});
  }
  return out;
}

std::string write_manifest(const std::vector<CounterFile>& files, const std::string& comment) {
  std::string out = "# " + comment + "\n";
  for (const auto& f : files) out += f.gcda_digest + " " + f.gcno_digest + " " + f.path + "\n";
  return out;
}

std::vector<CounterFile> parse_manifest(const std::string& text, const std::string& label) {
  std::vector<CounterFile> out;
  auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty() || line[0] == '#') continue;
    auto a = line.find(' ');
    auto b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos || a != 16 || b == line.size() - 1)
      throw std::runtime_error(label + ":" + std::to_string(i + 1) +
                               ": expected \"<gcda digest> <gcno digest> <path>\"");
    out.push_back({std::string(line.substr(b + 1)), std::string(line.substr(0, a)),
                   std::string(line.substr(a + 1, b - a - 1))});
  }
  return out;
}

std::vector<std::string> differences(const std::vector<CounterFile>& recorded, const std::vector<CounterFile>& present) {
  std::map<std::string, const CounterFile*> now;
  for (const auto& f : present) now[f.path] = &f;
  std::vector<std::string> out;
  for (const auto& f : recorded) {
    auto it = now.find(f.path);
    if (it == now.end()) {
      out.push_back(f.path + " missing");
      continue;
    }
    if (!(*it->second == f)) out.push_back(f.path + " changed");
    now.erase(it);
  }
  for (const auto& [path, f] : now) out.push_back(path + " not recorded");
  return out;
}

std::optional<std::set<std::string>> current_object_stems(const fs::path& dir) {
  fs::path db = dir / "compile_commands.json";
  std::error_code ec;
  if (!fs::is_regular_file(db, ec)) return std::nullopt;
  std::string text = read_text_file(db.string());
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_array())
    throw std::runtime_error(db.string() + ": not a JSON array of compile commands");
  std::set<std::string> stems;
  for (const auto& entry : json) {
    if (!entry.is_object()) return std::nullopt;
    std::string output = object_of(entry);
    if (output.empty()) return std::nullopt;
    fs::path out = output;
    if (out.is_relative() && entry.contains("directory") && entry["directory"].is_string())
      out = fs::path(entry["directory"].get<std::string>()) / out;
    stems.insert(canonical_stem(out));
  }
  return stems;
}

Pruned prune(const fs::path& dir, const std::optional<std::set<std::string>>& objects) {
  Pruned p;
  std::error_code ec;
  auto notes = files_below(dir, {".gcno"});
  if (objects) {
    std::vector<fs::path> dead;
    for (const auto& gcno : notes)
      if (!objects->count(canonical_stem(gcno))) dead.push_back(gcno);
    if (!notes.empty() && dead.size() == notes.size()) {
      p.objects_ignored = true;
    } else {
      for (const auto& gcno : dead) {
        fs::path gcda = fs::path(gcno).replace_extension(".gcda");
        if (fs::exists(gcda, ec)) {
          remove_file(gcda);
          p.dead.push_back(relative_to(gcda, dir));
        }
        remove_file(gcno);
        p.dead.push_back(relative_to(gcno, dir));
      }
    }
  }
  for (const auto& gcda : files_below(dir, {".gcda"})) {
    fs::path gcno = notes_of(gcda);
    if (!fs::is_regular_file(gcno, ec)) {
      remove_file(gcda);
      p.orphans.push_back(relative_to(gcda, dir));
      continue;
    }
    std::error_code ec1, ec2;
    auto counters = fs::last_write_time(gcda, ec1);
    auto compiled = fs::last_write_time(gcno, ec2);
    if (!ec1 && !ec2 && counters < compiled) {
      remove_file(gcda);
      p.stale.push_back(relative_to(gcda, dir));
      continue;
    }
    ++p.gcda_left;
  }
  return p;
}

}  // namespace wrt::plugins::gcov
