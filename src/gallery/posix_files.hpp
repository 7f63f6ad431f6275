// POSIX helpers of the gallery: private (0600) files, random face ids, sizes and the clock.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace siamface::gallery {

std::int64_t now_unix_ms();

// A random v4 UUID from the kernel (getrandom), so forked processes never repeat each other.
std::string new_face_id();

// Creates `path` (and its folder) with mode 0600 unless it exists.
void create_private_file(const std::string& path);

std::int64_t file_size_or_zero(const std::string& path);

// A file written from scratch with mode 0600 (an existing one is truncated and made private),
// synced to disk by finish(). Errors are Error(kIo) naming the file and `what` it is.
class PrivateOutputFile {
 public:
  PrivateOutputFile(const std::string& path, const std::string& what);
  ~PrivateOutputFile();
  PrivateOutputFile(const PrivateOutputFile&) = delete;
  PrivateOutputFile& operator=(const PrivateOutputFile&) = delete;

  void write(const std::string& bytes);
  void finish();  // flush + fsync

 private:
  [[noreturn]] void fail() const;
  std::string path_;
  std::string what_;
  int fd_ = -1;
  std::FILE* out_ = nullptr;
};

}  // namespace siamface::gallery
