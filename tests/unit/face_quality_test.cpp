// FaceQuality measures on synthetic images: each must move the right way when the image
// property it measures changes.
#include "pipeline/face_quality.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "common/test_env.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

// A textured colour "face" picture: checkerboard plus circles, so it has edges to blur.
cv::Mat textured(int size = 200) {
  cv::Mat m(size, size, CV_8UC3, cv::Scalar(90, 120, 170));
  for (int y = 0; y < size; y += 10) {
    for (int x = (y / 10 % 2) * 10; x < size; x += 20) {
      cv::rectangle(m, cv::Rect(x, y, 10, 10), cv::Scalar(40, 60, 110), cv::FILLED);
    }
  }
  cv::circle(m, {size / 2, size / 2}, size / 4, cv::Scalar(200, 210, 230), 3);
  return m;
}

Face face_covering(const cv::Mat& image) {
  Face face;
  face.box = {10.0F, 20.0F, static_cast<float>(image.cols - 20),
              static_cast<float>(image.rows - 30)};
  return face;
}

// Frontal-ish landmarks in a 100x100 box at (50, 50), nose tip shifted by `nose_dx`.
Landmarks landmarks_with_nose(float nose_dx) {
  Landmarks lm{};
  for (int i = 0; i <= 16; ++i)
    lm[i] = {50.0F + 100.0F * i / 16.0F, 90.0F + 50.0F * std::sin(3.14159F * i / 16.0F)};
  lm[36] = {70.0F, 85.0F};
  lm[45] = {130.0F, 85.0F};
  for (int i = 27; i <= 35; ++i) lm[i] = {100.0F, 85.0F + (i - 27) * 4.0F};
  lm[30] = {100.0F + nose_dx, 105.0F};
  return lm;
}

Landmarks mirrored(const Landmarks& lm, float axis_x) {
  Landmarks out = lm;
  for (Point& p : out) p.x = 2 * axis_x - p.x;
  return out;
}

TEST(FaceQualityTest, FaceSizeIsShorterBoxSide) {
  const cv::Mat image = textured();
  Face face;
  face.box = {5, 5, 120, 80};
  EXPECT_FLOAT_EQ(measure_face_quality(image, face).face_size_px, 80.0F);
}

TEST(FaceQualityTest, SharpScoresHigherThanBlurred) {
  const cv::Mat sharp = textured();
  cv::Mat blurred;
  cv::GaussianBlur(sharp, blurred, {0, 0}, 3.0);
  const Face face = face_covering(sharp);
  const float s_sharp = measure_face_quality(sharp, face).sharpness;
  const float s_blur = measure_face_quality(blurred, face).sharpness;
  EXPECT_GT(s_sharp, 3.0F * s_blur) << s_sharp << " vs " << s_blur;
  EXPECT_GT(s_blur, 0.0F);
}

TEST(FaceQualityTest, SharpnessIsComparableAcrossSizes) {
  const cv::Mat small = textured(200);
  cv::Mat large;
  cv::resize(small, large, {400, 400}, 0, 0, cv::INTER_NEAREST);
  Face small_face;
  small_face.box = {0, 0, 200, 200};
  Face large_face;
  large_face.box = {0, 0, 400, 400};
  const float a = measure_face_quality(small, small_face).sharpness;
  const float b = measure_face_quality(large, large_face).sharpness;
  EXPECT_NEAR(a / b, 1.0F, 0.35F) << a << " vs " << b;
}

TEST(FaceQualityTest, DarkerScoresLowerBrightnessAndFlatScoresLowContrast) {
  const cv::Mat image = textured();
  cv::Mat darker;
  image.convertTo(darker, -1, 0.4);
  const Face face = face_covering(image);
  const FaceQuality bright = measure_face_quality(image, face);
  const FaceQuality dark = measure_face_quality(darker, face);
  EXPECT_LT(dark.brightness, bright.brightness * 0.6F);
  EXPECT_LT(dark.contrast, bright.contrast);
  const cv::Mat flat(100, 100, CV_8UC3, cv::Scalar(128, 128, 128));
  const FaceQuality f = measure_face_quality(flat, face_covering(flat));
  EXPECT_NEAR(f.brightness, 128.0F, 0.5F);
  EXPECT_NEAR(f.contrast, 0.0F, 1e-3F);
  EXPECT_NEAR(f.noise, 0.0F, 1e-3F);
}

