// gcc --coverage data in a build directory: the .gcno notes the compiler
// writes beside each object and the .gcda counters the instrumented
// programs add to every time they run. Shared by the test plugins (which
// reset the counters before a run and record what the run left) and the
// coverage plugin (which measures only the counters of the current build).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace wrt::plugins::gcov {

// The file a test stage with `reset_coverage = DIR` writes into DIR after its
// run, listing the .gcda files the run left (and their .gcno). Declared as
// the test stage's output, it makes the coverage stage's cache key follow
// this run's counters; the coverage stage checks DIR against it.
inline constexpr const char* kManifestName = "wrt-coverage-counters.txt";

// Removes every *.gcda below `dir` (a missing directory is fine); returns
// how many. Throws std::runtime_error naming a file it cannot remove.
std::size_t remove_counters(const std::filesystem::path& dir);

struct CounterFile {
  std::string path;         // the .gcda, relative to the directory, '/'-separated
  std::string gcda_digest;  // 64-bit FNV-1a of the content, 16 hex digits
  std::string gcno_digest;  // of the .gcno beside it; "-" when there is none
  bool operator==(const CounterFile&) const = default;
};

// Every *.gcda below `dir`, sorted by path.
std::vector<CounterFile> list_counters(const std::filesystem::path& dir);

// "# comment\n<gcda digest> <gcno digest> <path>\n"...
std::string write_manifest(const std::vector<CounterFile>& files, const std::string& comment);
// Throws std::runtime_error("<label>:<line>: ...") on a malformed line.
std::vector<CounterFile> parse_manifest(const std::string& text, const std::string& label);

// What differs between the recorded and the present counters, one entry per
// file ("a.gcda changed", "a.gcda missing", "b.gcda not recorded"); empty when
// they are the same.
std::vector<std::string> differences(const std::vector<CounterFile>& recorded,
                                     const std::vector<CounterFile>& present);

// The objects of the current build, from `dir`/compile_commands.json: the
// object of every entry ("output", else the -o argument of "arguments" or
// "command"), absolute, without its extension (so that "…/a.c.o" becomes
// "…/a.c", the stem gcc gives a.c.gcno and a.c.gcda). nullopt when there is
// no database or an entry names no object; throws on a malformed file.
std::optional<std::set<std::string>> current_object_stems(const std::filesystem::path& dir);

// What prune() removed, as paths relative to the directory.
struct Pruned {
  std::vector<std::string> orphans;  // .gcda without a .gcno: the object is gone
  std::vector<std::string> stale;    // .gcda older than its .gcno: counters of an earlier compile
  std::vector<std::string> dead;     // .gcno/.gcda of objects no longer in the build
  std::size_t gcda_left = 0;         // .gcda files that remain
  // `objects` was given but names none of the .gcno files (a database of
  // another tree, or paths spelt differently): nothing was removed as dead.
  bool objects_ignored = false;
};

// Makes `dir` hold coverage data of the current build only: removes orphan
// and stale .gcda files and, when `objects` is given, the .gcno and .gcda
// files of objects outside it (a target removed from CMakeLists.txt leaves
// its objects, notes and counters in the build directory).
Pruned prune(const std::filesystem::path& dir, const std::optional<std::set<std::string>>& objects);

}  // namespace wrt::plugins::gcov
