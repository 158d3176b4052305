// Unit tests of the stage runner pool: the job limit, priority order, lazy
// threads and a clean shutdown.
#include "core/exec/runner_pool.h"
#include "core/util/blocking_region.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

using wrt::RunnerPool;

namespace {

// `peak` becomes `now` if that is more (jobs on several threads at once).
void raise_peak(std::atomic<int>& peak, int now) {
  int p = peak.load();
  while (now > p && !peak.compare_exchange_weak(p, now)) {
  }
}

}  // namespace

TEST_CASE("runner_pool: never more than `size` jobs at once, and all of them run", "[runner_pool]") {
  std::atomic<int> running{0}, peak{0}, done{0};
  {
    RunnerPool pool(3, [&](int) {
      raise_peak(peak, ++running);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --running;
      ++done;
    });
    for (int i = 0; i < 30; ++i) pool.submit(i, 0);
  }  // the destructor waits for the queue to drain
  CHECK(done == 30);
  CHECK(peak <= 3);
  CHECK(peak >= 2);  // more than one ran at once
}

TEST_CASE("runner_pool: higher priority first, then submission order", "[runner_pool]") {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<int> order;
  {
    RunnerPool pool(1, [&](int v) {
      std::unique_lock<std::mutex> lock(mu);
      if (v == -1) {
        cv.wait(lock, [&] { return release; });  // holds the only thread while the others queue
        return;
      }
      order.push_back(v);
    });
    pool.submit(-1, 100);
    // Give the blocker time to be taken, then queue in a mixed order.
    for (int i = 0; i < 200 && pool.threads_started() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pool.submit(1, 1);
    pool.submit(2, 3);
    pool.submit(3, 1);
    pool.submit(4, 3);
    pool.submit(5, 2);
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
  }
  CHECK(order == std::vector<int>{2, 4, 5, 1, 3});
}

TEST_CASE("runner_pool: no thread until the first job", "[runner_pool]") {
  RunnerPool pool(4, [](int) {});
  CHECK(pool.threads_started() == 0);
  pool.submit(0, 0);
  CHECK(pool.threads_started() == 1);
}

TEST_CASE("runner_pool: max_running limits the jobs on the CPU at once, every job runs", "[runner_pool]") {
  std::atomic<int> running{0}, peak{0}, done{0};
  {
    RunnerPool pool(8, [&](int) {
      raise_peak(peak, ++running);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      --running;
      ++done;
    }, "wrt-test", 2);
    for (int i = 0; i < 40; ++i) pool.submit(i, 0);
  }
  CHECK(done == 40);
  CHECK(peak == 2);
}

TEST_CASE("runner_pool: a job waiting in a BlockingRegion lets another run, and back the limit holds again",
          "[runner_pool]") {
  // max_running 1: job 0 waits (in a region) for job 1 to open a gate. Without
  // the region's hand-off job 1 would never start: a deadlock, caught by the
  // wait's timeout.
  std::mutex mu;
  std::condition_variable cv;
  bool open = false, timed_out = false;
  std::atomic<int> running{0}, peak_after{0}, done{0};
  {
    RunnerPool pool(4, [&](int v) {
      if (v == 0) {
        {
          wrt::BlockingRegion waiting;
          std::unique_lock<std::mutex> lock(mu);
          timed_out = !cv.wait_for(lock, std::chrono::seconds(10), [&] { return open; });
        }
        ++done;
        return;
      }
      if (v == 1) {
        {
          std::lock_guard<std::mutex> lock(mu);
          open = true;
        }
        cv.notify_all();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // job 0 is back meanwhile
        ++done;
        return;
      }
      // Jobs 2..9, queued behind: one at a time once job 0 is back.
      raise_peak(peak_after, ++running);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      --running;
      ++done;
    }, "wrt-test", 1);
    pool.submit(0, 10);
    pool.submit(1, 9);
    for (int i = 2; i < 10; ++i) pool.submit(i, 0);
  }
  CHECK_FALSE(timed_out);
  CHECK(done == 10);
  CHECK(peak_after == 1);
}

TEST_CASE("runner_pool: a BlockingRegion on a thread of no limited pool does nothing", "[runner_pool]") {
  std::atomic<int> done{0};
  {
    wrt::BlockingRegion outside;  // not a pool thread
    RunnerPool pool(2, [&](int) {
      wrt::BlockingRegion inside;  // a pool without max_running: no hooks
      ++done;
    });
    for (int i = 0; i < 10; ++i) pool.submit(i, 0);
  }
  CHECK(done == 10);
}
