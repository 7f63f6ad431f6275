#include "pipeline/augmented_chips.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>

#include "align/arcface_chip.hpp"
#include "enhance/enhance.hpp"
#include "image/cv_image.hpp"
#include "pipeline/face_quality.hpp"

namespace siamface {

namespace {

// +-3 degrees measured best of the rotations, scales and shifts tried on full LFW
// (bench/lfw_tta_bench.cpp; docs/accuracy.md).
constexpr double kRotationDegrees = 3.0;

}  // namespace

Landmarks rotate_landmarks(const Landmarks& landmarks, double degrees) {
  double cx = 0, cy = 0;
  for (const Point& p : landmarks) cx += p.x, cy += p.y;
  cx /= static_cast<double>(landmarks.size());
  cy /= static_cast<double>(landmarks.size());
  const double radians = degrees * CV_PI / 180.0, c = std::cos(radians), s = std::sin(radians);
  Landmarks out;
  for (std::size_t i = 0; i < landmarks.size(); ++i) {
    const double dx = landmarks[i].x - cx, dy = landmarks[i].y - cy;
    out[i] = {static_cast<float>(cx + c * dx - s * dy), static_cast<float>(cy + s * dx + c * dy)};
  }
  return out;
}

std::size_t chip_count(EmbedAugmentation augmentation) {
  switch (augmentation) {
    case EmbedAugmentation::kNone: return 1;
    case EmbedAugmentation::kFlip: return 2;
    case EmbedAugmentation::kFlipRotate: return 6;
  }
  return 1;
}

namespace {

// The views of one face in the documented order: per placement (as detected, then turned +3
// and -3 degrees under kFlipRotate) the chip `cut` makes, then its mirror unless kNone.
template <typename CutChip>
std::vector<cv::Mat> augmented_views(const Landmarks& landmarks, EmbedAugmentation augmentation, CutChip cut) {
  std::vector<Landmarks> placements = {landmarks};
  if (augmentation == EmbedAugmentation::kFlipRotate) {
    placements.push_back(rotate_landmarks(landmarks, kRotationDegrees));
    placements.push_back(rotate_landmarks(landmarks, -kRotationDegrees));
  }
  std::vector<cv::Mat> chips;
  chips.reserve(chip_count(augmentation));
  for (const Landmarks& placement : placements) {
    cv::Mat chip = cut(placement);
    chips.push_back(chip);
    if (augmentation != EmbedAugmentation::kNone) {
      cv::Mat mirrored;
      cv::flip(chip, mirrored, 1);
      chips.push_back(mirrored);
    }
  }
  return chips;
}

}  // namespace

std::vector<cv::Mat> augmented_chips(const cv::Mat& bgr, const Landmarks& landmarks, float face_size_px,
                                     ChipSampling sampling, const Enhancement& enhancement,
                                     EmbedAugmentation augmentation) {
  return augmented_views(landmarks, augmentation, [&](const Landmarks& placement) {
    cv::Mat chip = extract_chip_sampled(bgr, placement, sampling);
    if (enhancement.any()) chip = enhance(chip, enhancement, measure_chip_quality(chip, face_size_px));
    return chip;
  });
}

ChipEnhancement chip_enhancement(const Image& image, const Face& face, const ChipOptions& chip) {
  // The first view of augmented_chips: the chip itself, measured before it is enhanced.
  const cv::Mat sampled = extract_chip_sampled(as_mat(image), face.landmarks, chip.small_face_sampling);
  const FaceQuality quality = measure_chip_quality(sampled, std::min(face.box.width, face.box.height));
  return {quality, chip.enhancement.automatic ? auto_enhancement(quality) : chip.enhancement};
}

std::vector<cv::Mat> augmented_arcface_chips(const cv::Mat& bgr, const Landmarks& landmarks,
                                             EmbedAugmentation augmentation) {
  return augmented_views(landmarks, augmentation,
                         [&](const Landmarks& placement) { return extract_arcface_chip(bgr, placement); });
}

Embedding mean_embedding(const std::vector<Embedding>& embeddings, std::size_t first, std::size_t count) {
  Embedding mean(embeddings.at(first).size(), 0.0F);
  for (std::size_t i = first; i < first + count; ++i)
    for (std::size_t k = 0; k < mean.size(); ++k) mean[k] += embeddings[i][k];
  for (float& v : mean) v /= static_cast<float>(count);
  return mean;
}

}  // namespace siamface
