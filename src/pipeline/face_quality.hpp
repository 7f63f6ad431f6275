// Per-face image measures for quality gates, enhancement decisions and reports.
// Thread safety: pure function of its inputs; safe to call concurrently.
#pragma once

#include <opencv2/core.hpp>

#include "siamface/types.hpp"

namespace siamface {

// Fills every FaceQuality field for `face` in `bgr` (CV_8UC3, or CV_8UC1 treated as grey).
//  - face_size_px: shorter side of face.box.
//  - brightness / contrast: mean / std-dev of luminance (BT.601 grey) inside the box clipped
//    to the image.
//  - sharpness: variance of the 3x3 Laplacian of the face region resized to 100 px high, so
//    it is comparable across face sizes (and is not inflated by upscaling noise alone).
//  - noise: Immerkaer's fast noise-sigma estimate (1996) on the face region at full
//    resolution, in grey levels.
//  - yaw: -1..1 from landmarks: where the nose tip (30) sits between the jaw ends at eye level
//    (0, 16) and between the outer eye corners (36, 45), averaged. Positive = the nose is
//    towards the image's right, i.e. the subject turned to their own left (viewer's right);
//    0 when the landmarks are unset. Mirroring the landmarks flips the sign.
//  - grayscale: every sampled pixel of the whole image has |B-G| and |G-R| <= 6.
// A box entirely outside the image gives zero region measures rather than throwing.
FaceQuality measure_face_quality(const cv::Mat& bgr, const Face& face);

// Quality measures of a chip (its central face region), from which `auto` chip enhancement
// picks its steps; face_size_px is copied from the source.
FaceQuality measure_chip_quality(const cv::Mat& chip, float source_face_size_px);

// Just the grayscale test, exposed so a caller can do it once per image.
bool is_grayscale_image(const cv::Mat& bgr);

}  // namespace siamface
