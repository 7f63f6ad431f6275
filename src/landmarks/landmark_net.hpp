// The 68-point landmark stage (face-api's face_landmark_68 and its tiny variant).
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "model/face_api_input.hpp"
#include "siamface/options.hpp"
#include "siamface/errors.hpp"
#include "siamface/types.hpp"

namespace siamface {

// Side of the square input of both landmark nets.
inline constexpr int kLandmarkInputSize = kFaceApiInputSize;
// The nets' raw output: x0, y0, x1, y1, ... relative to the 112x112 input (0..1).
using LandmarkRawOutput = std::array<float, 2 * kLandmarkCount>;

// One face for LandmarkNet::predict_all: the face inside `box` of the CV_8UC3 image `bgr`.
struct LandmarkRegion {
  cv::Mat bgr;
  Box box;
};

// Thread safety: predict(), predict_all() and predict_input() are const and safe to call from many
// threads.
class LandmarkNet {
 public:
  virtual ~LandmarkNet() = default;
  // Landmarks in original-image pixels for the face inside `box` of the CV_8UC3 image.
  Landmarks predict(const cv::Mat& bgr, const Box& box) const { return predict_all({{bgr, box}}).front(); }

  // predict() for each region, in order, with the net run over them in batches (util/batches.hpp):
  // a photo's faces and their mirror images cost less together than one call each.
  virtual std::vector<Landmarks> predict_all(const std::vector<LandmarkRegion>& regions) const = 0;

  // Runs the net alone on an already prepared kLandmarkInputSize² BGR input (CV_8UC3, or
  // CV_32FC3 holding 0..255 values), with no crop, padding or resize: what face-api's
  // FaceLandmark68Net.runNet sees for an input of exactly that size. For differential tests.
  virtual LandmarkRawOutput predict_input(const cv::Mat& bgr_112) const {
    (void)bgr_112;
    throw Error(ErrorCode::kInternal, "predict_input is not implemented by this LandmarkNet");
  }
};

// Landmarks in the pixel frame of the 112x112 input (raw * 112), as face-api reports them
// for an input of exactly that size.
Landmarks landmarks_in_input_frame(const LandmarkRawOutput& raw);

// The 68 iBUG points of a horizontally mirrored face, mapped back: point i of the result is
// the mirror image of the point that plays i's role on the other side (left eye <-> right
// eye, jaw left <-> jaw right), with x reflected across an image `image_width` wide.
Landmarks unmirror_landmarks(const Landmarks& mirrored, float image_width);

std::unique_ptr<LandmarkNet> make_landmark_net(const std::filesystem::path& models_dir, LandmarkKind kind);

}  // namespace siamface
