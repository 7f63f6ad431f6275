// Alignment: the same 150x150 chip as dlib's get_face_chip_details(shape, 150, 0.25) followed
// by extract_image_chip, which is what the recognition network was trained on.
#pragma once

#include <opencv2/core.hpp>

#include "siamface/types.hpp"

namespace siamface {

// 2x3 affine matrix (CV_64F) mapping original-image pixels to chip pixels.
cv::Mat face_chip_transform(const Landmarks& landmarks, int chip_size = kChipSize, double padding = 0.25);

// dlib's mean-face template in chip pixels: where get_face_chip_details sends points 17..67.
// Points 0..16 (the jaw) are not part of the template and are left at (0, 0); dlib fits
// only 27..54 and 60..64 of it.
Landmarks face_chip_template(int chip_size = kChipSize, double padding = 0.25);

// The aligned CV_8UC3 chip.
cv::Mat extract_face_chip(const cv::Mat& bgr, const Landmarks& landmarks, int chip_size = kChipSize,
                          double padding = 0.25);

}  // namespace siamface
