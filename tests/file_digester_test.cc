#include "core/cache/file_digester.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

namespace fs = std::filesystem;
using wrt::FileDigester;
using wrt::sha256;
using wrt::test::TempDir;
using wrt::test::write_file;

namespace {

// Sets mtime well into the past so the entry is not racy.
void age(const fs::path& p, std::int64_t mtime_ns = 1'600'000'000'000'000'000) {
  timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = mtime_ns / 1'000'000'000;
  ts[0].tv_nsec = ts[1].tv_nsec = mtime_ns % 1'000'000'000;
  REQUIRE(::utimensat(AT_FDCWD, p.c_str(), ts, 0) == 0);
}

wrt::Digest digest_ok(FileDigester& d, const std::string& rel) {
  auto r = d.digest(rel);
  INFO(rel);
  REQUIRE(r.ok());
  return *r;
}

fs::path state_of(const TempDir& t) { return t / ".wrt/state/stat-cache"; }

void overwrite(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << bytes;
}

}  // namespace

TEST_CASE("file_digester: digest is the content's SHA-256 and a hit does not re-hash") {
  TempDir t;
  write_file(t / "src/a.c", "int main() {}\n");
  age(t / "src/a.c");
  FileDigester d(t.path(), state_of(t));
  CHECK(digest_ok(d, "src/a.c") == sha256("int main() {}\n"));
  CHECK(d.files_hashed() == 1);
  CHECK(digest_ok(d, "src/a.c") == sha256("int main() {}\n"));
  CHECK(d.files_hashed() == 1);
}

TEST_CASE("file_digester: cache survives save and load") {
  TempDir t;
  write_file(t / "a.txt", "alpha");
  write_file(t / "b/b.txt", "beta");
  age(t / "a.txt");
  age(t / "b/b.txt");
  {
    FileDigester d(t.path(), state_of(t));
    std::string w;
    d.load(&w);
    CHECK(w.empty());  // missing file is fine
    digest_ok(d, "a.txt");
    digest_ok(d, "b/b.txt");
    REQUIRE(d.save().ok());
  }
  REQUIRE(fs::exists(state_of(t)));
  FileDigester d2(t.path(), state_of(t));
  std::string w;
  d2.load(&w);
  CHECK(w.empty());
  CHECK(digest_ok(d2, "a.txt") == sha256("alpha"));
  CHECK(digest_ok(d2, "b/b.txt") == sha256("beta"));
  CHECK(d2.files_hashed() == 0);
}

