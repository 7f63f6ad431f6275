// Head pose from the 68 landmarks: cv::solvePnP of six of them (nose tip, chin, the outer eye
// corners, the mouth corners) against a generic 3D face model, not a model of this person;
// a pinhole camera with the focal length of the image width, centred, without distortion.
#pragma once

#include <array>
#include <optional>

#include "siamface/analysis.hpp"
#include "siamface/types.hpp"

namespace siamface {

// nullopt when the six points cannot give a pose (unset or collapsed landmarks).
std::optional<HeadPose> head_pose_of(const Landmarks& landmarks, int image_width, int image_height);

// The image positions of the six model points for a head turned by `pose`, its nose tip at
// (`nose_x`, `nose_y`) and `distance` model units from the camera: the inverse of
// head_pose_of, for tests. Order: nose tip (30), chin (8), outer eye corners (36, 45), mouth
// corners (48, 54).
std::array<Point, 6> project_head_model(const HeadPose& pose, float nose_x, float nose_y, float distance,
                                        int image_width, int image_height);
inline constexpr std::array<int, 6> kHeadModelLandmarks{30, 8, 36, 45, 48, 54};

}  // namespace siamface
