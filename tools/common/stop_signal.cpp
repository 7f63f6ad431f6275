#include "common/stop_signal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace siamface::tools {
namespace {

// Process-wide because a signal handler receives no context pointer.
std::atomic<bool> g_stop_requested{false};
int g_wake_read_fd = -1;
int g_wake_write_fd = -1;
struct sigaction g_previous_int{};
struct sigaction g_previous_term{};

extern "C" void on_stop_signal(int signal_number) {
  const int saved_errno = errno;
  if (g_stop_requested.exchange(true)) {
    // Second signal: give up on the graceful path.
    ::signal(signal_number, SIG_DFL);
    ::raise(signal_number);
  }
  const char byte = 1;
  [[maybe_unused]] const ssize_t written = ::write(g_wake_write_fd, &byte, 1);  // full pipe: already awake
  errno = saved_errno;
}

void install(int signal_number, struct sigaction* previous) {
  struct sigaction action{};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (::sigaction(signal_number, &action, previous) != 0) {
    throw std::system_error(errno, std::generic_category(), "sigaction");
  }
}

}  // namespace

StopSignal::StopSignal() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  g_wake_read_fd = fds[0];
  g_wake_write_fd = fds[1];
  g_stop_requested = false;
  install(SIGINT, &g_previous_int);
  install(SIGTERM, &g_previous_term);
}

StopSignal::~StopSignal() {
  ::sigaction(SIGINT, &g_previous_int, nullptr);
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
  ::close(g_wake_read_fd);
  ::close(g_wake_write_fd);
  g_wake_read_fd = g_wake_write_fd = -1;
}

bool StopSignal::requested() const { return g_stop_requested.load(); }

const std::atomic<bool>* StopSignal::flag() const { return &g_stop_requested; }

bool StopSignal::wait() const {
  pollfd wake{g_wake_read_fd, POLLIN, 0};
  while (::poll(&wake, 1, -1) < 0 && errno == EINTR) {
  }
  return requested();
}

void StopSignal::wake() {
  const char byte = 0;
  [[maybe_unused]] const ssize_t written = ::write(g_wake_write_fd, &byte, 1);
}

}  // namespace siamface::tools
