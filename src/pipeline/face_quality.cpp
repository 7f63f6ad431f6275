#include "pipeline/face_quality.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <utility>

#include "siamface/errors.hpp"

namespace siamface {

namespace {

constexpr int kSharpnessHeightPx = 100;
constexpr int kGreyTolerance = 6;         // JPEG chroma rounding stays well below this
constexpr int kGreySamplesPerAxis = 256;  // at most 256x256 samples per image

cv::Rect clip_box(const Box& box, const cv::Size& size) {
  const int left = static_cast<int>(std::floor(std::max(box.left, 0.0F)));
  const int top = static_cast<int>(std::floor(std::max(box.top, 0.0F)));
  const int right =
      static_cast<int>(std::ceil(std::min(box.right(), static_cast<float>(size.width))));
  const int bottom =
      static_cast<int>(std::ceil(std::min(box.bottom(), static_cast<float>(size.height))));
  if (right <= left || bottom <= top) return {};
  return {left, top, right - left, bottom - top};
}

float sharpness_of(const cv::Mat& grey) {
  const int height = kSharpnessHeightPx;
  const int width = std::max(
      1, static_cast<int>(std::lround(static_cast<double>(grey.cols) * height / grey.rows)));
  cv::Mat resized;
  const int interpolation = grey.rows > height ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::resize(grey, resized, cv::Size(width, height), 0, 0, interpolation);
  cv::Mat laplacian;
  cv::Laplacian(resized, laplacian, CV_64F);
  cv::Scalar mean;
  cv::Scalar stddev;
  cv::meanStdDev(laplacian, mean, stddev);
  return static_cast<float>(stddev[0] * stddev[0]);
}

// Immerkaer, "Fast Noise Variance Estimation", CVIU 1996: convolve with the difference of two
// Laplacians (which cancels image structure to first order) and take the mean absolute value.
float noise_sigma_of(const cv::Mat& grey) {
  if (grey.rows < 3 || grey.cols < 3) return 0.0F;
  const cv::Mat kernel = (cv::Mat_<float>(3, 3) << 1, -2, 1, -2, 4, -2, 1, -2, 1);
  cv::Mat response;
  cv::filter2D(grey, response, CV_32F, kernel);
  const cv::Mat inner = response(cv::Rect(1, 1, grey.cols - 2, grey.rows - 2));
  const double sum_abs = cv::norm(inner, cv::NORM_L1);
  const double pixels = static_cast<double>(grey.cols - 2) * (grey.rows - 2);
  return static_cast<float>(std::sqrt(std::numbers::pi / 2.0) * sum_abs / (6.0 * pixels));
}

// Where `x` lies between `a` and `b` (any order), mapped to -1 (at the left end) .. 1.
std::optional<float> relative_position(float x, float a, float b) {
  const float lo = std::min(a, b);
  const float hi = std::max(a, b);
  if (hi - lo < 1e-3F) return std::nullopt;
  return std::clamp(2.0F * (x - lo) / (hi - lo) - 1.0F, -1.0F, 1.0F);
}

float yaw_of(const Landmarks& lm) {
  const bool unset =
      std::all_of(lm.begin(), lm.end(), [](const Point& p) { return p.x == 0.0F && p.y == 0.0F; });
  if (unset) return 0.0F;
  // Positions along the line between the eye centres, so a tilted (rolled) head does not
  // read as a turned one.
  Point right_eye, left_eye;
  for (int i = 0; i < 6; ++i) {
    right_eye.x += lm[36 + i].x / 6;
    right_eye.y += lm[36 + i].y / 6;
    left_eye.x += lm[42 + i].x / 6;
    left_eye.y += lm[42 + i].y / 6;
  }
  float ux = left_eye.x - right_eye.x, uy = left_eye.y - right_eye.y;
  const float length = std::sqrt(ux * ux + uy * uy);
  if (length <= 0.0F) return 0.0F;
  ux /= length;
  uy /= length;
  if (ux < 0) {  // keep "positive = towards the image's right" for upright and tilted faces
    ux = -ux;
    uy = -uy;
  }
  const auto along = [&](int i) { return lm[i].x * ux + lm[i].y * uy; };
  const float nose = along(30);
  float sum = 0.0F;
  int count = 0;
  for (const auto& [a, b] : {std::pair{0, 16}, std::pair{36, 45}}) {
    if (const auto v = relative_position(nose, along(a), along(b))) {
      sum += *v;
      ++count;
    }
  }
  return count ? sum / static_cast<float>(count) : 0.0F;
}

}  // namespace

bool is_grayscale_image(const cv::Mat& bgr) {
  if (bgr.empty()) return false;
  if (bgr.channels() == 1) return true;
  CV_Assert(bgr.type() == CV_8UC3);
  const int step_x = std::max(1, bgr.cols / kGreySamplesPerAxis);
  const int step_y = std::max(1, bgr.rows / kGreySamplesPerAxis);
  for (int y = 0; y < bgr.rows; y += step_y) {
    const auto* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; x += step_x) {
      const cv::Vec3b& p = row[x];
      if (std::abs(p[0] - p[1]) > kGreyTolerance || std::abs(p[1] - p[2]) > kGreyTolerance) {
        return false;
      }
    }
  }
  return true;
}

FaceQuality measure_face_quality(const cv::Mat& bgr, const Face& face) {
  if (bgr.type() != CV_8UC3 && bgr.type() != CV_8UC1) {
    throw Error(ErrorCode::kInvalidArgument, "measure_face_quality: expected an 8-bit BGR image");
  }
  FaceQuality quality;
  quality.face_size_px = std::max(0.0F, std::min(face.box.width, face.box.height));
  quality.yaw = yaw_of(face.landmarks);
  quality.grayscale = is_grayscale_image(bgr);

  const cv::Rect region = clip_box(face.box, bgr.size());
  if (region.area() == 0) return quality;
  cv::Mat grey;
  if (bgr.channels() == 3) {
    cv::cvtColor(bgr(region), grey, cv::COLOR_BGR2GRAY);
  } else {
    grey = bgr(region).clone();
  }
  cv::Scalar mean;
  cv::Scalar stddev;
  cv::meanStdDev(grey, mean, stddev);
  quality.brightness = static_cast<float>(mean[0]);
  quality.contrast = static_cast<float>(stddev[0]);
  quality.sharpness = sharpness_of(grey);
  quality.noise = noise_sigma_of(grey);
  return quality;
}

FaceQuality measure_chip_quality(const cv::Mat& chip, float source_face_size_px) {
  Face face;
  // The chip's face region (dlib padding 0.25 puts the face in the central 2/3).
  const float side = static_cast<float>(std::min(chip.cols, chip.rows));
  face.box = {side / 6, side / 6, side * 2 / 3, side * 2 / 3};
  FaceQuality q = measure_face_quality(chip, face);
  q.face_size_px = source_face_size_px;
  return q;
}

}  // namespace siamface
