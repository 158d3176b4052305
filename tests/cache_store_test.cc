#include "core/cache/cache_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <string>
#include <thread>

#include <fmt/core.h>
#include <vector>

#include <catch2/catch.hpp>
#include <chrono>

#include "support.h"

namespace fs = std::filesystem;
using wrt::CacheEntry;
using wrt::CacheStore;
using wrt::CachedFile;
using wrt::Digest;
using wrt::test::read_file;
using wrt::test::TempDir;
using wrt::test::write_file;

namespace {

std::string key(int n) { return wrt::to_hex(wrt::sha256("key-" + std::to_string(n))); }

fs::path blob_file(const fs::path& cache, const Digest& d) {
  std::string hex = wrt::to_hex(d);
  return cache / "blobs" / hex.substr(0, 2) / hex;
}

fs::path entry_file(const fs::path& cache, const std::string& k) { return cache / "entries" / k.substr(0, 2) / k; }

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

void set_mtime(const fs::path& p, time_t secs_ago) {
  timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= secs_ago;
  times[1] = times[0];
  REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, 0) == 0);
}

void flip_first_byte(const fs::path& p) {
  std::string s = read_file(p);
  REQUIRE(!s.empty());
  s[0] = static_cast<char>(s[0] ^ 0x01);
  write_file(p, s);
}

// An entry with one output holding `content` (stored as a blob).
CacheEntry entry_with(CacheStore& store, const std::string& path, const std::string& content) {
  auto d = store.put_bytes(content);
  REQUIRE(d.ok());
  CacheEntry e;
  e.result = {{"status", "ok"}};
  e.outputs.push_back(CachedFile{path, *d, content.size(), false});
  return e;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("cache_store: round trip of files, entry and log") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1ull << 30);
  REQUIRE(store.open().ok());
  REQUIRE(fs::is_directory(tmp / "cache/blobs"));
  REQUIRE(fs::is_directory(tmp / "cache/entries"));
  REQUIRE(fs::is_directory(tmp / "cache/tmp"));

  std::string big(300000, '\0');  // spans several copy buffers
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 251);
  write_file(tmp / "ws/out/data.bin", big);
  write_file(tmp / "ws/out/run.sh", "#!/bin/sh\necho hi\n");

  auto data = store.put_file(tmp / "ws/out/data.bin");
  REQUIRE(data.ok());
  CHECK(*data == wrt::sha256(big));
  CHECK(store.has_blob(*data));
  auto script = store.put_file(tmp / "ws/out/run.sh");
  REQUIRE(script.ok());
  auto log = store.put_bytes("the log\n");
  REQUIRE(log.ok());
  // Storing identical content again is a no-op that returns the same digest.
  auto again = store.put_bytes(big);
  REQUIRE(again.ok());
  CHECK(*again == *data);

  CacheEntry e;
  e.result = {{"status", "ok"}, {"metrics", {{"tests", 12}}}};
  // Given out of order: the store keeps them sorted by path.
  e.outputs.push_back(CachedFile{"out/run.sh", *script, 18, true});
  e.outputs.push_back(CachedFile{"out/data.bin", *data, big.size(), false});
  e.log = *log;
  REQUIRE(store.put_entry(key(1), e).ok());

  std::string warning = "stale";
  auto got = store.get_entry(key(1), &warning);
  REQUIRE(got.has_value());
  CHECK(warning.empty());
  CHECK(got->result == e.result);
  REQUIRE(got->outputs.size() == 2);
  CHECK(got->outputs[0].path == "out/data.bin");
  CHECK(got->outputs[0].digest == *data);
  CHECK(got->outputs[0].size == big.size());
  CHECK_FALSE(got->outputs[0].executable);
  CHECK(got->outputs[1].path == "out/run.sh");
  CHECK(got->outputs[1].executable);
  REQUIRE(got->log.has_value());
  CHECK(*got->log == *log);

  auto log_text = store.read_blob(*got->log);
  REQUIRE(log_text.ok());
  CHECK(*log_text == "the log\n");

  // Restore into a fresh workspace, including a parent that does not exist,
  // and over an existing file.
  write_file(tmp / "ws2/out/run.sh", "old content");
  ::chmod((tmp / "ws2/out/run.sh").c_str(), 0600);
  for (const auto& f : got->outputs) REQUIRE(store.restore_file(f.digest, tmp / "ws2" / f.path, f.executable).ok());
  CHECK(read_file(tmp / "ws2/out/data.bin") == big);
  CHECK(read_file(tmp / "ws2/out/run.sh") == "#!/bin/sh\necho hi\n");
  CHECK(mode_of(tmp / "ws2/out/run.sh") == 0755);
  CHECK(mode_of(tmp / "ws2/out/data.bin") == 0644);
  // No temp files left beside the restored ones.
  CHECK(std::distance(fs::directory_iterator(tmp / "ws2/out"), fs::directory_iterator()) == 2);

  auto s = store.stats();
  CHECK(s.entries == 1);
  CHECK(s.blobs == 3);
  CHECK(s.bytes >= big.size() + 18 + 8);
  CHECK(s.max_bytes == 1ull << 30);
}

TEST_CASE("cache_store: absent key is a silent miss, invalid key a warning") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  std::string warning = "stale";
  CHECK_FALSE(store.get_entry(key(7), &warning).has_value());
  CHECK(warning.empty());
  CHECK_FALSE(store.get_entry("../../etc/passwd", &warning).has_value());
  CHECK_FALSE(warning.empty());
  CHECK_FALSE(store.put_entry("../x", CacheEntry{}).ok());
}

