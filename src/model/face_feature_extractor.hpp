// face-api's FaceFeatureExtractor / TinyFaceFeatureExtractor (dense blocks of separable convs)
// with FaceProcessor's head (avgPool, one fully connected layer), rebuilt on OpenCV DNN: the
// landmark nets and the expression net are this one topology with different heads.
// Topology: src/faceFeatureExtractor/{FaceFeatureExtractor,TinyFaceFeatureExtractor,denseBlock}.ts,
// src/faceProcessor/FaceProcessor.ts.
#pragma once

#include <opencv2/dnn.hpp>
#include <vector>

#include "model/dnn_graph.hpp"
#include "model/tfjs_weights.hpp"

namespace siamface {

struct FaceFeatureTopology {
  const char* model;      // weights file stem
  int dense_blocks;       // 4 (full) or 3 (tiny)
  int convs_per_block;    // denseBlock4 / denseBlock3
  int final_pool_kernel;  // avgPool [7,7] (full) / [14,14] (tiny), stride 2, valid
  int fc_outputs;         // 136 landmark coordinates, 7 expression logits
};

// A face-api conv converted to OpenCV layouts.
struct FaceApiConv {
  cv::Mat depthwise;  // empty for a plain conv
  cv::Mat filters;    // plain conv filters or the pointwise 1x1 filters
  cv::Mat bias;
};

// Weights converted once to OpenCV layouts; shared read-only by every Net built from them.
struct FaceFeatureWeights {
  std::vector<std::vector<FaceApiConv>> blocks;
  cv::Mat fc_weights;
  cv::Mat fc_bias;
};

// What the weights manifest must hold, name by name (WeightMap::load validates it).
std::vector<TensorSpec> face_feature_tensor_specs(const FaceFeatureTopology& topo);
FaceFeatureWeights convert_face_feature_weights(const WeightMap& weights, const FaceFeatureTopology& topo);
// The network, input N x 3 x 112 x 112 (face_api_input.hpp), output N x fc_outputs (no softmax).
cv::dnn::Net build_face_feature_net(const FaceFeatureWeights& weights, const FaceFeatureTopology& topo);

// `prefix`/depthwise_filter, pointwise_filter and bias of a separable conv.
FaceApiConv separable_conv_from_tf(const WeightMap& weights, const std::string& prefix);
// common/depthwiseSeparableConv.ts: tf.separableConv2d (depthwise with the stride, then 1x1)
// with 'same' padding, plus bias.
int face_api_separable_conv(DnnGraph& g, int input, const FaceApiConv& w, int stride);

}  // namespace siamface
