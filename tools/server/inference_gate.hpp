// Admission for the requests that run the networks (detect, embed, recognize, enrol).
//
// Connections are cheap (a thread each, kept alive between requests); inference is not. The gate
// lets `concurrent` requests run the networks at once, queues up to `queue_limit` more in arrival
// order, and refuses the rest at once, so that a burst from many cameras gets a quick 503 with a
// Retry-After instead of a timeout after minutes in an unbounded queue.
//
// Hand-written: httplib's thread pool (0.11, Debian 12) has no bound, and a bound on its queue
// would refuse cheap requests (health, the web page) along with the heavy ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace siamface::server {

// Thread safety: every method may be called from any thread.
class InferenceGate {
 public:
  InferenceGate(int concurrent, int queue_limit);

  // Held for the whole request; gives its place back on destruction.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : gate_(other.gate_), entered_(other.entered_) { other.gate_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    friend class InferenceGate;
    Slot(InferenceGate* gate, std::chrono::steady_clock::time_point entered) : gate_(gate), entered_(entered) {}
    InferenceGate* gate_;
    std::chrono::steady_clock::time_point entered_;
  };

  // A place to run now, or after waiting in line; nullopt when the line is full, or after
  // `max_wait` in it (its client would have given up by then).
  std::optional<Slot> enter(std::chrono::milliseconds max_wait);

  // Seconds a refused client should wait: the line's length times the recent run time of a
  // request, spread over the running places; at least 1.
  int retry_after_seconds() const;

  struct Counts {
    int running = 0;
    int waiting = 0;
    std::uint64_t refused = 0;
  };
  Counts counts() const;
  int concurrent() const { return concurrent_; }
  int queue_limit() const { return queue_limit_; }

 private:
  void leave(std::chrono::steady_clock::time_point entered);

  const int concurrent_;
  const int queue_limit_;
  mutable std::mutex mutex_;
  std::condition_variable turn_;
  int running_ = 0;
  std::deque<std::uint64_t> line_;  // tickets of the waiting requests, oldest first
  std::uint64_t next_ticket_ = 0;
  std::uint64_t refused_ = 0;
  double recent_run_seconds_ = 0.5;  // moving average of how long a request held its place
};

}  // namespace siamface::server
