// The embedding stage: face-api's port of dlib_face_recognition_resnet_model_v1.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "siamface/types.hpp"

namespace siamface {

// Thread safety: embed() is const and safe to call from many threads.
class RecognitionNet {
 public:
  virtual ~RecognitionNet() = default;
  // `chips` are 150x150 CV_8UC3 BGR aligned chips. Returns one 128-d embedding per chip.
  virtual std::vector<Embedding> embed(const std::vector<cv::Mat>& chips) const = 0;
  // Multiply-adds counted twice, per chip, as OpenCV counts them (for the speed benches).
  virtual std::int64_t flops_per_chip() const = 0;
};

std::unique_ptr<RecognitionNet> make_recognition_net(const std::filesystem::path& models_dir);

}  // namespace siamface
