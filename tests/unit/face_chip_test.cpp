// The dlib-style face chip on synthetic landmarks (dlib itself: face_chip_dlib_test).
#include "align/face_chip.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

namespace siamface {
namespace {

constexpr double kPi = 3.14159265358979323846;

// The template as a face in an image: a similarity (scale, rotation, translation) of it.
Landmarks moved_template(double scale, double angle, double tx, double ty) {
  const Landmarks tpl = face_chip_template();
  Landmarks out{};
  for (int i = 0; i < kLandmarkCount; ++i) {
    out[i].x = static_cast<float>(scale * (std::cos(angle) * tpl[i].x - std::sin(angle) * tpl[i].y) + tx);
    out[i].y = static_cast<float>(scale * (std::sin(angle) * tpl[i].x + std::cos(angle) * tpl[i].y) + ty);
  }
  return out;
}

cv::Point2d apply(const cv::Mat& m, const Point& p) {
  return {m.at<double>(0, 0) * p.x + m.at<double>(0, 1) * p.y + m.at<double>(0, 2),
          m.at<double>(1, 0) * p.x + m.at<double>(1, 1) * p.y + m.at<double>(1, 2)};
}

TEST(FaceChipTest, CanonicalFaceMapsOntoTheTemplate) {
  const Landmarks tpl = face_chip_template();
  // dlib's template: eyes level, nose on the vertical midline of the chip.
  EXPECT_NEAR(tpl[36].y, tpl[45].y, 1e-4);
  EXPECT_NEAR(tpl[30].x, kChipSize * (0.25 + 0.490127) / 1.5, 1e-4);

  const cv::Mat m = face_chip_transform(tpl);
  ASSERT_EQ(m.rows, 2);
  ASSERT_EQ(m.cols, 3);
  ASSERT_EQ(m.type(), CV_64F);
  // Scale 1, no rotation. dlib's chip rect is centered_drect(tform(75, 75), 150, 150), whose
  // corners are (0.5, 0.5) and (149.5, 149.5), so the map is a pure shift by -0.5.
  EXPECT_NEAR(m.at<double>(0, 0), 1.0, 1e-6);  // landmarks are floats
  EXPECT_NEAR(m.at<double>(1, 1), 1.0, 1e-6);  // landmarks are floats
  EXPECT_NEAR(m.at<double>(0, 1), 0.0, 1e-6);  // landmarks are floats
  EXPECT_NEAR(m.at<double>(1, 0), 0.0, 1e-6);  // landmarks are floats
  for (int i = 27; i < kLandmarkCount; ++i) {
    const cv::Point2d p = apply(m, tpl[i]);
    EXPECT_NEAR(p.x, tpl[i].x - 0.5, 1e-3) << "point " << i;
    EXPECT_NEAR(p.y, tpl[i].y - 0.5, 1e-3) << "point " << i;
  }
}

TEST(FaceChipTest, SimilarityOfTheLandmarksIsUndone) {
  const Landmarks tpl = face_chip_template();
  for (const double angle_deg : {-35.0, -10.0, 0.0, 20.0, 90.0}) {
    for (const double scale : {0.4, 1.0, 2.7}) {
      const double angle = angle_deg * kPi / 180;
      const Landmarks face = moved_template(scale, angle, 321.5, -40.25);
      const cv::Mat m = face_chip_transform(face);
      // dlib spreads the 149 chip pixel steps over 150 * scale - 1 image pixels, so the
      // image -> chip map is k * R(-angle) with k = 149 / (150 * scale - 1), not 1 / scale.
      const double k = 149.0 / (150.0 * scale - 1.0);
      const double c = std::cos(angle) * k, s = std::sin(angle) * k;
      EXPECT_NEAR(m.at<double>(0, 0), c, 1e-5) << angle_deg << " " << scale;
      EXPECT_NEAR(m.at<double>(0, 1), s, 1e-5) << angle_deg << " " << scale;
      EXPECT_NEAR(m.at<double>(1, 0), -s, 1e-5) << angle_deg << " " << scale;
      EXPECT_NEAR(m.at<double>(1, 1), c, 1e-5) << angle_deg << " " << scale;
      // The chip centre (74.5, 74.5) shows the image point the template centre (75, 75)
      // maps to, and template points keep their layout around it, upright.
      for (int i = 27; i < kLandmarkCount; ++i) {
        const cv::Point2d got = apply(m, face[i]);
        EXPECT_NEAR(got.x, 74.5 + k * scale * (tpl[i].x - 75.0), 1e-3) << "point " << i;
        EXPECT_NEAR(got.y, 74.5 + k * scale * (tpl[i].y - 75.0), 1e-3) << "point " << i;
      }
    }
  }
}

TEST(FaceChipTest, NoisyLandmarksGiveALeastSquaresFit) {
  Landmarks face = moved_template(1.3, 0.2, 50, 60);
  face[30].x += 6;  // one outlier moves the fit a little, not all the way
  const cv::Mat m = face_chip_transform(face);
  const cv::Point2d nose = apply(m, face[30]);
  const Landmarks tpl = face_chip_template();
  EXPECT_GT(nose.x - tpl[30].x, 0.5);
  EXPECT_LT(nose.x - tpl[30].x, 6 / 1.3);
}

TEST(FaceChipTest, ChipShowsTheFaceUpright) {
  // A grey image with a bright dot at the nose tip of a rotated, enlarged face: the dot must
  // appear at the template's nose position in the chip.
  const Landmarks face = moved_template(2.0, 30 * kPi / 180, 400, 100);
  cv::Mat image(700, 800, CV_8UC3, cv::Scalar(90, 90, 90));
  cv::circle(image, cv::Point(cvRound(face[30].x), cvRound(face[30].y)), 5, cv::Scalar(255, 255, 255), cv::FILLED);
  const cv::Mat chip = extract_face_chip(image, face);
  ASSERT_EQ(chip.rows, kChipSize);
  ASSERT_EQ(chip.cols, kChipSize);
  ASSERT_EQ(chip.type(), CV_8UC3);
  cv::Mat grey;
  cv::cvtColor(chip, grey, cv::COLOR_BGR2GRAY);
  cv::Mat bright;
  cv::threshold(grey, bright, 170, 255, cv::THRESH_BINARY);
  const cv::Moments mo = cv::moments(bright, true);
  ASSERT_GT(mo.m00, 5);
  const Landmarks tpl = face_chip_template();
  EXPECT_NEAR(mo.m10 / mo.m00, tpl[30].x, 1.0);
  EXPECT_NEAR(mo.m01 / mo.m00, tpl[30].y, 1.0);
  // Elsewhere the chip is the flat background (the pyramid keeps it at ~90).
  EXPECT_NEAR(grey.at<std::uint8_t>(10, 10), 89, 2);
}

TEST(FaceChipTest, RegionOutsideTheImageIsBlack) {
  const Landmarks face = moved_template(1.0, 0.0, -75, -75);  // chip centre at the image corner
  const cv::Mat image(300, 300, CV_8UC3, cv::Scalar(200, 200, 200));
  const cv::Mat chip = extract_face_chip(image, face);
  EXPECT_EQ(chip.at<cv::Vec3b>(10, 10), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(chip.at<cv::Vec3b>(140, 140), cv::Vec3b(200, 200, 200));
}

TEST(FaceChipTest, RejectsBadArguments) {
  const Landmarks tpl = face_chip_template();
  EXPECT_THROW(extract_face_chip(cv::Mat(), tpl), std::exception);
  EXPECT_THROW(face_chip_transform(tpl, 0), std::exception);
  EXPECT_THROW(face_chip_transform(tpl, 150, -1.0), std::exception);
}

}  // namespace
}  // namespace siamface
