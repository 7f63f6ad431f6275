// OpenCV's Viola-Jones Haar cascade (haarcascade_frontalface_default.xml from Debian
// opencv-data): a fast, model-free fallback detector.
#include <cmath>
#include <memory>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "detect/face_detector.hpp"
#include "model/model_files.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

constexpr const char* kCascadeFile = "haarcascade_frontalface_default.xml";
constexpr double kScaleFactor = 1.3;
constexpr int kMinNeighbors = 3;
constexpr int kMinSizePx = 30;
constexpr float kIouThreshold = 0.4F;  // drops the nested boxes grouping sometimes leaves
// Score = sigmoid(kWeightGain * levelWeight), always in (0, 1). levelWeight (from
// detectMultiScale's outputRejectLevels overload) is the sum of the last cascade stage's weak
// classifiers for the group's best window; it only reaches us if that window cleared every
// stage, and it grows with how clearly the window resembles a face. On the test photos it
// ranged about -0.7..8.7 (scores 0.36..0.999). It ranks boxes but is no calibrated
// probability: a false box on an eagle scored 0.91.
constexpr float kWeightGain = 0.8F;
// Every box the cascade returns already passed minNeighbors, so by default keep them all.
constexpr float kDefaultMinScore = 0.0F;

// Thread safety: detect() is const and thread-safe. cv::CascadeClassifier::detectMultiScale
// keeps per-call scratch buffers inside the classifier (and copies share them), so one
// classifier must not run in two threads at once; each call leases its own instance from
// a mutex-guarded pool, loading another from the XML when all are busy.
class HaarDetector final : public FaceDetector {
 public:
  explicit HaarDetector(std::filesystem::path cascade_path) : cascade_path_(std::move(cascade_path)) {
    give_back(load());  // fail early on a bad file
  }

  std::vector<RawDetection> detect(const cv::Mat& bgr, float min_score) const override {
    if (bgr.empty() || bgr.type() != CV_8UC3) {
      throw Error(ErrorCode::kInvalidImage, "face detector needs a non-empty 8-bit BGR image");
    }
    cv::Mat grey;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(grey, grey);
    std::vector<cv::Rect> rects;
    std::vector<int> levels;
    std::vector<double> weights;
    std::unique_ptr<cv::CascadeClassifier> classifier = take();
    try {
      classifier->detectMultiScale(grey, rects, levels, weights, kScaleFactor, kMinNeighbors, 0,
                                   cv::Size(kMinSizePx, kMinSizePx), cv::Size(), true);
    } catch (...) {
      give_back(std::move(classifier));
      throw;
    }
    give_back(std::move(classifier));

    std::vector<RawDetection> candidates;
    const cv::Rect bounds(0, 0, bgr.cols, bgr.rows);
    for (std::size_t i = 0; i < rects.size(); ++i) {
      const cv::Rect r = rects[i] & bounds;
      if (r.empty()) continue;
      const double weight = i < weights.size() ? weights[i] : 0.0;
      const float score = static_cast<float>(1.0 / (1.0 + std::exp(-kWeightGain * weight)));
      if (!(score >= min_score)) continue;
      candidates.push_back({Box{static_cast<float>(r.x), static_cast<float>(r.y), static_cast<float>(r.width),
                                static_cast<float>(r.height)},
                            score});
    }
    std::vector<RawDetection> result;
    for (const int index : non_max_suppression(candidates, kIouThreshold)) {
      result.push_back(candidates[static_cast<std::size_t>(index)]);
    }
    return result;
  }

  float default_min_score() const override { return kDefaultMinScore; }

 private:
  std::unique_ptr<cv::CascadeClassifier> load() const {
    auto classifier = std::make_unique<cv::CascadeClassifier>();
    if (!classifier->load(cascade_path_.string()) || classifier->empty()) {
      throw Error(ErrorCode::kModelCorrupt, "cannot load Haar cascade " + cascade_path_.string() +
                                                " (rerun scripts/setup.sh --force-models)");
    }
    return classifier;
  }

  std::unique_ptr<cv::CascadeClassifier> take() const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto classifier = std::move(idle_.back());
        idle_.pop_back();
        return classifier;
      }
    }
    return load();
  }

  void give_back(std::unique_ptr<cv::CascadeClassifier> classifier) const {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(classifier));
  }

  std::filesystem::path cascade_path_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<cv::CascadeClassifier>> idle_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_haar_detector(const std::filesystem::path& models_dir) {
  verify_model_file(models_dir, kCascadeFile);
  return std::make_unique<HaarDetector>(models_dir / kCascadeFile);
}

}  // namespace siamface
