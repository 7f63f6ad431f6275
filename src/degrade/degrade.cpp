#include "degrade/degrade.hpp"

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "siamface/errors.hpp"

namespace siamface {

namespace {

constexpr std::pair<Degradation, const char*> kNames[] = {
    {Degradation::kNone, "none"},         {Degradation::kDownscale3, "down3"},
    {Degradation::kDownscale4, "down4"},  {Degradation::kDownscale6, "down6"},
    {Degradation::kBlur1_5, "blur1.5"},   {Degradation::kBlur3, "blur3"},
    {Degradation::kLowLight, "lowlight"}, {Degradation::kJpeg10, "jpeg10"},
    {Degradation::kMotion9, "motion9"},   {Degradation::kSmall3, "small3"},
    {Degradation::kSmall4, "small4"},     {Degradation::kSmall6, "small6"},
};

cv::Mat downscale(const cv::Mat& bgr, int factor, bool restore) {
  const cv::Size small(std::max(1, bgr.cols / factor), std::max(1, bgr.rows / factor));
  cv::Mat down;
  cv::resize(bgr, down, small, 0, 0, cv::INTER_AREA);
  if (!restore) return down;
  cv::Mat back;
  cv::resize(down, back, bgr.size(), 0, 0, cv::INTER_LINEAR);
  return back;
}

cv::Mat low_light(const cv::Mat& bgr, std::uint64_t seed) {
  cv::Mat lut(1, 256, CV_32F);
  for (int i = 0; i < 256; ++i) lut.at<float>(i) = static_cast<float>(255.0 * std::pow(i / 255.0, 2.2) * 0.35);
  cv::Mat dark;
  dark.create(bgr.size(), CV_32FC3);
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* in = bgr.ptr<cv::Vec3b>(y);
    auto* out = dark.ptr<cv::Vec3f>(y);
    for (int x = 0; x < bgr.cols; ++x)
      for (int c = 0; c < 3; ++c) out[x][c] = lut.at<float>(in[x][c]);
  }
  cv::Mat noise(bgr.size(), CV_32FC3);
  cv::RNG rng(seed);
  rng.fill(noise, cv::RNG::NORMAL, 0.0, 8.0);
  cv::Mat result;
  cv::add(dark, noise, dark);
  dark.convertTo(result, CV_8UC3);  // rounds and saturates
  return result;
}

}  // namespace

Degradation parse_degradation(const std::string& name) {
  for (const auto& [mode, text] : kNames)
    if (name == text) return mode;
  throw Error(ErrorCode::kInvalidArgument, "unknown degradation '" + name +
                                               "' (expected none, down3, down4, down6, blur1.5, blur3, "
                                               "lowlight, jpeg10, motion9, small3, small4 or small6)");
}

const char* to_string(Degradation degradation) {
  for (const auto& [mode, text] : kNames)
    if (mode == degradation) return text;
  return "none";
}

std::vector<Degradation> all_degradations() {
  return {Degradation::kDownscale3, Degradation::kDownscale4, Degradation::kDownscale6,
          Degradation::kBlur1_5,    Degradation::kBlur3,      Degradation::kLowLight,
          Degradation::kJpeg10,     Degradation::kMotion9};
}

cv::Mat degrade(const cv::Mat& bgr, Degradation degradation, std::uint64_t seed) {
  if (bgr.type() != CV_8UC3 || bgr.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "degrade: expected a non-empty 8-bit BGR image");
  }
  cv::Mat out;
  switch (degradation) {
    case Degradation::kNone: return bgr.clone();
    case Degradation::kDownscale3: return downscale(bgr, 3, true);
    case Degradation::kDownscale4: return downscale(bgr, 4, true);
    case Degradation::kDownscale6: return downscale(bgr, 6, true);
    case Degradation::kSmall3: return downscale(bgr, 3, false);
    case Degradation::kSmall4: return downscale(bgr, 4, false);
    case Degradation::kSmall6: return downscale(bgr, 6, false);
    case Degradation::kBlur1_5: cv::GaussianBlur(bgr, out, cv::Size(), 1.5); return out;
    case Degradation::kBlur3: cv::GaussianBlur(bgr, out, cv::Size(), 3.0); return out;
    case Degradation::kLowLight: return low_light(bgr, seed);
    case Degradation::kJpeg10: {
      std::vector<uchar> jpeg;
      cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, 10});
      return cv::imdecode(jpeg, cv::IMREAD_COLOR);
    }
    case Degradation::kMotion9: {
      const cv::Mat kernel = cv::Mat::ones(1, 9, CV_32F) / 9.0F;
      cv::filter2D(bgr, out, -1, kernel, cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
      return out;
    }
  }
  return bgr.clone();
}

std::uint64_t seed_for(const std::string& key) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (const unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace siamface