TEST_CASE("file_digester: save writes only when something changed") {
  TempDir t;
  write_file(t / "a.txt", "alpha");
  age(t / "a.txt");
  {
    FileDigester d(t.path(), state_of(t));
    REQUIRE(d.save().ok());
    CHECK_FALSE(fs::exists(state_of(t)));  // nothing learned, nothing written
    digest_ok(d, "a.txt");
    REQUIRE(d.save().ok());
    CHECK(fs::exists(state_of(t)));
  }
  FileDigester d(t.path(), state_of(t));
  std::string w;
  d.load(&w);
  digest_ok(d, "a.txt");
  fs::remove(state_of(t));
  REQUIRE(d.save().ok());
  CHECK_FALSE(fs::exists(state_of(t)));  // all hits: no write
  // no stray temp files either
  for (const auto& e : fs::directory_iterator(state_of(t).parent_path()))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("file_digester: same-size edit with restored mtime is caught by ctime") {
  TempDir t;
  const fs::path p = t / "f.txt";
  write_file(p, "aaaa");
  age(p);
  FileDigester d(t.path(), state_of(t));
  CHECK(digest_ok(d, "f.txt") == sha256("aaaa"));
  auto before = wrt::stat_file(p);
  REQUIRE(before.ok());

  // Edit in place (same inode), then put the old mtime back, as some tools
  // do; only ctime, which cannot be set from user space, moves.
  auto after = before;
  for (int tries = 0; tries < 100; ++tries) {
    {
      int fd = ::open(p.c_str(), O_WRONLY);
      REQUIRE(fd >= 0);
      REQUIRE(::pwrite(fd, "bbbb", 4, 0) == 4);
      ::close(fd);
    }
    age(p);
    after = wrt::stat_file(p);
    REQUIRE(after.ok());
    if (after->ctime_ns != before->ctime_ns) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(after->size == before->size);
  REQUIRE(after->mtime_ns == before->mtime_ns);
  REQUIRE(after->inode == before->inode);
  REQUIRE(after->ctime_ns != before->ctime_ns);

  CHECK(digest_ok(d, "f.txt") == sha256("bbbb"));
  CHECK(d.files_hashed() == 2);
}

TEST_CASE("file_digester: racy entries are re-hashed, old ones trusted") {
  TempDir t;
  write_file(t / "fresh.txt", "new");
  write_file(t / "old.txt", "old");
  age(t / "old.txt");
  FileDigester d(t.path(), state_of(t));

  // Just written: mtime is not clearly before the hash time, so each lookup
  // hashes again.
  CHECK(digest_ok(d, "fresh.txt") == sha256("new"));
  CHECK(digest_ok(d, "fresh.txt") == sha256("new"));
  CHECK(d.files_hashed() == 2);

  // remember() with a wrong digest shows which entries are trusted: the old
  // file's is used as is, the fresh file's is checked by hashing.
  const wrt::Digest bogus = sha256("bogus");
  auto st_old = wrt::stat_file(t / "old.txt");
  auto st_fresh = wrt::stat_file(t / "fresh.txt");
  REQUIRE(st_old.ok());
  REQUIRE(st_fresh.ok());
  d.remember("old.txt", *st_old, bogus);
  d.remember("fresh.txt", *st_fresh, bogus);
  CHECK(digest_ok(d, "old.txt") == bogus);
  CHECK(digest_ok(d, "fresh.txt") == sha256("new"));
  CHECK(d.files_hashed() == 3);

  // Once the file is older than the window, the next hash is trusted.
  std::int64_t past = st_fresh->mtime_ns - 5'000'000'000;
  age(t / "fresh.txt", past);
  CHECK(digest_ok(d, "fresh.txt") == sha256("new"));
  CHECK(digest_ok(d, "fresh.txt") == sha256("new"));
  CHECK(d.files_hashed() == 4);
}

TEST_CASE("file_digester: missing file and directory are errors naming the path") {
  TempDir t;
  fs::create_directories(t / "dir");
  FileDigester d(t.path(), state_of(t));
  auto missing = d.digest("nope/missing.c");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find("nope/missing.c") != std::string::npos);
  auto dir = d.digest("dir");
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().find("dir") != std::string::npos);
  auto st = wrt::stat_file(t / "dir");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().find("not a regular file") != std::string::npos);
}

