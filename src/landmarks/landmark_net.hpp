// The 68-point landmark stage (face-api's face_landmark_68 and its tiny variant).
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>

#include "siamface/engine.hpp"
#include "siamface/types.hpp"

namespace siamface {

// Thread safety: predict() is const and safe to call from many threads.
class LandmarkNet {
 public:
  virtual ~LandmarkNet() = default;
  // Landmarks in original-image pixels for the face inside `box` of the CV_8UC3 image.
  virtual Landmarks predict(const cv::Mat& bgr, const Box& box) const = 0;
};

std::unique_ptr<LandmarkNet> make_landmark_net(const std::filesystem::path& models_dir, LandmarkKind kind);

}  // namespace siamface
