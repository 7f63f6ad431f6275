// Decoders for the formats OpenCV 4.6 cannot read (HEIF/AVIF through libheif, GIF through
// giflib), and the checks every decoder shares. Internal to src/image/.
// Thread safety: pure functions; safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "siamface/image.hpp"
#include "siamface/types.hpp"

namespace siamface {

// Throws Error(kInvalidImage, message).
[[noreturn]] void throw_invalid_image(const std::string& message);

// Throws Error(kInvalidImage) for an empty size and Error(kImageTooLarge) when width x height
// is over max_pixels; `format` names the format in the message. Safe for any int64 sizes.
void check_pixel_limit(const char* format, std::int64_t width, std::int64_t height,
                       std::int64_t max_pixels);

// True when the bytes are an ISO-BMFF file of a HEIF brand (HEIC, AVIF, ...) per libheif.
bool is_heif(std::span<const std::uint8_t> bytes);

// The primary image; its size (after irot/imir/clap) is checked against max_pixels before the
// codec runs. libheif applies those transforms unless apply_exif_orientation is false; an
// Exif orientation inside a HEIF file is informative only and never applied (the spec
// makes the transform properties authoritative, so applying both would turn it twice).
// libheif can only skip all transforms together, so with orientation off a clap crop is
// skipped too and the full coded picture comes back.
Image decode_heif(std::span<const std::uint8_t> bytes, const DecodeOptions& options);

// The first frame, composed on the logical screen filled with the background colour
// (transparent pixels keep it). The frame's own size is checked before its raster is allocated.
Image decode_gif(std::span<const std::uint8_t> bytes, const DecodeOptions& options);

}  // namespace siamface