TEST_CASE("file_digester: corrupt, truncated or wrong-version state is discarded with a warning") {
  TempDir t;
  write_file(t / "a.txt", "alpha");
  age(t / "a.txt");
  {
    FileDigester d(t.path(), state_of(t));
    digest_ok(d, "a.txt");
    REQUIRE(d.save().ok());
  }
  const std::string good = wrt::test::read_file(state_of(t));
  REQUIRE(good.size() > 32);

  struct Case {
    const char* name;
    std::string bytes;
    const char* expect;
  };
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  std::string version = good;
  version[8] = 9;
  std::string huge_count = good;
  huge_count[16] = '\xff';
  std::vector<Case> cases = {
      {"garbage", "this is not a stat cache at all, just some text", "magic"},
      {"empty", "", "truncated"},
      {"truncated", good.substr(0, good.size() - 5), "checksum"},
      {"flipped bit", flipped, "checksum"},
      {"wrong version", version, "version"},
      {"bad count", huge_count, "checksum"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    overwrite(state_of(t), c.bytes);
    FileDigester d(t.path(), state_of(t));
    std::string w;
    d.load(&w);
    CHECK(w.find(state_of(t).string()) != std::string::npos);
    CHECK(w.find(c.expect) != std::string::npos);
    CHECK(w.find('\n') == std::string::npos);
    // Rebuilt from scratch: the file is hashed, and the bad state replaced
    // even though this run learned nothing new... except this hash.
    CHECK(digest_ok(d, "a.txt") == sha256("alpha"));
    CHECK(d.files_hashed() == 1);
    REQUIRE(d.save().ok());
    FileDigester again(t.path(), state_of(t));
    std::string w2;
    again.load(&w2);
    CHECK(w2.empty());
    CHECK(digest_ok(again, "a.txt") == sha256("alpha"));
    CHECK(again.files_hashed() == 0);
  }
}

TEST_CASE("file_digester: a corrupt state file is replaced even on a run with no new hashes") {
  TempDir t;
  write_file(state_of(t), "junk");
  FileDigester d(t.path(), state_of(t));
  std::string w;
  d.load(&w);
  CHECK_FALSE(w.empty());
  REQUIRE(d.save().ok());
  FileDigester again(t.path(), state_of(t));
  std::string w2;
  again.load(&w2);
  CHECK(w2.empty());
}

TEST_CASE("file_digester: concurrent digest from several threads") {
  TempDir t;
  constexpr int kFiles = 200;
  for (int i = 0; i < kFiles; ++i) {
    fs::path p = t / ("d" + std::to_string(i % 7)) / ("f" + std::to_string(i));
    write_file(p, "content " + std::to_string(i));
    age(p);
  }
  FileDigester d(t.path(), state_of(t));
  constexpr int kThreads = 8;
  std::vector<int> wrong(kThreads, 0);
  auto run = [&] {
    std::vector<std::thread> threads;
    for (int th = 0; th < kThreads; ++th)
      threads.emplace_back([&, th] {
        for (int k = 0; k < kFiles; ++k) {
          int i = (k * 37 + th * 11) % kFiles;  // different order per thread
          auto r = d.digest("d" + std::to_string(i % 7) + "/f" + std::to_string(i));
          if (!r.ok() || *r != sha256("content " + std::to_string(i))) ++wrong[th];
        }
      });
    for (auto& th : threads) th.join();
  };
  run();
  for (int w : wrong) CHECK(w == 0);
  CHECK(d.files_hashed() >= kFiles);
  CHECK(d.files_hashed() <= kFiles * kThreads);
  const auto first_pass = d.files_hashed();
  run();
  for (int w : wrong) CHECK(w == 0);
  CHECK(d.files_hashed() == first_pass);  // second pass is all hits
}

TEST_CASE("file_digester: 30k entries survive save and load") {
  TempDir t;
  write_file(t / "f", "x");
  auto st = wrt::stat_file(t / "f");
  REQUIRE(st.ok());
  FileDigester d(t.path(), state_of(t));
  for (int i = 0; i < 30000; ++i)
    d.remember("src/module" + std::to_string(i / 100) + "/file" + std::to_string(i) + ".cc", *st,
               sha256(std::to_string(i)));
  REQUIRE(d.save().ok());
  FileDigester d2(t.path(), state_of(t));
  std::string w;
  d2.load(&w);
  CHECK(w.empty());
}

TEST_CASE("file_digester: cached() answers from the stat cache only, never hashing") {
  TempDir t;
  write_file(t / "a.txt", "alpha\n");
  age(t / "a.txt");
  FileDigester d(t.path(), state_of(t));
  CHECK_FALSE(d.cached("a.txt"));  // never hashed
  CHECK(d.files_hashed() == 0);
  CHECK(digest_ok(d, "a.txt") == sha256("alpha\n"));
  CHECK(d.cached("a.txt") == sha256("alpha\n"));
  CHECK(d.files_hashed() == 1);
  write_file(t / "a.txt", "changed\n");
  CHECK_FALSE(d.cached("a.txt"));  // the stat changed
  CHECK_FALSE(d.cached("missing.txt"));
  CHECK_FALSE(d.cached("."));      // not a regular file
  CHECK(d.files_hashed() == 1);
}

TEST_CASE("file_digester: every size around the read buffers hashes the whole file, and keeps it when asked") {
  TempDir t;
  FileDigester d(t.path(), state_of(t));
  // The reads stop at a short read that ends at the stat's size: files of
  // exactly a buffer, one byte more or less, and empty ones must still be
  // read to their end.
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1023}, std::size_t{65535}, std::size_t{65536},
                        std::size_t{65537}, std::size_t{131072}, std::size_t{1} << 20, (std::size_t{1} << 20) + 1,
                        (std::size_t{3} << 20) - 1}) {
    std::string content(n, '\0');
    for (std::size_t i = 0; i < n; ++i) content[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    const std::string rel = "f" + std::to_string(n);
    write_file(t / rel, content);
    INFO(n);
    std::optional<std::string> kept;
    auto r = d.digest(rel, nullptr, true, &kept);
    REQUIRE(r.ok());
    CHECK(*r == sha256(content));
    if (n <= FileDigester::kKeptContent) {
      REQUIRE(kept.has_value());
      CHECK(*kept == content);
    } else {
      CHECK_FALSE(kept.has_value());
    }
  }
}
