// Fuzzes decode_image (include/siamface/image.hpp): magic-byte sniffing, the hand-written header
// parsers that enforce the pixel limit before OpenCV allocates, OpenCV's decoders, and the JPEG
// EXIF orientation. A 1 MP limit keeps every accepted image small, so the fuzzer cannot OOM.
#include <cstddef>
#include <cstdint>
#include <span>

#include "siamface/errors.hpp"
#include "siamface/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  siamface::DecodeOptions options;
  options.max_pixels = 1 << 20;
  options.apply_exif_orientation = true;
  try {
    const siamface::Image image = siamface::decode_image(std::span<const std::uint8_t>(data, size), options);
    // Whatever decodes must be a non-empty 8-bit BGR image within the limit.
    const auto pixels = static_cast<std::int64_t>(image.width) * image.height;
    if (image.empty() || pixels > options.max_pixels ||
        image.bgr.size() != static_cast<std::size_t>(pixels) * 3) {
      __builtin_trap();
    }
  } catch (const siamface::Error&) {
    // kInvalidImage / kImageTooLarge: rejected cleanly.
  }
  return 0;
}
