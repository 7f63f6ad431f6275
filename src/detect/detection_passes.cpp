// The multi-pass detection policy (DetectOptions): upsampling, the border pass, the tiny
// detector's turn, and how their boxes are merged.
#include "detect/detection_passes.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace siamface {

namespace {

// Detections of several passes over one image as one list: NMS keeps the better-scored box of
// a face found more than once.
std::vector<RawDetection> suppress_repeats(const std::vector<RawDetection>& all) {
  std::vector<RawDetection> kept;
  for (const int i : non_max_suppression(all, 0.4F)) kept.push_back(all[i]);
  return kept;
}

std::vector<RawDetection> merge_passes(std::vector<RawDetection> first, const std::vector<RawDetection>& second) {
  first.insert(first.end(), second.begin(), second.end());
  return suppress_repeats(first);
}

// Small faces. The detectors shrink every image to a ~512 px square input, so a face that
// spans few pixels there is missed. Upsampling by `factor` makes the detector see the image
// `factor` times larger: a small image is enlarged whole (bicubic), a large one is cut into
// overlapping square tiles of side max(w, h) / factor, each detected on its own, and merged
// with the whole-image pass by NMS.
constexpr float kDetectorInputPx = 512.0F;
constexpr float kMaxUpsample = 4.0F;
constexpr float kTileOverlap = 0.3F;  // of the tile side; faces up to this size sit whole in a tile

float auto_upsample_factor(const cv::Mat& bgr) {
  const float factor = static_cast<float>(std::max(bgr.cols, bgr.rows)) / kDetectorInputPx;
  return factor >= 1.5F ? std::min(factor, kMaxUpsample) : 1.0F;
}

std::vector<RawDetection> detect_upsampled(const FaceDetector& detector, const cv::Mat& bgr, float min_score,
                                           float factor) {
  std::vector<RawDetection> all = detector.detect(bgr, min_score);
  const int long_side = std::max(bgr.cols, bgr.rows);
  if (long_side * factor <= 2 * kDetectorInputPx) {
    cv::Mat big;
    cv::resize(bgr, big, cv::Size(), factor, factor, cv::INTER_CUBIC);
    for (RawDetection d : detector.detect(big, min_score)) {
      d.box = {d.box.left / factor, d.box.top / factor, d.box.width / factor, d.box.height / factor};
      all.push_back(d);
    }
  } else {
    const int tile = std::max(32, static_cast<int>(std::ceil(long_side / factor)));
    const int stride = std::max(16, static_cast<int>(tile * (1.0F - kTileOverlap)));
    const auto starts = [&](int extent) {
      std::vector<int> s;
      for (int p = 0;; p += stride) {
        if (p + tile >= extent) {
          s.push_back(std::max(0, extent - tile));
          break;
        }
        s.push_back(p);
      }
      return s;
    };
    constexpr float kEdgePx = 2.0F;
    for (const int y : starts(bgr.rows)) {
      for (const int x : starts(bgr.cols)) {
        const cv::Rect rect(x, y, std::min(tile, bgr.cols - x), std::min(tile, bgr.rows - y));
        for (RawDetection d : detector.detect(bgr(rect), min_score)) {
          // A box cut by an inner tile edge is a partial face; a neighbour or the whole pass has it.
          const bool cut = (d.box.left < kEdgePx && x > 0) || (d.box.top < kEdgePx && y > 0) ||
                           (d.box.right() > rect.width - kEdgePx && rect.x + rect.width < bgr.cols) ||
                           (d.box.bottom() > rect.height - kEdgePx && rect.y + rect.height < bgr.rows);
          if (cut) continue;
          d.box.left += static_cast<float>(x);
          d.box.top += static_cast<float>(y);
          all.push_back(d);
        }
      }
    }
  }
  return suppress_repeats(all);
}

}  // namespace

bool border_pass_needed(const std::vector<Face>& faces, int width, int height) {
  // Crops and thumbnails (LFW's 250 px): always, as kAuto; the rule below cost LFW a pair there.
  if (std::max(width, height) <= kBorderPassCropMaxSide) return true;
  const float short_side = static_cast<float>(std::min(width, height));
  for (const Face& face : faces) {
    // NMS keeps the better-scored box of a face both passes find: an unsure first-pass face
    // may get its box from the framed pass (on LFW pasted into photos, skipping that moved a pair).
    if (face.score < kBorderPassSureScore) return true;
    const Box& box = face.box;
    const float margin = std::min({box.left, box.top, static_cast<float>(width) - box.right(),
                                   static_cast<float>(height) - box.bottom()});
    if (margin < 0.1F * short_side || std::max(box.width, box.height) > 0.25F * short_side) return true;
  }
  return false;
}

std::vector<RawDetection> detect_with_passes(const FaceDetector& detector, const FaceDetector* fallback, const cv::Mat& bgr,
                                       const DetectOptions& options) {
  const float min_score = options.min_score >= 0 ? options.min_score : detector.default_min_score();
  const float upsample = options.upsample > 0 ? std::min(options.upsample, kMaxUpsample) : auto_upsample_factor(bgr);
  std::vector<RawDetection> raw = upsample > 1.0F ? detect_upsampled(detector, bgr, min_score, upsample)
                                                  : detector.detect(bgr, min_score);
  const bool small_image = std::max(bgr.cols, bgr.rows) <= kBorderPassAlwaysMaxSide;
  bool border_always = options.border_pass == BorderPass::kAlways ||
                       (options.border_pass == BorderPass::kAuto && small_image);
  if (options.border_pass == BorderPass::kNeeded && small_image && !raw.empty()) {
    std::vector<Face> first_pass(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      first_pass[i].box = raw[i].box;
      first_pass[i].score = raw[i].score;
    }
    border_always = border_pass_needed(first_pass, bgr.cols, bgr.rows);
  }
  if (border_always && !raw.empty()) {
    raw = merge_passes(raw, confirmed_border_detections(detect_with_border(detector, bgr, min_score), raw,
                                                        std::max(min_score, options.border_only_min_score)));
  }
  const bool border_when_empty = options.border_pass != BorderPass::kOff;
  if (raw.empty() && border_when_empty) raw = detect_with_border(detector, bgr, min_score);
  if (raw.empty() && options.tiny_fallback && fallback) {
    const float fallback_min_score = options.min_score >= 0 ? options.min_score : fallback->default_min_score();
    raw = fallback->detect(bgr, fallback_min_score);
    if (raw.empty() && border_when_empty) raw = detect_with_border(*fallback, bgr, fallback_min_score);
  }
  raw = drop_nested_detections(raw);
  if (options.max_faces > 0 && static_cast<int>(raw.size()) > options.max_faces) raw.resize(options.max_faces);
  return raw;
}

}  // namespace siamface
