// Bridges between the public Image (plain BGR bytes) and cv::Mat. Every OpenCV-using stage
// goes through these two functions so the layout rules live in one place.
// Thread safety: pure functions; safe to call concurrently.
#pragma once

#include <opencv2/core.hpp>

#include "siamface/types.hpp"

namespace siamface {

// Wraps the image's pixels as a CV_8UC3 Mat without copying. The Mat aliases image.bgr, so it
// is valid only while the image lives and is not resized. The const overload exists for
// read-only consumers: writing through its result is a bug. Throws Error(kInvalidArgument)
// if bgr.size() != width * height * 3. An empty image gives an empty Mat.
cv::Mat as_mat(Image& image);
cv::Mat as_mat(const Image& image);

// Copies a Mat into an Image. Accepts 8-bit grey, BGR and BGRA (alpha dropped) and 16-bit
// versions of those (scaled to 8 bits); any stride. Throws Error(kInvalidArgument) otherwise.
Image from_mat(const cv::Mat& mat);

}  // namespace siamface
