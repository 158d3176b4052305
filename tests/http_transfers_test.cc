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
