// What the HEIF/AVIF decoder reads from the ISO-BMFF boxes itself, before libheif sees the file:
// libheif 1.15 trusts several sizes it finds there (heif_decode.cpp says which). Internal to
// src/image/. Thread safety: pure functions; safe to call concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace siamface::heif_boxes {

// An ISO-BMFF box: its type and payload. Malformed boxes end a walk; libheif reports them.
struct Box {
  std::uint32_t type = 0;
  std::span<const std::uint8_t> payload;
};

constexpr std::uint32_t fourcc(const char (&text)[5]) {
  return std::uint32_t(std::uint8_t(text[0])) << 24 | std::uint32_t(std::uint8_t(text[1])) << 16 |
         std::uint32_t(std::uint8_t(text[2])) << 8 | std::uint32_t(std::uint8_t(text[3]));
}

// Big-endian unsigned of `count` (0..8) bytes at `at`; the caller checks the bounds.
std::uint64_t read_be(std::span<const std::uint8_t> bytes, std::size_t at, std::size_t count);

// The boxes one after another in `bytes` (a file, or a container box's payload).
std::vector<Box> child_boxes(std::span<const std::uint8_t> bytes);

// The payload of the first top-level 'meta' box after its version and flags; empty when none.
std::span<const std::uint8_t> meta_payload(std::span<const std::uint8_t> file);

// Throws Error(kImageTooLarge) when a size the codec or libheif would allocate by is over
// max_pixels, and Error(kInvalidImage) when such a size cannot be read. libheif 1.15 allocates
// the decoded picture by what the bitstream says, not by the checked 'ispe' box: an HEVC
// sequence parameter set or an AV1 sequence header (in the hvcC/av1C properties or in the item
// data), and a grid's or overlay's output size. A 563-byte HEIC whose grid said 62723x8192 made
// it allocate 1.5 GB (found by fuzz/image_decode_fuzz.cpp). `format` names the file in messages.
void check_coded_sizes(std::span<const std::uint8_t> file, const char* format, std::int64_t max_pixels);

}  // namespace siamface::heif_boxes
