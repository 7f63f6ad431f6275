// The multi-pass detection policy: which passes of a detector DetectOptions asks for over one
// image, and how their boxes become one list. The engine calls it for its detector and, with
// the caller's passes, for the SSD that confirms a one-face call's subject.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "detect/face_detector.hpp"
#include "siamface/options.hpp"

namespace siamface {

// The boxes of `detector` over `bgr` (CV_8UC3), with the passes `options` asks for: upsampling
// (DetectOptions::upsample), the border pass (DetectOptions::border_pass, border_pass_needed),
// and, when nothing was found and `fallback` is given, the fallback detector
// (DetectOptions::tiny_fallback). Nested boxes are dropped, then max_faces applies.
// Thread safety: as the detectors' detect(): safe from many threads.
std::vector<RawDetection> detect_with_passes(const FaceDetector& detector, const FaceDetector* fallback,
                                             const cv::Mat& bgr, const DetectOptions& options);

}  // namespace siamface
