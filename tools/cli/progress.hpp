// Progress for long runs: a redrawn bar with rate and ETA on a terminal, plain lines otherwise.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace siamface::cli {

class Progress {
 public:
  Progress(std::string label, std::size_t total)
      : label_(std::move(label)), total_(total), terminal_(::isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}

  void step(std::size_t done) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? done / seconds : 0.0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
    if (terminal_) {
      constexpr int kWidth = 30;
      const int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
      std::fprintf(stderr, "\r%s [%s%s] %zu/%zu %.1f/s ETA %.0fs ", label_.c_str(), std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, '.').c_str(), done, total_, rate, eta);
      if (done == total_) std::fputc('\n', stderr);
    } else if (done == total_ || seconds - last_line_s_ >= 5.0) {
      last_line_s_ = seconds;
      std::fprintf(stderr, "%s: %zu/%zu (%.1f/s, ETA %.0fs)\n", label_.c_str(), done, total_, rate, eta);
    }
    std::fflush(stderr);
  }

 private:
  std::string label_;
  std::size_t total_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
  double last_line_s_ = -1e9;
};

}  // namespace siamface::cli