TEST_CASE("cache_store: entry whose blob is missing is a miss with a warning") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  CacheEntry e = entry_with(store, "a.txt", "alpha");
  REQUIRE(store.put_entry(key(1), e).ok());
  fs::path blob = blob_file(tmp / "cache", e.outputs[0].digest);
  REQUIRE(fs::remove(blob));

  std::string warning;
  CHECK_FALSE(store.get_entry(key(1), &warning).has_value());
  CHECK(warning.find(wrt::to_hex(e.outputs[0].digest)) != std::string::npos);
  CHECK(warning.find("missing") != std::string::npos);

  // Publishing an entry whose blob is not stored is refused.
  auto st = store.put_entry(key(2), e);
  CHECK_FALSE(st.ok());
  CHECK(st.error().find(wrt::to_hex(e.outputs[0].digest)) != std::string::npos);
}

TEST_CASE("cache_store: corrupt blob fails the restore and is removed") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  auto d = store.put_bytes("precious output");
  REQUIRE(d.ok());
  fs::path blob = blob_file(tmp / "cache", *d);
  flip_first_byte(blob);

  fs::create_directories(tmp / "ws");
  auto st = store.restore_file(*d, tmp / "ws/out.txt", false);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().find("cache blob " + wrt::to_hex(*d) + " is corrupt") != std::string::npos);
  CHECK(st.error().find("; removed") != std::string::npos);
  CHECK_FALSE(fs::exists(blob));
  CHECK_FALSE(store.has_blob(*d));
  CHECK_FALSE(fs::exists(tmp / "ws/out.txt"));
  CHECK(fs::is_empty(tmp / "ws"));  // nothing left half written

  // Over an existing file (written beside it, then renamed): it is left as it was.
  auto d3 = store.put_bytes("new output");
  REQUIRE(d3.ok());
  flip_first_byte(blob_file(tmp / "cache", *d3));
  write_file(tmp / "ws/out.txt", "old output");
  REQUIRE_FALSE(store.restore_file(*d3, tmp / "ws/out.txt", false).ok());
  CHECK(read_file(tmp / "ws/out.txt") == "old output");
  CHECK(std::distance(fs::directory_iterator(tmp / "ws"), fs::directory_iterator()) == 1);  // no temp file
  fs::remove(tmp / "ws/out.txt");

  // read_blob checks the same way.
  auto d2 = store.put_bytes("other");
  REQUIRE(d2.ok());
  flip_first_byte(blob_file(tmp / "cache", *d2));
  auto r = store.read_blob(*d2);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("corrupt") != std::string::npos);
  CHECK_FALSE(store.has_blob(*d2));
}

namespace {
// An entry file as the store writes it: checksummed header + a body of a
// JSON line and the inlined bytes (`tail`).
std::string sealed(const std::string& json_line, const std::string& tail = "") {
  const std::string body = json_line + "\n" + tail;
  return "wrt-entry 3 " + wrt::to_hex(wrt::sha256(body)) + "\n" + body;
}
std::string body_of(const std::string& file_text) { return file_text.substr(file_text.find('\n') + 1); }

// The damaged entry at `file` is a miss whose warning names the file and
// `why`, and it is removed.
void check_refused(CacheStore& store, const std::string& k, const fs::path& file, const std::string& why) {
  std::string warning;
  CHECK_FALSE(store.get_entry(k, &warning).has_value());
  INFO(warning);
  CHECK(warning.find(file.string()) != std::string::npos);
  CHECK(warning.find(why) != std::string::npos);
  CHECK_FALSE(fs::exists(file));
}
}  // namespace

TEST_CASE("cache_store: corrupt entry is a miss with a warning and is removed") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  CacheEntry e = entry_with(store, "a.txt", "alpha");
  REQUIRE(store.put_entry(key(1), e).ok());
  fs::path file = entry_file(tmp / "cache", key(1));
  std::string good = read_file(file);
  REQUIRE(good.rfind("wrt-entry 3 ", 0) == 0);
  auto body = nlohmann::json::parse(body_of(good));
  const std::string digest_hex = wrt::to_hex(e.outputs[0].digest);

  std::string bad, why;
  SECTION("truncated") {
    bad = good.substr(0, good.size() / 2);
    why = "checksum mismatch";
  }
  SECTION("one flipped bit in an output path, checksum left as it was") {
    bad = good;
    std::size_t at = bad.find("a.txt");
    REQUIRE(at != std::string::npos);
    bad[at] = static_cast<char>(bad[at] ^ 0x02);  // a.txt -> c.txt
    why = "checksum mismatch";
  }
  SECTION("no header") {
    bad = body_of(good);
    why = "header";
  }
  SECTION("wrong shape, correctly sealed") {
    bad = sealed(R"({"version":3,"key":")" + key(1) + R"(","result":{},"outputs":{},"log":null,"inlined":[]})");
    why = "\"outputs\" is not an array";
  }
  SECTION("bad digest hex, correctly sealed") {
    body["outputs"][0]["digest"] = "zz";
    bad = sealed(body.dump());
    why = "64 hex digits";
  }
  SECTION("path escaping the workspace, correctly sealed") {
    body["outputs"][0]["path"] = "../../x";
    bad = sealed(body.dump());
    why = "inside the workspace";
  }
  SECTION("symlink pointing outside, correctly sealed") {
    body["outputs"][0] = {{"path", "out/l"}, {"kind", "symlink"}, {"target", "../../etc/passwd"}};
    bad = sealed(body.dump());
    why = "\"target\"";
  }
  SECTION("unknown kind") {
    body["outputs"][0]["kind"] = "device";
    bad = sealed(body.dump());
    why = "kind";
  }
  SECTION("an intact entry of another key") {
    body["key"] = key(2);
    bad = sealed(body.dump());
    why = "another key";
  }
  SECTION("other version") {
    body["version"] = 1;
    bad = sealed(body.dump());
    why = "version";
  }
  write_file(file, bad);
  check_refused(store, key(1), file, why);
  // The blob itself is untouched.
  CHECK(store.has_blob(e.outputs[0].digest));
  (void)digest_hex;
}

