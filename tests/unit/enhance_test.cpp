// Enhancement steps, their automatic choice, and the evaluation degradations: determinism,
// size/type preservation, and that the measures behind `auto` order synthetic cases right.
#include "enhance/enhance.hpp"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "degrade/degrade.hpp"
#include "pipeline/face_quality.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

// A textured, well-exposed colour picture the size of a chip.
cv::Mat textured(int size = 150) {
  cv::Mat m(size, size, CV_8UC3, cv::Scalar(100, 130, 170));
  for (int y = 0; y < size; y += 10)
    for (int x = (y / 10 % 2) * 10; x < size; x += 20)
      cv::rectangle(m, cv::Rect(x, y, 10, 10), cv::Scalar(50, 70, 110), cv::FILLED);
  cv::circle(m, {size / 2, size / 2}, size / 4, cv::Scalar(220, 225, 235), 3);
  return m;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

FaceQuality quality_of(const cv::Mat& chip) { return measure_chip_quality(chip, 150.0F); }

TEST(EnhanceTest, EveryStepIsDeterministicAndKeepsSizeAndType) {
  const cv::Mat input = degrade(textured(), Degradation::kLowLight, 7);
  const FaceQuality q = quality_of(input);
  for (const char* spec : {"denoise", "gamma", "clahe", "sharpen", "auto", "denoise+gamma+clahe+sharpen"}) {
    const Enhancement e = parse_enhancement(spec);
    const cv::Mat first = enhance(input, e, q);
    const cv::Mat second = enhance(input, e, q);
    EXPECT_EQ(first.size(), input.size()) << spec;
    EXPECT_EQ(first.type(), CV_8UC3) << spec;
    EXPECT_TRUE(same_pixels(first, second)) << spec;
    EXPECT_FALSE(same_pixels(first, input)) << spec << " changed nothing on a dark noisy picture";
  }
}

TEST(EnhanceTest, DegradationsAreDeterministicAndKeepSizeAndType) {
  const cv::Mat input = textured(120);
  for (Degradation d : all_degradations()) {
    const cv::Mat a = degrade(input, d, seed_for("x.jpg"));
    const cv::Mat b = degrade(input, d, seed_for("x.jpg"));
    EXPECT_EQ(a.size(), input.size()) << to_string(d);
    EXPECT_EQ(a.type(), CV_8UC3) << to_string(d);
    EXPECT_TRUE(same_pixels(a, b)) << to_string(d);
    EXPECT_FALSE(same_pixels(a, input)) << to_string(d);
    EXPECT_EQ(parse_degradation(to_string(d)), d);
  }
  EXPECT_EQ(degrade(input, Degradation::kSmall4, 1).size(), cv::Size(30, 30));
  // Different seeds give different noise.
  EXPECT_FALSE(same_pixels(degrade(input, Degradation::kLowLight, 1), degrade(input, Degradation::kLowLight, 2)));
}

TEST(EnhanceTest, MeasuresOrderSyntheticCases) {
  const cv::Mat clean = textured();
  cv::Mat blurred;
  cv::GaussianBlur(clean, blurred, cv::Size(), 2.0);
  EXPECT_GT(quality_of(clean).sharpness, quality_of(blurred).sharpness);
  EXPECT_GT(quality_of(unsharp_mask(blurred)).sharpness, quality_of(blurred).sharpness);

  cv::Mat darker;
  clean.convertTo(darker, -1, 0.4);
  EXPECT_LT(quality_of(darker).brightness, quality_of(clean).brightness);
  EXPECT_GT(quality_of(auto_gamma(darker, quality_of(darker).brightness)).brightness, quality_of(darker).brightness);

  cv::Mat noise(clean.size(), CV_16SC3);
  cv::RNG(3).fill(noise, cv::RNG::NORMAL, 0, 10);
  cv::Mat noisy;
  cv::add(clean, noise, noisy, cv::noArray(), CV_8UC3);
  EXPECT_GT(quality_of(noisy).noise, quality_of(clean).noise);
  EXPECT_LT(quality_of(denoise_nlm(noisy, quality_of(noisy).noise)).noise, quality_of(noisy).noise);

  cv::Mat flat;
  clean.convertTo(flat, -1, 0.3, 90);
  EXPECT_LT(quality_of(flat).contrast, quality_of(clean).contrast);
  EXPECT_GT(quality_of(clahe_luminance(flat)).contrast, quality_of(flat).contrast);
}

TEST(EnhanceTest, AutoPicksStepsFromMeasures) {
  FaceQuality good;
  good.brightness = 120, good.contrast = 50, good.sharpness = 400, good.noise = 2, good.face_size_px = 120;
  EXPECT_FALSE(auto_enhancement(good).any());

  FaceQuality dark = good;
  dark.brightness = 30, dark.contrast = 10;
  EXPECT_TRUE(auto_enhancement(dark).gamma);
  EXPECT_TRUE(auto_enhancement(dark).clahe);

  FaceQuality noisy = good;
  noisy.noise = 12;
  EXPECT_TRUE(auto_enhancement(noisy).denoise);

  FaceQuality blurred = good;
  blurred.sharpness = 10;
  EXPECT_TRUE(auto_enhancement(blurred).sharpen);
  EXPECT_FALSE(auto_enhancement(blurred).gamma);
}

TEST(EnhanceTest, DetectionInputIsBrightenedOnlyWhenDark) {
  // A large picture, so the measurement runs on the downscaled copy.
  const cv::Mat bright = textured(600);
  EXPECT_EQ(enhance_for_detection(bright).data, bright.data) << "a well-exposed photo must come back untouched";

  const cv::Mat dark = degrade(bright, Degradation::kLowLight, 3);
  const cv::Mat lifted = enhance_for_detection(dark);
  EXPECT_EQ(lifted.size(), dark.size());
  EXPECT_EQ(lifted.type(), CV_8UC3);
  EXPECT_TRUE(same_pixels(lifted, enhance_for_detection(dark)));
  EXPECT_GT(cv::mean(lifted)[0] + cv::mean(lifted)[1] + cv::mean(lifted)[2],
            1.5 * (cv::mean(dark)[0] + cv::mean(dark)[1] + cv::mean(dark)[2]));
  EXPECT_THROW(enhance_for_detection(cv::Mat(20, 20, CV_8UC1, cv::Scalar(10))), Error);
}

TEST(EnhanceTest, ParsesSpecs) {
  EXPECT_FALSE(parse_enhancement("off").any());
  EXPECT_TRUE(parse_enhancement("auto").automatic);
  const Enhancement e = parse_enhancement("gamma+clahe");
  EXPECT_TRUE(e.gamma && e.clahe && !e.denoise && !e.sharpen && !e.automatic);
  EXPECT_EQ(to_string(e), "gamma+clahe");
  EXPECT_EQ(to_string(parse_enhancement("sharpen,denoise")), "denoise+sharpen");
  EXPECT_THROW(parse_enhancement("gamma+magic"), Error);
  EXPECT_THROW(parse_degradation("fog"), Error);
  EXPECT_EQ(parse_chip_sampling(to_string(ChipSampling::kLanczos)), ChipSampling::kLanczos);
  EXPECT_THROW(parse_chip_sampling("nearest"), Error);
}

TEST(EnhanceTest, RejectsNonBgrInput) {
  const cv::Mat grey(20, 20, CV_8UC1, cv::Scalar(10));
  EXPECT_THROW(unsharp_mask(grey), Error);
  EXPECT_THROW(degrade(grey, Degradation::kBlur3, 1), Error);
}

}  // namespace
}  // namespace siamface
