// face-api's FaceExpressionNet rebuilt on OpenCV DNN: the FaceFeatureExtractor of the 68-point
// landmark net (model/face_feature_extractor.hpp) with a 7-way head, then softmax
// (src/faceExpressionNet/FaceExpressionNet.ts).
#include <algorithm>
#include <cmath>
#include <string>

#include "attributes/attribute_nets.hpp"
#include "attributes/face_api_heads.hpp"
#include "model/face_feature_extractor.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

constexpr FaceFeatureTopology kTopology{kExpressionModel, 4, 4, 7, 7};

ExpressionOutput softmax7(const float* raw) {
  const float top = *std::max_element(raw, raw + 7);
  ExpressionOutput out{};
  double sum = 0;
  for (int k = 0; k < 7; ++k) sum += out[k] = static_cast<float>(std::exp(double(raw[k]) - top));
  for (float& v : out) v = static_cast<float>(v / sum);
  return out;
}

class FaceApiExpressionNet final : public ExpressionNet {
 public:
  explicit FaceApiExpressionNet(std::shared_ptr<const FaceFeatureWeights> weights)
      : weights_(std::move(weights)), pool_([w = weights_] { return build_face_feature_net(*w, kTopology); }) {}

  std::vector<ExpressionOutput> predict_all(const cv::Mat& bgr, const std::vector<Box>& boxes) const override {
    return run_face_api_head<ExpressionOutput>(pool_, bgr, boxes, "expression", 7, softmax7);
  }

  ExpressionOutput predict_input(const cv::Mat& bgr_112) const override {
    return run_face_api_head_on_input<ExpressionOutput>(pool_, bgr_112, "expression", 7, softmax7);
  }

 private:
  std::shared_ptr<const FaceFeatureWeights> weights_;
  NetPool pool_;
};

}  // namespace

Box face_api_aligned_box(const Landmarks& landmarks) {
  float min_x = landmarks[0].x, max_x = landmarks[0].x, min_y = landmarks[0].y, max_y = landmarks[0].y;
  for (const Point& p : landmarks) {
    min_x = std::min(min_x, p.x);
    max_x = std::max(max_x, p.x);
    min_y = std::min(min_y, p.y);
    max_y = std::max(max_y, p.y);
  }
  const float width = max_x - min_x, height = max_y - min_y;
  // Box.pad(padX, padY): half of each on either side.
  return {min_x - width * 0.1F, min_y - height * 0.1F, width * 1.2F, height * 1.2F};
}

std::unique_ptr<ExpressionNet> make_expression_net(const std::filesystem::path& models_dir) {
  const std::filesystem::path manifest = models_dir / (std::string(kExpressionModel) + "-weights_manifest.json");
  const WeightMap weights = WeightMap::load(manifest, face_feature_tensor_specs(kTopology));
  auto net = std::make_unique<FaceApiExpressionNet>(
      std::make_shared<const FaceFeatureWeights>(convert_face_feature_weights(weights, kTopology)));
  net->predict_input(cv::Mat(kFaceApiInputSize, kFaceApiInputSize, CV_8UC3, cv::Scalar::all(0)));  // fail fast
  return net;
}

}  // namespace siamface