TEST_CASE("cache_store: small blobs travel inside the entry, and restoring them and the log opens no blob") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 30);
  REQUIRE(store.open().ok());
  const std::string small = "small output\n";
  const std::string big(20000, 'b');  // above kEntryInlineBlob
  const std::string log = "the log\n";
  const Digest ds = wrt::sha256(small), db = wrt::sha256(big), dl = wrt::sha256(log);
  CacheEntry e;
  e.result = {{"status", "passed"}};
  REQUIRE(e.offer_inline(ds, small));
  CHECK_FALSE(e.offer_inline(db, big));
  REQUIRE(store.put_bytes(big).ok());
  REQUIRE(e.offer_inline(dl, log));
  e.outputs.push_back(CachedFile{"out/big.bin", db, big.size(), false});
  e.outputs.push_back(CachedFile{"out/s.sh", ds, small.size(), true});
  e.outputs.back().inlined = true;
  e.log = dl;
  e.log_inlined = true;
  CHECK(wrt::cache_entry_blobs(e) == std::vector<std::string>{wrt::to_hex(db)});
  REQUIRE(store.put_entry(key(1), e).ok());
  CHECK_FALSE(store.has_blob(ds));  // never written as a blob
  CHECK_FALSE(store.has_blob(dl));

  std::string warning;
  auto got = store.get_entry(key(1), &warning);
  INFO(warning);
  REQUIRE(got.has_value());
  REQUIRE(got->outputs.size() == 2);
  CHECK_FALSE(got->outputs[0].inlined);
  CHECK(got->outputs[1].inlined);
  CHECK(got->log_inlined);
  CHECK(got->inlined_bytes == small.size() + log.size());
  auto log_text = store.read_log(*got);
  REQUIRE(log_text.ok());
  CHECK(*log_text == log);
  // The same entry written again is the same text (write-once, no difference).
  auto again = store.put_entry(key(1), *got);
  REQUIRE(again.ok());
  CHECK(again->differences.empty());

  fs::create_directories(tmp / "ws");
  int dir = ::open((tmp / "ws").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dir >= 0);
  for (const auto& f : got->outputs) {
    const std::string name = f.path.substr(f.path.rfind('/') + 1);
    CHECK(store.restore_output_at(*got, f, dir, name).ok());
  }
  ::close(dir);
  CHECK(read_file(tmp / "ws/s.sh") == small);
  CHECK(mode_of(tmp / "ws/s.sh") == 0755);
  CHECK(read_file(tmp / "ws/big.bin") == big);
  CHECK(mode_of(tmp / "ws/big.bin") == 0644);

  // gc and verify count only the blob the entry names outside itself.
  auto v = store.verify();
  REQUIRE(v.ok());
  CHECK(v->problems.empty());
  CHECK(v->entries_checked == 1);
  auto g = store.gc(1ull << 30);
  REQUIRE(g.ok());
  CHECK(g->entries_removed == 0);
  CHECK(g->blobs_removed == 0);
  CHECK(store.get_entry(key(1), &warning).has_value());
}

TEST_CASE("cache_store: offer_inline keeps to the per-blob and per-entry limits") {
  CacheEntry e;
  const std::string too_big(wrt::kEntryInlineBlob + 1, 'x');
  CHECK_FALSE(e.offer_inline(wrt::sha256(too_big), too_big));
  for (int i = 0; i < 4; ++i) {
    const std::string piece(wrt::kEntryInlineBlob, static_cast<char>('a' + i));
    CHECK(e.offer_inline(wrt::sha256(piece), piece));
  }
  CHECK(e.inlined_bytes == wrt::kEntryInlineTotal);
  CHECK_FALSE(e.offer_inline(wrt::sha256("one more"), "one more"));  // budget spent
  const std::string first(wrt::kEntryInlineBlob, 'a');
  CHECK(e.offer_inline(wrt::sha256(first), first));  // already there: costs nothing
  CHECK(e.inlined.size() == 4);
  CHECK(std::is_sorted(e.inlined.begin(), e.inlined.end(),
                       [](const wrt::InlinedBlob& a, const wrt::InlinedBlob& b) { return a.digest < b.digest; }));
  CHECK(e.offer_inline(wrt::sha256(""), ""));  // an empty file costs nothing either
}

