// DetectOptions::border_pass = kNeeded: when the framed pass runs on a small image with faces.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "siamface/engine.hpp"

namespace siamface {
namespace {

// Sure first-pass faces (score 0.99) at these boxes.
std::vector<Face> faces_at(std::initializer_list<Box> boxes, float score = 0.99F) {
  std::vector<Face> faces;
  for (const Box& box : boxes) faces.push_back(Face{.box = box, .score = score});
  return faces;
}

TEST(BorderPassNeededTest, SmallCentralFacesNeedNoSecondPass) {
  // 640 x 480: short side 480, edge margin 48 px, "large" above 120 px.
  EXPECT_FALSE(border_pass_needed(faces_at({Box{200, 150, 80, 90}, Box{400, 200, 100, 110}}), 640, 480));
  EXPECT_FALSE(border_pass_needed({}, 640, 480));
}

TEST(BorderPassNeededTest, AFaceNearAnEdgeNeedsIt) {
  EXPECT_TRUE(border_pass_needed(faces_at({Box{200, 150, 80, 90}, Box{10, 200, 80, 90}}), 640, 480));   // left
  EXPECT_TRUE(border_pass_needed(faces_at({Box{580, 200, 40, 50}}), 640, 480));                         // right: 20 px
  EXPECT_TRUE(border_pass_needed(faces_at({Box{300, 400, 60, 60}}), 640, 480));                         // bottom: 20 px
}

TEST(BorderPassNeededTest, CropsAndThumbnailsAlwaysNeedIt) {
  EXPECT_TRUE(border_pass_needed(faces_at({Box{100, 100, 50, 50}}), 250, 250));  // small and central, yet a crop
  EXPECT_TRUE(border_pass_needed(faces_at({Box{200, 200, 60, 60}}), 512, 480));
}

TEST(BorderPassNeededTest, AnUnsureFaceNeedsIt) {
  EXPECT_TRUE(border_pass_needed(faces_at({Box{200, 150, 80, 90}}, 0.9F), 640, 480));
  EXPECT_FALSE(border_pass_needed(faces_at({Box{200, 150, 80, 90}}, 0.96F), 640, 480));
}

TEST(BorderPassNeededTest, ALargeFaceNeedsIt) {
  EXPECT_TRUE(border_pass_needed(faces_at({Box{200, 100, 130, 100}}), 640, 480));
}

}  // namespace
}  // namespace siamface
