// faceplugin's liveness net (model/fr_liveness.onnx of faceplugin-face-recognition-js@0.0.1) on
// OpenCV DNN. The crop is the package's own (lib/fr_liveness.js, alignLivenessImage, itself
// Silent-Face-Anti-Spoofing's _get_new_box): the detection box scaled 2.7x about its centre
// and kept inside the image, resized to 128x128 (bilinear), planes of 0..255 values with no
// mean or scale. The channel order is not the package's: its JavaScript reads an RGBA canvas
// and feeds RGB, but the net separates live faces from attacks far better fed BGR, as
// MiniFASNet's OpenCV pipeline reads images (docs/analysis.md, "Which input"); the live score
// is the probability of class 0, the one the package returns.
#include <algorithm>
#include <cmath>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "attributes/attribute_nets.hpp"
#include "model/model_files.hpp"
#include "model/net_pool.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

// Three classes like MiniFASNet's, but here 0 is live (fr_liveness.js returns softmax[0]; print
// and screen attacks score on class 1: docs/analysis.md).
constexpr int kLivenessClasses = 3;
constexpr int kLiveClass = 0;

class OnnxLivenessNet final : public LivenessNet {
 public:
  explicit OnnxLivenessNet(const std::filesystem::path& path) : path_(path.string()), pool_(onnx_net_pool(path)) {}

  std::vector<float> predict_all(const cv::Mat& bgr, const std::vector<Box>& boxes) const override {
    if (bgr.empty() || bgr.type() != CV_8UC3) {
      throw Error(ErrorCode::kInvalidArgument, "liveness: expected a non-empty CV_8UC3 image");
    }
    std::vector<float> scores;
    scores.reserve(boxes.size());
    for (const Box& box : boxes) {
      const cv::Rect crop = liveness_crop(box, bgr.cols, bgr.rows);
      if (crop.width <= 0 || crop.height <= 0) {
        throw Error(ErrorCode::kInvalidArgument, "liveness: the face box lies outside the image");
      }
      cv::Mat input;
      cv::resize(bgr(crop), input, cv::Size(kLivenessInputSize, kLivenessInputSize), 0, 0, cv::INTER_LINEAR);
      scores.push_back(predict_input(input)[kLiveClass]);
    }
    return scores;
  }

  std::vector<float> predict_input(const cv::Mat& bgr_128) const override {
    if (bgr_128.type() != CV_8UC3 || bgr_128.rows != kLivenessInputSize || bgr_128.cols != kLivenessInputSize) {
      throw Error(ErrorCode::kInvalidArgument, "liveness: predict_input needs a 128x128 CV_8UC3 image");
    }
    const cv::Mat blob = cv::dnn::blobFromImage(bgr_128, 1.0, cv::Size(), cv::Scalar(), /*swapRB=*/false,
                                                /*crop=*/false, CV_32F);
    cv::Mat out;
    {
      auto net = pool_.lease();
      net->setInput(blob);
      out = net->forward().clone();
    }
    if (out.total() != kLivenessClasses) {
      throw Error(ErrorCode::kModelCorrupt, path_ + ": output has " + std::to_string(out.total()) + " values, expected " +
                                                std::to_string(kLivenessClasses));
    }
    const float* raw = out.ptr<float>();
    const float top = *std::max_element(raw, raw + kLivenessClasses);
    std::vector<float> probabilities(kLivenessClasses);
    double sum = 0;
    for (int k = 0; k < kLivenessClasses; ++k) sum += probabilities[k] = static_cast<float>(std::exp(double(raw[k]) - top));
    for (float& p : probabilities) p = static_cast<float>(p / sum);
    return probabilities;
  }

 private:
  std::string path_;
  NetPool pool_;
};

}  // namespace

cv::Rect liveness_crop(const Box& box, int image_width, int image_height, double scale) {
  // fr_liveness.js truncates the detector's corners to integers first (parseInt).
  const double x1 = std::trunc(box.left), y1 = std::trunc(box.top);
  const double box_w = std::abs(std::trunc(box.right()) - x1), box_h = std::abs(std::trunc(box.bottom()) - y1);
  if (box_w <= 0 || box_h <= 0) return {};
  const double used_scale = std::min({(image_height - 1) / box_h, (image_width - 1) / box_w, scale});
  const double new_w = box_w * used_scale, new_h = box_h * used_scale;
  const double center_x = box_w / 2 + x1, center_y = box_h / 2 + y1;
  double left = center_x - new_w / 2, top = center_y - new_h / 2;
  double right = center_x + new_w / 2, bottom = center_y + new_h / 2;
  if (left < 0) {
    right -= left;
    left = 0;
  }
  if (top < 0) {
    bottom -= top;
    top = 0;
  }
  if (right > image_width - 1) {
    left -= right - image_width + 1;
    right = image_width - 1;
  }
  if (bottom > image_height - 1) {
    top -= bottom - image_height + 1;
    bottom = image_height - 1;
  }
  // new cv.Rect(max(parseInt(left), 0), max(parseInt(top), 0), min(parseInt(right - left), w - 1), ...)
  cv::Rect rect(std::max(static_cast<int>(left), 0), std::max(static_cast<int>(top), 0),
                std::min(static_cast<int>(right - left), image_width - 1),
                std::min(static_cast<int>(bottom - top), image_height - 1));
  return rect & cv::Rect(0, 0, image_width, image_height);  // a box past the border: what roi() would accept
}

std::unique_ptr<LivenessNet> make_liveness_net(const std::filesystem::path& models_dir) {
  const std::filesystem::path path = models_dir / kLivenessFile;
  auto net = std::make_unique<OnnxLivenessNet>(path);  // reads the file: kModelMissing
  try {
    net->predict_input(cv::Mat(kLivenessInputSize, kLivenessInputSize, CV_8UC3, cv::Scalar::all(127)));
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kModelCorrupt, path.string() + ": OpenCV cannot run it as a 1x3x128x128 -> 3 network (" +
                                              std::string(e.err) + ")");
  }
  return net;
}

}  // namespace siamface