TEST_CASE("cache_store: inlined bytes are checked when the entry is read, a mismatch is a miss and removes it") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  const std::string a = "alpha\n", b = "beta\n";
  CacheEntry e;
  e.result = {{"status", "passed"}};
  REQUIRE(e.offer_inline(wrt::sha256(a), a));
  REQUIRE(e.offer_inline(wrt::sha256(b), b));
  e.outputs.push_back(CachedFile{"out/a", wrt::sha256(a), a.size(), false});
  e.outputs.push_back(CachedFile{"out/b", wrt::sha256(b), b.size(), false});
  REQUIRE(store.put_entry(key(1), e).ok());
  const fs::path file = entry_file(tmp / "cache", key(1));
  const std::string good = read_file(file);
  wrt::test::EntryFile parts = wrt::test::split_entry(good);
  REQUIRE(parts.inlined.size() == 2);
  const std::string json_line = parts.body.dump();
  // The tail as written: the two contents in digest order.
  std::string tail;
  for (const auto& [hex, bytes] : parts.inlined) tail += bytes;
  nlohmann::json body = parts.body;

  std::string bad, why;
  SECTION("other bytes of the same length, correctly sealed") {
    std::string t = tail;
    t[0] = static_cast<char>(t[0] ^ 0x20);
    bad = sealed(json_line, t);
    why = "do not match its digest";
  }
  SECTION("a flipped byte in the inlined bytes, checksum left as it was") {
    bad = good;
    bad[bad.size() - 1] = static_cast<char>(bad[bad.size() - 1] ^ 0x01);
    why = "checksum mismatch";
  }
  SECTION("bytes after the inlined blobs") {
    bad = sealed(json_line, tail + "x");
    why = "1 bytes after the inlined blobs";
  }
  SECTION("fewer bytes than listed") {
    bad = sealed(json_line, tail.substr(0, tail.size() - 1));
    why = "run past the end";
  }
  SECTION("an inlined blob no output names") {
    body["outputs"].erase(1);
    bad = sealed(body.dump(), tail);
    why = "is no output's or log's content";
  }
  SECTION("an output whose size is not its inlined content's") {
    body["outputs"][0]["size"] = 99;
    bad = sealed(body.dump(), tail);
    why = "is not 99 bytes";
  }
  SECTION("inlined blobs out of order") {
    std::swap(body["inlined"][0], body["inlined"][1]);
    std::string swapped;
    for (auto it = parts.inlined.rbegin(); it != parts.inlined.rend(); ++it) swapped += it->second;
    bad = sealed(body.dump(), swapped);
    why = "not sorted";
  }
  SECTION("no inlined list") {
    body.erase("inlined");
    bad = sealed(body.dump(), "");
    why = "\"inlined\" is not an array";
  }
  write_file(file, bad);
  check_refused(store, key(1), file, why);
}

TEST_CASE("cache_store: entries are write-once, a different second result is reported, not stored") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  CacheEntry first = entry_with(store, "out/a", "first");
  auto p1 = store.put_entry(key(1), first);
  REQUIRE(p1.ok());
  CHECK(p1->stored);
  CHECK(p1->differences.empty());

  // The same result again: nothing to report.
  auto same = store.put_entry(key(1), first);
  REQUIRE(same.ok());
  CHECK_FALSE(same->stored);
  CHECK(same->differences.empty());

  CacheEntry second = entry_with(store, "out/a", "second");
  second.outputs.push_back(CachedFile{"out/b", wrt::Digest{}, 0, false, wrt::OutputKind::kDir});
  auto p2 = store.put_entry(key(1), second);
  REQUIRE(p2.ok());
  CHECK_FALSE(p2->stored);
  CHECK(p2->differences == std::vector<std::string>{"out/a", "out/b"});
  std::string warning;
  auto kept = store.get_entry(key(1), &warning);
  REQUIRE(kept.has_value());
  CHECK(kept->outputs.size() == 1);
  CHECK(kept->outputs[0].digest == first.outputs[0].digest);

  // A corrupt entry is no result: the next writer replaces it.
  flip_first_byte(entry_file(tmp / "cache", key(1)));
  auto p3 = store.put_entry(key(1), second);
  REQUIRE(p3.ok());
  CHECK(p3->stored);
  CHECK(p3->replaced_corrupt);
  kept = store.get_entry(key(1), &warning);
  REQUIRE(kept.has_value());
  CHECK(kept->outputs.size() == 2);
}

TEST_CASE("cache_store: symlink and directory outputs round-trip through an entry") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  CacheEntry e = entry_with(store, "lib/libfoo.so.1", "ELF");
  e.outputs.push_back(CachedFile{"lib/libfoo.so", wrt::symlink_digest("libfoo.so.1"), 0, false,
                                 wrt::OutputKind::kSymlink, "libfoo.so.1"});
  e.outputs.push_back(CachedFile{"lib/empty", wrt::Digest{}, 0, false, wrt::OutputKind::kDir});
  std::sort(e.outputs.begin(), e.outputs.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  REQUIRE(store.put_entry(key(4), e).ok());
  std::string warning;
  auto got = store.get_entry(key(4), &warning);
  REQUIRE(got.has_value());
  CHECK(got->outputs == e.outputs);
}

TEST_CASE("cache_store: verify finds a damaged entry and names it") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  REQUIRE(store.put_entry(key(1), entry_with(store, "out/a1.txt", "one")).ok());
  REQUIRE(store.put_entry(key(2), entry_with(store, "out/a2.txt", "two")).ok());
  fs::path file = entry_file(tmp / "cache", key(1));
  std::string text = read_file(file);
  std::size_t at = text.find("a1.txt");
  text[at + 1] = '0';  // out/a1.txt -> out/a0.txt
  write_file(file, text);
  auto r = store.verify();
  REQUIRE(r.ok());
  CHECK(r->entries_checked == 2);
  REQUIRE(r->problems.size() == 1);
  CHECK(r->problems[0].find(file.string()) != std::string::npos);
  CHECK(r->problems[0].find("checksum mismatch") != std::string::npos);
}

