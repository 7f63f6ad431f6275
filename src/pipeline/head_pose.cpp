#include "pipeline/head_pose.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <opencv2/calib3d.hpp>
#include <vector>

namespace siamface {
namespace {

// A generic face in camera-like axes (x to the image's right, y down, z away from the
// camera), arbitrary units, nose tip at the origin; the widely used six-point model
// (nose, chin, eye corners, mouth corners) with y and z turned to these axes.
const std::vector<cv::Point3d>& model_points() {
  static const std::vector<cv::Point3d> kPoints = {
      {0, 0, 0}, {0, 330, 65}, {-225, -170, 135}, {225, -170, 135}, {-150, 150, 125}, {150, 150, 125}};
  return kPoints;
}

cv::Matx33d camera_of(int width, int height) {
  const double focal = width;
  return {focal, 0, width / 2.0, 0, focal, height / 2.0, 0, 0, 1};
}

constexpr double kDegrees = 180.0 / std::numbers::pi;

// R = Rz(roll) * Ry(-yaw) * Rx(-pitch) in the axes above: signs chosen so that yaw > 0 is the
// face turned towards the image's right, pitch > 0 the face looking up, roll > 0 the face turned
// clockwise in the image.
cv::Matx33d rotation_of(const HeadPose& pose) {
  const double p = -pose.pitch / kDegrees, y = -pose.yaw / kDegrees, r = pose.roll / kDegrees;
  const cv::Matx33d rx(1, 0, 0, 0, std::cos(p), -std::sin(p), 0, std::sin(p), std::cos(p));
  const cv::Matx33d ry(std::cos(y), 0, std::sin(y), 0, 1, 0, -std::sin(y), 0, std::cos(y));
  const cv::Matx33d rz(std::cos(r), -std::sin(r), 0, std::sin(r), std::cos(r), 0, 0, 0, 1);
  return rz * ry * rx;
}

}  // namespace

std::optional<HeadPose> head_pose_of(const Landmarks& landmarks, int image_width, int image_height) {
  std::vector<cv::Point2d> image_points;
  for (int index : kHeadModelLandmarks) image_points.emplace_back(landmarks[index].x, landmarks[index].y);
  // The eye corners and the chin must be apart, or there is no face to pose.
  const double eye_span = cv::norm(image_points[3] - image_points[2]);
  const double nose_to_chin = cv::norm(image_points[1] - image_points[0]);
  if (!(eye_span >= 1.0 && nose_to_chin >= 1.0) || image_width <= 0 || image_height <= 0) return std::nullopt;
  cv::Vec3d rvec, tvec;
  try {
    if (!cv::solvePnP(model_points(), image_points, camera_of(image_width, image_height), cv::noArray(), rvec, tvec,
                      false, cv::SOLVEPNP_ITERATIVE)) {
      return std::nullopt;
    }
  } catch (const cv::Exception&) {
    return std::nullopt;
  }
  cv::Matx33d rotation;
  cv::Rodrigues(rvec, rotation);
  const double pitch = std::atan2(rotation(2, 1), rotation(2, 2));
  const double yaw = std::asin(std::clamp(-rotation(2, 0), -1.0, 1.0));
  const double roll = std::atan2(rotation(1, 0), rotation(0, 0));
  return HeadPose{static_cast<float>(-pitch * kDegrees), static_cast<float>(roll * kDegrees),
                  static_cast<float>(-yaw * kDegrees)};
}

std::array<Point, 6> project_head_model(const HeadPose& pose, float nose_x, float nose_y, float distance,
                                        int image_width, int image_height) {
  const cv::Matx33d camera = camera_of(image_width, image_height);
  // The translation that puts the nose tip at (nose_x, nose_y) at depth `distance`.
  const cv::Vec3d tvec((nose_x - camera(0, 2)) * distance / camera(0, 0), (nose_y - camera(1, 2)) * distance / camera(1, 1),
                       distance);
  cv::Vec3d rvec;
  cv::Rodrigues(rotation_of(pose), rvec);
  std::vector<cv::Point2d> projected;
  cv::projectPoints(model_points(), rvec, tvec, camera, cv::noArray(), projected);
  std::array<Point, 6> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = {static_cast<float>(projected[i].x), static_cast<float>(projected[i].y)};
  }
  return out;
}

}  // namespace siamface
