// The Ultra-Light-Fast-Generic-Face-Detector (version RFB, 320x240 input), as shipped in
// faceplugin-face-recognition-js@0.0.1 (model/fr_detect.onnx). The graph ends in decoded boxes,
// so only scoring and NMS are left here; preprocessing and thresholds follow the package's
// lib/fr_detect.js (RGB, (x - 127) / 128, score 0.65, NMS 0.4).
//
// On oneDNN (the default where the build has it, as for the other networks) the graph runs up to
// its eight head convolutions, and their outputs are decoded here as the graph's own tail does
// (transpose, softmax, the prior-box decode with the graph's priors): DnnlGraph has no transpose,
// slice or exp, and the tail is a few thousand multiplications.
// Thread safety: detect() leases a network per call from a NetPool (or a workspace of the
// oneDNN graph); the priors and weights are immutable.
#include <algorithm>
#include <cmath>
#include <memory>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "detect/face_detector.hpp"
#include "model/inference_backend.hpp"
#ifdef SIAMFACE_HAVE_ONEDNN
#include "model/dnnl_opencv_graph.hpp"
#endif
#include "model/model_files.hpp"
#include "model/net_pool.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

constexpr int kInputWidth = 320;
constexpr int kInputHeight = 240;
constexpr int kPriors = 4420;  // the graph's fixed prior boxes for 320x240
constexpr float kDefaultMinScore = 0.65F;
constexpr float kIouThreshold = 0.4F;

// The prior-box decode of the graph's tail (Mul_154 .. Concat_174): centre offsets scaled by 0.1,
// log sizes by 0.2, both times the prior's size.
constexpr float kCentreVariance = 0.1F;
constexpr float kSizeVariance = 0.2F;

// Per prior: the face score and the box corners (left, top, right, bottom) in [0, 1] of the input,
// as the graph's outputs 'scores' (column 1) and 'boxes' hold them.
struct PriorOutputs {
  std::vector<float> scores = std::vector<float>(kPriors);
  std::vector<float> corners = std::vector<float>(kPriors * 4U);
};

#ifdef SIAMFACE_HAVE_ONEDNN
// Where the graph's tail starts: the head convolutions feeding the score and box concatenations,
// in the concatenations' order, and the priors (centres and sizes, x and y interleaved).
struct Heads {
  std::vector<std::string> score_convs, box_convs;
  std::vector<float> prior_centres, prior_sizes;
};

Heads find_heads(cv::dnn::Net& net, const std::string& label) {
  auto fail = [&](const std::string& what) -> void {
    throw Error(ErrorCode::kModelCorrupt, label + ": not the RFB-320 graph this detector decodes (" + what + ")");
  };
  auto first_of_type = [&](const std::string& type) -> cv::Ptr<cv::dnn::Layer> {
    for (const std::string& name : net.getLayerNames()) {
      cv::Ptr<cv::dnn::Layer> layer = net.getLayer(net.getLayerId(name));
      if (layer->type == type) return layer;
    }
    fail("no " + type + " layer");
    return {};
  };
  auto only_input = [&](const cv::Ptr<cv::dnn::Layer>& layer) {
    const auto inputs = net.getLayerInputs(net.getLayerId(layer->name));
    if (inputs.size() != 1) fail(layer->name + " has " + std::to_string(inputs.size()) + " inputs");
    return inputs[0];
  };
  // Each input of a concatenation, back through its transpose and reshape to a convolution.
  auto convs_feeding = [&](const cv::Ptr<cv::dnn::Layer>& concat, std::vector<std::string>& names) {
    if (concat->type != "Concat") fail(concat->name + " is not a concatenation");
    for (cv::Ptr<cv::dnn::Layer> layer : net.getLayerInputs(net.getLayerId(concat->name))) {
      while (layer->type == "Reshape" || layer->type == "Permute") layer = only_input(layer);
      if (layer->type != "Convolution") fail(layer->name + " is not a head convolution");
      names.push_back(layer->name);
    }
  };
  Heads heads;
  convs_feeding(only_input(first_of_type("Softmax")), heads.score_convs);
  convs_feeding(only_input(first_of_type("Slice")), heads.box_convs);
  if (heads.score_convs.size() != heads.box_convs.size()) fail("score and box heads differ in number");
  const cv::Ptr<cv::dnn::Layer> centres = first_of_type("Const"), sizes = first_of_type("Scale");
  if (centres->blobs.size() != 1 || sizes->blobs.size() != 1 || centres->blobs[0].total() != kPriors * 2U ||
      sizes->blobs[0].total() != kPriors * 2U || centres->blobs[0].type() != CV_32F || sizes->blobs[0].type() != CV_32F) {
    fail("the priors are not " + std::to_string(kPriors) + " x 2 f32 centres and sizes");
  }
  heads.prior_centres.assign(centres->blobs[0].ptr<float>(), centres->blobs[0].ptr<float>() + kPriors * 2U);
  heads.prior_sizes.assign(sizes->blobs[0].ptr<float>(), sizes->blobs[0].ptr<float>() + kPriors * 2U);
  return heads;
}
#endif

