// How many threads the process has now (/proc/self/task): the tests that check a library starts no
// thread beyond what it was given count before and after (OpenBLAS may start its pool before main).
#pragma once

#include <cstddef>
#include <filesystem>

namespace siamface::test {

inline std::size_t process_thread_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

}  // namespace siamface::test
