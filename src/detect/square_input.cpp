#include "detect/square_input.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include <opencv2/imgproc.hpp>

#include "siamface/errors.hpp"

namespace siamface {

cv::Mat square_rgb_input(const cv::Mat& bgr, int input_size) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw Error(ErrorCode::kInvalidImage, "face detector needs a non-empty 8-bit BGR image");
  }
  const int side = std::max(bgr.cols, bgr.rows);
  if (side == input_size) {
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    cv::Mat square;
    cv::copyMakeBorder(rgb, square, 0, side - rgb.rows, 0, side - rgb.cols, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    cv::Mat out;
    square.convertTo(out, CV_32FC3);
    return out;
  }

  // TF.js resizeBilinear, legacy mode: source = dest * (in / out), clamped to the last pixel
  // of the padded square. Pixels of the padding are read as 0 without materialising it, and
  // channels are read in RGB order straight from the BGR image: converting the whole photo first
  // costs more than the network on large photos, for the 512 x 512 samples it sees (docs/speed.md,
  // "Photo size and face count").
  const double ratio = static_cast<double>(side) / input_size;
  const std::size_t n = static_cast<std::size_t>(input_size);
  std::vector<int> x0(n), x1(n);
  std::vector<float> fx(n);
  for (std::size_t x = 0; x < n; ++x) {
    const double src = ratio * static_cast<double>(x);
    const int lo = std::max(0, static_cast<int>(std::floor(src)));
    x0[x] = lo;
    x1[x] = std::min(side - 1, static_cast<int>(std::ceil(src)));
    fx[x] = static_cast<float>(src - lo);
  }
  const std::vector<std::uint8_t> zero_row(static_cast<std::size_t>(side) * 3, 0);
  auto row_at = [&](int y) { return y < bgr.rows ? bgr.ptr<std::uint8_t>(y) : zero_row.data(); };
  auto pixel = [&](const std::uint8_t* row, int x, int rgb_channel) {
    return x < bgr.cols ? static_cast<float>(row[x * 3 + 2 - rgb_channel]) : 0.0F;
  };
  cv::Mat out(input_size, input_size, CV_32FC3);
  for (int y = 0; y < input_size; ++y) {
    const double src = ratio * y;
    const int y0 = std::max(0, static_cast<int>(std::floor(src)));
    const int y1 = std::min(side - 1, static_cast<int>(std::ceil(src)));
    const float fy = static_cast<float>(src - y0);
    const std::uint8_t* top = row_at(y0);
    const std::uint8_t* bottom = row_at(y1);
    float* dst = out.ptr<float>(y);
    for (std::size_t x = 0; x < n; ++x) {
      for (int c = 0; c < 3; ++c) {
        const float tl = pixel(top, x0[x], c), tr = pixel(top, x1[x], c);
        const float bl = pixel(bottom, x0[x], c), br = pixel(bottom, x1[x], c);
        const float t = tl + (tr - tl) * fx[x];
        const float b = bl + (br - bl) * fx[x];
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

cv::Mat nchw_blob(const cv::Mat& rgb, const float (&mean)[3], float divisor) {
  CV_Assert(rgb.type() == CV_32FC3);
  const int dims[] = {1, 3, rgb.rows, rgb.cols};
  cv::Mat blob(4, dims, CV_32F);
  const std::size_t plane = static_cast<std::size_t>(rgb.rows) * rgb.cols;
  float* dst = blob.ptr<float>();
  for (int row = 0; row < rgb.rows; ++row) {
    const float* src = rgb.ptr<float>(row);
    for (int col = 0; col < rgb.cols; ++col) {
      const std::size_t at = static_cast<std::size_t>(row) * rgb.cols + static_cast<std::size_t>(col);
      for (int c = 0; c < 3; ++c) dst[c * plane + at] = (src[col * 3 + c] - mean[c]) / divisor;
    }
  }
  return blob;
}

}  // namespace siamface
