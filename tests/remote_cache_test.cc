// The remote cache (core/cache/remote_cache.h) against a real nginx with
// WebDAV PUT on loopback -- the simplest server teams run for Bazel's HTTP
// cache protocol -- through the real binary: a second checkout restores
// everything from it byte-identical, a blob deleted on the server is a miss,
// a server that stops mid-run or answers garbage or 5xx never changes a
// result, read-only runners write nothing, and entries not signed by a
// trusted key (a "malicious runner" writing straight into the server's
// storage) are never served. The garbage / 5xx servers are
// tests/servers/http_recorder.py, which is a plain HTTP server, not a test
// double of a cache.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cache/cache_store.h"
#include "core/cache/remote_cache.h"
#include "core/cache/remote_entry.h"
#include "core/cache/remote_model.h"
#include "core/config/config.h"
#include "core/config/config_cache.h"
#include "core/util/base64.h"
#include "core/util/dsse.h"
#include "core/util/merkle.h"
#include "core/util/hash.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Three stages: a file, a directory and a test whose output is a log.
const char* kPipeline = R"toml(
[stages.gen]
inputs = ["src/*.txt"]
outputs = ["out/gen.bin"]
with = { run = "mkdir -p out && cat src/*.txt src/*.txt > out/gen.bin && head -c 20000 /dev/zero | tr '\\0' x >> out/gen.bin" }

[stages.pack]
needs = ["gen"]
inputs = ["src/*.txt"]
outputs = ["out/pack"]
with = { run = "mkdir -p out/pack/sub && cp out/gen.bin out/pack/sub/copy.bin && echo packed > out/pack/note.txt" }

[stages.check]
needs = ["pack"]
inputs = ["src/*.txt"]
with = { run = "grep -q hello out/pack/sub/copy.bin && echo checked" }
)toml";

struct Checkout {
  TempDir dir;
  explicit Checkout(const std::string& extra_settings = "", const std::string& pipeline = kPipeline) {
    write_file(dir / "wrt.toml", pipeline + extra_settings);
    write_file(dir / "src/a.txt", "hello\n");
    write_file(dir / "src/b.txt", "world\n");
  }
  CommandResult run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const {
    std::vector<std::string> a = {"run", "--report", (dir / "report.json").string()};
    a.insert(a.end(), args.begin(), args.end());
    return run_wrt(a, dir.path(), env);
  }
  json report() const { return read_json(dir / "report.json"); }
};

std::string settings(const std::string& url, const fs::path& trusted) {
  return "\n[settings]\nremote_cache = \"" + url + "\"\nremote_cache_trusted_keys = [\"" + trusted.string() + "\"]\n";
}

std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file()) out.insert(fs::relative(it->path(), root).string());
  return out;
}

// The bundles (remote_entry.h) the batch statements of the entries under
// `ac` name: digest hex -> the keys of the entries signed with it.
std::map<std::string, std::set<std::string>> bundles_named(const fs::path& ac) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& f : fs::directory_iterator(ac)) {
    const std::string text = read_file(f.path());
    if (text.rfind(wrt::kRemoteModelMagic, 0) == 0) continue;  // the parsed wrt.toml (remote_model.h)
    std::string why;
    auto e = wrt::decode_remote_entry(text, &why);
    REQUIRE(e);
    const json st = json::parse(e->statement);
    const json body = json::parse(*wrt::base64_decode(st["payload"].get<std::string>()));
    if (body.contains("bundle")) out[body["bundle"].get<std::string>()].insert(f.path().filename().string());
  }
  return out;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("remote cache: another checkout restores every stage from nginx byte-identical, a deleted blob is a miss",
          "[e2e][remote-cache]") {
  TempDir server_dir, keys;
  NginxDav nginx(server_dir.path());
  ed25519_keypair(keys.path(), "ci");
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};

  Checkout a(settings(nginx.url(), keys / "ci.pub"));
  auto r = a.run({}, writer);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json rep = a.report();
  CHECK(rep["remote_cache"]["uploads"] == 3);
  CHECK(rep["remote_cache"]["hits"] == 0);
  CHECK(rep["remote_cache"]["bytes_up"].get<std::uint64_t>() > 20000);
  CHECK(r.out.find("wrt: remote cache " + nginx.url() + ": 0 hits, 3 misses, 3 uploads") != std::string::npos);
  const auto stored = files_under(nginx.store() / "wrt");
  CHECK(stored.count("ac/" + report_stage(rep, "gen")["cache_key"].get<std::string>()) == 1);
  // Only out/gen.bin (and its copy, the same blob) is above kEntryInlineBlob:
  // the small blobs (pack's note, the logs) travel inside their entries,
  // under the entry's signature.
  // Besides it, the batches' bundles (when the three entries were signed
  // in one batch, or two).
  const std::string gen_blob = wrt::to_hex(wrt::sha256(read_file(a.dir / "out/gen.bin")));
  std::set<std::string> expected_cas{gen_blob};
  for (const auto& [bundle, keys] : bundles_named(nginx.store() / "wrt/ac")) expected_cas.insert(bundle);
  CHECK(files_under(nginx.store() / "wrt/cas") == expected_cas);
  const std::string pack_stored =
      read_file(nginx.store() / "wrt/ac" / report_stage(rep, "pack")["cache_key"].get<std::string>());
  std::string why;
  auto pack_framed = wrt::decode_remote_entry(pack_stored, &why);
  REQUIRE(pack_framed);
  CHECK(wrt::test::split_entry(std::string(pack_framed->payload))
            .inlined.count(wrt::to_hex(wrt::sha256(std::string("packed\n")))) == 1);

  // Checkout B: another path, its own (empty) local cache.
  Checkout b(settings(nginx.url(), keys / "ci.pub"));
  r = b.run({});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  rep = b.report();
  for (const char* s : {"gen", "pack", "check"}) {
    CHECK(report_stage(rep, s)["status"] == "cached");
    CHECK(report_stage(rep, s)["remote_hit"] == true);
  }
  CHECK(rep["remote_cache"]["hits"] == 3);
  CHECK(rep["remote_cache"]["uploads"] == 0);
  CHECK(read_file(b.dir / "out/gen.bin") == read_file(a.dir / "out/gen.bin"));
  CHECK(read_file(b.dir / "out/pack/sub/copy.bin") == read_file(a.dir / "out/pack/sub/copy.bin"));
  CHECK(read_file(b.dir / "out/pack/note.txt") == "packed\n");
  auto stats = run_wrt({"cache", "stats"}, b.dir.path());
  CHECK(stats.out.find("): 3 hits, 0 misses, 0 uploads, ") != std::string::npos);
  auto log = run_wrt({"log", "check"}, b.dir.path());
  CHECK(log.out.find("checked") != std::string::npos);
  // Again in B: now local hits, the server is not asked.
  r = b.run({});
  CHECK(b.report()["remote_cache"]["hits"] == 0);
  CHECK(b.report()["remote_cache"]["misses"] == 0);

  // The blob of out/gen.bin deleted on the server (evicted): checkout C
  // gets a miss for gen and runs it; the others still come from the server.
  REQUIRE(fs::remove(nginx.store() / "wrt/cas" / gen_blob));
  Checkout c(settings(nginx.url(), keys / "ci.pub"));
  r = c.run({});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  rep = c.report();
  CHECK(report_stage(rep, "gen")["status"] == "passed");
  CHECK(report_stage(rep, "pack")["status"] == "cached");  // early cutoff: gen made the same bytes
  CHECK(count(r.out + r.err, "is missing on the server") == 1);
  CHECK(read_file(c.dir / "out/gen.bin") == read_file(a.dir / "out/gen.bin"));
}

