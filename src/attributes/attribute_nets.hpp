// The networks of face analysis (include/siamface/analysis.hpp): face-api's age/gender net
// (TinyXception) and expression net (FaceFeatureExtractor + FC), and faceplugin's liveness net
// (fr_liveness.onnx). Each takes the face as its reference implementation cuts it, so the
// differential tests (tests/integration/face_api_reference_test.cpp,
// tests/integration/liveness_reference_test.cpp) compare like with like.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "siamface/types.hpp"

namespace siamface {

// face-api's weights file stems and faceplugin's liveness file as installed by scripts/setup.sh.
inline constexpr const char* kAgeGenderModel = "age_gender_model";
inline constexpr const char* kExpressionModel = "face_expression_model";
inline constexpr const char* kLivenessFile = "faceplugin_fr_liveness.onnx";

// Side of the liveness net's square input.
inline constexpr int kLivenessInputSize = 128;
// faceplugin's crop: the detection box scaled 2.7 times about its centre (fr_liveness.js,
// predictLiveness).
inline constexpr double kLivenessCropScale = 2.7;  // a double, as in JavaScript

struct AgeGenderOutput {
  float age_years = 0.0F;         // the age head's regression, as face-api returns it
  float male_probability = 0.0F;  // softmax of the gender head, class 0 (face-api: male)
};

// Softmax of the expression head in kExpressionClasses order.
using ExpressionOutput = std::array<float, 7>;

// face-api's face box for its attribute nets: the landmarks' bounding box padded by a fifth
// of its size (FaceLandmarks.align, alignMinBbox(0.2): the alignedRect of withAgeAndGender
// and withFaceExpressions).
Box face_api_aligned_box(const Landmarks& landmarks);

// Thread safety (all three): predict* are const and safe from many threads; each call leases
// its own OpenCV DNN session and the weights are immutable.
class AgeGenderNet {
 public:
  virtual ~AgeGenderNet() = default;
  // One output per box of the CV_8UC3 image, cut as face-api's extractFaceTensors cuts it.
  virtual std::vector<AgeGenderOutput> predict_all(const cv::Mat& bgr, const std::vector<Box>& boxes) const = 0;
  // The net alone on a 112x112 BGR input (CV_8UC3, or CV_32FC3 holding 0..255), as face-api's
  // predictAgeAndGender sees an input of exactly that size. For differential tests.
  virtual AgeGenderOutput predict_input(const cv::Mat& bgr_112) const = 0;
};

class ExpressionNet {
 public:
  virtual ~ExpressionNet() = default;
  virtual std::vector<ExpressionOutput> predict_all(const cv::Mat& bgr, const std::vector<Box>& boxes) const = 0;
  virtual ExpressionOutput predict_input(const cv::Mat& bgr_112) const = 0;
};

class LivenessNet {
 public:
  virtual ~LivenessNet() = default;
  // The probability that the face in `box` (a detector box) is live.
  virtual std::vector<float> predict_all(const cv::Mat& bgr, const std::vector<Box>& boxes) const = 0;
  // The softmax of the net's three outputs (class 0: live) for a 128x128 CV_8UC3 input, fed
  // in its channel order as 0..255 planes. For differential tests.
  virtual std::vector<float> predict_input(const cv::Mat& bgr_128) const = 0;
};

// faceplugin's crop for the liveness net (alignLivenessImage): the box scaled by `scale` about
// its centre, at most the image (less one pixel), shifted inside the image, integer-truncated.
cv::Rect liveness_crop(const Box& box, int image_width, int image_height, double scale = kLivenessCropScale);

// Load and validate the weights: Error(kModelMissing) naming the file when absent,
// Error(kModelCorrupt) naming the file or tensor at fault.
std::unique_ptr<AgeGenderNet> make_age_gender_net(const std::filesystem::path& models_dir);
std::unique_ptr<ExpressionNet> make_expression_net(const std::filesystem::path& models_dir);
std::unique_ptr<LivenessNet> make_liveness_net(const std::filesystem::path& models_dir);

}  // namespace siamface
