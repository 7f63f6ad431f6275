// Which face a one-face operation takes, and which border-pass faces are kept (issue 16: a
// false "face" on clothes, larger than the real face, was taken by the largest-face rule).
#include <gtest/gtest.h>

#include "detect/face_detector.hpp"
#include "siamface/engine.hpp"

namespace siamface {
namespace {

Face face_at(float left, float top, float side, float score) {
  Face face;
  face.box = {left, top, side, side};
  face.score = score;
  return face;
}

TEST(FaceChoice, LargestSkipsALargerBoxOfMuchLowerScore) {
  // A clear face (0.98) and, below it, a larger low-confidence box on the chest (0.70).
  const std::vector<Face> faces = {face_at(300, 100, 120, 0.98F), face_at(260, 260, 200, 0.70F)};
  EXPECT_EQ(choose_face(faces, 800, 600, FaceChoice::kLargest), 0);
  // Within the gap, the larger still wins.
  const std::vector<Face> close = {face_at(300, 100, 120, 0.98F), face_at(260, 260, 200, 0.85F)};
  EXPECT_EQ(choose_face(close, 800, 600, FaceChoice::kLargest), 1);
}

TEST(FaceChoice, NearestCentreIgnoresScores) {
  // LFW-style crop: the frame-filling central face scores 0.55, a bystander at the edge 0.95.
  const std::vector<Face> faces = {face_at(5, 5, 60, 0.95F), face_at(60, 60, 130, 0.55F)};
  EXPECT_EQ(choose_face(faces, 250, 250, FaceChoice::kNearestCenter), 1);
  // The largest-face rule would not take the 0.55 box beside a 0.95 face, whatever its size.
  EXPECT_EQ(choose_face(faces, 250, 250, FaceChoice::kLargest), 0);
}

TEST(FaceChoice, EmptyAndSingle) {
  EXPECT_EQ(choose_face({}, 100, 100, FaceChoice::kLargest), -1);
  EXPECT_EQ(choose_face({face_at(0, 0, 10, 0.3F)}, 100, 100, FaceChoice::kLargest), 0);
}

TEST(BorderPass, NewFacesMustClearTheHigherScoreRepeatsAreKept) {
  const std::vector<RawDetection> first = {{{100, 50, 80, 80}, 0.97F}};
  const std::vector<RawDetection> border = {
      {{102, 52, 78, 78}, 0.62F},   // the first-pass face again: kept whatever its score
      {{80, 170, 130, 130}, 0.72F}, // new, low: a pattern on clothes
      {{300, 60, 70, 70}, 0.91F},   // new, confident: a face the first pass missed
  };
  const auto kept = confirmed_border_detections(border, first, 0.8F);
  ASSERT_EQ(kept.size(), 2U);
  EXPECT_FLOAT_EQ(kept[0].score, 0.62F);
  EXPECT_FLOAT_EQ(kept[1].score, 0.91F);
  // Without first-pass faces every border face is new (the engine then takes the border pass
  // unfiltered, as for a tight crop, and does not call this).
  EXPECT_EQ(confirmed_border_detections(border, {}, 0.8F).size(), 1U);
}

}  // namespace
}  // namespace siamface
