// The 112x112 chip of ArcFace-family networks: a similarity transform that puts five points
// (eye centres, nose tip, mouth corners) on the reference positions those networks were
// trained with (insightface's arcface_dst).
#pragma once

#include <opencv2/core.hpp>

#include "siamface/types.hpp"

namespace siamface {

inline constexpr int kArcFaceChipSize = 112;

// The five points, in the reference's order (image-left eye first), from 68 iBUG landmarks:
// the two eye centres (mean of 36-41 and 42-47), the nose tip (30), mouth corners 48 and 54.
std::array<Point, 5> arcface_points(const Landmarks& landmarks);

// 2x3 least-squares similarity (rotation, uniform scale, translation; no reflection) from the
// face's five points to the reference.
cv::Mat arcface_transform(const Landmarks& landmarks);

// The aligned 112x112 BGR chip (bilinear; outside the image is black).
// Thread safety: pure function.
cv::Mat extract_arcface_chip(const cv::Mat& bgr, const Landmarks& landmarks);

}  // namespace siamface