TEST_CASE("remote cache: a server that is down, stops mid-run, answers garbage or 5xx never changes a result",
          "[e2e][remote-cache]") {
  TempDir keys, tmp;
  ed25519_keypair(keys.path(), "ci");
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};
  auto statuses = [](const json& rep) {
    std::map<std::string, std::string> m;
    for (const auto& s : rep["stages"]) m[s["name"].get<std::string>()] = s["status"].get<std::string>();
    return m;
  };
  const std::map<std::string, std::string> all_passed = {{"gen", "passed"}, {"pack", "passed"}, {"check", "passed"}};

  SECTION("nothing listens") {
    Checkout w(settings("http://127.0.0.1:9/wrt", keys / "ci.pub"));
    auto r = w.run({}, writer);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(statuses(w.report()) == all_passed);
    CHECK(count(r.out + r.err, "local cache only for the rest of this run") == 1);
    CHECK(w.report()["remote_cache"]["disabled"] == true);
  }
  SECTION("nginx stops while the run goes on") {
    NginxDav nginx(tmp.path());
    Checkout w(settings(nginx.url(), keys / "ci.pub"));
    std::string toml = read_file(w.dir / "wrt.toml");
    // gen stops the server; pack and check come after it.
    toml.replace(toml.find("mkdir -p out && cat"), 0, "kill -TERM " + std::to_string(nginx.pid()) + " && sleep 0.3 && ");
    write_file(w.dir / "wrt.toml", toml);
    auto r = w.run({}, writer);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(statuses(w.report()) == all_passed);
    CHECK(count(r.out + r.err, "local cache only for the rest of this run") == 1);
  }
  SECTION("a server answering 200 \"ok\" to everything, then one answering 500") {
    for (const char* mode : {"garbage", "5xx"}) {
      const bool garbage = std::string(mode) == "garbage";
      const fs::path port_file = tmp / (std::string(mode) + ".port");
      std::vector<std::string> argv = {"/usr/bin/python3", std::string(WRT_SOURCE_DIR) + "/tests/servers/http_recorder.py",
                                       "--port-file", port_file.string(), "--log", (tmp / (std::string(mode) + ".log")).string(),
                                       "--lifetime", "120"};
      if (!garbage) argv.insert(argv.end(), {"--fail-first", "100000", "--fail-status", "500"});
      BackgroundProcess server(argv, tmp / (std::string(mode) + ".out"));
      const std::string port = wait_for_file(port_file);
      Checkout w(settings("http://127.0.0.1:" + port + "/wrt", keys / "ci.pub"));
      auto r = w.run({}, writer);
      INFO(mode << "\n" << r.out << r.err);
      CHECK(r.exit_code == 0);
      CHECK(statuses(w.report()) == all_passed);
      CHECK(w.report()["remote_cache"]["hits"] == 0);
      // (the recorder answers HEAD with 501: the first upload trips the breaker)
      if (garbage) CHECK(count(r.out + r.err, "not a signed wrt entry (no wrt-remote-entry 1 header); ignored") >= 1);
      else CHECK(count(r.out + r.err, "HTTP 500; local cache only for the rest of this run") == 1);
    }
  }
}

