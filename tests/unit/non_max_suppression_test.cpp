#include <gtest/gtest.h>

#include "detect/face_detector.hpp"

namespace siamface {
namespace {

RawDetection det(float left, float top, float size, float score) { return {Box{left, top, size, size}, score}; }

TEST(NonMaxSuppression, EmptyInputGivesNothing) { EXPECT_TRUE(non_max_suppression({}, 0.5F).empty()); }

TEST(NonMaxSuppression, KeepsBestOfOverlappingBoxesFirst) {
  // 0 and 2 overlap with IoU 81/119 = 0.68; 1 is far away.
  const std::vector<RawDetection> dets = {det(0, 0, 10, 0.6F), det(100, 100, 10, 0.7F), det(1, 1, 10, 0.9F)};
  EXPECT_EQ(non_max_suppression(dets, 0.5F), (std::vector<int>{2, 1}));
}

TEST(NonMaxSuppression, ThresholdIsStrict) {
  // Two 10x10 boxes shifted by 5 px: IoU = 50 / 150 = 1/3.
  const std::vector<RawDetection> dets = {det(0, 0, 10, 0.9F), det(5, 0, 10, 0.8F)};
  const float iou = intersection_over_union(dets[0].box, dets[1].box);
  ASSERT_NEAR(iou, 1.0F / 3.0F, 1e-6F);
  EXPECT_EQ(non_max_suppression(dets, iou).size(), 2U);  // suppress only when IoU > threshold
  EXPECT_EQ(non_max_suppression(dets, 0.3F), (std::vector<int>{0}));
}

TEST(NonMaxSuppression, SuppressedBoxDoesNotSuppressOthers) {
  // b overlaps a (suppressed by it); c overlaps only b, so c survives.
  const std::vector<RawDetection> dets = {det(0, 0, 10, 0.9F), det(4, 0, 10, 0.8F), det(9, 0, 10, 0.7F)};
  EXPECT_EQ(non_max_suppression(dets, 0.3F), (std::vector<int>{0, 2}));
}

TEST(NonMaxSuppression, EqualScoresKeepInputOrder) {
  const std::vector<RawDetection> dets = {det(50, 50, 10, 0.5F), det(0, 0, 10, 0.5F), det(0, 0, 10, 0.5F)};
  EXPECT_EQ(non_max_suppression(dets, 0.5F), (std::vector<int>{0, 1}));
}

TEST(NonMaxSuppression, DisjointBoxesAllKeptSortedByScore) {
  const std::vector<RawDetection> dets = {det(0, 0, 10, 0.1F), det(20, 0, 10, 0.3F), det(40, 0, 10, 0.2F)};
  EXPECT_EQ(non_max_suppression(dets, 0.0F), (std::vector<int>{1, 2, 0}));
}

// bernadette1.png: a 119x139 face at 1.00 and a 60x53 eye region at 0.72 inside it (IoU 0.19,
// so NMS keeps both).
TEST(DropNestedDetections, ABetterScoredLargerBoxSwallowsTheBoxInsideIt) {
  const std::vector<RawDetection> dets = {det(12, 2, 120, 1.0F), det(19, 21, 55, 0.72F), det(200, 0, 30, 0.6F)};
  const std::vector<RawDetection> kept = drop_nested_detections(dets);
  ASSERT_EQ(kept.size(), 2U);
  EXPECT_EQ(kept[0].box.left, 12.0F);
  EXPECT_EQ(kept[1].box.left, 200.0F);  // a small face elsewhere stays
}

TEST(DropNestedDetections, KeepsOverlapsAndBetterScoredInnerBoxes) {
  // Half inside: two faces side by side, cheek to cheek.
  EXPECT_EQ(drop_nested_detections({det(0, 0, 100, 0.9F), det(60, 10, 60, 0.8F)}).size(), 2U);
  // Inside but scoring higher than the outer box: the outer one is the doubtful one, and NMS's business.
  EXPECT_EQ(drop_nested_detections({det(0, 0, 100, 0.7F), det(20, 20, 40, 0.9F)}).size(), 2U);
  // Wholly inside is nested, 80 % is, 75 % is not.
  EXPECT_EQ(drop_nested_detections({det(0, 0, 100, 0.9F), det(80, 0, 20, 0.5F), det(85, 50, 20, 0.5F)}).size(), 2U);
  EXPECT_EQ(drop_nested_detections({det(0, 0, 100, 0.9F), det(84, 50, 20, 0.5F)}).size(), 1U);
  EXPECT_TRUE(drop_nested_detections({}).empty());
}

}  // namespace
}  // namespace siamface
