// HttpTransfers (core/util/http_transfers.h) against a real nginx with
// WebDAV PUT on loopback: many requests at once over shared connections,
// bodies from memory and streamed from a file, answers into a sink or kept,
// a sink that refuses more, and a server that is not there.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/util/http_transfers.h"
#include "support.h"

using namespace wrt::test;
namespace fs = std::filesystem;

TEST_CASE("http transfers: 200 PUTs, HEADs and GETs at once against nginx, a body streamed from a file",
          "[http-transfers]") {
  TempDir server_dir, tmp;
  NginxDav nginx(server_dir.path());
  wrt::HttpTransfers transfers(4);
  const std::string base = nginx.url("t");

  std::vector<wrt::Transfer> puts;
  for (int i = 0; i < 200; ++i) {
    wrt::Transfer t;
    t.method = "PUT";
    t.url = base + "/cas/" + std::to_string(i);
    t.body = "blob " + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 97, 'x');
    puts.push_back(std::move(t));
  }
  auto put_results = transfers.run(puts);
  REQUIRE(put_results.size() == 200);
  for (int i = 0; i < 200; ++i) {
    INFO(i << ": " << put_results[i].error);
    CHECK((put_results[i].status == 201 || put_results[i].status == 204));
    CHECK(read_file(nginx.store() / "t/cas" / std::to_string(i)) == puts[i].body);
  }

  // HEAD: present and absent.
  std::vector<wrt::Transfer> heads(2);
  heads[0].method = heads[1].method = "HEAD";
  heads[0].url = base + "/cas/7";
  heads[1].url = base + "/cas/none";
  auto head_results = transfers.run(heads);
  CHECK(head_results[0].status == 200);
  CHECK(head_results[0].body.empty());
  CHECK(head_results[1].status == 404);

  // GET into a sink, and kept bodies with a limit.
  std::string sunk;
  std::vector<wrt::Transfer> gets(3);
  gets[0].url = base + "/cas/150";
  gets[0].sink = [&](const char* d, std::size_t n) {
    sunk.append(d, n);
    return true;
  };
  gets[1].url = base + "/cas/199";
  gets[1].max_body = 10;
  gets[2].url = base + "/cas/3";
  auto get_results = transfers.run(gets);
  CHECK(get_results[0].status == 200);
  CHECK(sunk == puts[150].body);
  CHECK(get_results[0].body.empty());
  CHECK(get_results[1].status == 200);
  CHECK(get_results[1].truncated);
  CHECK(get_results[1].body == puts[199].body.substr(0, 10));
  CHECK(get_results[2].body == puts[3].body);
  CHECK_FALSE(get_results[2].truncated);

  // A 3 MiB body streamed from a file (not held in memory), then read back.
  std::string big;
  for (int i = 0; big.size() < (3u << 20); ++i) big += std::to_string(i) + ",";
  write_file(tmp / "big", big);
  int fd = ::open((tmp / "big").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  wrt::Transfer streamed;
  streamed.method = "PUT";
  streamed.url = base + "/cas/big";
  streamed.body_fd = fd;
  streamed.body_size = big.size();
  auto streamed_result = transfers.run({streamed});
  ::close(fd);
  CHECK((streamed_result[0].status == 201 || streamed_result[0].status == 204));
  CHECK(read_file(nginx.store() / "t/cas/big") == big);

  // A sink that refuses more ends the transfer: aborted, no status.
  std::size_t seen = 0;
  wrt::Transfer refused;
  refused.url = base + "/cas/big";
  refused.sink = [&](const char*, std::size_t n) {
    seen += n;
    return false;
  };
  auto refused_result = transfers.run({refused});
  CHECK(refused_result[0].aborted);
  CHECK(refused_result[0].status == 0);
  CHECK(seen > 0);
  CHECK(seen < big.size());

  // start(): callbacks on the transfer thread, also chained from one.
  std::mutex mu;
  std::condition_variable cv;
  int chained_status = 0;
  wrt::Transfer first;
  first.method = "HEAD";
  first.url = base + "/cas/none";
  transfers.start(first, [&](wrt::TransferResult&& r) {
    CHECK(r.status == 404);
    wrt::Transfer second;
    second.method = "PUT";
    second.url = base + "/cas/none";
    second.body = "now";
    transfers.start(second, [&](wrt::TransferResult&& r2) {
      std::lock_guard<std::mutex> lock(mu);
      chained_status = r2.status;
      cv.notify_all();
    });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return chained_status != 0; }));
  }
  CHECK((chained_status == 201 || chained_status == 204));
  CHECK(read_file(nginx.store() / "t/cas/none") == "now");
}

