// Process-wide settings a test or bench changes for a scope and must give back, also when an
// assertion returns early: OpenCV's thread count and environment variables.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

namespace siamface::test {

class ScopedCvThreads {
 public:
  explicit ScopedCvThreads(int threads) : saved_(cv::getNumThreads()) { cv::setNumThreads(threads); }
  ~ScopedCvThreads() { cv::setNumThreads(saved_); }
  ScopedCvThreads(const ScopedCvThreads&) = delete;
  ScopedCvThreads& operator=(const ScopedCvThreads&) = delete;

 private:
  int saved_;
};

// Sets `name` to `value` (unsets it for nullptr) and restores what it was.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) saved_ = old;
    set(value);
  }
  ~ScopedEnv() { set(saved_ ? saved_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void set(const char* value) const {
    if (value) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

}  // namespace siamface::test
