// OpenMP's thread count is a per-thread setting that the libraries on OpenMP (FAISS, oneDNN)
// read at each parallel region; every call into them runs under the count its caller was given.
#pragma once

namespace siamface {

// Sets the calling thread's OpenMP thread count for a scope and restores it afterwards. In a
// process forked from one that had already run OpenMP, the count is 1 (libgomp would hang).
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads);
  ~ScopedOmpThreads();
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace siamface
