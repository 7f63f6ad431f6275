// Runs work(i) for i in [0, count) on `jobs` threads and hands each result to sink(i, result)
// on the calling thread, in index order, as soon as it and its predecessors are done; so
// output streams while later items are still running. An exception from sink stops the run:
// running items finish, no new ones start, and it is rethrown on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace siamface::cli {

template <typename Result, typename Work, typename Sink>
void parallel_map_ordered(std::size_t count, int jobs, Work work, Sink sink) {
  std::vector<std::optional<Result>> results(count);
  std::mutex mutex;
  std::condition_variable ready;
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      Result result = work(i);
      std::lock_guard<std::mutex> lock(mutex);
      results[i] = std::move(result);
      ready.notify_one();
    }
  };
  std::vector<std::thread> threads;
  const int thread_count = std::max(1, std::min<int>(jobs, static_cast<int>(count)));
  for (int t = 0; t < thread_count; ++t) threads.emplace_back(worker);
  try {
    for (std::size_t i = 0; i < count; ++i) {
      std::unique_lock<std::mutex> lock(mutex);
      ready.wait(lock, [&] { return results[i].has_value(); });
      Result result = std::move(*results[i]);
      results[i].reset();
      lock.unlock();
      sink(i, result);
    }
  } catch (...) {
    // The sink failed (e.g. the gallery is full or locked): let the workers finish the item
    // they hold, start no more, then pass the error on (a joinable thread would abort).
    next = count;
    for (std::thread& thread : threads) thread.join();
    throw;
  }
  for (std::thread& thread : threads) thread.join();
}

}  // namespace siamface::cli