TEST(FaceQualityTest, NoiseEstimateTracksAddedNoise) {
  const cv::Mat clean = textured();
  cv::Mat noise(clean.size(), CV_16SC3);
  cv::randn(noise, 0, 10.0);
  cv::Mat noisy;
  clean.convertTo(noisy, CV_16SC3);
  noisy += noise;
  noisy.convertTo(noisy, CV_8UC3);
  const Face face = face_covering(clean);
  const float n_clean = measure_face_quality(clean, face).noise;
  const float n_noisy = measure_face_quality(noisy, face).noise;
  EXPECT_GT(n_noisy, n_clean + 4.0F) << n_noisy << " vs " << n_clean;
  // On a flat image the estimate is close to the true sigma (grey conversion averages the
  // three independent channels: sigma / sqrt(~2.5) for BT.601 weights).
  cv::Mat flat(200, 200, CV_16SC3, cv::Scalar(128, 128, 128));
  flat += noise;
  flat.convertTo(flat, CV_8UC3);
  const float sigma = measure_face_quality(flat, face).noise;
  EXPECT_NEAR(sigma, 10.0F * std::sqrt(0.299F * 0.299F + 0.587F * 0.587F + 0.114F * 0.114F), 1.0F);
}

TEST(FaceQualityTest, GrayscaleIsDetected) {
  cv::Mat grey_source;
  cv::cvtColor(textured(), grey_source, cv::COLOR_BGR2GRAY);
  cv::Mat grey_bgr;
  cv::cvtColor(grey_source, grey_bgr, cv::COLOR_GRAY2BGR);
  EXPECT_TRUE(measure_face_quality(grey_bgr, face_covering(grey_bgr)).grayscale);
  EXPECT_TRUE(measure_face_quality(grey_source, face_covering(grey_source)).grayscale);
  EXPECT_FALSE(measure_face_quality(textured(), face_covering(grey_bgr)).grayscale);
  // One coloured patch outside the face box still makes the photo colour.
  grey_bgr(cv::Rect(0, 0, 8, 8)).setTo(cv::Scalar(0, 0, 255));
  EXPECT_FALSE(measure_face_quality(grey_bgr, face_covering(grey_bgr)).grayscale);
}

TEST(FaceQualityTest, YawSignFlipsWithMirroredLandmarks) {
  const cv::Mat image = textured();
  Face face;
  face.box = {50, 50, 100, 100};
  face.landmarks = landmarks_with_nose(0.0F);
  EXPECT_NEAR(measure_face_quality(image, face).yaw, 0.0F, 0.02F);

  face.landmarks = landmarks_with_nose(25.0F);  // nose towards the image's right
  const float right = measure_face_quality(image, face).yaw;
  EXPECT_GT(right, 0.2F);
  EXPECT_LE(right, 1.0F);
  face.landmarks = mirrored(face.landmarks, 100.0F);
  const float left = measure_face_quality(image, face).yaw;
  EXPECT_NEAR(left, -right, 1e-4F);

  face.landmarks = landmarks_with_nose(500.0F);  // absurd: clamped
  EXPECT_FLOAT_EQ(measure_face_quality(image, face).yaw, 1.0F);
  face.landmarks = Landmarks{};  // unset
  EXPECT_FLOAT_EQ(measure_face_quality(image, face).yaw, 0.0F);
}

TEST(FaceQualityTest, YawIgnoresHeadTilt) {
  const cv::Mat image = textured();
  Face face;
  face.box = {50, 50, 100, 100};
  face.landmarks = landmarks_with_nose(0.0F);
  // Tilt the whole face by 30 degrees about its centre: a frontal face stays frontal.
  const float angle = 30.0F * 3.14159265F / 180.0F;
  for (Point& p : face.landmarks) {
    const float x = p.x - 100.0F, y = p.y - 100.0F;
    p = {100.0F + x * std::cos(angle) - y * std::sin(angle), 100.0F + x * std::sin(angle) + y * std::cos(angle)};
  }
  EXPECT_NEAR(measure_face_quality(image, face).yaw, 0.0F, 0.02F);
}

TEST(FaceQualityTest, BoxOutsideTheImageGivesZeroRegionMeasures) {
  const cv::Mat image = textured();
  Face face;
  face.box = {500, 500, 50, 50};
  const FaceQuality q = measure_face_quality(image, face);
  EXPECT_FLOAT_EQ(q.face_size_px, 50.0F);
  EXPECT_FLOAT_EQ(q.brightness, 0.0F);
  EXPECT_FLOAT_EQ(q.sharpness, 0.0F);
  face.box = {-20, -20, 30, 25};  // partly inside: measured on the visible part
  EXPECT_GT(measure_face_quality(image, face).brightness, 0.0F);
  face.box = {199.5F, 199.5F, 1, 1};  // a 1x1 sliver
  EXPECT_NO_THROW(measure_face_quality(image, face));
  EXPECT_THROW(measure_face_quality(cv::Mat(4, 4, CV_32FC3), face), Error);
}

}  // namespace
}  // namespace siamface