TEST_CASE("http transfers: nothing listening ends each transfer with an error, and the destructor ends the rest",
          "[http-transfers]") {
  std::vector<wrt::Transfer> batch(5);
  for (auto& t : batch) {
    t.url = "http://127.0.0.1:9/nothing";
    t.timeout = std::chrono::milliseconds(3000);
  }
  wrt::HttpTransfers transfers(2);
  auto results = transfers.run(batch);
  for (const auto& r : results) {
    CHECK(r.status == 0);
    CHECK_FALSE(r.error.empty());
  }
  // Started and never waited for: the destructor must end them (each
  // callback runs exactly once) and return.
  std::atomic<int> ended{0};
  {
    wrt::HttpTransfers short_lived(1);
    for (int i = 0; i < 20; ++i) {
      wrt::Transfer t;
      t.url = "http://10.255.255.1:9/unroutable";  // a connect that hangs until the timeout
      t.timeout = std::chrono::milliseconds(60000);
      short_lived.start(t, [&](wrt::TransferResult&& r) {
        CHECK(r.status == 0);
        ++ended;
      });
    }
  }
  CHECK(ended == 20);
}

TEST_CASE("http transfers: transfers started in a Batch wake the transfer thread once, a chain started from callbacks "
          "not at all, and all of them end",
          "[http-transfers]") {
  TempDir server_dir;
  NginxDav nginx(server_dir.path());
  wrt::HttpTransfers transfers(4);
  const std::string base = nginx.url("b");
  // The transfer thread exists before counting.
  wrt::Transfer warm;
  warm.url = base + "/none";
  REQUIRE(transfers.run({warm}).front().status == 404);

  std::mutex mu;
  std::condition_variable cv;
  int ended = 0, stored = 0;
  auto count = [&](wrt::TransferResult&& r) {
    std::lock_guard<std::mutex> lock(mu);
    ++ended;
    if (r.status == 201 || r.status == 204) ++stored;
    cv.notify_all();
  };
  auto put = [&](const std::string& name) {
    wrt::Transfer t;
    t.method = "PUT";
    t.url = base + "/" + name;
    t.body = name;
    return t;
  };
  const std::uint64_t before = transfers.wakeups();
  {
    wrt::HttpTransfers::Batch batch(transfers);
    for (int i = 0; i < 30; ++i) transfers.start(put("outer" + std::to_string(i)), count);
    {
      wrt::HttpTransfers::Batch inner(transfers);  // nested: the outer one wakes
      for (int i = 0; i < 5; ++i) transfers.start(put("inner" + std::to_string(i)), count);
    }
    CHECK(transfers.wakeups() == before);
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return ended == 35; }));
  }
  CHECK(stored == 35);
  CHECK(transfers.wakeups() == before + 1);
  CHECK(read_file(nginx.store() / "b/inner4") == "inner4");

  // 20 PUTs, each started by the previous one's callback (on the transfer
  // thread): one wake-up for the first, none for the rest. Each would wait
  // for curl's 1 s poll if the loop did not take them before polling, so
  // the chain must also end well within 20 s.
  const std::uint64_t chain_before = transfers.wakeups();
  int chained = 0;
  std::function<void(wrt::TransferResult&&)> next = [&](wrt::TransferResult&& r) {
    std::lock_guard<std::mutex> lock(mu);
    CHECK((r.status == 201 || r.status == 204));
    if (++chained < 20) transfers.start(put("chain" + std::to_string(chained)), next);
    cv.notify_all();
  };
  const auto t0 = std::chrono::steady_clock::now();
  transfers.start(put("chain0"), next);
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return chained == 20; }));
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  CHECK(transfers.wakeups() == chain_before + 1);
  CHECK(read_file(nginx.store() / "b/chain19") == "chain19");
}
