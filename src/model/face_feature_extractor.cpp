#include "model/face_feature_extractor.hpp"

#include <string>

namespace siamface {

std::vector<TensorSpec> face_feature_tensor_specs(const FaceFeatureTopology& topo) {
  std::vector<TensorSpec> specs;
  int channels_in = 3;
  for (int b = 0; b < topo.dense_blocks; ++b) {
    const int channels_out = 32 << b;
    const std::string block = "dense" + std::to_string(b);
    for (int c = 0; c < topo.convs_per_block; ++c) {
      const std::string conv = block + "/conv" + std::to_string(c);
      const int cin = c == 0 ? channels_in : channels_out;
      if (b == 0 && c == 0) {
        specs.push_back({conv + "/filters", {3, 3, cin, channels_out}});
      } else {
        specs.push_back({conv + "/depthwise_filter", {3, 3, cin, 1}});
        specs.push_back({conv + "/pointwise_filter", {1, 1, cin, channels_out}});
      }
      specs.push_back({conv + "/bias", {channels_out}});
    }
    channels_in = channels_out;
  }
  specs.push_back({"fc/weights", {channels_in, topo.fc_outputs}});
  specs.push_back({"fc/bias", {topo.fc_outputs}});
  return specs;
}

FaceApiConv separable_conv_from_tf(const WeightMap& weights, const std::string& prefix) {
  FaceApiConv converted;
  converted.depthwise = depthwise_filters_from_tf(weights.at(prefix + "/depthwise_filter"));
  converted.filters = conv_filters_from_tf(weights.at(prefix + "/pointwise_filter"));
  converted.bias = vector_mat(weights.at(prefix + "/bias").values);
  return converted;
}

FaceFeatureWeights convert_face_feature_weights(const WeightMap& weights, const FaceFeatureTopology& topo) {
  FaceFeatureWeights out;
  for (int b = 0; b < topo.dense_blocks; ++b) {
    std::vector<FaceApiConv> block;
    for (int c = 0; c < topo.convs_per_block; ++c) {
      const std::string conv = "dense" + std::to_string(b) + "/conv" + std::to_string(c);
      if (b == 0 && c == 0) {
        block.push_back({cv::Mat(), conv_filters_from_tf(weights.at(conv + "/filters")),
                         vector_mat(weights.at(conv + "/bias").values)});
      } else {
        block.push_back(separable_conv_from_tf(weights, conv));
      }
    }
    out.blocks.push_back(std::move(block));
  }
  out.fc_weights = dense_from_tf(weights.at("fc/weights"));
  out.fc_bias = vector_mat(weights.at("fc/bias").values);
  return out;
}

int face_api_separable_conv(DnnGraph& g, int input, const FaceApiConv& w, int stride) {
  const int depthwise = g.depthwise_conv(input, w.depthwise, cv::Mat(), stride, Padding::kSame);
  return g.conv(depthwise, w.filters, w.bias, 1, Padding::kSame);
}

namespace {

// denseBlock3 / denseBlock4: every conv sees the relu of the sum of all earlier outputs.
// The sums keep the TS association order: out1 + (out2 + (out3 + out4)).
int dense_block(DnnGraph& g, int input, const std::vector<FaceApiConv>& convs, bool first) {
  const int conv0 = first ? g.conv(input, convs[0].filters, convs[0].bias, 2, Padding::kSame)
                          : face_api_separable_conv(g, input, convs[0], 2);
  const int out1 = g.relu(conv0);
  std::vector<int> outs{out1};
  int next_input = out1;
  for (std::size_t c = 1; c < convs.size(); ++c) {
    outs.push_back(face_api_separable_conv(g, next_input, convs[c], 1));
    int sum = outs.back();
    for (std::size_t k = outs.size() - 1; k-- > 0;) sum = g.add(outs[k], sum);
    next_input = g.relu(sum);
  }
  return next_input;
}

}  // namespace

cv::dnn::Net build_face_feature_net(const FaceFeatureWeights& w, const FaceFeatureTopology& topo) {
  DnnGraph g;
  int x = DnnGraph::kInput;
  for (std::size_t b = 0; b < w.blocks.size(); ++b) x = dense_block(g, x, w.blocks[b], b == 0);
  x = g.avg_pool(x, topo.final_pool_kernel, 2, Padding::kValid);
  g.dense(x, w.fc_weights, w.fc_bias);
  cv::dnn::Net net = g.net();
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

}  // namespace siamface
