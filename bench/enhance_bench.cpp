// Cost of each enhancement step and chip sampler, in ms per face (one 150x150 chip), and of
// the whole-photo step `auto` runs before detection.
// Uses a degraded lfw_dev photo when the test data is present, else a synthetic chip.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "align/face_chip.hpp"
#include "degrade/degrade.hpp"
#include "enhance/enhance.hpp"
#include "pipeline/face_quality.hpp"

namespace siamface {
namespace {

cv::Mat source_photo() {
  const std::filesystem::path photo = std::filesystem::path(SIAMFACE_SOURCE_DIR).parent_path() / "shared" /
                                      "testdata/lfw_dev/lfw-deepfunneled/Jon_Voight/Jon_Voight_0001.jpg";
  cv::Mat image = cv::imread(photo.string(), cv::IMREAD_COLOR);
  if (image.empty()) {
    image = cv::Mat(250, 250, CV_8UC3, cv::Scalar(90, 120, 160));
    cv::circle(image, {125, 125}, 60, cv::Scalar(180, 190, 210), cv::FILLED);
  }
  return image;
}

cv::Mat chip() {
  static const cv::Mat kChip = [] {
    cv::Mat photo = degrade(source_photo(), Degradation::kLowLight, 1);
    cv::Mat out;
    cv::resize(photo(cv::Rect(50, 50, 150, 150)), out, cv::Size(150, 150));
    return out;
  }();
  return kChip;
}

void run_steps(benchmark::State& state, const char* spec) {
  const cv::Mat input = chip();
  const Enhancement e = parse_enhancement(spec);
  for (auto _ : state) {
    const FaceQuality q = measure_chip_quality(input, 60.0F);
    benchmark::DoNotOptimize(enhance(input, e, q).data);
  }
}
BENCHMARK_CAPTURE(run_steps, measure_only, "off")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run_steps, denoise, "denoise")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run_steps, gamma, "gamma")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run_steps, clahe, "clahe")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run_steps, sharpen, "sharpen")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run_steps, auto_on_low_light, "auto")->Unit(benchmark::kMillisecond);

// The whole-photo step `auto` runs before detection, on a 1280x960 photo: bright (measure
// only, the photo comes back untouched) and low-light (blur, gamma, CLAHE).
void before_detection(benchmark::State& state, bool dark) {
  cv::Mat photo;
  cv::resize(source_photo(), photo, cv::Size(1280, 960), 0, 0, cv::INTER_CUBIC);
  if (dark) photo = degrade(photo, Degradation::kLowLight, 1);
  for (auto _ : state) benchmark::DoNotOptimize(enhance_for_detection(photo).data);
}
BENCHMARK_CAPTURE(before_detection, bright_1280x960, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(before_detection, low_light_1280x960, true)->Unit(benchmark::kMillisecond);

void chip_sampling(benchmark::State& state, ChipSampling sampling) {
  const cv::Mat small = degrade(source_photo(), Degradation::kSmall3, 1);  // face ~35 px
  Landmarks lm{};
  // A plausible 68-point layout scaled to the small photo: the template mapped into it.
  const Landmarks chip_points = face_chip_template();
  for (int i = 17; i < kLandmarkCount; ++i) {
    lm[i] = {chip_points[i].x * 0.3F + 15.0F, chip_points[i].y * 0.3F + 15.0F};
  }
  for (auto _ : state) benchmark::DoNotOptimize(extract_chip_sampled(small, lm, sampling).data);
}
BENCHMARK_CAPTURE(chip_sampling, dlib, ChipSampling::kDlib)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(chip_sampling, bicubic, ChipSampling::kBicubic)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(chip_sampling, lanczos, ChipSampling::kLanczos)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(chip_sampling, area, ChipSampling::kArea)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(chip_sampling, sharpened, ChipSampling::kSharpened)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace siamface

BENCHMARK_MAIN();