class RfbDetector final : public FaceDetector {
 public:
  // `backend`: the embedding networks' choice (resolve_inference_backend), which the detectors
  // follow; any oneDNN one runs RFB on oneDNN f32 (bf16 is not offered for it).
  RfbDetector(const std::filesystem::path& path, InferenceBackend backend)
      : RfbDetector(path, std::make_shared<const std::vector<uchar>>(read_model_bytes(path)), backend) {}

 private:
  // The file is read once: its bytes serve the OpenCV pool and the oneDNN graph alike.
  RfbDetector(const std::filesystem::path& path, const std::shared_ptr<const std::vector<uchar>>& bytes,
              InferenceBackend backend)
      : path_(path.string()), pool_(onnx_net_pool(bytes)) {
#ifdef SIAMFACE_HAVE_ONEDNN
    if (backend != InferenceBackend::kOpenCv) {
      try {
        cv::dnn::Net net = cv::dnn::readNetFromONNX(*bytes);  // never run: DnnlGraph::from
        heads_ = find_heads(net, path_);
        std::vector<std::string> outputs = heads_.score_convs;
        outputs.insert(outputs.end(), heads_.box_convs.begin(), heads_.box_convs.end());
        dnnl_ = DnnlGraph::from(net, {1, 3, kInputHeight, kInputWidth}, outputs, path_);
      } catch (const cv::Exception& e) {
        throw Error(ErrorCode::kModelCorrupt, path_ + ": OpenCV cannot read it as the RFB-320 detector: " + e.what());
      }
    }
#else
    (void)backend;
#endif
  }

