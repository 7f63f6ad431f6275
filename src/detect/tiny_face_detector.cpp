// face-api's TinyFaceDetector (a Tiny-YOLOv2 variant with separable convolutions), rebuilt on
// OpenCV DNN from its TF.js weights. Reference: face-api src/tinyFaceDetector/*.ts and
// src/tinyYolov2/{TinyYolov2Base,depthwiseSeparableConv,leaky}.ts, src/ops/nonMaxSuppression.ts.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "detect/face_detector.hpp"
#include "detect/square_input.hpp"
#include "model/dnn_graph.hpp"
#include "model/model_files.hpp"
#include "model/net_pool.hpp"
#include "model/tfjs_weights.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

constexpr int kInputSize = 416;                  // TinyYolov2Options default
constexpr float kIouThreshold = 0.4F;            // tinyFaceDetector/const.ts IOU_THRESHOLD
constexpr float kDefaultMinScore = 0.5F;         // TinyYolov2Options default scoreThreshold
constexpr float kLeakySlope = 0.10000000149011612F;  // leaky.ts
constexpr float kMeanRgb[] = {117.001F, 114.697F, 97.404F};  // const.ts MEAN_RGB
constexpr int kAnchors = 5;
constexpr float kAnchorSizes[kAnchors][2] = {  // const.ts BOX_ANCHORS (x, y) in grid cells
    {1.603231F, 2.094468F}, {6.041143F, 7.080126F}, {2.882459F, 3.518061F}, {4.266906F, 5.178857F},
    {9.041765F, 10.66308F}};
constexpr int kBoxEncoding = 5;                                    // x, y, w, h, score
constexpr int kChannels[] = {3, 16, 32, 64, 128, 256, 512};        // config filterSizes

std::vector<TensorSpec> tiny_tensor_specs() {
  std::vector<TensorSpec> specs{{"conv0/filters", {3, 3, 3, 16}}, {"conv0/bias", {16}}};
  for (int i = 1; i <= 5; ++i) {
    const std::string prefix = "conv" + std::to_string(i) + "/";
    specs.push_back({prefix + "depthwise_filter", {3, 3, kChannels[i], 1}});
    specs.push_back({prefix + "pointwise_filter", {1, 1, kChannels[i], kChannels[i + 1]}});
    specs.push_back({prefix + "bias", {kChannels[i + 1]}});
  }
  specs.push_back({"conv8/filters", {1, 1, 512, kAnchors * kBoxEncoding}});
  specs.push_back({"conv8/bias", {kAnchors * kBoxEncoding}});
  return specs;
}

struct SeparableParams {
  cv::Mat depthwise;
  cv::Mat pointwise;
  cv::Mat bias;
};

struct TinyParams {
  cv::Mat conv0_filters, conv0_bias;
  std::vector<SeparableParams> separable;  // conv1..conv5
  cv::Mat conv8_filters, conv8_bias;
};

std::shared_ptr<const TinyParams> load_params(const std::filesystem::path& models_dir) {
  verify_model_file(models_dir, "tiny_face_detector_model-weights_manifest.json");
  verify_model_file(models_dir, "tiny_face_detector_model.bin");
  const WeightMap w =
      WeightMap::load(models_dir / "tiny_face_detector_model-weights_manifest.json", tiny_tensor_specs());
  auto p = std::make_shared<TinyParams>();
  p->conv0_filters = conv_filters_from_tf(w.at("conv0/filters"));
  p->conv0_bias = vector_mat(w.at("conv0/bias").values);
  for (int i = 1; i <= 5; ++i) {
    const std::string prefix = "conv" + std::to_string(i) + "/";
    p->separable.push_back({depthwise_filters_from_tf(w.at(prefix + "depthwise_filter")),
                            conv_filters_from_tf(w.at(prefix + "pointwise_filter")),
                            vector_mat(w.at(prefix + "bias").values)});
  }
  p->conv8_filters = conv_filters_from_tf(w.at("conv8/filters"));
  p->conv8_bias = vector_mat(w.at("conv8/bias").values);
  return p;
}

struct TinyGraph {
  cv::dnn::Net net;
  std::string output;
};

// TinyYolov2Base.runMobilenet with isFirstLayerConv2d: conv0 is 'valid' (416 -> 414), each
// 2x2 max pool is 'same' (stride 2, the last stride 1); separable convs pad 1 then run 'valid',
// i.e. 'same' for a 3x3 stride-1 kernel. Weights are cloned per net (see SSD builder).
TinyGraph build_graph(const TinyParams& p) {
  DnnGraph g;
  int x = g.leaky_relu(g.conv(DnnGraph::kInput, p.conv0_filters.clone(), p.conv0_bias.clone(), 1, Padding::kValid),
                       kLeakySlope);
  for (std::size_t i = 0; i < p.separable.size(); ++i) {
    x = g.max_pool(x, 2, 2, Padding::kSame);
    const SeparableParams& s = p.separable[i];
    x = g.depthwise_conv(x, s.depthwise.clone(), cv::Mat(), 1, Padding::kSame);
    x = g.leaky_relu(g.conv(x, s.pointwise.clone(), s.bias.clone(), 1, Padding::kValid), kLeakySlope);
  }
  x = g.max_pool(x, 2, 1, Padding::kSame);
  x = g.conv(x, p.conv8_filters.clone(), p.conv8_bias.clone(), 1, Padding::kValid);
  TinyGraph out{std::move(g.net()), g.name_of(x)};
  out.net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  out.net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return out;
}

