#include "model/face_api_input.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "siamface/errors.hpp"

namespace siamface {
namespace {

// NetInput mean subtraction in RGB order, then / 255 (FaceFeatureExtractor.forwardInput,
// TinyXception.forwardInput).
constexpr float kMeanRgb[3] = {122.782F, 117.001F, 104.298F};

// A BGR image of any size (Pixel: cv::Vec3b, or cv::Vec3f holding 0..255) -> one face's normalized
// RGB planes of an NCHW blob, after face-api's padToSquare(centered) and tf.image.resizeBilinear(alignCorners=false,
// halfPixelCenters=false). Reads only the pixels the 112 x 112 samples need: converting the whole
// crop to float RGB first is slow on large photos (docs/speed.md, "Photo size and face count").
template <typename Pixel>
void write_blob(const cv::Mat& bgr, float* planes) {
  const int height = bgr.rows, width = bgr.cols;
  const int side = std::max(height, width);
  // padToSquare: round(diff / 2) zeros appended after the image, the rest prepended.
  const int diff = side - std::min(height, width);
  const int prepend = diff - static_cast<int>(std::floor(diff * 0.5 + 0.5));
  const int offset_x = width < height ? prepend : 0;
  const int offset_y = height < width ? prepend : 0;

  // The pixel at (y, x) of the padded square image, or null in the zero padding.
  auto pixel_at = [&](int y, int x) -> const Pixel* {
    y -= offset_y;
    x -= offset_x;
    if (y < 0 || x < 0 || y >= height || x >= width) return nullptr;
    return &bgr.ptr<Pixel>(y)[x];
  };

  // The two source rows (or columns) and the weight of each output row (or column): the same
  // table serves both axes of the square. Computed once, not per pixel and channel.
  struct Tap {
    int near, far;
    double weight;
  };
  std::array<Tap, kFaceApiInputSize> taps{};
  const double ratio = static_cast<double>(side) / kFaceApiInputSize;
  for (int o = 0; o < kFaceApiInputSize; ++o) {
    const double f = ratio * o;
    const int near = static_cast<int>(std::floor(f));
    taps[o] = {near, std::min(side - 1, static_cast<int>(std::ceil(f))), f - near};
  }

  constexpr int kPlane = kFaceApiInputSize * kFaceApiInputSize;
  for (int oy = 0; oy < kFaceApiInputSize; ++oy) {
    const Tap& ty = taps[oy];
    for (int ox = 0; ox < kFaceApiInputSize; ++ox) {
      const Tap& tx = taps[ox];
      const Pixel* corners[4] = {pixel_at(ty.near, tx.near), pixel_at(ty.near, tx.far), pixel_at(ty.far, tx.near),
                                 pixel_at(ty.far, tx.far)};
      for (int ch = 0; ch < 3; ++ch) {
        float v[4];
        for (int k = 0; k < 4; ++k) v[k] = corners[k] ? static_cast<float>((*corners[k])[2 - ch]) : 0.0F;
        const double top = v[0] + (v[1] - v[0]) * tx.weight;
        const double bottom = v[2] + (v[3] - v[2]) * tx.weight;
        const float value = static_cast<float>(top + (bottom - top) * ty.weight);
        planes[ch * kPlane + oy * kFaceApiInputSize + ox] = (value - kMeanRgb[ch]) / 255.0F;
      }
    }
  }
}

}  // namespace

cv::Rect face_api_crop(const cv::Mat& bgr, const Box& box, const char* stage) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw Error(ErrorCode::kInvalidArgument, std::string(stage) + ": expected a non-empty CV_8UC3 image");
  }
  const double clipped_x = std::max<double>(box.left, 0.0);
  const double clipped_y = std::max<double>(box.top, 0.0);
  const double clipped_w = std::min<double>(box.right() - clipped_x, bgr.cols - clipped_x);
  const double clipped_h = std::min<double>(box.bottom() - clipped_y, bgr.rows - clipped_y);
  const cv::Rect crop(static_cast<int>(std::floor(clipped_x)), static_cast<int>(std::floor(clipped_y)),
                      static_cast<int>(std::floor(clipped_w)), static_cast<int>(std::floor(clipped_h)));
  if (crop.width <= 0 || crop.height <= 0) {
    throw Error(ErrorCode::kInvalidArgument, std::string(stage) + ": the face box lies outside the image");
  }
  return crop;
}

void write_face_api_input(const cv::Mat& bgr, float* planes) {
  if (bgr.depth() == CV_8U) {
    write_blob<cv::Vec3b>(bgr, planes);
  } else {
    write_blob<cv::Vec3f>(bgr, planes);
  }
}

cv::Mat make_face_api_blob(int batch) {
  const int dims[] = {batch, 3, kFaceApiInputSize, kFaceApiInputSize};
  return cv::Mat(4, dims, CV_32F);
}

}  // namespace siamface
