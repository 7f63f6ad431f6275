#include "util/omp_threads.hpp"

#include <omp.h>

#include <algorithm>

namespace siamface {

ScopedOmpThreads::ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) {
  omp_set_num_threads(std::max(1, threads));
}
ScopedOmpThreads::~ScopedOmpThreads() { omp_set_num_threads(saved_); }

}  // namespace siamface
