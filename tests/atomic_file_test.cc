#include "core/util/atomic_file.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

namespace fs = std::filesystem;
using wrt::test::read_file;
using wrt::test::TempDir;
using wrt::test::write_file;

namespace {

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for (auto it = fs::directory_iterator(dir); it != fs::directory_iterator(); ++it) ++n;
  return n;
}

}  // namespace

TEST_CASE("atomic_file: writes, creates parent directories and replaces the old content", "[atomic_file]") {
  TempDir dir;
  const fs::path file = dir / "a/b/report.json";
  REQUIRE(wrt::write_file_atomically(file, std::string_view("first\n")).ok());
  CHECK(read_file(file) == "first\n");
  REQUIRE(wrt::write_file_atomically(file, [](std::ostream& out) { out << "second" << 2 << '\n'; }).ok());
  CHECK(read_file(file) == "second2\n");
  CHECK(entries_in(file.parent_path()) == 1);  // no temp file left behind
}

TEST_CASE("atomic_file: a failing or throwing writer leaves the old file and no temp file", "[atomic_file]") {
  TempDir dir;
  const fs::path file = dir / "state";
  write_file(file, "old");

  wrt::Status thrown = wrt::write_file_atomically(file, [](std::ostream& out) {
    out << "half of the new content";
    throw std::runtime_error("invalid UTF-8 byte at index 3");
  });
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.error().find(file.string()) != std::string::npos);
  CHECK(thrown.error().find("invalid UTF-8") != std::string::npos);
  CHECK(read_file(file) == "old");
  CHECK(entries_in(dir.path()) == 1);

  write_file(dir / "blocker", "a file, not a directory");
  wrt::Status blocked = wrt::write_file_atomically(dir / "blocker/state", std::string_view("x"));
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.error().find("blocker/state: cannot write") != std::string::npos);
}

TEST_CASE("atomic_file: concurrent writers of one file never leave a mixed or partial file", "[atomic_file]") {
  TempDir dir;
  const fs::path file = dir / "index";
  std::atomic<int> failures{0};  // Catch2's assertions are not thread-safe
  std::vector<std::thread> writers;
  for (char c : std::string("abcd")) {
    writers.emplace_back([&file, &failures, c] {
      const std::string content(64 * 1024, c);
      for (int i = 0; i < 20; ++i)
        if (!wrt::write_file_atomically(file, content).ok()) ++failures;
    });
  }
  for (auto& t : writers) t.join();
  CHECK(failures == 0);
  const std::string got = read_file(file);
  REQUIRE(got.size() == 64 * 1024);
  CHECK(got == std::string(got.size(), got.front()));
  CHECK(entries_in(dir.path()) == 1);
}
