// face-api's SSD MobileNetV1 face detector, rebuilt on OpenCV DNN from its TF.js weights.
// Topology reference: face-api src/ssdMobilenetv1/{SsdMobilenetv1,mobileNetV1,predictionLayer,
// boxPredictionLayer,outputLayer,nonMaxSuppression}.ts.
#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <cmath>
#include <memory>
#include <string>

#include "detect/face_detector.hpp"
#include "detect/square_input.hpp"
#include "model/inference_backend.hpp"
#ifdef SIAMFACE_HAVE_ONEDNN
#include "model/dnnl_opencv_graph.hpp"
#endif
#include "model/dnn_graph.hpp"
#include "model/model_files.hpp"
#include "model/net_pool.hpp"
#include "model/tfjs_weights.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

constexpr int kInputSize = 512;
constexpr int kAnchorCount = 5118;
constexpr float kIouThreshold = 0.5F;  // SsdMobilenetv1.locateFaces
constexpr std::size_t kMaxResults = 100;
constexpr float kDefaultMinScore = 0.5F;
constexpr float kBatchNormEpsilon = 0.0010000000474974513F;  // mobileNetV1.ts
// Channels of the 14 MobileNet convolutions, and of the 8 extra prediction convolutions.
constexpr int kMobileNetChannels[] = {32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
constexpr int kPredictionChannels[] = {256, 512, 128, 256, 128, 256, 64, 128};
// Input channels and anchors per cell of the six box predictors.
constexpr int kPredictorInputs[] = {512, 1024, 512, 256, 256, 128};
constexpr int kPredictorAnchors[] = {3, 6, 6, 6, 6, 6};
// Anchors per predictor as the graph constants in the weights state them.
constexpr int kPredictorAnchorTotals[] = {3072, 1536, 384, 96, 24, 6};

std::vector<TensorSpec> ssd_tensor_specs() {
  std::vector<TensorSpec> specs;
  auto f32 = [&](const std::string& name, std::vector<int> shape) { specs.push_back({name, std::move(shape)}); };
  auto i32 = [&](const std::string& name, std::vector<int> shape) {
    specs.push_back({name, std::move(shape), TensorDType::kInt32});
  };
  f32("MobilenetV1/Conv2d_0_pointwise/weights", {3, 3, 3, 32});
  f32("MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset", {32});
  for (int i = 1; i <= 13; ++i) {
    const int cin = kMobileNetChannels[i - 1], cout = kMobileNetChannels[i];
    const std::string dw = "MobilenetV1/Conv2d_" + std::to_string(i) + "_depthwise/";
    const std::string pw = "MobilenetV1/Conv2d_" + std::to_string(i) + "_pointwise/";
    f32(dw + "depthwise_weights", {3, 3, cin, 1});
    for (const char* bn : {"gamma", "beta", "moving_mean", "moving_variance"}) f32(dw + "BatchNorm/" + bn, {cin});
    f32(pw + "weights", {1, 1, cin, cout});
    f32(pw + "convolution_bn_offset", {cout});
  }
  int cin = 1024;
  for (int i = 0; i < 8; ++i) {
    const int k = i % 2 == 0 ? 1 : 3;
    const std::string pw = "Prediction/Conv2d_" + std::to_string(i) + "_pointwise/";
    f32(pw + "weights", {k, k, cin, kPredictionChannels[i]});
    f32(pw + "convolution_bn_offset", {kPredictionChannels[i]});
    cin = kPredictionChannels[i];
  }
  for (int p = 0; p < 6; ++p) {
    const std::string prefix = "Prediction/BoxPredictor_" + std::to_string(p) + "/";
    f32(prefix + "BoxEncodingPredictor/weights", {1, 1, kPredictorInputs[p], kPredictorAnchors[p] * 4});
    f32(prefix + "BoxEncodingPredictor/biases", {kPredictorAnchors[p] * 4});
    f32(prefix + "ClassPredictor/weights", {1, 1, kPredictorInputs[p], kPredictorAnchors[p] * 3});
    f32(prefix + "ClassPredictor/biases", {kPredictorAnchors[p] * 3});
    i32(prefix + "stack_1/1", {});
  }
  f32("Output/extra_dim", {1, kAnchorCount, 4});
  // Graph constants of the original TF model that face-api does not use; listed so the
  // manifest is accounted for completely, and a few are checked below.
  i32("Prediction/BoxPredictor_0/stack_1/2", {});
  i32("Prediction/BoxPredictor_0/stack/3", {});
  i32("Prediction/BoxPredictor_0/strided_slice/stack", {1});
  i32("Prediction/BoxPredictor_0/strided_slice/stack_1", {1});
  i32("Postprocessor/Slice/begin", {3});
  i32("Postprocessor/Slice/size", {3});
  i32("Postprocessor/stack/1", {});
  i32("Preprocessor/ResizeImage/size", {2});
  i32("concat_1/axis", {});
  f32("Preprocessor/mul/x", {});
  f32("Preprocessor/sub/y", {});
  return specs;
}

// One convolution ready for OpenCV: filters [cout, cin/group, kh, kw] and bias.
struct ConvParams {
  cv::Mat filters;
  cv::Mat bias;
};

struct SsdParams {
  ConvParams conv0;
  std::vector<ConvParams> depthwise;   // 13, batch norm folded in
  std::vector<ConvParams> pointwise;   // 13
  std::vector<ConvParams> prediction;  // 8
  std::vector<ConvParams> box_encoding;
  std::vector<ConvParams> class_logits;
  std::vector<float> anchors;  // 5118 x 4, as face-api's extra_dim
};

// Depthwise conv then tf.batchNorm == one depthwise conv with scaled filters and a bias.
ConvParams fold_depthwise(const WeightMap& w, const std::string& prefix) {
  ConvParams out;
  out.filters = depthwise_filters_from_tf(w.at(prefix + "depthwise_weights"));
  const auto& gamma = w.at(prefix + "BatchNorm/gamma").values;
  const auto& beta = w.at(prefix + "BatchNorm/beta").values;
  const auto& mean = w.at(prefix + "BatchNorm/moving_mean").values;
  const auto& variance = w.at(prefix + "BatchNorm/moving_variance").values;
  const int channels = out.filters.size[0];
  const int per_channel = out.filters.size[2] * out.filters.size[3];
  out.bias = cv::Mat(1, channels, CV_32F);
  float* filters = out.filters.ptr<float>();
  for (int c = 0; c < channels; ++c) {
    const float scale = gamma[c] / std::sqrt(variance[c] + kBatchNormEpsilon);
    for (int k = 0; k < per_channel; ++k) filters[c * per_channel + k] *= scale;
    out.bias.at<float>(c) = beta[c] - mean[c] * scale;
  }
  return out;
}

ConvParams plain_conv(const WeightMap& w, const std::string& filters, const std::string& bias) {
  return {conv_filters_from_tf(w.at(filters)), vector_mat(w.at(bias).values)};
}

void check_constant(const WeightMap& w, const std::string& name, std::int32_t expected, const std::string& label) {
  const auto& ints = w.at(name).ints;
  if (ints.empty() || ints[0] != expected) {
    throw Error(ErrorCode::kModelCorrupt, label + ": tensor '" + name + "' should be " + std::to_string(expected));
  }
}

std::shared_ptr<const SsdParams> load_params(const std::filesystem::path& models_dir) {
  const std::filesystem::path manifest = models_dir / "ssd_mobilenetv1_model-weights_manifest.json";
  const std::string label = manifest.string();
  verify_model_file(models_dir, "ssd_mobilenetv1_model-weights_manifest.json");
  verify_model_file(models_dir, "ssd_mobilenetv1_model.bin");
  const WeightMap w = WeightMap::load(manifest, ssd_tensor_specs());
  for (int p = 0; p < 6; ++p) {
    check_constant(w, "Prediction/BoxPredictor_" + std::to_string(p) + "/stack_1/1", kPredictorAnchorTotals[p], label);
  }
  check_constant(w, "Postprocessor/stack/1", kAnchorCount, label);
  check_constant(w, "Preprocessor/ResizeImage/size", kInputSize, label);

  auto params = std::make_shared<SsdParams>();
  params->conv0 = plain_conv(w, "MobilenetV1/Conv2d_0_pointwise/weights",
                             "MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset");
  for (int i = 1; i <= 13; ++i) {
    const std::string prefix = "MobilenetV1/Conv2d_" + std::to_string(i);
    params->depthwise.push_back(fold_depthwise(w, prefix + "_depthwise/"));
    params->pointwise.push_back(
        plain_conv(w, prefix + "_pointwise/weights", prefix + "_pointwise/convolution_bn_offset"));
  }
  for (int i = 0; i < 8; ++i) {
    const std::string prefix = "Prediction/Conv2d_" + std::to_string(i) + "_pointwise/";
    params->prediction.push_back(plain_conv(w, prefix + "weights", prefix + "convolution_bn_offset"));
  }
  for (int p = 0; p < 6; ++p) {
    const std::string prefix = "Prediction/BoxPredictor_" + std::to_string(p) + "/";
    params->box_encoding.push_back(
        plain_conv(w, prefix + "BoxEncodingPredictor/weights", prefix + "BoxEncodingPredictor/biases"));
    params->class_logits.push_back(
        plain_conv(w, prefix + "ClassPredictor/weights", prefix + "ClassPredictor/biases"));
  }
  params->anchors = w.at("Output/extra_dim").values;
  return params;
}

// Feature-map sides of the six box predictors for a square input: every stride-2 'same'
// convolution halves a side rounding up (512: 32, 16, 8, 4, 2, 1).
std::array<int, 6> predictor_grids(int input_size) {
  int side = input_size;
  for (int i = 0; i < 4; ++i) side = (side + 1) / 2;  // conv_0 and depthwise 2, 4, 6: conv 11
  std::array<int, 6> grids{};
  grids[0] = side;
  for (std::size_t k = 1; k < 6; ++k) grids[k] = side = (side + 1) / 2;
  return grids;
}

// The TF grid anchor generator: each predictor's anchor shapes are the same in every cell
// (read here from the shipped table's first cell of the predictor), centred on the cell.
std::vector<float> generate_anchors(const std::vector<float>& table_512, int input_size) {
  const std::array<int, 6> grids_512 = predictor_grids(kInputSize);
  const std::array<int, 6> grids = predictor_grids(input_size);
  std::vector<float> anchors;
  std::size_t first_of_predictor = 0;  // anchor index in the 512 table
  for (std::size_t k = 0; k < 6; ++k) {
    const int per_cell = kPredictorAnchors[k];
    const int side = grids[k];
    for (int cy = 0; cy < side; ++cy) {
      for (int cx = 0; cx < side; ++cx) {
        for (int a = 0; a < per_cell; ++a) {
          const float* shape = &table_512[(first_of_predictor + static_cast<std::size_t>(a)) * 4];
          const float height = shape[2] - shape[0], width = shape[3] - shape[1];
          const float centre_y = (static_cast<float>(cy) + 0.5F) / static_cast<float>(side);
          const float centre_x = (static_cast<float>(cx) + 0.5F) / static_cast<float>(side);
          anchors.insert(anchors.end(), {centre_y - height / 2, centre_x - width / 2, centre_y + height / 2,
                                         centre_x + width / 2});
        }
      }
    }
    first_of_predictor += static_cast<std::size_t>(grids_512[k]) * grids_512[k] * per_cell;
  }
  return anchors;
}

struct SsdGraph {
  cv::dnn::Net net;
  std::vector<std::string> outputs;  // box encodings 0..5, then class logits 0..5
};

// Every OpenCV layer gets its own copy of the weights: convolution layers may rescale their
// weight matrix in place when fusing, and nets live in different threads.
int conv_relu6(DnnGraph& g, int input, const ConvParams& p, int stride, int group = 1) {
  const int conv = g.conv(input, p.filters.clone(), p.bias.clone(), stride, Padding::kSame, group);
  return g.relu6(conv);
}

SsdGraph build_graph(const SsdParams& p) {
  DnnGraph g;
  // mobileNetV1.ts: conv_0 stride 2, depthwise strides 2 at layers 2, 4, 6, 12; all 'same'.
  int x = conv_relu6(g, DnnGraph::kInput, p.conv0, 2);
  int conv11 = -1;
  for (int layer = 1; layer <= 13; ++layer) {
    const auto i = static_cast<std::size_t>(layer - 1);
    const int stride = (layer == 2 || layer == 4 || layer == 6 || layer == 12) ? 2 : 1;
    x = conv_relu6(g, x, p.depthwise[i], stride, p.depthwise[i].filters.size[0]);
    x = conv_relu6(g, x, p.pointwise[i], 1);
    if (layer == 11) conv11 = x;
  }
  // predictionLayer.ts: the odd extra convolutions have stride 2.
  std::vector<int> extra;
  int y = x;
  for (std::size_t i = 0; i < 8; ++i) {
    y = conv_relu6(g, y, p.prediction[i], i % 2 == 1 ? 2 : 1);
    extra.push_back(y);
  }
  const int feature_maps[] = {conv11, x, extra[1], extra[3], extra[5], extra[7]};
  SsdGraph out;
  std::vector<std::string> class_names;
  for (std::size_t k = 0; k < 6; ++k) {
    const ConvParams& box = p.box_encoding[k];
    const ConvParams& cls = p.class_logits[k];
    out.outputs.push_back(g.name_of(
        g.conv(feature_maps[k], box.filters.clone(), box.bias.clone(), 1, Padding::kSame)));
    class_names.push_back(g.name_of(
        g.conv(feature_maps[k], cls.filters.clone(), cls.bias.clone(), 1, Padding::kSame)));
  }
  out.outputs.insert(out.outputs.end(), class_names.begin(), class_names.end());
  out.net = std::move(g.net());
  out.net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  out.net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return out;
}

constexpr float kSsdMean[3] = {127.5F, 127.5F, 127.5F};

float sigmoid(float v) { return 1.0F / (1.0F + std::exp(-v)); }

// Thread safety: detect() is const; each call leases its own cv::dnn::Net from the pool (or
// its own workspace of the oneDNN graph) and the decoded weights are immutable.
class SsdMobilenetDetector final : public FaceDetector {
 public:
  // `backend`: the embedding networks' choice (resolve_inference_backend), which the SSD follows:
  // oneDNN runs the network at the default 512 input in f32 (the same outputs to float rounding),
  // and in bf16 under the opt-in onednn-bf16 (on a CPU with native bf16; the same labelled
  // faces: docs/speed.md, "bf16"); other input sizes, a study path, stay on OpenCV DNN.
  SsdMobilenetDetector(std::shared_ptr<const SsdParams> params, InferenceBackend backend, const std::string& label)
      : params_(std::move(params)), pool_([params = params_] { return build_graph(*params).net; }) {
    // A net that has never run: OpenCV fuses layers (and may rescale weights) on the first forward.
    SsdGraph graph = build_graph(*params_);
    output_names_ = graph.outputs;
#ifdef SIAMFACE_HAVE_ONEDNN
    if (backend != InferenceBackend::kOpenCv) {
      const DnnlPrecision precision =
          backend == InferenceBackend::kOneDnnBf16 ? DnnlPrecision::kBF16 : DnnlPrecision::kF32;
      dnnl_ = DnnlGraph::from(graph.net, {1, 3, kInputSize, kInputSize}, graph.outputs, label, precision);
    }
#else
    (void)backend;
    (void)label;
#endif
  }

  std::vector<RawDetection> detect(const cv::Mat& bgr, float min_score) const override {
    return detect_at(bgr, min_score, kInputSize);
  }

  // Any multiple of 32 from 128 to 1024: the graph is fully convolutional; only the anchors
  // depend on the input (anchors_for).
  std::vector<RawDetection> detect_at(const cv::Mat& bgr, float min_score, int input_size) const override {
    if (input_size <= 0) input_size = kInputSize;
    if (input_size % 32 != 0 || input_size < 128 || input_size > 1024) {
      throw Error(ErrorCode::kInvalidArgument,
                  "SSD input size must be a multiple of 32 from 128 to 1024, got " + std::to_string(input_size));
    }
    const cv::Mat input = square_rgb_input(bgr, input_size);
    // SsdMobilenetv1.forwardInput: x / 127.5 - 1 (NCHW).
    const cv::Mat blob = nchw_blob(input, kSsdMean, 127.5F);
    std::vector<cv::Mat> outputs;
#ifdef SIAMFACE_HAVE_ONEDNN
    if (dnnl_ && input_size == kInputSize) outputs = dnnl_->run(blob);
#endif
    if (outputs.empty()) {
      auto net = pool_.lease();
      net->setInput(blob);
      net->forward(outputs, output_names_);
    }
    return decode(outputs, bgr.size(), min_score, input_size);
  }

  const std::vector<float>& anchors_for(int input_size) const {
    if (input_size == kInputSize) return params_->anchors;
    std::lock_guard<std::mutex> lock(anchors_mutex_);
    auto& anchors = generated_anchors_[input_size];
    if (anchors.empty()) anchors = generate_anchors(params_->anchors, input_size);
    return anchors;
  }

  float default_min_score() const override { return kDefaultMinScore; }

 private:
  // outputLayer.ts: anchors (extra_dim) are [y0, x0, y1, x1]; encodings are [ty, tx, th, tw]
  // with variances 10 and 5; score = sigmoid of class 1 (face). Boxes stay relative to the
  // square input until after NMS, like locateFaces, then map to original pixels.
  std::vector<RawDetection> decode(const std::vector<cv::Mat>& outputs, cv::Size image, float min_score,
                                   int input_size) const {
    const cv::Size reshaped = reshaped_size(image, input_size);
    const float pad_x = static_cast<float>(input_size) / static_cast<float>(reshaped.width);
    const float pad_y = static_cast<float>(input_size) / static_cast<float>(reshaped.height);
    const std::vector<float>& anchors = anchors_for(input_size);
    const int anchor_count = static_cast<int>(anchors.size() / 4);
    int produced = 0;
    for (std::size_t k = 0; k < 6; ++k) produced += outputs[k].size[2] * outputs[k].size[3] * kPredictorAnchors[k];
    if (produced != anchor_count) {
      throw Error(ErrorCode::kInternal, "SSD MobileNet produced " + std::to_string(produced) + " anchors, expected " +
                                            std::to_string(anchor_count));
    }
    std::vector<RawDetection> candidates;  // relative [0,1] units of the square input
    int anchor = 0;
    for (std::size_t k = 0; k < 6; ++k) {
      const cv::Mat& boxes = outputs[k];
      const cv::Mat& classes = outputs[k + 6];
      const int height = boxes.size[2], width = boxes.size[3];
      const int per_cell = kPredictorAnchors[k];
      const std::size_t plane = static_cast<std::size_t>(height) * width;
      const float* box_data = boxes.ptr<float>();
      const float* class_data = classes.ptr<float>();
      for (int cy = 0; cy < height; ++cy) {
        for (int cx = 0; cx < width; ++cx) {
          const std::size_t cell = static_cast<std::size_t>(cy) * width + static_cast<std::size_t>(cx);
          for (int a = 0; a < per_cell; ++a, ++anchor) {
            const float score = sigmoid(class_data[static_cast<std::size_t>(a * 3 + 1) * plane + cell]);
            if (!(score >= min_score)) continue;
            const float* prior = &anchors[static_cast<std::size_t>(anchor) * 4];
            const float size_y = prior[2] - prior[0], size_x = prior[3] - prior[1];
            const float center_y = prior[0] + size_y / 2, center_x = prior[1] + size_x / 2;
            auto enc = [&](int i) { return box_data[static_cast<std::size_t>(a * 4 + i) * plane + cell]; };
            const float half_h = std::exp(enc(2) / 5) * size_y / 2;
            const float mid_y = enc(0) / 10 * size_y + center_y;
            const float half_w = std::exp(enc(3) / 5) * size_x / 2;
            const float mid_x = enc(1) / 10 * size_x + center_x;
            candidates.push_back({Box{mid_x - half_w, mid_y - half_h, 2 * half_w, 2 * half_h}, score});
          }
        }
      }
    }
    if (anchor != anchor_count) {
      throw Error(ErrorCode::kInternal, "SSD MobileNet produced " + std::to_string(anchor) + " anchors, expected " +
                                            std::to_string(anchor_count));
    }
    std::vector<int> kept = non_max_suppression(candidates, kIouThreshold);
    if (kept.size() > kMaxResults) kept.resize(kMaxResults);
    std::vector<RawDetection> result;
    const float image_w = static_cast<float>(image.width), image_h = static_cast<float>(image.height);
    for (const int index : kept) {
      const RawDetection& d = candidates[static_cast<std::size_t>(index)];
      // locateFaces clamps to the square input, scales by the pad factors, then by image size.
      const float left = std::max(0.0F, d.box.left) * pad_x * image_w;
      const float top = std::max(0.0F, d.box.top) * pad_y * image_h;
      const float right = std::min(std::min(1.0F, d.box.right()) * pad_x * image_w, image_w);
      const float bottom = std::min(std::min(1.0F, d.box.bottom()) * pad_y * image_h, image_h);
      if (right <= left || bottom <= top) continue;
      result.push_back({Box{std::min(left, image_w), std::min(top, image_h), right - left, bottom - top}, d.score});
    }
    return result;
  }

  std::shared_ptr<const SsdParams> params_;
  std::vector<std::string> output_names_;
  NetPool pool_;  // OpenCV DNN sessions, built on first need
#ifdef SIAMFACE_HAVE_ONEDNN
  std::unique_ptr<DnnlGraph> dnnl_;  // the 512 network on oneDNN; null on OpenCV DNN
#endif
  mutable std::mutex anchors_mutex_;
  mutable std::map<int, std::vector<float>> generated_anchors_;  // by input size; entries never move
};

}  // namespace

std::unique_ptr<FaceDetector> make_ssd_mobilenet_detector(const std::filesystem::path& models_dir) {
  // resolve first: an unknown $SIAMFACE_RECOGNITION_BACKEND fails before the weights are read.
  const InferenceBackend backend = resolve_inference_backend(InferenceBackend::kAuto);
  return std::make_unique<SsdMobilenetDetector>(load_params(models_dir), backend,
                                                (models_dir / "ssd_mobilenetv1_model.bin").string());
}

std::vector<float> ssd_anchors_for_input(const std::filesystem::path& models_dir, int input_size,
                                         bool from_generator) {
  const auto params = load_params(models_dir);
  if (input_size == kInputSize && !from_generator) return params->anchors;
  return generate_anchors(params->anchors, input_size);
}

}  // namespace siamface
