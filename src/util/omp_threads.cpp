#include "util/omp_threads.hpp"

#include <omp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>

namespace siamface {
namespace {

// GNU libgomp cannot start a team in a child forked after the parent ran a parallel region: the
// child waits for pool threads that were not copied, forever (tested by
// RecognitionNet.AForkedChildAnalysesAPhotoAsTheParentDid). Python's multiprocessing forks by default, so
// a forked child runs OpenMP on one thread, which needs no pool.
std::atomic<bool> forked_child{false};

const bool fork_handler_registered = [] {
  return ::pthread_atfork(nullptr, nullptr, [] { forked_child.store(true); }) == 0;
}();

}  // namespace

ScopedOmpThreads::ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) {
  (void)fork_handler_registered;
  omp_set_num_threads(forked_child.load() ? 1 : std::max(1, threads));
}
ScopedOmpThreads::~ScopedOmpThreads() { omp_set_num_threads(saved_); }

}  // namespace siamface
