// Deterministic enhancement steps for face chips or whole images, and the chip sampler for
// small faces. Thread safety: pure functions of their inputs; safe to call concurrently.
#pragma once

#include <opencv2/core.hpp>

#include "siamface/enhance.hpp"
#include "siamface/types.hpp"

namespace siamface {

// Each step: CV_8UC3 in, same size and type out, same output for the same input.
cv::Mat denoise_nlm(const cv::Mat& bgr, float noise_sigma);  // strength follows the noise
cv::Mat auto_gamma(const cv::Mat& bgr, float brightness);     // maps mean luminance to ~mid-grey
cv::Mat clahe_luminance(const cv::Mat& bgr);
cv::Mat unsharp_mask(const cv::Mat& bgr, double sigma_px = 1.5, double amount = 1.0);

// Runs the steps `enhancement` names (or auto_enhancement(quality) when automatic), in the
// order denoise, gamma, clahe, sharpen. `quality` describes `bgr` (for a chip:
// measure_chip_quality, src/pipeline/face_quality.hpp).
cv::Mat enhance(const cv::Mat& bgr, const Enhancement& enhancement, const FaceQuality& quality);

// What `auto` does to a whole photo before detection: a dark photo (mean luminance of a
// downscaled copy below the dark threshold) is smoothed (Gaussian, sigma 1.2),
// brightened with gamma and equalised with CLAHE, so the detector and the landmark net find
// the faces; any other photo comes back as is (the same data, untouched). Each chip is still
// measured and enhanced on its own afterwards.
cv::Mat enhance_for_detection(const cv::Mat& bgr);

// The chip for a face; `sampling` is used only when the face is smaller than the chip.
cv::Mat extract_chip_sampled(const cv::Mat& bgr, const Landmarks& landmarks, ChipSampling sampling);

// Source pixels per chip pixel for these landmarks (< 1: the chip upsamples the face).
double chip_source_scale(const Landmarks& landmarks);

}  // namespace siamface
