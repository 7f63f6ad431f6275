// Synthetic degradations for measuring poor-image robustness (eval lfw --degrade).
// Thread safety: pure functions of their inputs (noise comes from a local seeded RNG).
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace siamface {

enum class Degradation {
  kNone,
  kDownscale3,  // area-downscale by 3, bilinear back to the original size
  kDownscale4,
  kDownscale6,
  kBlur1_5,     // Gaussian blur, sigma 1.5 px
  kBlur3,       // sigma 3 px
  kLowLight,    // gamma 2.2, brightness x0.35, Gaussian noise sigma 8
  kJpeg10,      // JPEG quality 10
  kMotion9,     // horizontal motion blur over 9 px
  kSmall3,      // downscale by 3 and keep the small size (detection recall on small faces)
  kSmall4,
  kSmall6,
};

// "none", "down3", "down4", "down6", "blur1.5", "blur3", "lowlight", "jpeg10", "motion9",
// "small3", "small4", "small6". Throws Error(kInvalidArgument).
Degradation parse_degradation(const std::string& name);
const char* to_string(Degradation degradation);
std::vector<Degradation> all_degradations();  // the eight modes (not kNone/kSmall*)

// CV_8UC3 in and out; same size except kSmall*. The same (image, mode, seed) always gives
// the same output.
cv::Mat degrade(const cv::Mat& bgr, Degradation degradation, std::uint64_t seed);

// A stable seed for a file (FNV-1a of its path), so both runs of a pair see the same noise.
std::uint64_t seed_for(const std::string& key);

}  // namespace siamface
