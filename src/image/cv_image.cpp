#include "image/cv_image.hpp"

#include <opencv2/imgproc.hpp>
#include <string>

#include "siamface/errors.hpp"

namespace siamface {

namespace {

void check_layout(const Image& image) {
  if (image.empty()) return;
  const auto expected =
      static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3U;
  if (image.bgr.size() != expected) {
    throw Error(ErrorCode::kInvalidArgument,
                "image buffer holds " + std::to_string(image.bgr.size()) + " bytes but " +
                    std::to_string(image.width) + "x" + std::to_string(image.height) +
                    " BGR needs " + std::to_string(expected));
  }
}

}  // namespace

cv::Mat as_mat(Image& image) {
  check_layout(image);
  if (image.empty()) return {};
  return cv::Mat(image.height, image.width, CV_8UC3, image.bgr.data());
}

cv::Mat as_mat(const Image& image) {
  check_layout(image);
  if (image.empty()) return {};
  // cv::Mat has no const view; the header comment forbids writing through it.
  return cv::Mat(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.bgr.data()));
}

Image from_mat(const cv::Mat& mat) {
  Image image;
  if (mat.empty()) return image;
  if (mat.dims != 2) throw Error(ErrorCode::kInvalidArgument, "from_mat: expected a 2-D Mat");

  cv::Mat eight_bit = mat;
  if (mat.depth() == CV_16U) {
    mat.convertTo(eight_bit, CV_8U, 1.0 / 257.0);  // 65535 -> 255
  } else if (mat.depth() != CV_8U) {
    throw Error(ErrorCode::kInvalidArgument,
                "from_mat: unsupported Mat depth " + std::to_string(mat.depth()));
  }

  image.width = mat.cols;
  image.height = mat.rows;
  image.bgr.resize(static_cast<std::size_t>(mat.cols) * static_cast<std::size_t>(mat.rows) * 3U);
  cv::Mat out(mat.rows, mat.cols, CV_8UC3, image.bgr.data());
  switch (eight_bit.channels()) {
    case 1: cv::cvtColor(eight_bit, out, cv::COLOR_GRAY2BGR); break;
    case 3: eight_bit.copyTo(out); break;
    case 4: cv::cvtColor(eight_bit, out, cv::COLOR_BGRA2BGR); break;
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "from_mat: unsupported channel count " + std::to_string(eight_bit.channels()));
  }
  // cvtColor/copyTo reallocate if sizes disagree; they do not here, so `out` still aliases.
  CV_Assert(out.data == image.bgr.data());
  return image;
}

}  // namespace siamface