TEST_CASE("cache_store: gc evicts least recently used entries and unreferenced blobs") {
  TempDir tmp;
  const fs::path cache = tmp / "cache";
  const std::string payload(10000, 'x');
  CacheEntry e1, e2, e3;
  Digest orphan{}, shared{};
  {
    CacheStore store(cache, 1ull << 30);
    REQUIRE(store.open().ok());
    e1 = entry_with(store, "f", payload + "1");
    e2 = entry_with(store, "f", payload + "2");
    e3 = entry_with(store, "f", payload + "3");
    // A small blob shared by all three entries.
    auto sh = store.put_bytes("shared log");
    REQUIRE(sh.ok());
    shared = *sh;
    for (CacheEntry* e : {&e1, &e2, &e3}) e->log = shared;
    REQUIRE(store.put_entry(key(1), e1).ok());
    REQUIRE(store.put_entry(key(2), e2).ok());
    REQUIRE(store.put_entry(key(3), e3).ok());
    auto o = store.put_bytes("nobody refers to this");
    REQUIRE(o.ok());
    orphan = *o;
    CHECK(store.over_limit() == false);
  }
  // Oldest first: 1, 2, 3; then a hit on 1 makes 2 the least recently used.
  // (Hours ago: an entry used within the hour is not touched again.)
  set_mtime(entry_file(cache, key(1)), 4 * 3600);
  set_mtime(entry_file(cache, key(2)), 3 * 3600);
  set_mtime(entry_file(cache, key(3)), 2 * 3600);
  // Old enough not to count as written by the store doing the gc.
  for (const auto& f : fs::recursive_directory_iterator(cache / "blobs"))
    if (f.is_regular_file()) set_mtime(f.path(), 1000);
  write_file(cache / "tmp/stale", "left by a crash");
  set_mtime(cache / "tmp/stale", 2 * 3600);
  write_file(cache / "tmp/fresh", "being written");

  CacheStore store(cache, 1ull << 30);
  REQUIRE(store.open().ok());
  std::string warning;
  REQUIRE(store.get_entry(key(1), &warning).has_value());
  CHECK(fs::last_write_time(entry_file(cache, key(1))) > fs::last_write_time(entry_file(cache, key(3))));

  const std::uint64_t total = store.stats().bytes;
  const std::uint64_t orphan_size = fs::file_size(blob_file(cache, orphan));
  // Just over what the three entries need: exactly one must go.
  auto r = store.gc(total - orphan_size - 1);
  REQUIRE(r.ok());
  CHECK(r->bytes_before == total);
  CHECK(r->entries_removed == 1);
  CHECK(r->blobs_removed == 2);  // e2's output and the orphan
  CHECK(r->bytes_after <= total - orphan_size - 1);
  CHECK(r->bytes_after == store.stats().bytes);

  CHECK(store.get_entry(key(1), &warning).has_value());
  CHECK_FALSE(store.get_entry(key(2), &warning).has_value());
  CHECK(warning.empty());  // gone, not broken
  CHECK(store.get_entry(key(3), &warning).has_value());
  CHECK_FALSE(store.has_blob(e2.outputs[0].digest));
  CHECK_FALSE(store.has_blob(orphan));
  CHECK(store.has_blob(e1.outputs[0].digest));
  CHECK(store.has_blob(e3.outputs[0].digest));
  CHECK(store.has_blob(shared));
  CHECK_FALSE(fs::exists(cache / "tmp/stale"));
  CHECK(fs::exists(cache / "tmp/fresh"));

  // Everything goes when the cap is zero.
  auto r0 = store.gc(0);
  REQUIRE(r0.ok());
  CHECK(r0->entries_removed == 2);
  CHECK(r0->bytes_after == 0);
  auto s = store.stats();
  CHECK(s.entries == 0);
  CHECK(s.blobs == 0);
}

TEST_CASE("cache_store: gc keeps blobs this process just stored but not yet published") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1ull << 30);
  REQUIRE(store.open().ok());
  auto d = store.put_bytes("output of a stage still running");
  REQUIRE(d.ok());
  auto r = store.gc(1ull << 30);
  REQUIRE(r.ok());
  CHECK(r->blobs_removed == 0);
  CHECK(store.has_blob(*d));
  CacheEntry e;
  e.result = nullptr;
  e.outputs.push_back(CachedFile{"f", *d, 31, false});
  CHECK(store.put_entry(key(1), e).ok());
}

TEST_CASE("cache_store: over_limit tracks bytes written") {
  TempDir tmp;
  CacheStore store(tmp / "cache", 1000);
  REQUIRE(store.open().ok());
  CHECK_FALSE(store.over_limit());
  REQUIRE(store.put_bytes(std::string(600, 'a')).ok());
  CHECK_FALSE(store.over_limit());
  REQUIRE(store.put_bytes(std::string(600, 'b')).ok());
  CHECK(store.over_limit());
  REQUIRE(store.gc(0).ok());  // nothing referenced and nothing in flight from another store
  // Blobs this store wrote count as in flight, so they stay and keep it over.
  CHECK(store.over_limit());
}

TEST_CASE("cache_store: the size estimate outlives the process, and a damaged, stale or future one is measured again") {
  TempDir tmp;
  const fs::path cache = tmp / "cache";
  const fs::path estimate = cache / "size-estimate";
  {
    CacheStore a(cache, 1000);
    REQUIRE(a.open().ok());
    REQUIRE(a.put_bytes(std::string(600, 'a')).ok());
    CHECK_FALSE(a.over_limit());
  }
  REQUIRE(fs::exists(estimate));
  CHECK(read_file(estimate).rfind("wrt-size 1 600 ", 0) == 0);
  {
    // 600 from the estimate plus the 600 this process writes: over.
    CacheStore b(cache, 1000);
    REQUIRE(b.open().ok());
    REQUIRE(b.put_bytes(std::string(600, 'b')).ok());
    CHECK(b.over_limit());
  }
  CHECK(read_file(estimate).rfind("wrt-size 1 1200 ", 0) == 0);
  const auto now = static_cast<long long>(::time(nullptr));
  auto over_with = [&](const std::string& text) {
    write_file(estimate, text);
    CacheStore s(cache, 1000);
    REQUIRE(s.open().ok());
    return s.over_limit();
  };
  // A fresh estimate is believed (no walk): it says 0 bytes, so not over,
  // although the store holds 1200.
  CHECK_FALSE(over_with(fmt::format("wrt-size 1 0 {}\n", now)));
  // Anything else is measured: the walk finds the 1200 bytes.
  CHECK(over_with(fmt::format("wrt-size 1 0 {}\n", now - 2 * 24 * 3600)));  // a day old or more
  CHECK(over_with(fmt::format("wrt-size 1 0 {}\n", now + 3600)));           // from the future
  CHECK(over_with("wrt-size 1 zero 0\n"));                                    // damaged
  CHECK(over_with(fmt::format("wrt-size 1 0 {}\ntrailing", now)));           // trailing bytes
  CHECK(over_with(""));
  // The walk leaves a good estimate for the next process.
  CHECK(read_file(estimate).rfind("wrt-size 1 1200 ", 0) == 0);
  // gc measures and records the size after it.
  {
    CacheStore g(cache, 1000);
    REQUIRE(g.open().ok());
    auto r = g.gc(0);
    REQUIRE(r.ok());
    CHECK(read_file(estimate).rfind(fmt::format("wrt-size 1 {} ", r->bytes_after), 0) == 0);
  }
}