TEST_CASE("remote cache: Ctrl-C while an upload hangs ends the run at once, not after the transfer timeout",
          "[e2e][remote-cache]") {
  // A server that takes every PUT's body and never answers: the run ends
  // with the upload still in flight, so wrt waits for it (up to the 30 s
  // transfer timeout) -- unless interrupted, which must abort it at once.
  TempDir keys, tmp;
  ed25519_keypair(keys.path(), "ci");
  const fs::path port_file = tmp / "port", log = tmp / "requests.log";
  BackgroundProcess server({"/usr/bin/python3", std::string(WRT_SOURCE_DIR) + "/tests/servers/http_recorder.py",
                            "--port-file", port_file.string(), "--log", log.string(), "--stall", "PUT",
                            "--lifetime", "120"},
                           tmp / "server.out");
  const std::string port = wait_for_file(port_file);
  Checkout w(settings("http://127.0.0.1:" + port + "/wrt", keys / "ci.pub"));
  ::setenv("WRT_REMOTE_CACHE_KEY", (keys / "ci.pem").c_str(), 1);
  const pid_t wrt = spawn_wrt({"run", "--report", (w.dir / "report.json").string()}, w.dir.path());
  ::unsetenv("WRT_REMOTE_CACHE_KEY");
  // Until the server holds a PUT (gen's output going up).
  bool stalled = false;
  for (int i = 0; i < 400 && !stalled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stalled = fs::exists(log) && read_file(log).find("\"PUT\"") != std::string::npos;
  }
  REQUIRE(stalled);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(::kill(wrt, SIGINT) == 0);
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(wrt, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (done == 0) {
    ::kill(wrt, SIGKILL);
    ::waitpid(wrt, &status, 0);
    FAIL("wrt still running 20 s after SIGINT");
  }
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(waited < 5.0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  // The stage that ran is reported as it ended; nothing was uploaded.
  CHECK(report_stage(w.report(), "gen")["status"] == "passed");
  CHECK(w.report()["remote_cache"]["uploads"] == 0);
}

TEST_CASE("remote cache: read-only runners write nothing, entries not signed by a trusted key are never served",
          "[e2e][remote-cache]") {
  TempDir server_dir, keys;
  NginxDav nginx(server_dir.path());
  ed25519_keypair(keys.path(), "ci");
  ed25519_keypair(keys.path(), "mallory");
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};
  Checkout main_branch(settings(nginx.url(), keys / "ci.pub"));
  REQUIRE(main_branch.run({}, writer).exit_code == 0);
  const auto before = files_under(nginx.store());

  // A pull-request runner: changed sources, read only (flag, then setting).
  Checkout pr(settings(nginx.url(), keys / "ci.pub"));
  write_file(pr.dir / "src/b.txt", "pull request\n");
  auto r = pr.run({"--remote-read-only"}, writer);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("0 uploads") != std::string::npos);
  CHECK(r.out.find(", read only") != std::string::npos);
  CHECK(files_under(nginx.store()) == before);
  Checkout pr2(settings(nginx.url(), keys / "ci.pub") + "remote_upload = false\n");
  write_file(pr2.dir / "src/b.txt", "another pull request\n");
  CHECK(pr2.run({}, writer).exit_code == 0);
  CHECK(files_under(nginx.store()) == before);

  // The malicious runner: writes straight into the server's storage, for
  // gen's key, an entry whose output is its own blob.
  const json rep = main_branch.report();
  const std::string key = report_stage(rep, "gen")["cache_key"].get<std::string>();
  const fs::path ac = nginx.store() / "wrt/ac" / key;
  const std::string genuine = read_file(ac);
  std::string why;
  auto framed = wrt::decode_remote_entry(genuine, &why);
  REQUIRE(framed);
  const std::string payload(framed->payload);
  auto entry = wrt::decode_cache_entry(key, payload, &why);
  REQUIRE(entry);
  const std::string evil = "evil bytes\n";
  write_file(nginx.store() / "wrt/cas" / wrt::to_hex(wrt::sha256(evil)), evil);
  entry->outputs[0].digest = wrt::sha256(evil);
  entry->outputs[0].size = evil.size();
  const std::string poisoned = wrt::encode_cache_entry(key, *entry);
  auto mallory = wrt::Ed25519Key::load_private(keys / "mallory.pem");
  auto ci = wrt::Ed25519Key::load_private(keys / "ci.pem");
  REQUIRE(mallory);
  REQUIRE(ci);

  struct Case {
    std::string name, body, warning;
  };
  // Uploads are signed a batch at a time (remote_entry.h: a statement over
  // the batch's Merkle root, and each entry's inclusion proof).
  const json statement = json::parse(framed->statement);
  REQUIRE(statement["payloadType"] == wrt::kRemoteBatchType);
  wrt::RemoteEntry forged = *framed;  // the trusted signature over other bytes
  forged.payload = poisoned;
  wrt::RemoteEntry moved = *framed;  // the genuine entry at another place in its batch
  moved.index = framed->index + 1;
  // A batch of one, made as wrt makes it, by mallory (and unsigned).
  const wrt::Digest leaf = wrt::merkle_leaf_hash(wrt::dsse_pae(wrt::kRemoteEntryType, poisoned));
  const json mallory_root{{"merkleRoot", wrt::to_hex(leaf)}, {"size", 1}};
  const std::string mallory_statement = wrt::dsse_sign(wrt::kRemoteBatchType, mallory_root.dump(), {*mallory})->dump();
  const std::string unsigned_statement = wrt::dsse_sign(wrt::kRemoteBatchType, mallory_root.dump(), {})->dump();
  const wrt::RemoteEntry mallory_batch{mallory_statement, 0, {}, poisoned};
  const wrt::RemoteEntry unsigned_batch{unsigned_statement, 0, {}, poisoned};
  wrt::RemoteEntry borrowed = mallory_batch;  // mallory's entry under the trusted statement
  borrowed.statement = framed->statement;
  // The trusted statement's bytes, one changed: not JSON any more.
  std::string broken_text(framed->statement);
  broken_text[0] = '[';
  wrt::RemoteEntry broken = *framed;
  broken.statement = broken_text;
  const std::vector<Case> cases = {
      {"a bare entry", poisoned, "not a signed wrt entry (no wrt-remote-entry 1 header); ignored"},
      {"an entry as a DSSE envelope of its own, signed by a trusted key (wrt before key schema v4)",
       wrt::dsse_sign(wrt::kRemoteEntryType, poisoned, {*ci})->dump(),
       "not a signed wrt entry (no wrt-remote-entry 1 header); ignored"},
      {"a genuine entry cut short", genuine.substr(0, genuine.size() - 1),
       "not a signed wrt entry (its sizes do not add up to its length (truncated or padded)); ignored"},
      {"the trusted signature over altered bytes", wrt::encode_remote_entry(forged),
       "it is not in the batch its signature covers (Merkle proof); ignored"},
      {"a batch signed by an untrusted key", wrt::encode_remote_entry(mallory_batch),
       "not signed by a trusted key; ignored"},
      {"an unsigned batch", wrt::encode_remote_entry(unsigned_batch), "not signed by a trusted key; ignored"},
      {"a damaged statement", wrt::encode_remote_entry(broken),
       "its batch statement is not a wrt batch statement; ignored"},
      {"an entry under a trusted batch statement it is not in", wrt::encode_remote_entry(borrowed),
       "it is not in the batch its signature covers (Merkle proof); ignored"},
      {"a genuine entry moved within its batch", wrt::encode_remote_entry(moved),
       "it is not in the batch its signature covers (Merkle proof); ignored"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    write_file(ac, c.body);
    Checkout victim(settings(nginx.url(), keys / "ci.pub"));
    r = victim.run({});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    const json v = victim.report();
    CHECK(report_stage(v, "gen")["status"] == "passed");  // ran here, not served
    CHECK(read_file(victim.dir / "out/gen.bin") == read_file(main_branch.dir / "out/gen.bin"));
    CHECK((r.out + r.err).find("remote cache entry " + key.substr(0, 16)) != std::string::npos);
    CHECK((r.out + r.err).find(c.warning) != std::string::npos);
  }

  // The genuine entry back: served.
  write_file(ac, genuine);
  {
    Checkout reader(settings(nginx.url(), keys / "ci.pub"));
    r = reader.run({});
    INFO(r.out << r.err);
    CHECK(report_stage(reader.report(), "gen")["remote_hit"] == true);
    CHECK(read_file(reader.dir / "out/gen.bin") == read_file(main_branch.dir / "out/gen.bin"));
  }

  // Every uploaded entry is in exactly one signed batch: the batches' sizes
  // add up to the entries on the server.
  {
    std::map<std::string, std::uint64_t> statements;
    std::size_t entries = 0;
    for (const auto& f : fs::directory_iterator(nginx.store() / "wrt/ac")) {
      const std::string text = read_file(f.path());
      if (text.rfind(wrt::kRemoteModelMagic, 0) == 0) continue;  // the parsed wrt.toml
      auto e = wrt::decode_remote_entry(text, &why);
      REQUIRE(e);
      ++entries;
      const json st = json::parse(e->statement);
      auto body = json::parse(*wrt::base64_decode(st["payload"].get<std::string>()));
      statements[std::string(e->statement)] = body["size"].get<std::uint64_t>();
    }
    std::uint64_t covered = 0;
    for (const auto& [st, size] : statements) covered += size;
    CHECK(entries >= 2);
    CHECK(covered == entries);
  }

  // A genuine signed entry whose inlined bytes were altered on the server
  // (and the entry resealed, so its own checksum holds): the signature
  // covers them, so it is never served. The bundles go first: the reader
  // would take pack's genuine entry from gen's bundle and never ask for
  // the altered one (bundles are tested on their own below).
  for (const auto& [bundle, keys] : bundles_named(nginx.store() / "wrt/ac")) fs::remove(nginx.store() / "wrt/cas" / bundle);
  const std::string pack_key = report_stage(rep, "pack")["cache_key"].get<std::string>();
  const fs::path pack_ac = nginx.store() / "wrt/ac" / pack_key;
  const std::string pack_genuine = read_file(pack_ac);
  auto pack_framed = wrt::decode_remote_entry(pack_genuine, &why);
  REQUIRE(pack_framed);
  const std::string note_hex = wrt::to_hex(wrt::sha256(std::string("packed\n")));
  wrt::test::EntryFile pack_entry = wrt::test::split_entry(std::string(pack_framed->payload));
  REQUIRE(pack_entry.inlined.count(note_hex) == 1);
  pack_entry.inlined[note_hex] = "poison\n";
  const std::string resealed = wrt::test::seal_entry(pack_entry);
  wrt::RemoteEntry altered = *pack_framed;
  altered.payload = resealed;
  write_file(pack_ac, wrt::encode_remote_entry(altered));
  {
    Checkout victim(settings(nginx.url(), keys / "ci.pub"));
    r = victim.run({});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(report_stage(victim.report(), "gen")["remote_hit"] == true);
    CHECK(report_stage(victim.report(), "pack")["status"] == "passed");  // ran here
    CHECK(read_file(victim.dir / "out/pack/note.txt") == "packed\n");
    CHECK((r.out + r.err).find("remote cache entry " + pack_key.substr(0, 16) +
                               ": it is not in the batch its signature covers") != std::string::npos);
  }
  write_file(pack_ac, pack_genuine);

  // Without trusted keys nothing on the server is read.
  Checkout unkeyed("\n[settings]\nremote_cache = \"" + nginx.url() + "\"\n");
  r = unkeyed.run({});
  CHECK(report_stage(unkeyed.report(), "gen")["status"] == "passed");
  CHECK((r.out + r.err).find("no remote_cache_trusted_keys") != std::string::npos);
}

// A chain: a reader asks for each stage's entry only after the one before
// was restored, so which requests it makes is fixed by the batches.
std::string chain_pipeline(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const std::string name = "s" + std::to_string(i);
    out += "[stages." + name + "]\n";
    if (i > 0) out += "needs = [\"s" + std::to_string(i - 1) + "\"]\n";
    out += "inputs = [\"src/*.txt\"]\noutputs = [\"out/" + name + ".txt\"]\n";
    out += "with = { run = \"mkdir -p out && echo " + name + " > out/" + name + ".txt\" }\n\n";
  }
  return out;
}

