// The detector stage: finds face boxes in a BGR image.
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "siamface/types.hpp"

namespace siamface {

struct RawDetection {
  Box box;  // original-image pixels, clipped to the image
  float score = 0.0F;
};

// Thread safety: detect() is const and safe to call from many threads.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  // `bgr` is CV_8UC3. Returns detections with score >= min_score after NMS, best first.
  virtual std::vector<RawDetection> detect(const cv::Mat& bgr, float min_score) const = 0;
  virtual float default_min_score() const = 0;
};

std::unique_ptr<FaceDetector> make_ssd_mobilenet_detector(const std::filesystem::path& models_dir);
std::unique_ptr<FaceDetector> make_tiny_face_detector(const std::filesystem::path& models_dir);
std::unique_ptr<FaceDetector> make_haar_detector(const std::filesystem::path& models_dir);

// Greedy non-maximum suppression; returns kept indices, best score first.
std::vector<int> non_max_suppression(const std::vector<RawDetection>& detections, float iou_threshold);

}  // namespace siamface
