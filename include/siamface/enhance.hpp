// Enhancement of poor face images (dark, noisy, blurred, small) before embedding.
#pragma once

#include <string>

#include "siamface/names.hpp"
#include "siamface/types.hpp"

namespace siamface {

// Which steps to apply; they run in a fixed order: denoise, gamma, clahe, sharpen.
// `automatic` picks the steps per face from its quality measures instead (auto_enhancement).
struct Enhancement {
  bool automatic = false;
  bool denoise = false;  // non-local means, strength from the measured noise
  bool gamma = false;    // gamma that brings the mean luminance to mid-grey
  bool clahe = false;    // contrast-limited adaptive histogram equalisation of luminance
  bool sharpen = false;  // unsharp mask

  bool any() const { return automatic || denoise || gamma || clahe || sharpen; }
};

// "off" | "auto" | steps joined by '+' or ',' ("gamma+clahe"). Throws Error(kInvalidArgument).
Enhancement parse_enhancement(const std::string& spec);
std::string to_string(const Enhancement& enhancement);

// The steps `auto` applies to a chip with these measures (measured on the chip itself, with
// face_size_px from the source). A clean, well-exposed face gets none.
Enhancement auto_enhancement(const FaceQuality& chip_quality);

// How the 150x150 chip is sampled when the face in the source is smaller than the chip
// (the chip upsamples it). Larger faces always use dlib's exact pyramid + bilinear path.
enum class ChipSampling { kDlib, kBicubic, kLanczos, kArea, kSharpened };
inline constexpr std::array<EnumName<ChipSampling>, 5> kChipSamplingNames{{{ChipSampling::kDlib, "dlib"},
                                                                         {ChipSampling::kBicubic, "bicubic"},
                                                                         {ChipSampling::kLanczos, "lanczos"},
                                                                         {ChipSampling::kArea, "area"},
                                                                         {ChipSampling::kSharpened, "sharpened"}}};
inline const char* to_string(ChipSampling value) { return name_of(kChipSamplingNames, value); }
inline ChipSampling parse_chip_sampling(const std::string& name) {
  return parse_name(kChipSamplingNames, name, "chip sampling");
}

}  // namespace siamface