TEST_CASE("remote cache: a fresh checkout gets a signed batch's entries in one request (its bundle), and a bundle altered "
          "or missing on the server is not used, and every entry is then asked for and checked on its own",
          "[e2e][remote-cache]") {
  TempDir server_dir, keys;
  NginxDav nginx(server_dir.path());
  ed25519_keypair(keys.path(), "ci");
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};
  constexpr int kStages = 12;
  const std::string pipeline = chain_pipeline(kStages);
  Checkout a(settings(nginx.url(), keys / "ci.pub"), pipeline);
  auto r = a.run({}, writer);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(a.report()["remote_cache"]["uploads"] == kStages);

  // On the server: each entry, its batch statement; each statement of a
  // batch of two or more names a bundle holding exactly that batch's
  // entries, byte for byte, stored under the digest it is named by.
  const fs::path ac = nginx.store() / "wrt/ac", cas = nginx.store() / "wrt/cas";
  std::map<std::string, std::string> payload_of;             // key -> payload
  std::map<std::string, std::set<std::string>> batches;      // statement -> keys
  for (const auto& f : fs::directory_iterator(ac)) {
    const std::string text = read_file(f.path());
    if (text.rfind(wrt::kRemoteModelMagic, 0) == 0) continue;  // the parsed wrt.toml (remote_model.h)
    std::string why;
    auto e = wrt::decode_remote_entry(text, &why);
    REQUIRE(e);
    payload_of[f.path().filename().string()] = std::string(e->payload);
    batches[std::string(e->statement)].insert(f.path().filename().string());
  }
  REQUIRE(payload_of.size() == kStages);
  const auto bundles = bundles_named(ac);
  std::size_t batches_of_many = 0;
  for (const auto& [statement, batch_keys] : batches) batches_of_many += batch_keys.size() > 1;
  INFO(batches.size() << " batches");
  // Twelve trivial stages end well within the upload thread's batching
  // window more than one at a time.
  REQUIRE(batches_of_many >= 1);
  CHECK(bundles.size() == batches_of_many);
  for (const auto& [bundle, bundle_keys] : bundles) {
    const std::string packed = read_file(cas / bundle);
    CHECK(wrt::to_hex(wrt::sha256(packed)) == bundle);
    std::string why;
    auto bytes = wrt::unpack_remote_bundle(packed, &why);
    REQUIRE(bytes);
    auto entries = wrt::decode_remote_bundle(*bytes, &why);
    REQUIRE(entries);
    std::set<std::string> in_bundle;
    for (const auto& e : *entries) {
      in_bundle.insert(std::string(e.key_hex));
      CHECK(std::string(e.payload) == payload_of[std::string(e.key_hex)]);
    }
    CHECK(in_bundle == bundle_keys);
  }

  // A fresh checkout: each bundle is asked for once, when the first entry
  // of its batch arrives; the entries of a stage asked for after it came
  // are answered from it. In a chain that is all but the first of each
  // batch, unless a bundle is slower to come than the next stage to ask
  // (a loaded machine), so the exact split is not asserted.
  auto reader_run = [&](const char* what) {
    INFO(what);
    write_file(nginx.access_log(), "");
    Checkout b(settings(nginx.url(), keys / "ci.pub"), pipeline);
    auto rr = b.run({});
    INFO(rr.out << rr.err);
    REQUIRE(rr.exit_code == 0);
    const json rep = b.report();
    CHECK(rep["remote_cache"]["hits"] == kStages);
    CHECK(rep["remote_cache"]["misses"] == 0);
    for (int i = 0; i < kStages; ++i) {
      const std::string name = "s" + std::to_string(i);
      CHECK(report_stage(rep, name)["remote_hit"] == true);
      CHECK(read_file(b.dir / ("out/" + name + ".txt")) == name + "\n");
    }
    CHECK((rr.out + rr.err).find("warning") == std::string::npos);
    return std::make_pair(rep["remote_cache"]["bundled_hits"].get<int>(), read_file(nginx.access_log()));
  };
  // Besides the entries, each fresh checkout asks once for the parsed
  // wrt.toml (remote_model.h).
  const std::string model_get =
      "\"GET /wrt/ac/" +
      wrt::remote_model_key(*wrt::file_sha256(WRT_BINARY), wrt::sha256(pipeline + settings(nginx.url(), keys / "ci.pub"))) +
      " ";
  auto [bundled, log] = reader_run("bundles as uploaded");
  CHECK(bundled >= 1);
  CHECK(bundled <= kStages - static_cast<int>(batches.size()));
  CHECK(count(log, model_get) == 1);
  CHECK(count(log, "\"GET /wrt/ac/") - 1 == kStages - bundled);
  for (const auto& [bundle, bundle_keys] : bundles) CHECK(count(log, "\"GET /wrt/cas/" + bundle + " ") == 1);

  // Every bundle altered on the server so that one of its entries would
  // restore other bytes (the entry resealed: well formed, checksum right).
  // Its bytes no longer hash to the signed digest: not used, and each
  // entry comes from its own signed request, restoring the right bytes.
  for (const auto& [bundle, bundle_keys] : bundles) {
    std::string why;
    auto bytes = wrt::unpack_remote_bundle(read_file(cas / bundle), &why);
    REQUIRE(bytes);
    auto entries = wrt::decode_remote_bundle(*bytes, &why);
    REQUIRE(entries);
    std::vector<std::string> texts;
    for (const auto& e : *entries) texts.emplace_back(e.payload);
    wrt::test::EntryFile poisoned = wrt::test::split_entry(texts.back());
    REQUIRE(poisoned.inlined.size() >= 1);
    for (auto& [hex, content] : poisoned.inlined) content = "poison\n";
    texts.back() = wrt::test::seal_entry(poisoned);
    std::vector<wrt::BundledEntry> altered;
    for (std::size_t i = 0; i < entries->size(); ++i) altered.push_back({(*entries)[i].key_hex, texts[i]});
    write_file(cas / bundle, wrt::pack_remote_bundle(wrt::encode_remote_bundle(altered)));
  }
  std::tie(bundled, log) = reader_run("bundles altered");
  CHECK(bundled == 0);
  CHECK(count(log, model_get) == 1);
  CHECK(count(log, "\"GET /wrt/ac/") - 1 == kStages);

  // Deleted (evicted): the same.
  for (const auto& [bundle, bundle_keys] : bundles) fs::remove(cas / bundle);
  std::tie(bundled, log) = reader_run("bundles missing");
  CHECK(bundled == 0);
  CHECK(count(log, "\"GET /wrt/ac/") - 1 == kStages);
}

