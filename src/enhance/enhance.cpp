#include "enhance/enhance.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>
#include <sstream>

#include "align/face_chip.hpp"
#include "siamface/errors.hpp"

namespace siamface {

namespace {

// auto_enhancement thresholds, set from chip measures of clean vs degraded LFW (docs/accuracy.md
// "Poor and small faces"): clean LFW chips sit well inside them.
constexpr float kDarkBrightness = 55.0F;  // below: gamma
constexpr float kFlatContrast = 28.0F;    // below (after a dark face): clahe too
constexpr float kNoisySigma = 2.5F;       // above: denoise
constexpr float kBlurredSharpness = 12.0F;  // below: sharpen
constexpr float kTargetBrightness = 115.0F;
constexpr double kDetectionBlurSigma = 1.2;  // before brightening a dark photo for detection

void require_bgr(const cv::Mat& bgr, const char* step) {
  if (bgr.type() != CV_8UC3) {
    throw Error(ErrorCode::kInvalidArgument, std::string(step) + ": expected an 8-bit BGR image");
  }
}

}  // namespace

Enhancement parse_enhancement(const std::string& spec) {
  Enhancement e;
  if (spec.empty() || spec == "off" || spec == "none") return e;
  std::string token;
  std::istringstream in(spec);
  while (std::getline(in, token, spec.find(',') != std::string::npos ? ',' : '+')) {
    if (token == "auto") e.automatic = true;
    else if (token == "denoise") e.denoise = true;
    else if (token == "gamma") e.gamma = true;
    else if (token == "clahe") e.clahe = true;
    else if (token == "sharpen") e.sharpen = true;
    else throw Error(ErrorCode::kInvalidArgument, "unknown enhancement '" + token + "' in '" + spec +
                                                      "' (expected off, auto, or denoise+gamma+clahe+sharpen)");
  }
  return e;
}

std::string to_string(const Enhancement& e) {
  if (e.automatic) return "auto";
  std::string out;
  const auto add = [&out](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += '+';
    out += name;
  };
  add(e.denoise, "denoise");
  add(e.gamma, "gamma");
  add(e.clahe, "clahe");
  add(e.sharpen, "sharpen");
  return out.empty() ? "off" : out;
}

Enhancement auto_enhancement(const FaceQuality& q) {
  Enhancement e;
  e.denoise = q.noise > kNoisySigma;
  e.gamma = q.brightness < kDarkBrightness;
  e.clahe = e.gamma && q.contrast < kFlatContrast;
  e.sharpen = !e.denoise && q.sharpness < kBlurredSharpness;
  return e;
}

cv::Mat denoise_nlm(const cv::Mat& bgr, float noise_sigma) {
  require_bgr(bgr, "denoise");
  const float h = std::clamp(noise_sigma, 3.0F, 15.0F);
  cv::Mat out;
  cv::fastNlMeansDenoisingColored(bgr, out, h, h, 5, 15);
  return out;
}

cv::Mat auto_gamma(const cv::Mat& bgr, float brightness) {
  require_bgr(bgr, "gamma");
  const double mean = std::clamp(static_cast<double>(brightness), 2.0, 253.0) / 255.0;
  // out = in^g with mean^g = target, clamped so a nearly black face is not blown up.
  const double g = std::clamp(std::log(kTargetBrightness / 255.0) / std::log(mean), 0.3, 3.0);
  cv::Mat lut(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) lut.at<uchar>(i) = cv::saturate_cast<uchar>(255.0 * std::pow(i / 255.0, g));
  cv::Mat out;
  cv::LUT(bgr, lut, out);
  return out;
}

cv::Mat clahe_luminance(const cv::Mat& bgr) {
  require_bgr(bgr, "clahe");
  cv::Mat lab;
  cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
  std::vector<cv::Mat> planes;
  cv::split(lab, planes);
  const int tiles = std::clamp(std::min(bgr.cols, bgr.rows) / 40, 2, 8);
  cv::Ptr<cv::CLAHE> clahe = cv::createCLAHE(2.0, cv::Size(tiles, tiles));
  clahe->apply(planes[0], planes[0]);
  cv::merge(planes, lab);
  cv::Mat out;
  cv::cvtColor(lab, out, cv::COLOR_Lab2BGR);
  return out;
}

cv::Mat unsharp_mask(const cv::Mat& bgr, double sigma_px, double amount) {
  require_bgr(bgr, "sharpen");
  cv::Mat blurred;
  cv::GaussianBlur(bgr, blurred, cv::Size(), sigma_px);
  cv::Mat out;
  cv::addWeighted(bgr, 1.0 + amount, blurred, -amount, 0.0, out);
  return out;
}

cv::Mat enhance(const cv::Mat& bgr, const Enhancement& enhancement, const FaceQuality& quality) {
  require_bgr(bgr, "enhance");
  const Enhancement steps = enhancement.automatic ? auto_enhancement(quality) : enhancement;
  cv::Mat out = bgr;
  if (steps.denoise) out = denoise_nlm(out, quality.noise);
  if (steps.gamma) out = auto_gamma(out, quality.brightness);
  if (steps.clahe) out = clahe_luminance(out);
  if (steps.sharpen) out = unsharp_mask(out);
  return out.data == bgr.data ? bgr.clone() : out;
}

cv::Mat enhance_for_detection(const cv::Mat& bgr) {
  require_bgr(bgr, "enhance");
  if (bgr.empty()) return bgr;
  // Brightness on a copy at most 256 px long: it barely changes with scale.
  const double shrink = std::min(1.0, 256.0 / std::max(bgr.cols, bgr.rows));
  cv::Mat small = bgr, grey;
  if (shrink < 1.0) cv::resize(bgr, small, cv::Size(), shrink, shrink, cv::INTER_AREA);
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  const auto brightness = static_cast<float>(cv::mean(grey)[0]);
  if (brightness >= kDarkBrightness) return bgr;
  // Gamma lifts the noise in the shadows with the faces, so smooth first; the chips are still
  // cut from the original. A Gaussian, not non-local means: on a whole photo NLM costs seconds,
  // and it measured worse (docs/accuracy.md "Poor and small faces").
  cv::Mat out;
  cv::GaussianBlur(bgr, out, cv::Size(), kDetectionBlurSigma);
  return clahe_luminance(auto_gamma(out, brightness));
}

double chip_source_scale(const Landmarks& landmarks) {
  const cv::Mat m = face_chip_transform(landmarks);  // source -> chip
  const double chip_per_source = std::hypot(m.at<double>(0, 0), m.at<double>(1, 0));
  return chip_per_source > 0 ? 1.0 / chip_per_source : 1.0;
}

cv::Mat extract_chip_sampled(const cv::Mat& bgr, const Landmarks& landmarks, ChipSampling sampling) {
  if (sampling == ChipSampling::kDlib || chip_source_scale(landmarks) >= 1.0) {
    return extract_face_chip(bgr, landmarks);
  }
  if (sampling == ChipSampling::kSharpened) {
    // Pre-sharpen the source region at its own scale, then dlib's sampler.
    return extract_face_chip(unsharp_mask(bgr, 1.0, 0.7), landmarks);
  }
  const cv::Mat m = face_chip_transform(landmarks);
  const int flags = sampling == ChipSampling::kBicubic ? cv::INTER_CUBIC
                    : sampling == ChipSampling::kLanczos ? cv::INTER_LANCZOS4
                                                         : cv::INTER_AREA;
  cv::Mat chip;
  cv::warpAffine(bgr, chip, m, cv::Size(kChipSize, kChipSize), flags, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
  return chip;
}

}  // namespace siamface
