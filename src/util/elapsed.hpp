// Elapsed wall time for stage timings (the tracker's stats, watch's summary, the benches).
#pragma once

#include <chrono>

namespace siamface {

using SteadyClock = std::chrono::steady_clock;

inline double ms_since(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

}  // namespace siamface