TEST_CASE("remote cache: more stages asked for at once than there are connections all get their answer, from the "
          "server, a bundle, or a miss once the server is gone",
          "[e2e][remote-cache]") {
  TempDir server_dir, keys;
  NginxDav nginx(server_dir.path());
  ed25519_keypair(keys.path(), "ci");
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};
  // 60 stages with no needs: all asked for at the start, 16 at a time
  // (RemoteCacheOptions::connections), the others waiting their turn.
  constexpr int kStages = 60;
  std::string pipeline;
  for (int i = 0; i < kStages; ++i) {
    const std::string name = "w" + std::to_string(i);
    pipeline += "[stages." + name + "]\ninputs = [\"src/*.txt\"]\noutputs = [\"out/" + name + ".txt\"]\n" +
                "with = { run = \"mkdir -p out && echo " + name + " > out/" + name + ".txt\" }\n\n";
  }
  Checkout a(settings(nginx.url(), keys / "ci.pub"), pipeline);
  auto r = a.run({}, writer);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(a.report()["remote_cache"]["uploads"] == kStages);

  Checkout b(settings(nginx.url(), keys / "ci.pub"), pipeline);
  r = b.run({});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(b.report()["remote_cache"]["hits"] == kStages);
  for (int i = 0; i < kStages; ++i) {
    const std::string name = "w" + std::to_string(i);
    CHECK(report_stage(b.report(), name)["remote_hit"] == true);
    CHECK(read_file(b.dir / ("out/" + name + ".txt")) == name + "\n");
  }

  // The server gone: the first failure trips the breaker, and every ask
  // still waiting is answered as a miss; all stages run here.
  nginx.stop();
  Checkout c(settings(nginx.url(), keys / "ci.pub"), pipeline);
  r = c.run({});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(c.report()["remote_cache"]["hits"] == 0);
  CHECK(c.report()["remote_cache"]["disabled"] == true);
  CHECK(count(r.out + r.err, "local cache only for the rest of this run") == 1);
  for (int i = 0; i < kStages; ++i) CHECK(report_stage(c.report(), "w" + std::to_string(i))["status"] == "passed");
}

