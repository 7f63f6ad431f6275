#include <algorithm>
#include <opencv2/core.hpp>

#include "detect/face_detector.hpp"

namespace siamface {

std::vector<RawDetection> detect_with_border(const FaceDetector& detector, const cv::Mat& bgr, float min_score) {
  const int border = std::max(bgr.cols, bgr.rows) / 2;
  cv::Mat framed;
  cv::copyMakeBorder(bgr, framed, border, border, border, border, cv::BORDER_CONSTANT, cv::Scalar(127, 127, 127));
  std::vector<RawDetection> found;
  for (RawDetection detection : detector.detect(framed, min_score)) {
    Box& box = detection.box;
    box.left -= border;
    box.top -= border;
    const Point centre = box.center();
    if (centre.x < 0 || centre.y < 0 || centre.x >= bgr.cols || centre.y >= bgr.rows) continue;
    const float right = std::min(box.right(), static_cast<float>(bgr.cols));
    const float bottom = std::min(box.bottom(), static_cast<float>(bgr.rows));
    box.left = std::max(box.left, 0.0F);
    box.top = std::max(box.top, 0.0F);
    box.width = right - box.left;
    box.height = bottom - box.top;
    found.push_back(detection);
  }
  return found;
}

std::vector<RawDetection> confirmed_border_detections(const std::vector<RawDetection>& border,
                                                      const std::vector<RawDetection>& first,
                                                      float new_face_min_score) {
  std::vector<RawDetection> kept;
  for (const RawDetection& candidate : border) {
    const bool repeats = std::any_of(first.begin(), first.end(), [&](const RawDetection& d) {
      return intersection_over_union(d.box, candidate.box) > 0.3F;
    });
    if (repeats || candidate.score >= new_face_min_score) kept.push_back(candidate);
  }
  return kept;
}

}  // namespace siamface
