// The one error type the library throws. The CLI maps codes to exit statuses and the
// server maps them to HTTP statuses, each in a single place.
#pragma once

#include <stdexcept>
#include <string>

namespace siamface {

enum class ErrorCode {
  kInvalidArgument,  // a bad option or parameter value
  kInvalidImage,     // undecodable, truncated or unsupported image data
  kImageTooLarge,    // over the pixel or byte limit
  kNoFace,           // an operation needed a face and none was found
  kModelMissing,     // a model file is absent
  kModelCorrupt,     // a model file fails its checksum, shape or format checks
  kModelMismatch,    // gallery embeddings come from another model
  kNotFound,         // unknown person, face or file
  kGallery,          // the gallery file is corrupt or cannot be written
  kGalleryBusy,      // the gallery stayed locked past the timeout
  kGalleryUnavailable,  // the gallery's database server cannot be reached (connection lost); retry later
  kIo,               // a file could not be read or written
  kInternal,         // a bug: anything else
};

const char* to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace siamface