TEST_CASE("remote cache: a 300-file directory and a 2 MiB output go up and down in parallel, streamed, small files "
          "inside the entry, and a blob the server has is not sent again",
          "[e2e][remote-cache]") {
  TempDir server_dir, keys;
  NginxDav nginx(server_dir.path());
  ed25519_keypair(keys.path(), "ci");
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};
  const std::string pipeline = R"toml(
[stages.many]
inputs = ["src/*.txt"]
outputs = ["out/many"]
with = { run = "mkdir -p out/many && for i in $(seq 300); do echo \"file $i $(cat src/a.txt)\" > out/many/f$i.txt; done && for i in $(seq 40); do { echo $i; head -c 17000 /dev/zero; } > out/many/large$i.bin; done" }

[stages.big]
inputs = ["src/*.txt", "src/*.cfg"]
outputs = ["out/big.bin"]
with = { run = "mkdir -p out && seq 1 400000 > out/big.bin" }
)toml";
  auto make = [&](TempDir& dir, const std::string& cfg) {
    write_file(dir / "wrt.toml", pipeline + settings(nginx.url(), keys / "ci.pub"));
    write_file(dir / "src/a.txt", "hello\n");
    write_file(dir / "src/x.cfg", cfg);
  };
  auto run = [&](TempDir& dir, const std::vector<std::string>& env) {
    auto r = run_wrt({"run", "--report", (dir / "report.json").string()}, dir.path(), env);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return read_json(dir / "report.json");
  };
  TempDir a;
  make(a, "one");
  json rep = run(a, writer);
  CHECK(rep["remote_cache"]["uploads"] == 2);
  const auto big_size = fs::file_size(a / "out/big.bin");
  REQUIRE(big_size > (2u << 20));
  CHECK(rep["remote_cache"]["bytes_up"].get<std::uint64_t>() > big_size);
  CHECK(fs::file_size(nginx.store() / "wrt/cas" / wrt::to_hex(wrt::sha256(read_file(a / "out/big.bin")))) == big_size);

  TempDir b;
  make(b, "one");
  rep = run(b, {});
  CHECK(rep["remote_cache"]["hits"] == 2);
  CHECK(report_stage(rep, "many")["remote_hit"] == true);
  CHECK(report_stage(rep, "big")["remote_hit"] == true);
  CHECK(files_under(b / "out") == files_under(a / "out"));
  CHECK(files_under(b / "out/many").size() == 340);
  // The 40 files above kEntryInlineBlob each went up and came down as a
  // blob; as many small ones as fit in kEntryInlineTotal went inside the entry.
  CHECK(files_under(nginx.store() / "wrt/cas").size() > 40);
  CHECK(files_under(nginx.store() / "wrt/cas").size() < 340);
  for (const auto& f : files_under(a / "out")) CHECK(read_file(b / "out" / f) == read_file(a / "out" / f));
  CHECK(rep["remote_cache"]["bytes_down"].get<std::uint64_t>() > big_size);

  // Another key for `big` (its .cfg input changed), the same output: the
  // server has that blob (a HEAD says so), so only the entry goes up.
  TempDir c;
  make(c, "two");
  rep = run(c, writer);
  CHECK(report_stage(rep, "big")["status"] == "passed");
  CHECK(report_stage(rep, "many")["remote_hit"] == true);
  CHECK(rep["remote_cache"]["uploads"] == 1);
  CHECK(rep["remote_cache"]["bytes_up"].get<std::uint64_t>() < 64u * 1024);
}

