// The embedding stage: face-api's port of dlib_face_recognition_resnet_model_v1.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "model/inference_backend.hpp"
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
  // Which implementation runs ("oneDNN f32", "OpenCV DNN", ...), for logs and benches.
  virtual const char* backend_name() const = 0;
};

// What both implementations do before the network: check the chips (Error(kInvalidArgument)
// naming the first that is not 150x150 CV_8UC3) and make the input blob (RGB planes,
// (pixel - face-api's mean RGB) / 255).
void check_recognition_chips(const std::vector<cv::Mat>& chips);
cv::Mat recognition_blob(const std::vector<cv::Mat>& chips);

// Reads and validates the weights (shapes, names) and builds one session so errors surface here.
// `model` names the weights, `<model>-weights_manifest.json` and its shards in face-api's layout:
// face-api's 8-bit copy (kQuantisedRecognitionModel) or dlib's float weights converted at setup
// (kFloatRecognitionModel; model/model_files.hpp, ModelOptions::dlib_weights).
// Throws Error(kModelMissing / kModelCorrupt), or Error(kInvalidArgument) for a backend this
// build or CPU lacks.
std::unique_ptr<RecognitionNet> make_recognition_net(const std::filesystem::path& models_dir,
                                                     InferenceBackend backend = InferenceBackend::kAuto,
                                                     const std::string& model = "face_recognition_model");

}  // namespace siamface