float sigmoid(float v) { return 1.0F / (1.0F + std::exp(-v)); }

// Thread safety: detect() is const; each call leases its own cv::dnn::Net from the pool and
// the weights are immutable.
class TinyFaceDetector final : public FaceDetector {
 public:
  explicit TinyFaceDetector(std::shared_ptr<const TinyParams> params)
      : params_(std::move(params)),
        output_name_(build_graph(*params_).output),
        pool_([params = params_] { return build_graph(*params).net; }) {}

  std::vector<RawDetection> detect(const cv::Mat& bgr, float min_score) const override {
    const cv::Mat input = square_rgb_input(bgr, kInputSize);
    // TinyYolov2Base.forwardInput: (x - meanRgb) / 255, padding included.
    const cv::Mat blob = nchw_blob(input, kMeanRgb, 255.0F);
    cv::Mat output;
    {
      auto net = pool_.lease();
      net->setInput(blob);
      output = net->forward(output_name_).clone();
    }
    return decode(output, bgr.size(), min_score);
  }

  float default_min_score() const override { return kDefaultMinScore; }

 private:
  // TinyYolov2Base.extractBoxes: channel = anchor * 5 + field; centres are sigmoid offsets in
  // grid cells, sizes exp(t) * anchor; the correction factors undo the square padding.
  static std::vector<RawDetection> decode(const cv::Mat& output, cv::Size image, float min_score) {
    const int cells = output.size[2];
    if (output.size[1] != kAnchors * kBoxEncoding || output.size[3] != cells) {
      throw Error(ErrorCode::kInternal, "tiny face detector: unexpected output shape");
    }
    const cv::Size reshaped = reshaped_size(image, kInputSize);
    const float side = static_cast<float>(std::max(reshaped.width, reshaped.height));
    const float correct_x = side / static_cast<float>(reshaped.width);
    const float correct_y = side / static_cast<float>(reshaped.height);
    const std::size_t plane = static_cast<std::size_t>(cells) * cells;
    const float* data = output.ptr<float>();
    const float n = static_cast<float>(cells);
    std::vector<RawDetection> candidates;  // relative to the image, unclipped
    for (int row = 0; row < cells; ++row) {
      for (int col = 0; col < cells; ++col) {
        const std::size_t cell = static_cast<std::size_t>(row) * cells + static_cast<std::size_t>(col);
        for (int a = 0; a < kAnchors; ++a) {
          auto field = [&](int f) { return data[static_cast<std::size_t>(a * kBoxEncoding + f) * plane + cell]; };
          const float score = sigmoid(field(4));
          if (!(score >= min_score)) continue;
          const float center_x = (static_cast<float>(col) + sigmoid(field(0))) / n * correct_x;
          const float center_y = (static_cast<float>(row) + sigmoid(field(1))) / n * correct_y;
          const float width = std::exp(field(2)) * kAnchorSizes[a][0] / n * correct_x;
          const float height = std::exp(field(3)) * kAnchorSizes[a][1] / n * correct_y;
          candidates.push_back({Box{center_x - width / 2, center_y - height / 2, width, height}, score});
        }
      }
    }
    // IoU is unchanged by per-axis scaling, so NMS on relative boxes equals face-api's.
    const std::vector<int> kept = non_max_suppression(candidates, kIouThreshold);
    std::vector<RawDetection> result;
    const float image_w = static_cast<float>(image.width), image_h = static_cast<float>(image.height);
    for (const int index : kept) {
      const RawDetection& d = candidates[static_cast<std::size_t>(index)];
      const float left = std::clamp(d.box.left * image_w, 0.0F, image_w);
      const float top = std::clamp(d.box.top * image_h, 0.0F, image_h);
      const float right = std::clamp(d.box.right() * image_w, 0.0F, image_w);
      const float bottom = std::clamp(d.box.bottom() * image_h, 0.0F, image_h);
      if (right <= left || bottom <= top) continue;
      result.push_back({Box{left, top, right - left, bottom - top}, d.score});
    }
    return result;
  }

  std::shared_ptr<const TinyParams> params_;
  std::string output_name_;
  NetPool pool_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_tiny_face_detector(const std::filesystem::path& models_dir) {
  return std::make_unique<TinyFaceDetector>(load_params(models_dir));
}

}  // namespace siamface
