// The topology and weight table of face-api's FaceRecognitionNet (a port of
// dlib_face_recognition_resnet_model_v1), shared by its two implementations: OpenCV DNN
// (recognition_net.cpp, the reference) and oneDNN (dnnl_recognition_net.cpp).
// Topology from face-api's src/faceRecognitionNet/*.ts:
//   convDown 7x7/2 valid (150->72), max pool 3x3/2 valid (->35),
//   3x residual(32), residualDown(64) (->17), 3x residual(64), residualDown(128) (->8),
//   2x residual(128), residualDown(256) (->4), 2x residual(256), residualDown(256) (->2),
//   global mean, fc [256,128] without bias.
// Every conv is conv + bias, then a per-channel "scale" layer (weights, biases).
#pragma once

#include <string>
#include <vector>

#include "model/tfjs_weights.hpp"
#include "siamface/types.hpp"

namespace siamface::recognition_spec {

enum class BlockKind { kResidual, kResidualDown };

struct BlockSpec {
  const char* prefix;
  BlockKind kind;
  int in_channels;
  int out_channels;
};

// The residual blocks in forward order.
inline constexpr BlockSpec kBlocks[] = {
    {"conv32_1", BlockKind::kResidual, 32, 32},
    {"conv32_2", BlockKind::kResidual, 32, 32},
    {"conv32_3", BlockKind::kResidual, 32, 32},
    {"conv64_down", BlockKind::kResidualDown, 32, 64},
    {"conv64_1", BlockKind::kResidual, 64, 64},
    {"conv64_2", BlockKind::kResidual, 64, 64},
    {"conv64_3", BlockKind::kResidual, 64, 64},
    {"conv128_down", BlockKind::kResidualDown, 64, 128},
    {"conv128_1", BlockKind::kResidual, 128, 128},
    {"conv128_2", BlockKind::kResidual, 128, 128},
    {"conv256_down", BlockKind::kResidualDown, 128, 256},
    {"conv256_1", BlockKind::kResidual, 256, 256},
    {"conv256_2", BlockKind::kResidual, 256, 256},
    {"conv256_down_out", BlockKind::kResidualDown, 256, 256},
};

inline constexpr int kStemKernel = 7;
inline constexpr int kStemChannels = 32;
inline constexpr int kFeatureChannels = 256;
// face-api's meanRgb, subtracted before dividing by 255.
inline constexpr double kMeanR = 122.782, kMeanG = 117.001, kMeanB = 104.298;

inline int valid_size(int size, int kernel, int stride) { return (size - kernel) / stride + 1; }

inline void add_conv_specs(std::vector<TensorSpec>& specs, const std::string& prefix, int kernel, int cin, int cout) {
  specs.push_back({prefix + "/conv/filters", {kernel, kernel, cin, cout}});
  specs.push_back({prefix + "/conv/bias", {cout}});
  specs.push_back({prefix + "/scale/weights", {cout}});
  specs.push_back({prefix + "/scale/biases", {cout}});
}

// Every tensor of the weights file, with its shape (the loader checks both).
inline std::vector<TensorSpec> expected_tensors() {
  std::vector<TensorSpec> specs;
  add_conv_specs(specs, "conv32_down", kStemKernel, 3, kStemChannels);
  for (const BlockSpec& block : kBlocks) {
    add_conv_specs(specs, std::string(block.prefix) + "/conv1", 3, block.in_channels, block.out_channels);
    add_conv_specs(specs, std::string(block.prefix) + "/conv2", 3, block.out_channels, block.out_channels);
  }
  specs.push_back({"fc", {kFeatureChannels, kDlibEmbeddingSize}});
  return specs;
}

}  // namespace siamface::recognition_spec
