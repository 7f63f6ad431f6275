// Timing helpers shared by the benches: elapsed milliseconds and the median of repeated runs
// (medians, not means: the machines are shared and noisy).
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

#include "util/elapsed.hpp"

namespace siamface::bench {

using Clock = std::chrono::steady_clock;

using siamface::ms_since;

inline double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace siamface::bench
