// Builds the square network input face-api makes from an image tensor (NetInput::toBatchTensor
// with isCenterInputs=false): zero-pad the short side at the bottom/right to a square, then
// resize with TF's bilinear kernel (align_corners=false, half_pixel_centers=false).
// OpenCV's INTER_LINEAR samples at half-pixel centres and quantises weights, so it would shift
// boxes and scores away from face-api's; the TF kernel is a few lines, written here.
#pragma once

#include <opencv2/core.hpp>

namespace siamface {

// `bgr` is CV_8UC3. Returns a CV_32FC3 RGB image, input_size x input_size, values 0..255.
cv::Mat square_rgb_input(const cv::Mat& bgr, int input_size);

// Packs a CV_32FC3 HWC image into a 1x3xHxW blob of (value - mean[c]) / divisor.
cv::Mat nchw_blob(const cv::Mat& rgb, const float (&mean)[3], float divisor);

// face-api's computeReshapedDimensions: the size the image occupies inside the square input.
cv::Size reshaped_size(cv::Size image, int input_size);

}  // namespace siamface
