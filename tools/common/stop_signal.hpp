// Graceful stop on SIGINT/SIGTERM for the long-running commands (serve, watch).
#pragma once

#include <atomic>
#include <chrono>

namespace siamface::tools {

// While alive, SIGINT and SIGTERM set a flag and wake any thread blocked in wait(). A second
// signal while a stop is already requested takes the signal's default action (Ctrl-C twice
// quits at once). The destructor restores the previous handlers.
//
// Why a handler and not pthread_sigmask + sigwait: libraries start threads before main() (an
// OpenBLAS system BLAS starts its pool when it loads), and those threads never see a mask set
// later, so a signal delivered to one of them would kill the process. A sigaction handler is
// process-wide and runs on whichever thread receives the signal; it only stores to an atomic
// flag and writes one byte to a self-pipe, both async-signal-safe.
//
// Thread safety: one instance per process at a time (it owns process-wide signal handlers);
// requested(), wait() and wake() may be called from any thread.
class StopSignal {
 public:
  StopSignal();  // throws std::system_error when the pipe or a handler cannot be set up
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const;
  // The flag itself, for code that polls an atomic (e.g. VideoSourceOptions::cancel).
  const std::atomic<bool>* flag() const;
  // Blocks until a stop signal arrives or wake() is called; true when a signal arrived.
  bool wait() const;
  // Ends every wait() without requesting a stop (the program is ending by itself).
  void wake();
};

}  // namespace siamface::tools
