// Preloaded (LD_PRELOAD) into a child process by stop_signal_test: starts threads from a
// constructor, before main(), with every signal unblocked, the way an OpenBLAS system BLAS
// starts its thread pool when it loads (issue 22). The threads are named so the test can
// check that they really run in the child.
#include <pthread.h>
#include <unistd.h>

namespace {

constexpr int kThreads = 4;

void* idle(void*) {
  pthread_setname_np(pthread_self(), "before-main");
  for (;;) ::pause();
  return nullptr;
}

__attribute__((constructor)) void start_threads_before_main() {
  for (int i = 0; i < kThreads; ++i) {
    pthread_t thread;
    if (pthread_create(&thread, nullptr, idle, nullptr) == 0) pthread_detach(thread);
  }
}

}  // namespace