TEST_CASE("cache_store: verify finds and removes corrupt blobs and broken entries") {
  TempDir tmp;
  const fs::path cache = tmp / "cache";
  CacheStore store(cache, 1 << 20);
  REQUIRE(store.open().ok());
  CacheEntry good = entry_with(store, "good.txt", "good content");
  CacheEntry victim = entry_with(store, "victim.txt", "victim content");
  REQUIRE(store.put_entry(key(1), good).ok());
  REQUIRE(store.put_entry(key(2), victim).ok());
  REQUIRE(store.put_entry(key(3), good).ok());
  write_file(entry_file(cache, key(3)), "{not json");

  auto clean = store.verify();
  REQUIRE(clean.ok());
  CHECK(clean->problems.size() == 1);  // only the garbage entry
  CHECK(any_contains(clean->problems, entry_file(cache, key(3)).string()));
  CHECK_FALSE(fs::exists(entry_file(cache, key(3))));

  const std::string victim_hex = wrt::to_hex(victim.outputs[0].digest);
  flip_first_byte(blob_file(cache, victim.outputs[0].digest));
  auto r = store.verify();
  REQUIRE(r.ok());
  CHECK(r->blobs_checked == 2);
  CHECK(r->entries_checked == 2);
  REQUIRE(r->problems.size() == 2);
  CHECK(any_contains(r->problems, "cache blob " + victim_hex + " is corrupt"));
  CHECK(any_contains(r->problems, entry_file(cache, key(2)).string()));
  CHECK_FALSE(store.has_blob(victim.outputs[0].digest));
  CHECK_FALSE(fs::exists(entry_file(cache, key(2))));
  CHECK(store.get_entry(key(1), nullptr).has_value());

  auto again = store.verify();
  REQUIRE(again.ok());
  CHECK(again->problems.empty());
}

TEST_CASE("cache_store: parse_size and format_size") {
  CHECK(*wrt::parse_size("1024") == 1024);
  CHECK(*wrt::parse_size("0") == 0);
  CHECK(*wrt::parse_size("5GiB") == 5ull << 30);
  CHECK(*wrt::parse_size("5gib") == 5ull << 30);
  CHECK(*wrt::parse_size("500MB") == 500000000ull);
  CHECK(*wrt::parse_size("10k") == 10000);
  CHECK(*wrt::parse_size("10KiB") == 10240);
  CHECK(*wrt::parse_size("2 TiB") == 2ull << 40);
  CHECK(*wrt::parse_size(" 1.5GiB ") == 3ull << 29);
  CHECK(*wrt::parse_size("7b") == 7);
  CHECK(*wrt::parse_size("18446744073709551615") == 18446744073709551615ull);

  for (const char* bad : {"", "GiB", "abc", "5 XB", "-5MB", "1.5", "1.GiB", "5GiB extra", "0x10"}) {
    auto r = wrt::parse_size(bad);
    INFO(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().find("invalid size") != std::string::npos);
  }
  for (const char* huge : {"18446744073709551616", "99999999999999999999999TiB", "16777216TiB"}) {
    auto r = wrt::parse_size(huge);
    INFO(huge);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("too large") != std::string::npos);
  }

  CHECK(wrt::format_size(0) == "0 B");
  CHECK(wrt::format_size(1023) == "1023 B");
  CHECK(wrt::format_size(1024) == "1 KiB");
  CHECK(wrt::format_size(3ull << 29) == "1.5 GiB");
  CHECK(wrt::format_size(5ull << 30) == "5 GiB");
  CHECK(wrt::format_size((1ull << 20) - 1) == "1 MiB");
}

