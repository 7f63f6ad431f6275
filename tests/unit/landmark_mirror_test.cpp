// unmirror_landmarks: the mapping that lets the engine average landmarks with those of the
// mirrored face (LandmarkOptions::flip).
#include <gtest/gtest.h>

#include <random>

#include "landmarks/landmark_net.hpp"

namespace siamface {
namespace {

Landmarks random_landmarks(std::mt19937& rng, float width) {
  std::uniform_real_distribution<float> coordinate(0.0F, width);
  Landmarks landmarks{};
  for (Point& p : landmarks) p = {coordinate(rng), coordinate(rng)};
  return landmarks;
}

TEST(LandmarkMirrorTest, MirroringTwiceGivesTheOriginal) {
  std::mt19937 rng(7);
  const Landmarks original = random_landmarks(rng, 200.0F);
  const Landmarks twice = unmirror_landmarks(unmirror_landmarks(original, 200.0F), 200.0F);
  for (int i = 0; i < kLandmarkCount; ++i) {
    EXPECT_NEAR(twice[i].x, original[i].x, 1e-4) << i;
    EXPECT_EQ(twice[i].y, original[i].y) << i;
  }
}

TEST(LandmarkMirrorTest, SidesSwapAndTheMidlineStays) {
  Landmarks mirrored{};
  for (int i = 0; i < kLandmarkCount; ++i) mirrored[i] = {static_cast<float>(i), static_cast<float>(100 + i)};
  const Landmarks back = unmirror_landmarks(mirrored, 100.0F);
  // Point 36 (outer corner of the image-left eye) comes from the mirror's point 45, the
  // other eye's outer corner, reflected: x = 100 - 45.
  EXPECT_FLOAT_EQ(back[36].x, 55.0F);
  EXPECT_FLOAT_EQ(back[36].y, 145.0F);
  EXPECT_FLOAT_EQ(back[0].x, 100.0F - 16.0F);  // jaw ends swap
  EXPECT_FLOAT_EQ(back[8].y, 108.0F);          // chin tip stays itself
  EXPECT_FLOAT_EQ(back[30].y, 130.0F);         // nose tip stays itself
  EXPECT_FLOAT_EQ(back[57].y, 157.0F);         // lower lip centre stays itself
  EXPECT_FLOAT_EQ(back[48].y, 154.0F);         // mouth corners swap
  // Every point is used exactly once.
  std::array<int, kLandmarkCount> used{};
  for (const Point& p : back) ++used[static_cast<int>(p.y) - 100];
  for (int i = 0; i < kLandmarkCount; ++i) EXPECT_EQ(used[i], 1) << i;
}

}  // namespace
}  // namespace siamface
