// Annotated output images: boxes, names and landmarks drawn onto an Image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "siamface/types.hpp"

namespace siamface {

struct Color {
  std::uint8_t r = 0;
  std::uint8_t g = 0;
  std::uint8_t b = 0;
};

inline constexpr Color kKnownColor{0, 200, 0};        // a recognised person
inline constexpr Color kUnknownColor{220, 0, 0};      // a face that matched no one
inline constexpr Color kDetectionColor{0, 120, 255};  // a plain detection, no identity asked

struct FaceLabel {
  Box box;
  std::string title;     // e.g. the person's name; empty: no label bar
  std::string subtitle;  // e.g. "dist 0.42"; empty: one line only
  Color color = kDetectionColor;
  const Landmarks* landmarks = nullptr;  // drawn as small dots when set; must outlive the call
};

// Draws, for each label, a rectangle around the box and a filled bar under it holding the
// title and subtitle (above the box, or inside it, when there is no room below). Line width
// and font size follow the image and box size, so labels read on 150 px and 4000 px images.
// Text is white or black, whichever contrasts with the bar. Non-ASCII characters print as '?'
// (OpenCV's Hershey fonts are ASCII only). Boxes partly or wholly outside the image are
// clipped. Throws Error(kInvalidArgument) if image.bgr does not match its size.
// Thread safety: writes only `image`; concurrent calls on different images are safe.
void draw_faces(Image& image, const std::vector<FaceLabel>& labels);

}  // namespace siamface
