// The ArcFace alignment: five points from 68 landmarks, and the least-squares similarity that
// puts them on the 112x112 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "align/arcface_chip.hpp"

namespace siamface {
namespace {

constexpr double kReference[5][2] = {
    {38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}};

// 68 landmarks whose five ArcFace points are the reference moved by scale s, angle a, shift t.
Landmarks landmarks_for(double s, double a, double tx, double ty) {
  const auto place = [&](double x, double y) {
    return Point{static_cast<float>(s * (std::cos(a) * x - std::sin(a) * y) + tx),
                 static_cast<float>(s * (std::sin(a) * x + std::cos(a) * y) + ty)};
  };
  Landmarks lm{};
  for (int i = 36; i <= 41; ++i) lm[i] = place(kReference[0][0], kReference[0][1]);
  for (int i = 42; i <= 47; ++i) lm[i] = place(kReference[1][0], kReference[1][1]);
  lm[30] = place(kReference[2][0], kReference[2][1]);
  lm[48] = place(kReference[3][0], kReference[3][1]);
  lm[54] = place(kReference[4][0], kReference[4][1]);
  return lm;
}

TEST(ArcFaceChip, FivePointsComeFromEyeCentresNoseTipAndMouthCorners) {
  Landmarks lm{};
  for (int i = 36; i <= 41; ++i) lm[i] = {10.0F + i - 36, 20.0F};  // mean x 12.5
  for (int i = 42; i <= 47; ++i) lm[i] = {40.0F, 22.0F + i - 42};  // mean y 24.5
  lm[30] = {25, 35}, lm[48] = {15, 50}, lm[54] = {35, 51};
  const auto p = arcface_points(lm);
  EXPECT_FLOAT_EQ(p[0].x, 12.5F);
  EXPECT_FLOAT_EQ(p[1].y, 24.5F);
  EXPECT_FLOAT_EQ(p[2].x, 25.0F);
  EXPECT_FLOAT_EQ(p[3].y, 50.0F);
  EXPECT_FLOAT_EQ(p[4].x, 35.0F);
}

TEST(ArcFaceChip, TransformRecoversAnExactSimilarity) {
  for (const double angle : {0.0, 0.3, -0.7}) {
    const cv::Mat m = arcface_transform(landmarks_for(2.5, angle, 300, -40));
    const auto points = arcface_points(landmarks_for(2.5, angle, 300, -40));
    for (int i = 0; i < 5; ++i) {
      const double x = m.at<double>(0, 0) * points[i].x + m.at<double>(0, 1) * points[i].y + m.at<double>(0, 2);
      const double y = m.at<double>(1, 0) * points[i].x + m.at<double>(1, 1) * points[i].y + m.at<double>(1, 2);
      EXPECT_NEAR(x, kReference[i][0], 1e-3) << "angle " << angle << " point " << i;
      EXPECT_NEAR(y, kReference[i][1], 1e-3) << "angle " << angle << " point " << i;
    }
    // A similarity: equal scale on both axes, no shear, no reflection.
    EXPECT_NEAR(m.at<double>(0, 0), m.at<double>(1, 1), 1e-9);
    EXPECT_NEAR(m.at<double>(0, 1), -m.at<double>(1, 0), 1e-9);
    EXPECT_NEAR(std::hypot(m.at<double>(0, 0), m.at<double>(1, 0)), 1 / 2.5, 1e-6);
  }
}

TEST(ArcFaceChip, ChipIs112SquareAndPutsTheImageWhereTheTransformSays) {
  cv::Mat image(400, 400, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::circle(image, {300, 200}, 4, cv::Scalar(255, 255, 255), -1);  // a dot
  const Landmarks lm = landmarks_for(2.0, 0.0, 150, 80);
  const cv::Mat chip = extract_arcface_chip(image, lm);
  ASSERT_EQ(chip.rows, kArcFaceChipSize);
  ASSERT_EQ(chip.cols, kArcFaceChipSize);
  ASSERT_EQ(chip.type(), CV_8UC3);
  // (300, 200) maps to ((300 - 150) / 2, (200 - 80) / 2) = (75, 60).
  EXPECT_GT(chip.at<cv::Vec3b>(60, 75)[0], 200);
  EXPECT_EQ(chip.at<cv::Vec3b>(20, 20)[0], 0);
}

}  // namespace
}  // namespace siamface
