// Image decoding with limits, and encoding for annotated output.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "siamface/types.hpp"

namespace siamface {

// load_image refuses files larger than this before reading them (Error(kImageTooLarge)).
inline constexpr std::int64_t kMaxImageFileBytes = 256LL << 20;

struct DecodeOptions {
  std::int64_t max_pixels = 50'000'000;  // checked from the header, before any pixel is decoded
  bool apply_exif_orientation = true;
};

// Decodes JPEG, PNG, WebP, GIF (first frame), BMP, TIFF, HEIF/HEIC, AVIF and PBM/PGM/PPM,
// detected from the magic bytes whatever the file name says (other formats are refused).
// Grey, 16-bit, alpha (dropped) and CMYK inputs become 8-bit BGR. Orientation is applied
// unless disabled: the EXIF tag of JPEG, PNG, WebP and TIFF, and HEIF/AVIF's irot/imir
// transforms (a HEIF's Exif orientation is informative and never applied on top of them);
// GIF, BMP and Netpbm carry none. Throws Error(kInvalidImage) (empty, unknown, corrupt or
// truncated data), Error(kImageTooLarge) (over max_pixels, checked from the header before any
// pixel is decoded) or Error(kInvalidArgument) (max_pixels<=0).
// load_image adds Error(kIo) (missing, unreadable, a directory) and the file-size limit.
// Thread safety: safe to call concurrently.
Image decode_image(std::span<const std::uint8_t> bytes, const DecodeOptions& options = {});
Image load_image(const std::string& path, const DecodeOptions& options = {});

// Writes by extension (.jpg, .png, ...). Throws Error(kIo).
void save_image(const Image& image, const std::string& path);

}  // namespace siamface
