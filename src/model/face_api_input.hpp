// The per-face input of face-api's 112-px nets (landmarks, age/gender, expression): the crop
// of dom/extractFaceTensors.ts, then NetInput.toBatchTensor (ops/padToSquare.ts centred,
// tf.image.resizeBilinear) and the mean-RGB normalisation of their forwardInput.
#pragma once

#include <opencv2/core.hpp>

#include "siamface/types.hpp"

namespace siamface {

inline constexpr int kFaceApiInputSize = 112;

// The crop face-api takes for `box`: Box.clipAtImageBorders, then floor of x, y, width and
// height. Throws Error(kInvalidArgument), prefixed by `stage`, for an image that is not a
// non-empty CV_8UC3 or a box outside it.
cv::Rect face_api_crop(const cv::Mat& bgr, const Box& box, const char* stage);

// Writes the 3 x 112 x 112 normalised RGB planes of a BGR image of any size (CV_8UC3, or
// CV_32FC3 holding 0..255) at `planes`.
void write_face_api_input(const cv::Mat& bgr, float* planes);

// An N x 3 x 112 x 112 float blob.
cv::Mat make_face_api_blob(int batch);

}  // namespace siamface
