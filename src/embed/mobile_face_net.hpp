// The second recognizer: a MobileFaceNet-class network (npm faceplugin-face-recognition-js@0.0.1,
// model/fr_feature.onnx; ONNX opset 9, 1.19 M parameters), loaded by OpenCV's ONNX importer as
// shipped. Input: 112x112 ArcFace-aligned chips, BGR, (x - 127.5) / 128. Output: 512 values,
// L2-normalised here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "embed/recognition_net.hpp"

namespace siamface {

inline constexpr const char* kMobileFaceNetFile = "faceplugin_fr_feature.onnx";
inline constexpr int kMobileFaceNetDims = 512;

// Thread safety: embed() is const and safe from many threads (each call leases its own Net).
class MobileFaceNet {
 public:
  virtual ~MobileFaceNet() = default;
  // `chips` are 112x112 CV_8UC3 BGR chips (extract_arcface_chip). One unit-length 512-d
  // vector per chip.
  virtual std::vector<std::vector<float>> embed(const std::vector<cv::Mat>& chips) const = 0;
  // Multiply-adds counted twice, per chip, as OpenCV counts them (for the speed benches).
  virtual std::int64_t flops_per_chip() const = 0;
  // Which implementation runs ("oneDNN f32", "OpenCV DNN"), for logs and benches.
  virtual const char* backend_name() const = 0;
};

// What both implementations (mobile_face_net.cpp's OpenCV DNN one and dnnl_mobile_face_net.cpp) do
// around the network: check the chips (Error(kInvalidArgument) naming the first wrong one), make the
// input blob ((pixel - 127.5) / 128, BGR planes), and scale each output row to unit length.
void check_mobile_face_net_chips(const std::vector<cv::Mat>& chips);
cv::Mat mobile_face_net_blob(const std::vector<cv::Mat>& chips);
std::vector<float> unit_length(const float* values);  // kMobileFaceNetDims values

// Reads and validates the network (input and output shapes). Throws Error(kModelMissing /
// kModelCorrupt) naming the file and what is wrong.
// `backend` as for the ResNet (resolve_inference_backend); oneDNN (dnnl_mobile_face_net.cpp)
// gives the same embeddings to float rounding, faster (docs/speed.md, "Embedding"); it has no
// bf16 and runs f32 for kOneDnnBf16.
std::unique_ptr<MobileFaceNet> make_mobile_face_net(const std::filesystem::path& models_dir,
                                                    InferenceBackend backend = InferenceBackend::kAuto);

}  // namespace siamface
