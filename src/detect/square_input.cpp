#include "detect/square_input.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "siamface/errors.hpp"

namespace siamface {

cv::Mat square_rgb_input(const cv::Mat& bgr, int input_size) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw Error(ErrorCode::kInvalidImage, "face detector needs a non-empty 8-bit BGR image");
  }
  const int side = std::max(bgr.cols, bgr.rows);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  cv::Mat square;
  cv::copyMakeBorder(rgb, square, 0, side - bgr.rows, 0, side - bgr.cols, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  cv::Mat square_f;
  square.convertTo(square_f, CV_32FC3);
  if (side == input_size) return square_f;

  // TF.js resizeBilinear, legacy mode: source = dest * (in / out), clamped to the last pixel.
  const double ratio = static_cast<double>(side) / input_size;
  std::vector<int> x0(static_cast<std::size_t>(input_size)), x1(x0.size());
  std::vector<float> fx(x0.size());
  for (int x = 0; x < input_size; ++x) {
    const double src = ratio * x;
    const int lo = std::max(0, static_cast<int>(std::floor(src)));
    x0[static_cast<std::size_t>(x)] = lo;
    x1[static_cast<std::size_t>(x)] = std::min(side - 1, static_cast<int>(std::ceil(src)));
    fx[static_cast<std::size_t>(x)] = static_cast<float>(src - lo);
  }
  cv::Mat out(input_size, input_size, CV_32FC3);
  for (int y = 0; y < input_size; ++y) {
    const double src = ratio * y;
    const int y0 = std::max(0, static_cast<int>(std::floor(src)));
    const int y1 = std::min(side - 1, static_cast<int>(std::ceil(src)));
    const float fy = static_cast<float>(src - y0);
    const float* top = square_f.ptr<float>(y0);
    const float* bottom = square_f.ptr<float>(y1);
    float* dst = out.ptr<float>(y);
    for (int x = 0; x < input_size; ++x) {
      const std::size_t xi = static_cast<std::size_t>(x);
      for (int c = 0; c < 3; ++c) {
        const float tl = top[x0[xi] * 3 + c], tr = top[x1[xi] * 3 + c];
        const float bl = bottom[x0[xi] * 3 + c], br = bottom[x1[xi] * 3 + c];
        const float t = tl + (tr - tl) * fx[xi];
        const float b = bl + (br - bl) * fx[xi];
        dst[x * 3 + c] = t + (b - t) * fy;
      }
    }
  }
  return out;
}

cv::Size reshaped_size(cv::Size image, int input_size) {
  const double scale = static_cast<double>(input_size) / std::max(image.width, image.height);
  return {static_cast<int>(std::lround(image.width * scale)), static_cast<int>(std::lround(image.height * scale))};
}

}  // namespace siamface