TEST_CASE("remote cache: remote_cache_compression = \"zstd\" sends and receives blobs zstd-encoded as bazel-remote "
          "speaks it (test double of bazel-remote)",
          "[e2e][remote-cache]") {
  REQUIRE(run_command({"zstd", "--version"}).exit_code == 0);  // Debian zstd, installed by scripts/setup.sh
  TempDir tmp, keys;
  ed25519_keypair(keys.path(), "ci");
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};
  BackgroundProcess server({"/usr/bin/python3", std::string(WRT_SOURCE_DIR) + "/tests/servers/bazel_remote_double.py",
                            "--port-file", (tmp / "port").string(), "--log", (tmp / "log.jsonl").string(), "--store",
                            (tmp / "store").string(), "--lifetime", "120"},
                           tmp / "server.out");
  const std::string url = "http://127.0.0.1:" + wait_for_file(tmp / "port") + "/wrt";
  const std::string pipeline = R"toml(
[stages.text]
inputs = ["src/*.txt"]
outputs = ["out/text.txt", "out/small.txt"]
with = { run = "mkdir -p out && for i in $(seq 20000); do echo \"line $i of a compressible output\"; done > out/text.txt && echo small > out/small.txt" }
)toml";
  const std::string extra = settings(url, keys / "ci.pub") + "remote_cache_compression = \"zstd\"\n";
  TempDir a, b;
  for (TempDir* d : {&a, &b}) {
    write_file(*d / "wrt.toml", pipeline + extra);
    write_file(*d / "src/a.txt", "hello\n");
  }
  auto r = run_wrt({"run", "--report", (a / "report.json").string()}, a.path(), writer);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto plain = fs::file_size(a / "out/text.txt");
  json rep = read_json(a / "report.json");
  CHECK(rep["remote_cache"]["uploads"] == 1);
  // Counted as sent: compressed, far smaller than the output.
  CHECK(rep["remote_cache"]["bytes_up"].get<std::uint64_t>() < plain / 4);

  r = run_wrt({"run", "--report", (b / "report.json").string()}, b.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  rep = read_json(b / "report.json");
  CHECK(report_stage(rep, "text")["remote_hit"] == true);
  CHECK(read_file(b / "out/text.txt") == read_file(a / "out/text.txt"));
  CHECK(read_file(b / "out/small.txt") == "small\n");
  CHECK(rep["remote_cache"]["bytes_down"].get<std::uint64_t>() < plain / 4);

  // What the server saw: every blob PUT zstd-encoded and accepted (the
  // double checked each against its key after decoding), every blob GET
  // answered zstd-encoded; entries plain.
  int blob_puts = 0, blob_gets = 0;
  std::istringstream lines(read_file(tmp / "log.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    json e = json::parse(line);
    const std::string path = e["path"];
    const bool cas = path.find("/cas/") != std::string::npos;
    if (e["method"] == "PUT") {
      CHECK(e["status"] == 200);
      CHECK(e["encoding"] == (cas ? "zstd" : "identity"));
      blob_puts += cas;
    }
    if (e["method"] == "GET" && cas) {
      CHECK(e["encoding"] == "zstd");
      ++blob_gets;
    }
  }
  CHECK(blob_puts == 1);  // out/text.txt; the small output and the log are inlined in the entry
  CHECK(blob_gets == 1);
}

TEST_CASE("remote cache: a fresh checkout takes the parsed wrt.toml from the remote, never one signed by an untrusted "
          "key or made for other settings",
          "[e2e][remote-cache]") {
  TempDir server_dir, keys;
  NginxDav nginx(server_dir.path());
  ed25519_keypair(keys.path(), "ci");
  ed25519_keypair(keys.path(), "mallory");
  const std::vector<std::string> writer = {"WRT_REMOTE_CACHE_KEY=" + (keys / "ci.pem").string()};
  const std::string text = kPipeline + settings(nginx.url(), keys / "ci.pub");
  const wrt::Digest text_digest = wrt::sha256(text);
  const auto build = wrt::file_sha256(WRT_BINARY);
  REQUIRE(build);
  const fs::path object = nginx.store() / "wrt/ac" / wrt::remote_model_key(*build, text_digest);
  auto verbose_run = [](const Checkout& c, const std::vector<std::string>& env = {}) {
    return run_wrt({"-v", "run", "--report", (c.dir / "report.json").string()}, c.dir.path(), env);
  };

  // The writer puts the model it parsed, signed, beside its entries.
  Checkout a(settings(nginx.url(), keys / "ci.pub"));
  auto r = verbose_run(a, writer);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("from parsing") != std::string::npos);
  REQUIRE(fs::exists(object));
  const std::string genuine = read_file(object);
  auto opened = wrt::open_remote_model(genuine, {*wrt::Ed25519Key::load_public(keys / "ci.pub")}, *build, text_digest);
  REQUIRE(opened);
  auto model = wrt::decode_config(*opened);
  REQUIRE(model);
  CHECK(model->stages.size() == 3);
  CHECK(model->file.empty());  // no path of the writer's machine
  // Another writer of the same text finds it there (a HEAD) and leaves it.
  const std::string model_path = "/wrt/ac/" + object.filename().string() + " ";
  write_file(nginx.access_log(), "");
  Checkout a2(settings(nginx.url(), keys / "ci.pub"));
  r = verbose_run(a2, writer);
  CHECK(r.exit_code == 0);
  const std::string log = read_file(nginx.access_log());
  CHECK(count(log, "\"HEAD " + model_path) == 1);
  CHECK(count(log, "\"PUT " + model_path) == 0);
  CHECK(read_file(object) == genuine);

  // A fresh checkout elsewhere (its own empty cache): no parse.
  Checkout b(settings(nginx.url(), keys / "ci.pub"));
  r = verbose_run(b);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("loaded " + (b.dir / "wrt.toml").string()) != std::string::npos);
  CHECK(r.err.find("from the remote cache: 3 stages") != std::string::npos);
  json rep = b.report();
  for (const char* s : {"gen", "pack", "check"}) CHECK(report_stage(rep, s)["status"] == "cached");
  CHECK(read_file(b.dir / "out/pack/note.txt") == "packed\n");
  r = verbose_run(b);  // kept locally, with this checkout's paths
  CHECK(r.err.find("loaded " + (b.dir / "wrt.toml").string()) != std::string::npos);
  CHECK(r.err.find("from the state cache") != std::string::npos);
  auto list = run_wrt({"list"}, b.dir.path());
  CHECK(list.exit_code == 0);

  // A malicious runner puts its own model under the key: signed by its key,
  // with gen's command changed. Never used: parsed instead, the genuine
  // entries restored.
  const std::string evil_text = text;  // the same settings; another command
  std::string evil_pipeline = evil_text;
  evil_pipeline.replace(evil_pipeline.find("mkdir -p out && cat"), 19, "echo evil > out/gen.bin; true");
  auto evil_model = wrt::parse_config(evil_pipeline, "/elsewhere/wrt.toml");
  REQUIRE(evil_model);
  auto by_mallory = wrt::seal_remote_model(*wrt::Ed25519Key::load_private(keys / "mallory.pem"), *build, text_digest,
                                           wrt::encode_config(*evil_model, true));
  REQUIRE(by_mallory);
  write_file(object, *by_mallory);
  Checkout c(settings(nginx.url(), keys / "ci.pub"));
  r = verbose_run(c);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("warning: remote cache: its parsed wrt.toml is not used (not signed by a trusted key); parsing wrt.toml") != std::string::npos);
  CHECK(r.err.find("from parsing") != std::string::npos);
  CHECK(read_file(c.dir / "out/gen.bin") == read_file(a.dir / "out/gen.bin"));

  // Signed by the trusted key, but made from settings that trust another
  // key: what [settings] alone says and the model say differ -- not used.
  std::string other_settings = kPipeline + settings(nginx.url(), keys / "mallory.pub");
  auto other_model = wrt::parse_config(other_settings, "/elsewhere/wrt.toml");
  REQUIRE(other_model);
  write_file(object, *wrt::seal_remote_model(*wrt::Ed25519Key::load_private(keys / "ci.pem"), *build, text_digest,
                                            wrt::encode_config(*other_model, true)));
  Checkout d(settings(nginx.url(), keys / "ci.pub"));
  r = verbose_run(d);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("warning: remote cache: its parsed wrt.toml is not used (its settings differ from wrt.toml's "
                   "[settings]); parsing wrt.toml") != std::string::npos);
  CHECK(r.err.find("from parsing") != std::string::npos);

  // Altered on the server (a byte of the packed model): not used.
  std::string altered = genuine;
  altered[altered.size() - 3] ^= 1;
  write_file(object, altered);
  Checkout e(settings(nginx.url(), keys / "ci.pub"));
  r = verbose_run(e);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("its parsed wrt.toml is not used (its model does not match its signed digest)") != std::string::npos);
  CHECK(r.err.find("from parsing") != std::string::npos);

  // A read-only runner with its own edit of wrt.toml never puts a model.
  fs::remove(object);
  Checkout f(settings(nginx.url(), keys / "ci.pub") + "remote_upload = false\n");
  const auto before = files_under(nginx.store());
  CHECK(f.run({}, writer).exit_code == 0);
  CHECK(files_under(nginx.store()) == before);
}
