// Test-time augmentation chips (ChipOptions::augmentation): counts, order, mirrors and the
// rotation, on a synthetic picture.
#include "pipeline/augmented_chips.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "align/face_chip.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

// An asymmetric textured picture with the chip template placed in it at twice its size.
struct Scene {
  cv::Mat bgr;
  Landmarks landmarks{};
};

Scene make_scene() {
  Scene scene;
  scene.bgr = cv::Mat(400, 400, CV_8UC3, cv::Scalar(90, 120, 150));
  for (int y = 0; y < 400; y += 16)
    for (int x = (y / 16 % 2) * 16; x < 400; x += 40)
      cv::rectangle(scene.bgr, cv::Rect(x, y, 16, 16), cv::Scalar(40 + x / 4, 60, 200 - y / 3), cv::FILLED);
  const Landmarks tpl = face_chip_template();
  for (int i = 0; i < kLandmarkCount; ++i) scene.landmarks[i] = {2 * tpl[i].x + 50, 2 * tpl[i].y + 50};
  return scene;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

cv::Mat mirror(const cv::Mat& m) {
  cv::Mat out;
  cv::flip(m, out, 1);
  return out;
}

std::vector<cv::Mat> chips_of(const Scene& s, EmbedAugmentation augmentation) {
  return augmented_chips(s.bgr, s.landmarks, 150.0F, ChipSampling::kBicubic, Enhancement{}, augmentation);
}

TEST(AugmentedChipsTest, CountsOrderAndMirrors) {
  const Scene scene = make_scene();
  const std::vector<cv::Mat> none = chips_of(scene, EmbedAugmentation::kNone);
  const std::vector<cv::Mat> flip = chips_of(scene, EmbedAugmentation::kFlip);
  const std::vector<cv::Mat> all = chips_of(scene, EmbedAugmentation::kFlipRotate);
  ASSERT_EQ(none.size(), chip_count(EmbedAugmentation::kNone));
  ASSERT_EQ(flip.size(), chip_count(EmbedAugmentation::kFlip));
  ASSERT_EQ(all.size(), chip_count(EmbedAugmentation::kFlipRotate));
  EXPECT_EQ(all.size(), 6U);
  for (const cv::Mat& chip : all) {
    EXPECT_EQ(chip.size(), cv::Size(kChipSize, kChipSize));
    EXPECT_EQ(chip.type(), CV_8UC3);
  }
  // The smaller augmentations are prefixes of the larger ones.
  EXPECT_TRUE(same_pixels(none[0], extract_face_chip(scene.bgr, scene.landmarks)));
  EXPECT_TRUE(same_pixels(flip[0], none[0]));
  EXPECT_TRUE(same_pixels(all[1], flip[1]));
  // Every second chip mirrors the one before it; the rotated chips differ from the first.
  for (std::size_t i = 0; i < all.size(); i += 2) EXPECT_TRUE(same_pixels(all[i + 1], mirror(all[i]))) << i;
  EXPECT_FALSE(same_pixels(all[0], all[1]));
  EXPECT_FALSE(same_pixels(all[2], all[0]));
  EXPECT_FALSE(same_pixels(all[4], all[2]));
}

TEST(AugmentedChipsTest, RotationTurnsAboutTheLandmarkMean) {
  const Landmarks original = make_scene().landmarks;
  const Landmarks turned = rotate_landmarks(original, 3.0);
  const Landmarks back = rotate_landmarks(turned, -3.0);
  // The outer eye corners (36, 45) turn by 3 degrees, clockwise on screen for +3 (y down).
  const double before = std::atan2(original[45].y - original[36].y, original[45].x - original[36].x);
  const double after = std::atan2(turned[45].y - turned[36].y, turned[45].x - turned[36].x);
  EXPECT_NEAR((after - before) * 180 / CV_PI, 3.0, 1e-3);
  for (int i = 0; i < kLandmarkCount; ++i) {
    EXPECT_NEAR(back[i].x, original[i].x, 1e-3);
    EXPECT_NEAR(back[i].y, original[i].y, 1e-3);
  }
}

TEST(AugmentedChipsTest, MeanEmbeddingAveragesTheRange) {
  const std::vector<Embedding> views = {Embedding(128, 1.0F), Embedding(128, 3.0F), Embedding(128, 100.0F)};
  const Embedding mean = mean_embedding(views, 0, 2);
  ASSERT_EQ(mean.size(), 128U);
  for (float v : mean) EXPECT_FLOAT_EQ(v, 2.0F);
  EXPECT_FLOAT_EQ(mean_embedding(views, 2, 1)[0], 100.0F);
}

TEST(AugmentedChipsTest, ParsesAugmentationNames) {
  for (EmbedAugmentation a : {EmbedAugmentation::kNone, EmbedAugmentation::kFlip, EmbedAugmentation::kFlipRotate})
    EXPECT_EQ(parse_embed_augmentation(to_string(a)), a);
  EXPECT_THROW(parse_embed_augmentation("mirror"), Error);
}

}  // namespace
}  // namespace siamface
