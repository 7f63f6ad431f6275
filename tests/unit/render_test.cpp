// draw_faces: the colour lands on the box border, far pixels stay untouched, and odd
// geometry does not crash.
#include "siamface/render.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "common/test_env.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

Image blank(int width, int height, std::uint8_t value = 50) {
  Image image;
  image.width = width;
  image.height = height;
  image.bgr.assign(static_cast<std::size_t>(width) * height * 3, value);
  return image;
}

struct Bgr {
  // A constructor rather than an aggregate: Bgr(50, 50, 50) inside EXPECT_EQ needs one before
  // C++20's parenthesised aggregate init, which clang 14 (the sanitizer presets) lacks.
  Bgr(std::uint8_t b_, std::uint8_t g_, std::uint8_t r_) : b(b_), g(g_), r(r_) {}
  std::uint8_t b, g, r;
  bool operator==(const Bgr&) const = default;
};

Bgr at(const Image& image, int x, int y) {
  const std::size_t i = (static_cast<std::size_t>(y) * image.width + x) * 3;
  return {image.bgr[i], image.bgr[i + 1], image.bgr[i + 2]};
}

TEST(RenderTest, BorderTakesTheColourAndFarPixelsStay) {
  Image image = blank(400, 300);
  FaceLabel label;
  label.box = {100, 50, 120, 100};
  label.title = "Ada Lovelace";
  label.subtitle = "dist 0.42";
  label.color = kKnownColor;
  draw_faces(image, {label});

  const Bgr green{kKnownColor.b, kKnownColor.g, kKnownColor.r};
  EXPECT_EQ(at(image, 160, 50), green);             // top edge
  EXPECT_EQ(at(image, 100, 100), green);            // left edge
  EXPECT_EQ(at(image, 220, 100), green);            // right edge
  EXPECT_EQ(at(image, 160, 100), Bgr(50, 50, 50));  // inside the face: untouched
  EXPECT_EQ(at(image, 380, 20), Bgr(50, 50, 50));   // far away
  EXPECT_EQ(at(image, 10, 290), Bgr(50, 50, 50));

  // The label bar sits just below the box, in the box colour, with text in it.
  int bar_pixels = 0;
  int text_pixels = 0;
  for (int y = 152; y < 200; ++y) {
    for (int x = 100; x < 220; ++x) {
      const Bgr p = at(image, x, y);
      bar_pixels += p == green;
      text_pixels += p.r > 200 && p.g > 200 && p.b > 200;
    }
  }
  EXPECT_GT(bar_pixels, 1000);
  EXPECT_GT(text_pixels, 20);
}

TEST(RenderTest, LabelScalesWithImageSize) {
  auto bar_height = [](int side) {
    Image image = blank(side, side);
    FaceLabel label;
    label.box = {side * 0.25F, side * 0.2F, side * 0.4F, side * 0.4F};
    label.title = "Name";
    label.color = kUnknownColor;
    draw_faces(image, {label});
    const int x = static_cast<int>(side * 0.3F);
    int rows = 0;
    for (int y = static_cast<int>(side * 0.6F) + 1; y < side; ++y) {
      rows += at(image, x, y) == Bgr{kUnknownColor.b, kUnknownColor.g, kUnknownColor.r} ||
              at(image, x, y).r > 200;
    }
    return rows;
  };
  const int small = bar_height(150);
  const int large = bar_height(4000);
  EXPECT_GE(small, 8);          // readable on a thumbnail
  EXPECT_GT(large, 8 * small);  // and grows with the photo
}

TEST(RenderTest, LandmarksAreDrawnAsDots) {
  Image image = blank(200, 200);
  Landmarks lm{};
  for (int i = 0; i < kLandmarkCount; ++i) lm[i] = {60.0F + i, 100.0F};
  FaceLabel label;
  label.box = {40, 40, 120, 120};
  label.color = kDetectionColor;
  label.landmarks = &lm;
  draw_faces(image, {label});
  EXPECT_EQ(at(image, 90, 100), Bgr(kDetectionColor.b, kDetectionColor.g, kDetectionColor.r));
  EXPECT_EQ(at(image, 90, 110), Bgr(50, 50, 50));
}

TEST(RenderTest, OddGeometryDoesNotCrash) {
  Image image = blank(100, 80);
  const std::vector<Box> boxes = {
      {-50, -50, 100, 100},  // partly outside, top-left
      {80, 60, 100, 100},    // partly outside, bottom-right
      {1000, 1000, 50, 50},  // fully outside
      {-1e9F, -1e9F, 2e9F, 2e9F}, {10, 10, 0, 0},
      {10, 10, -5, -5},           {std::numeric_limits<float>::quiet_NaN(), 0, 10, 10},
  };
  std::vector<FaceLabel> labels;
  for (const Box& box : boxes) {
    FaceLabel label;
    label.box = box;
    label.title = "Zo\xC3\xAB \xE6\x9D\x8E";  // non-ASCII: drawn as '?'
    label.subtitle = "dist 0.61";
    labels.push_back(label);
  }
  EXPECT_NO_THROW(draw_faces(image, labels));
  EXPECT_EQ(image.bgr.size(), 100U * 80U * 3U);

  Image fully_outside = blank(100, 80);
  FaceLabel far;
  far.box = {1000, 1000, 50, 50};
  far.title = "Nobody";
  draw_faces(fully_outside, {far});
  EXPECT_EQ(fully_outside.bgr, blank(100, 80).bgr);  // nothing visible to draw

  Image one = blank(1, 1);
  FaceLabel tiny;
  tiny.box = {0, 0, 1, 1};
  tiny.title = "x";
  EXPECT_NO_THROW(draw_faces(one, {tiny}));
  Image empty;
  EXPECT_NO_THROW(draw_faces(empty, {tiny}));

  Image broken = blank(4, 4);
  broken.bgr.resize(5);
  EXPECT_THROW(draw_faces(broken, {tiny}), Error);
}

}  // namespace
}  // namespace siamface