TEST_CASE("cache_store: two processes writing the same and different entries at once") {
  TempDir tmp;
  const fs::path cache = tmp / "cache";
  constexpr int kKeys = 40;
  std::vector<pid_t> children;
  for (int child = 0; child < 2; ++child) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // No Catch2 macros here: report through the exit code only.
      int failures = 0;
      {
        CacheStore store(cache, 1ull << 30);
        if (!store.open().ok()) ::_exit(90);
        for (int i = 0; i < kKeys; ++i) {
          // Even keys: both children write identical content. Odd keys: each
          // child its own key and content.
          bool same = i % 2 == 0;
          int k = same ? i : 1000 * (child + 1) + i;
          std::string content = "content " + std::to_string(k) + std::string(5000 + i * 97, 'z');
          auto d = store.put_bytes(content);
          auto log = store.put_bytes("log " + std::to_string(k));
          if (!d.ok() || !log.ok()) {
            ++failures;
            continue;
          }
          CacheEntry e;
          e.result = {{"k", k}};
          e.outputs.push_back(CachedFile{"out/" + std::to_string(k), *d, content.size(), (k % 3) == 0});
          e.log = *log;
          if (!store.put_entry(key(k), e).ok()) ++failures;
          std::string w;
          if (!store.get_entry(key(k), &w)) ++failures;
        }
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  CacheStore store(cache, 1ull << 30);
  REQUIRE(store.open().ok());
  auto v = store.verify();
  REQUIRE(v.ok());
  CHECK(v->problems.empty());
  CHECK(v->entries_checked == kKeys / 2 + kKeys);  // 20 shared + 2 × 20 own
  CHECK(fs::is_empty(cache / "tmp"));
  for (int k : {0, 38, 1001, 2039}) {
    std::string w;
    auto e = store.get_entry(key(k), &w);
    INFO(k << ": " << w);
    REQUIRE(e.has_value());
    fs::path dest = tmp / "ws" / e->outputs[0].path;
    REQUIRE(store.restore_file(e->outputs[0].digest, dest, e->outputs[0].executable).ok());
    CHECK(read_file(dest).rfind("content " + std::to_string(k), 0) == 0);
  }
}

TEST_CASE("cache_store: many threads share one store while another store runs gc") {
  TempDir tmp;
  const fs::path cache = tmp / "cache";
  constexpr int kThreads = 8, kPerThread = 25;
  std::atomic<int> failures{0};
  {
    CacheStore store(cache, 1ull << 30);
    REQUIRE(store.open().ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          // Half the content is common to all threads, to race on one blob.
          std::string content = (i % 2 ? "thread " + std::to_string(t) + " " : std::string("common ")) +
                                std::to_string(i);
          write_file(tmp / ("src/" + std::to_string(t) + "/" + std::to_string(i)), content);
          auto d = store.put_file(tmp / ("src/" + std::to_string(t) + "/" + std::to_string(i)));
          if (!d.ok()) {
            ++failures;
            continue;
          }
          CacheEntry e;
          e.result = {{"t", t}, {"i", i}};
          e.outputs.push_back(CachedFile{"o", *d, content.size(), false});
          int k = t * 1000 + i;
          if (!store.put_entry(key(k), e).ok()) ++failures;
          auto got = store.get_entry(key(k), nullptr);
          if (!got) {
            ++failures;
            continue;
          }
          fs::path dest = tmp / ("dest/" + std::to_string(k));
          if (!store.restore_file(got->outputs[0].digest, dest, false).ok() || read_file(dest) != content)
            ++failures;
          // gc from within the process must not break the puts in flight.
          if (t == 0 && i % 5 == 0 && !store.gc(1ull << 30).ok()) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  CHECK(failures.load() == 0);

  CacheStore store(cache, 1ull << 30);
  REQUIRE(store.open().ok());
  auto v = store.verify();
  REQUIRE(v.ok());
  CHECK(v->problems.empty());
  CHECK(v->entries_checked == kThreads * kPerThread);
}

TEST_CASE("cache_store: opening the store removes temp files of writers killed long ago") {
  TempDir tmp;
  {
    CacheStore store(tmp / "cache", 1 << 20);
    REQUIRE(store.open().ok());
  }
  write_file(tmp / "cache/tmp/blob.123.abc.1.0", "half a blob");
  write_file(tmp / "cache/tmp/entry.124.abc.1.0", "being written right now");
  set_mtime(tmp / "cache/tmp/blob.123.abc.1.0", 2 * 3600);
  CacheStore store(tmp / "cache", 1 << 20);
  REQUIRE(store.open().ok());
  CHECK_FALSE(fs::exists(tmp / "cache/tmp/blob.123.abc.1.0"));
  CHECK(fs::exists(tmp / "cache/tmp/entry.124.abc.1.0"));  // may belong to a live writer
}

TEST_CASE("cache_store: a hit on an entry used within the hour does not rewrite its mtime") {
  TempDir tmp;
  const fs::path cache = tmp / "cache";
  CacheStore store(cache, 1ull << 30);
  REQUIRE(store.open().ok());
  CacheEntry e = entry_with(store, "f", "content");
  REQUIRE(store.put_entry(key(1), e).ok());
  REQUIRE(store.put_entry(key(2), e).ok());
  set_mtime(entry_file(cache, key(1)), 600);       // recent: kept as is
  set_mtime(entry_file(cache, key(2)), 2 * 3600);  // older: touched
  const auto recent = fs::last_write_time(entry_file(cache, key(1)));
  const auto old = fs::last_write_time(entry_file(cache, key(2)));
  CacheStore again(cache, 1ull << 30);
  REQUIRE(again.open().ok());
  std::string warning;
  REQUIRE(again.get_entry(key(1), &warning).has_value());
  REQUIRE(again.get_entry(key(2), &warning).has_value());
  CHECK(fs::last_write_time(entry_file(cache, key(1))) == recent);
  CHECK(fs::last_write_time(entry_file(cache, key(2))) > old + std::chrono::minutes(110));
}

namespace {

// Everything a decoded entry holds, as text: two decoders agree when these do.
std::string describe(const CacheEntry& e) {
  std::string s = e.result.dump() + "\n";
  for (const auto& f : e.outputs)
    s += fmt::format("{} {} {} {} {} {} {}\n", f.path, static_cast<int>(f.kind), wrt::to_hex(f.digest), f.size,
                     f.executable, f.target, f.inlined);
  s += fmt::format("log {} {} {} {}\n", e.log ? wrt::to_hex(*e.log) : "-", e.log_encoding, e.log_truncated,
                   e.log_inlined);
  for (const auto& b : e.inlined) s += wrt::to_hex(b.digest) + " " + b.bytes + "\n";
  return s + std::to_string(e.inlined_bytes);
}

// The entry text with its JSON line replaced and the checksum made good again.
std::string with_line(const std::string& text, const std::string& line) {
  const std::size_t nl = text.find('\n');
  const std::string body = text.substr(nl + 1);
  const std::string rest = body.substr(body.find('\n'));
  const std::string new_body = line + rest;
  return "wrt-entry 3 " + wrt::to_hex(wrt::sha256(new_body)) + "\n" + new_body;
}

std::string json_line(const std::string& text) {
  const std::string body = text.substr(text.find('\n') + 1);
  return body.substr(0, body.find('\n'));
}

}  // namespace

TEST_CASE("cache_store: the reader of canonical entries and the general JSON reader give the same answers") {
  const std::string k = key(7);
  std::vector<CacheEntry> entries;
  {
    CacheEntry e;  // nothing but a result
    e.result = {{"status", "passed"}};
    entries.push_back(e);
  }
  {
    CacheEntry e;  // every kind of output, a log, inlined blobs, a rich result
    e.result = {{"status", "failed"},
                {"duration_s", 0.25},
                {"results",
                 {{"findings", {{{"file", "src/ä.c"}, {"line", 3}, {"message", "a \"quoted\"\tthing\\"}}}},
                  {"metrics", {{"n", -1}, {"big", 18446744073709551615ULL}, {"x", nullptr}}},
                  {"tests", nlohmann::json::array()}}}};
    const std::string a = "hello", lg = "log text";
    e.outputs.push_back(CachedFile{"out/a.txt", wrt::sha256(a), a.size(), true});
    e.outputs.push_back(CachedFile{"out/big.bin", wrt::sha256("big"), 1234567890123ULL, false});
    e.outputs.push_back(CachedFile{"out/dir", Digest{}, 0, false, wrt::OutputKind::kDir});
    e.outputs.push_back(CachedFile{"out/link", wrt::symlink_digest("a.txt"), 0, false, wrt::OutputKind::kSymlink,
                                   "a.txt"});
    e.outputs.push_back(CachedFile{"out/z\"q\\é.txt", wrt::sha256("z"), 1, false});
    REQUIRE(e.offer_inline(wrt::sha256(a), a));
    REQUIRE(e.offer_inline(wrt::sha256(lg), lg));
    e.log = wrt::sha256(lg);
    e.log_encoding = "zstd";
    e.log_truncated = true;
    entries.push_back(e);
    e.log.reset();  // no log: no encoding members at all
    e.inlined.erase(std::remove_if(e.inlined.begin(), e.inlined.end(),
                                   [&](const wrt::InlinedBlob& b) { return b.digest == wrt::sha256(lg); }),
                    e.inlined.end());
    e.inlined_bytes = a.size();
    entries.push_back(e);
  }
  std::uint64_t seed = 12345;
  auto next = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(seed >> 33);
  };
  int fast_and_general = 0;
  for (const CacheEntry& e : entries) {
    const std::string text = wrt::encode_cache_entry(k, e);
    std::string why_fast, why_general;
    auto fast = wrt::decode_cache_entry(k, text, &why_fast);
    auto general = wrt::decode_cache_entry_general(k, text, &why_general);
    REQUIRE(fast.has_value());
    REQUIRE(general.has_value());
    CHECK(describe(*fast) == describe(*general));
    CHECK(fast->result == e.result);
    CHECK_FALSE(wrt::decode_cache_entry(key(8), text, &why_fast).has_value());  // another key
    // Every one-byte change of the JSON line, checksum made good: both
    // readers refuse it, or both accept it with the same entry.
    const std::string line = json_line(text);
    for (int round = 0; round < 4000; ++round) {
      std::string m = line;
      const std::size_t at = next() % m.size();
      static const char kBytes[] = " \t\"\\:,{}[]0123456789abcdefxyz-.eE\x01\x7f\xc3\xa4";
      switch (next() % 3) {
        case 0: m[at] = kBytes[next() % (sizeof kBytes - 1)]; break;
        case 1: m.erase(at, 1 + next() % 3); break;
        default: m.insert(at, 1, kBytes[next() % (sizeof kBytes - 1)]); break;
      }
      const std::string t = with_line(text, m);
      why_fast.clear();
      why_general.clear();
      auto f = wrt::decode_cache_entry(k, t, &why_fast);
      auto g = wrt::decode_cache_entry_general(k, t, &why_general);
      INFO(m);
      REQUIRE(f.has_value() == g.has_value());
      if (f) {
        CHECK(describe(*f) == describe(*g));
        ++fast_and_general;
      } else {
        CHECK(why_fast == why_general);
      }
    }
    // Valid JSON the encoder never writes goes to the general reader: spaces,
    // members in another order, escapes, a number written with an exponent.
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"\"key\":", "\"key\" : "},
             {"\"outputs\":[", "\"outputs\":[ "},
             {"out/a.txt", "out/\\u0061.txt"},
             {"\"version\":3", "\"version\":3.0"},
             {"\"version\":3", "\"version\":3e0"}}) {
      std::string m = line;
      const std::size_t at = m.find(from);
      if (at == std::string::npos) continue;
      m.replace(at, from.size(), to);
      const std::string t = with_line(text, m);
      auto f = wrt::decode_cache_entry(k, t, &why_fast);
      auto g = wrt::decode_cache_entry_general(k, t, &why_general);
      INFO(m);
      REQUIRE(f.has_value() == g.has_value());
      if (f) CHECK(describe(*f) == describe(*g));
    }
  }
  CHECK(fast_and_general > 0);  // some changes are still good entries (a digit of a size, of the result)
}
