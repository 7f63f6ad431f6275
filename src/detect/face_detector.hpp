// The detector stage: finds face boxes in a BGR image.
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "siamface/types.hpp"

namespace siamface {

struct RawDetection {
  Box box;  // original-image pixels, clipped to the image
  float score = 0.0F;
};

// Thread safety: detect() is const and safe to call from many threads.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  // `bgr` is CV_8UC3. Returns detections with score >= min_score after NMS, best first.
  virtual std::vector<RawDetection> detect(const cv::Mat& bgr, float min_score) const = 0;
  // The same with the network run at a square input of `input_size` px instead of its own. Only
  // the SSD supports other sizes (the others ignore it), and only for study: its boxes shrink
  // with the input (the same face: 119x139 px at 512, 78x94 at 384, 53x63 at 256), so the
  // pipeline keeps 512 (docs/speed-history.md, "Candidates measured and not taken").
  virtual std::vector<RawDetection> detect_at(const cv::Mat& bgr, float min_score, int input_size) const {
    (void)input_size;
    return detect(bgr, min_score);
  }
  virtual float default_min_score() const = 0;
};

std::unique_ptr<FaceDetector> make_ssd_mobilenet_detector(const std::filesystem::path& models_dir);

// The SSD's anchors (y0, x0, y1, x1 relative to the square input, 4 floats each) for a network
// input of `input_size` px: the shipped table (Output/extra_dim) at its own 512, otherwise the
// same per-layer anchor shapes centred on the cells of that input's feature maps, as the TF
// grid anchor generator places them. For tests: the generator at 512 reproduces the table.
std::vector<float> ssd_anchors_for_input(const std::filesystem::path& models_dir, int input_size,
                                         bool from_generator = false);
std::unique_ptr<FaceDetector> make_tiny_face_detector(const std::filesystem::path& models_dir);
std::unique_ptr<FaceDetector> make_haar_detector(const std::filesystem::path& models_dir);
// Ultra-Light RFB-320 (faceplugin's fr_detect.onnx): much faster than the SSD (docs/speed.md,
// "RFB as the default"; bench/fast_detector_study_bench.cpp).
inline constexpr const char* kRfbDetectorFile = "faceplugin_fr_detect.onnx";
std::unique_ptr<FaceDetector> make_rfb_detector(const std::filesystem::path& models_dir);

// The border pass: detects on the image framed by a grey border of half its size (detectors
// trained on faces with context miss a face filling a tight crop) and maps the boxes back,
// clipped to the image; a box whose centre falls on the border is dropped.
std::vector<RawDetection> detect_with_border(const FaceDetector& detector, const cv::Mat& bgr, float min_score);

// Border-pass detections beside a non-empty first pass: one that repeats a first-pass face
// (IoU > 0.3) is kept, for NMS to pick the better box; a new one must clear
// `new_face_min_score` (DetectOptions::border_only_min_score).
std::vector<RawDetection> confirmed_border_detections(const std::vector<RawDetection>& border,
                                                      const std::vector<RawDetection>& first,
                                                      float new_face_min_score);

// Greedy non-maximum suppression; returns kept indices, best score first.
std::vector<int> non_max_suppression(const std::vector<RawDetection>& detections, float iou_threshold);

// `detections` without those lying at least `inside_fraction` of their area inside a larger,
// better-scored box: a face cannot hold another face, so such a box is a part of that face (RFB
// scores an eye region 0.72-0.79 inside a tight crop's face, which IoU-based NMS keeps: IoU 0.19).
inline constexpr float kNestedDetectionFraction = 0.8F;
std::vector<RawDetection> drop_nested_detections(const std::vector<RawDetection>& detections,
                                                 float inside_fraction = kNestedDetectionFraction);

}  // namespace siamface
