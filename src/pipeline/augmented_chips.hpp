// The chips of one face as the engine cuts them. Test-time augmentation
// (ChipOptions::augmentation): the chips whose embeddings are averaged. Shared by Engine,
// `eval lfw` and `detect --enhance`, so the evaluation and the report show exactly what the
// engine does.
#pragma once

#include <cstddef>
#include <vector>

#include <opencv2/core.hpp>

#include "siamface/options.hpp"
#include "siamface/enhance.hpp"
#include "siamface/types.hpp"

namespace siamface {

// The landmarks turned by `degrees` about their mean: the chip cut from them is the face
// turned the other way.
Landmarks rotate_landmarks(const Landmarks& landmarks, double degrees);

// How many chips an augmentation uses: 1, 2 or 6.
std::size_t chip_count(EmbedAugmentation augmentation);

// The chips, each sampled with `sampling` and then enhanced per `enhancement` (measured on
// itself; `face_size_px` is the source face size). Order: the chip, its mirror, then per
// rotation (+3, -3 degrees) the rotated chip and its mirror, so the first chip_count(kNone)
// and chip_count(kFlip) chips of kFlipRotate are the sets of the smaller augmentations.
std::vector<cv::Mat> augmented_chips(const cv::Mat& bgr, const Landmarks& landmarks, float face_size_px,
                                     ChipSampling sampling, const Enhancement& enhancement,
                                     EmbedAugmentation augmentation);

// What the chip of `face` (cut per `chip`, as align/embed cut it) measures before enhancement,
// and the steps it then gets (auto_enhancement of those measures under `auto`): the report of
// `siamface detect --enhance`.
struct ChipEnhancement {
  FaceQuality quality;
  Enhancement steps;
};
ChipEnhancement chip_enhancement(const Image& image, const Face& face, const ChipOptions& chip);

// The same views as 112x112 ArcFace chips for the MobileFaceNet (no chip enhancement: it was
// measured for the dlib chips only), in the same order.
std::vector<cv::Mat> augmented_arcface_chips(const cv::Mat& bgr, const Landmarks& landmarks,
                                             EmbedAugmentation augmentation);

// The element-wise mean of embeddings[first, first + count).
Embedding mean_embedding(const std::vector<Embedding>& embeddings, std::size_t first, std::size_t count);

}  // namespace siamface
