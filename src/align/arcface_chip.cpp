#include "align/arcface_chip.hpp"

#include <opencv2/imgproc.hpp>

namespace siamface {
namespace {

// insightface's arcface_dst for 112x112 inputs.
constexpr std::array<Point, 5> kReference = {{{38.2946F, 51.6963F},
                                              {73.5318F, 51.5014F},
                                              {56.0252F, 71.7366F},
                                              {41.5493F, 92.3655F},
                                              {70.7299F, 92.2041F}}};

Point mean_of(const Landmarks& landmarks, int first, int last) {
  Point sum;
  for (int i = first; i <= last; ++i) {
    sum.x += landmarks[i].x;
    sum.y += landmarks[i].y;
  }
  const float n = static_cast<float>(last - first + 1);
  return {sum.x / n, sum.y / n};
}

}  // namespace

std::array<Point, 5> arcface_points(const Landmarks& landmarks) {
  return {mean_of(landmarks, 36, 41), mean_of(landmarks, 42, 47), landmarks[30], landmarks[48], landmarks[54]};
}

// Umeyama's closed form for a similarity without reflection, written out because
// cv::estimateAffinePartial2D is a robust (RANSAC/LMedS) estimator that may drop points.
cv::Mat arcface_transform(const Landmarks& landmarks) {
  const std::array<Point, 5> source = arcface_points(landmarks);
  double sx = 0, sy = 0, dx = 0, dy = 0;
  for (int i = 0; i < 5; ++i) {
    sx += source[i].x, sy += source[i].y;
    dx += kReference[i].x, dy += kReference[i].y;
  }
  sx /= 5, sy /= 5, dx /= 5, dy /= 5;
  // With complex numbers z = x + iy, the best a*z + b has a = sum(conj(s) d) / sum(|s|^2).
  double dot = 0, cross = 0, norm = 0;
  for (int i = 0; i < 5; ++i) {
    const double px = source[i].x - sx, py = source[i].y - sy;
    const double qx = kReference[i].x - dx, qy = kReference[i].y - dy;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  const double a = norm > 0 ? dot / norm : 1.0, b = norm > 0 ? cross / norm : 0.0;
  cv::Mat m = (cv::Mat_<double>(2, 3) << a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy));
  return m;
}

cv::Mat extract_arcface_chip(const cv::Mat& bgr, const Landmarks& landmarks) {
  cv::Mat chip;
  cv::warpAffine(bgr, chip, arcface_transform(landmarks), cv::Size(kArcFaceChipSize, kArcFaceChipSize),
                 cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  return chip;
}

}  // namespace siamface
