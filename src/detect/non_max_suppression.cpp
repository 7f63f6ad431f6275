#include <algorithm>
#include <numeric>

#include "detect/face_detector.hpp"

namespace siamface {

// Greedy NMS as face-api does it: visit boxes by descending score (ties keep input order) and
// drop any box whose IoU with an already kept box exceeds the threshold.
std::vector<int> non_max_suppression(const std::vector<RawDetection>& detections, float iou_threshold) {
  std::vector<int> order(detections.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return detections[static_cast<std::size_t>(a)].score > detections[static_cast<std::size_t>(b)].score;
  });
  std::vector<int> kept;
  for (const int candidate : order) {
    const Box& box = detections[static_cast<std::size_t>(candidate)].box;
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](int k) {
      return intersection_over_union(box, detections[static_cast<std::size_t>(k)].box) > iou_threshold;
    });
    if (!suppressed) kept.push_back(candidate);
  }
  return kept;
}

std::vector<RawDetection> drop_nested_detections(const std::vector<RawDetection>& detections, float inside_fraction) {
  std::vector<RawDetection> kept;
  for (const RawDetection& d : detections) {
    const bool nested = std::any_of(detections.begin(), detections.end(), [&](const RawDetection& outer) {
      if (&outer == &d || outer.score <= d.score || outer.box.area() <= d.box.area()) return false;
      const float overlap_w = std::min(d.box.right(), outer.box.right()) - std::max(d.box.left, outer.box.left);
      const float overlap_h = std::min(d.box.bottom(), outer.box.bottom()) - std::max(d.box.top, outer.box.top);
      return overlap_w > 0 && overlap_h > 0 && overlap_w * overlap_h >= inside_fraction * d.box.area();
    });
    if (!nested) kept.push_back(d);
  }
  return kept;
}

}  // namespace siamface
