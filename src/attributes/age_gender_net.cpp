// face-api's AgeGenderNet rebuilt on OpenCV DNN. Topology: src/xception/TinyXception.ts (two
// main blocks) and src/ageGenderNet/AgeGenderNet.ts (avgPool, then two fully connected heads:
// age regression, gender softmax). Input: model/face_api_input.hpp.
#include <algorithm>
#include <cmath>
#include <string>

#include "attributes/attribute_nets.hpp"
#include "attributes/face_api_heads.hpp"
#include "model/face_api_input.hpp"
#include "model/face_feature_extractor.hpp"
#include "model/net_pool.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

constexpr int kMainBlocks = 2;

struct ReductionBlock {
  FaceApiConv separable0, separable1, expansion;
};

struct TinyXceptionWeights {
  FaceApiConv conv_in;
  ReductionBlock entry0, entry1;
  std::vector<std::array<FaceApiConv, 3>> main_blocks;
  ReductionBlock exit_block;
  FaceApiConv exit_separable;
  cv::Mat age_weights, age_bias, gender_weights, gender_bias;
};

void add_separable_specs(std::vector<TensorSpec>& specs, const std::string& prefix, int cin, int cout) {
  specs.push_back({prefix + "/depthwise_filter", {3, 3, cin, 1}});
  specs.push_back({prefix + "/pointwise_filter", {1, 1, cin, cout}});
  specs.push_back({prefix + "/bias", {cout}});
}

void add_reduction_specs(std::vector<TensorSpec>& specs, const std::string& prefix, int cin, int cout) {
  add_separable_specs(specs, prefix + "/separable_conv0", cin, cout);
  add_separable_specs(specs, prefix + "/separable_conv1", cout, cout);
  specs.push_back({prefix + "/expansion_conv/filters", {1, 1, cin, cout}});
  specs.push_back({prefix + "/expansion_conv/bias", {cout}});
}

std::vector<TensorSpec> tensor_specs() {
  std::vector<TensorSpec> specs;
  specs.push_back({"entry_flow/conv_in/filters", {3, 3, 3, 32}});
  specs.push_back({"entry_flow/conv_in/bias", {32}});
  add_reduction_specs(specs, "entry_flow/reduction_block_0", 32, 64);
  add_reduction_specs(specs, "entry_flow/reduction_block_1", 64, 128);
  for (int b = 0; b < kMainBlocks; ++b) {
    for (int c = 0; c < 3; ++c) {
      add_separable_specs(specs, "middle_flow/main_block_" + std::to_string(b) + "/separable_conv" + std::to_string(c),
                          128, 128);
    }
  }
  add_reduction_specs(specs, "exit_flow/reduction_block", 128, 256);
  add_separable_specs(specs, "exit_flow/separable_conv", 256, 512);
  specs.push_back({"fc/age/weights", {512, 1}});
  specs.push_back({"fc/age/bias", {1}});
  specs.push_back({"fc/gender/weights", {512, 2}});
  specs.push_back({"fc/gender/bias", {2}});
  return specs;
}

FaceApiConv plain_conv(const WeightMap& w, const std::string& prefix) {
  return {cv::Mat(), conv_filters_from_tf(w.at(prefix + "/filters")), vector_mat(w.at(prefix + "/bias").values)};
}

ReductionBlock reduction_block(const WeightMap& w, const std::string& prefix) {
  return {separable_conv_from_tf(w, prefix + "/separable_conv0"), separable_conv_from_tf(w, prefix + "/separable_conv1"),
          plain_conv(w, prefix + "/expansion_conv")};
}

TinyXceptionWeights convert(const WeightMap& w) {
  TinyXceptionWeights out;
  out.conv_in = plain_conv(w, "entry_flow/conv_in");
  out.entry0 = reduction_block(w, "entry_flow/reduction_block_0");
  out.entry1 = reduction_block(w, "entry_flow/reduction_block_1");
  for (int b = 0; b < kMainBlocks; ++b) {
    const std::string prefix = "middle_flow/main_block_" + std::to_string(b) + "/separable_conv";
    out.main_blocks.push_back({separable_conv_from_tf(w, prefix + "0"), separable_conv_from_tf(w, prefix + "1"),
                               separable_conv_from_tf(w, prefix + "2")});
  }
  out.exit_block = reduction_block(w, "exit_flow/reduction_block");
  out.exit_separable = separable_conv_from_tf(w, "exit_flow/separable_conv");
  out.age_weights = dense_from_tf(w.at("fc/age/weights"));
  out.age_bias = vector_mat(w.at("fc/age/bias").values);
  out.gender_weights = dense_from_tf(w.at("fc/gender/weights"));
  out.gender_bias = vector_mat(w.at("fc/gender/bias").values);
  return out;
}

