// The one retry rule for a gallery whose database server went away (a PostgreSQL gallery:
// Error(kGalleryUnavailable)): try again after 0.1 s, 0.2 s, 0.4 s ... (at most max_delay
// apart) until `budget` has passed or `stop()` says so, then rethrow the last error. Any other
// error passes through at once. Used by `serve` (each request, and opening the gallery) and
// `watch` (opening the gallery); searches need no retry (they answer from memory meanwhile).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <string>
#include <thread>

#include "siamface/errors.hpp"

namespace siamface::tools {

struct RetryPolicy {
  std::chrono::milliseconds first_delay{100};
  std::chrono::milliseconds max_delay{2000};
  std::chrono::milliseconds budget{5000};
  std::function<bool()> stop;  // optional: give up early (a stop signal)
};

template <typename F>
auto retry_while_unavailable(const std::string& what, F&& call, const RetryPolicy& policy = {}) -> decltype(call()) {
  const auto deadline = std::chrono::steady_clock::now() + policy.budget;
  auto delay = policy.first_delay;
  for (;;) {
    try {
      return call();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kGalleryUnavailable || std::chrono::steady_clock::now() + delay > deadline ||
          (policy.stop && policy.stop())) {
        throw;
      }
      std::cerr << "siamface: " << what << ": " << e.what() << "; retrying in " << delay.count() << " ms\n";
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, policy.max_delay);
  }
}

}  // namespace siamface::tools
