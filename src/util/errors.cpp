#include "siamface/errors.hpp"

namespace siamface {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kInvalidImage: return "invalid_image";
    case ErrorCode::kImageTooLarge: return "image_too_large";
    case ErrorCode::kNoFace: return "no_face";
    case ErrorCode::kModelMissing: return "model_missing";
    case ErrorCode::kModelCorrupt: return "model_corrupt";
    case ErrorCode::kModelMismatch: return "model_mismatch";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kGallery: return "gallery_error";
    case ErrorCode::kGalleryBusy: return "gallery_busy";
    case ErrorCode::kGalleryUnavailable: return "gallery_unavailable";
    case ErrorCode::kIo: return "io_error";
    case ErrorCode::kInternal: return "internal_error";
  }
  return "internal_error";
}

}  // namespace siamface
