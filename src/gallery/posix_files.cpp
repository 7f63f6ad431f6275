#include "gallery/posix_files.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "siamface/errors.hpp"

namespace siamface::gallery {

namespace fs = std::filesystem;

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_face_id() {
  std::uint8_t b[16];
  std::size_t got = 0;
  while (got < sizeof b) {
    const ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::kInternal, std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[b[i] >> 4]);
    id.push_back(kHex[b[i] & 0x0F]);
  }
  return id;
}

// SQLite then gives -wal/-shm the same mode.
void create_private_file(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::exists(parent)) {
    fs::create_directories(parent, ec);
    if (ec) {
      throw Error(ErrorCode::kIo, "cannot create the gallery directory " + parent.string() + ": " + ec.message());
    }
  }
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return;
    throw Error(ErrorCode::kIo, "cannot create gallery " + path + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);  // in case the umask removed owner bits
  ::close(fd);
}

std::int64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(size);
}

PrivateOutputFile::PrivateOutputFile(const std::string& path, const std::string& what) : path_(path), what_(what) {
  fd_ = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw Error(ErrorCode::kIo, "cannot create " + what_ + " " + path_ + ": " + std::strerror(errno));
  }
  ::fchmod(fd_, 0600);  // an existing file keeps its old mode otherwise
  out_ = ::fdopen(fd_, "w");
  if (!out_) {
    ::close(fd_);
    throw Error(ErrorCode::kIo, "cannot write " + what_ + " " + path_);
  }
}

PrivateOutputFile::~PrivateOutputFile() {
  if (out_) std::fclose(out_);
}

void PrivateOutputFile::fail() const {
  throw Error(ErrorCode::kIo, "cannot write " + what_ + " " + path_ + ": " + std::strerror(errno));
}

void PrivateOutputFile::write(const std::string& bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size()) fail();
}

void PrivateOutputFile::finish() {
  if (std::fflush(out_) != 0 || ::fsync(fd_) != 0) fail();
}

}  // namespace siamface::gallery
