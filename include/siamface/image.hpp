// Image decoding with limits, and encoding for annotated output.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "siamface/types.hpp"

namespace siamface {

struct DecodeOptions {
  std::int64_t max_pixels = 50'000'000;  // checked from the header, before any pixel is decoded
  bool apply_exif_orientation = true;
};

// Decodes JPEG, PNG, WebP, BMP, TIFF (whatever OpenCV reads), whatever the file name says.
// Grey, 16-bit, alpha and CMYK inputs become 8-bit BGR. Throws Error(kInvalidImage) or
// Error(kImageTooLarge). Thread safety: safe to call concurrently.
Image decode_image(std::span<const std::uint8_t> bytes, const DecodeOptions& options = {});
Image load_image(const std::string& path, const DecodeOptions& options = {});

// Writes by extension (.jpg, .png, ...). Throws Error(kIo).
void save_image(const Image& image, const std::string& path);

}  // namespace siamface