 public:
  std::vector<RawDetection> detect(const cv::Mat& bgr, float min_score) const override {
    const cv::Mat blob = cv::dnn::blobFromImage(bgr, 1.0 / 128, cv::Size(kInputWidth, kInputHeight),
                                                cv::Scalar::all(127), /*swapRB=*/true, /*crop=*/false, CV_32F);
#ifdef SIAMFACE_HAVE_ONEDNN
    const PriorOutputs priors = dnnl_ ? decode_heads(dnnl_->run(blob)) : run_opencv(blob);
#else
    const PriorOutputs priors = run_opencv(blob);
#endif
    const float* scores = priors.scores.data();
    const float* boxes = priors.corners.data();
    const auto width = static_cast<float>(bgr.cols);
    const auto height = static_cast<float>(bgr.rows);
    std::vector<RawDetection> found;
    for (int i = 0; i < kPriors; ++i) {
      const float score = scores[i];
      if (score < min_score) continue;
      const float* b = boxes + 4 * i;  // corners, in [0, 1] of the input
      const float left = std::clamp(b[0], 0.F, 1.F) * width;
      const float top = std::clamp(b[1], 0.F, 1.F) * height;
      const float right = std::clamp(b[2], 0.F, 1.F) * width;
      const float bottom = std::clamp(b[3], 0.F, 1.F) * height;
      if (right - left < 1.F || bottom - top < 1.F) continue;
      found.push_back({Box{left, top, right - left, bottom - top}, score});
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
    std::vector<RawDetection> kept;
    for (const int i : non_max_suppression(found, kIouThreshold)) kept.push_back(found[static_cast<std::size_t>(i)]);
    return kept;
  }

  float default_min_score() const override { return kDefaultMinScore; }

 private:
  // The whole graph on OpenCV DNN, its own tail included.
  PriorOutputs run_opencv(const cv::Mat& blob) const {
    std::vector<cv::Mat> outputs;
    {
      auto net = pool_.lease();
      net->setInput(blob);
      net->forward(outputs, std::vector<cv::String>{"scores", "boxes"});
    }
    if (outputs.size() != 2 || outputs[0].total() != kPriors * 2U || outputs[1].total() != kPriors * 4U) {
      throw Error(ErrorCode::kModelCorrupt, path_ + ": outputs 'scores' and 'boxes' must hold " +
                                                std::to_string(kPriors) + " x 2 and x 4 values");
    }
    PriorOutputs priors;
    for (int i = 0; i < kPriors; ++i) priors.scores[static_cast<std::size_t>(i)] = outputs[0].ptr<float>()[2 * i + 1];
    std::copy_n(outputs[1].ptr<float>(), kPriors * 4U, priors.corners.begin());
    return priors;
  }

#ifdef SIAMFACE_HAVE_ONEDNN
  // The graph's tail on the head outputs (each 1 x anchors*k x H x W): transposed to H, W, anchor
  // order and concatenated over the heads; a softmax over the two classes; the prior-box decode.
  PriorOutputs decode_heads(const std::vector<cv::Mat>& outputs) const {
    const std::size_t head_count = heads_.score_convs.size();
    PriorOutputs priors;
    std::size_t prior = 0;
    for (std::size_t h = 0; h < head_count; ++h) {
      const cv::Mat& cls = outputs[h];
      const cv::Mat& reg = outputs[head_count + h];
      const int anchors = cls.size[1] / 2, rows = cls.size[2], cols = cls.size[3];
      if (reg.size[1] != anchors * 4 || reg.size[2] != rows || reg.size[3] != cols ||
          prior + static_cast<std::size_t>(anchors * rows * cols) > static_cast<std::size_t>(kPriors)) {
        throw Error(ErrorCode::kModelCorrupt, path_ + ": head " + heads_.score_convs[h] + " does not match the priors");
      }
      const std::size_t plane = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
      const float* c = cls.ptr<float>();
      const float* r = reg.ptr<float>();
      for (std::size_t at = 0; at < plane; ++at) {
        for (int a = 0; a < anchors; ++a, ++prior) {
          const float background = c[(2 * a) * plane + at], face = c[(2 * a + 1) * plane + at];
          const float top = std::max(background, face);
          const float e_face = std::exp(face - top);
          priors.scores[prior] = e_face / (std::exp(background - top) + e_face);
          const float* centre = &heads_.prior_centres[2 * prior];
          const float* size = &heads_.prior_sizes[2 * prior];
          const float cx = r[(4 * a) * plane + at] * kCentreVariance * size[0] + centre[0];
          const float cy = r[(4 * a + 1) * plane + at] * kCentreVariance * size[1] + centre[1];
          const float w = std::exp(r[(4 * a + 2) * plane + at] * kSizeVariance) * size[0];
          const float h = std::exp(r[(4 * a + 3) * plane + at] * kSizeVariance) * size[1];
          float* corners = &priors.corners[4 * prior];
          corners[0] = cx - w * 0.5F;
          corners[1] = cy - h * 0.5F;
          corners[2] = cx + w * 0.5F;
          corners[3] = cy + h * 0.5F;
        }
      }
    }
    if (prior != static_cast<std::size_t>(kPriors)) {
      throw Error(ErrorCode::kModelCorrupt, path_ + ": the heads give " + std::to_string(prior) + " priors, expected " +
                                                std::to_string(kPriors));
    }
    return priors;
  }

  Heads heads_;
  std::unique_ptr<DnnlGraph> dnnl_;  // up to the head convolutions; null on OpenCV DNN
#endif
  std::string path_;
  NetPool pool_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_rfb_detector(const std::filesystem::path& models_dir) {
  const std::filesystem::path path = models_dir / kRfbDetectorFile;
  // resolve first: an unknown $SIAMFACE_RECOGNITION_BACKEND fails before the graph is read.
  const InferenceBackend backend = resolve_inference_backend(InferenceBackend::kAuto);
  auto detector = std::make_unique<RfbDetector>(path, backend);  // reads the file: kModelMissing
  try {
    (void)detector->detect(cv::Mat(kInputHeight, kInputWidth, CV_8UC3, cv::Scalar::all(127)), 1.0F);  // fails now if the graph is wrong
    return detector;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kModelCorrupt, path.string() + ": OpenCV cannot run it as the RFB-320 detector: " + e.what());
  }
}

}  // namespace siamface
