// The Ultra-Light-Fast-Generic-Face-Detector (version RFB, 320x240 input), as shipped in
// faceplugin-face-recognition-js@0.0.1 (model/fr_detect.onnx). The graph ends in decoded boxes,
// so only scoring and NMS are left here; preprocessing and thresholds follow the package's
// lib/fr_detect.js (RGB, (x - 127) / 128, score 0.65, NMS 0.4).
// Thread safety: detect() leases a network per call from a NetPool.
#include <algorithm>
#include <memory>
#include <opencv2/dnn.hpp>
#include <string>

#include "detect/face_detector.hpp"
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

class RfbDetector final : public FaceDetector {
 public:
  explicit RfbDetector(const std::filesystem::path& path) : path_(path.string()), pool_(onnx_net_pool(path)) {}

  std::vector<RawDetection> detect(const cv::Mat& bgr, float min_score) const override {
    const cv::Mat blob = cv::dnn::blobFromImage(bgr, 1.0 / 128, cv::Size(kInputWidth, kInputHeight),
                                                cv::Scalar::all(127), /*swapRB=*/true, /*crop=*/false, CV_32F);
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
    const float* scores = outputs[0].ptr<float>();
    const float* boxes = outputs[1].ptr<float>();
    const auto width = static_cast<float>(bgr.cols);
    const auto height = static_cast<float>(bgr.rows);
    std::vector<RawDetection> found;
    for (int i = 0; i < kPriors; ++i) {
      const float score = scores[2 * i + 1];
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
  std::string path_;
  NetPool pool_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_rfb_detector(const std::filesystem::path& models_dir) {
  const std::filesystem::path path = models_dir / kRfbDetectorFile;
  auto detector = std::make_unique<RfbDetector>(path);  // reads the file: kModelMissing
  try {
    (void)detector->detect(cv::Mat(kInputHeight, kInputWidth, CV_8UC3, cv::Scalar::all(127)), 1.0F);  // fails now if the graph is wrong
    return detector;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kModelCorrupt, path.string() + ": OpenCV cannot run it as the RFB-320 detector: " + e.what());
  }
}

}  // namespace siamface