// TinyXception.reductionBlock: two separable convs, a 3x3 stride-2 max pool, plus a strided 1x1
// conv of the block's input.
int reduction(DnnGraph& g, int x, const ReductionBlock& w, bool activate_input) {
  int out = activate_input ? g.relu(x) : x;
  out = face_api_separable_conv(g, out, w.separable0, 1);
  out = face_api_separable_conv(g, g.relu(out), w.separable1, 1);
  out = g.max_pool(out, 3, 2, Padding::kSame);
  return g.add(out, g.conv(x, w.expansion.filters, w.expansion.bias, 2, Padding::kSame));
}

int main_block(DnnGraph& g, int x, const std::array<FaceApiConv, 3>& w) {
  int out = face_api_separable_conv(g, g.relu(x), w[0], 1);
  out = face_api_separable_conv(g, g.relu(out), w[1], 1);
  out = face_api_separable_conv(g, g.relu(out), w[2], 1);
  return g.add(out, x);
}

// Output: N x 3 = [age, gender logit 0 (male), gender logit 1 (female)].
cv::dnn::Net build_net(const TinyXceptionWeights& w) {
  DnnGraph g;
  int x = g.relu(g.conv(DnnGraph::kInput, w.conv_in.filters, w.conv_in.bias, 2, Padding::kSame));
  x = reduction(g, x, w.entry0, false);
  x = reduction(g, x, w.entry1, true);
  for (const auto& block : w.main_blocks) x = main_block(g, x, block);
  x = reduction(g, x, w.exit_block, true);
  x = g.relu(face_api_separable_conv(g, x, w.exit_separable, 1));
  const int pooled = g.avg_pool(x, 7, 2, Padding::kValid);
  const int age = g.dense(pooled, w.age_weights, w.age_bias);
  const int gender = g.dense(pooled, w.gender_weights, w.gender_bias);
  g.concat({age, gender});
  cv::dnn::Net net = g.net();
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

class FaceApiAgeGenderNet final : public AgeGenderNet {
 public:
  explicit FaceApiAgeGenderNet(std::shared_ptr<const TinyXceptionWeights> weights)
      : weights_(std::move(weights)), pool_([w = weights_] { return build_net(*w); }) {}

  std::vector<AgeGenderOutput> predict_all(const cv::Mat& bgr, const std::vector<Box>& boxes) const override {
    return run_face_api_head<AgeGenderOutput>(pool_, bgr, boxes, "age/gender", 3, to_output);
  }

  AgeGenderOutput predict_input(const cv::Mat& bgr_112) const override {
    return run_face_api_head_on_input<AgeGenderOutput>(pool_, bgr_112, "age/gender", 3, to_output);
  }

 private:
  static AgeGenderOutput to_output(const float* raw) {
    // AgeGenderNet.forwardInput: softmax of the gender logits; class 0 is male.
    const float top = std::max(raw[1], raw[2]);
    const double male = std::exp(double(raw[1]) - top), female = std::exp(double(raw[2]) - top);
    return {raw[0], static_cast<float>(male / (male + female))};
  }

  std::shared_ptr<const TinyXceptionWeights> weights_;
  NetPool pool_;
};

}  // namespace

std::unique_ptr<AgeGenderNet> make_age_gender_net(const std::filesystem::path& models_dir) {
  const std::filesystem::path manifest = models_dir / (std::string(kAgeGenderModel) + "-weights_manifest.json");
  const WeightMap weights = WeightMap::load(manifest, tensor_specs());
  auto net = std::make_unique<FaceApiAgeGenderNet>(std::make_shared<const TinyXceptionWeights>(convert(weights)));
  net->predict_input(cv::Mat(kFaceApiInputSize, kFaceApiInputSize, CV_8UC3, cv::Scalar::all(0)));  // fail fast
  return net;
}

}  // namespace siamface
