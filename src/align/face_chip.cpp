// dlib's get_face_chip_details(shape, size, padding) + extract_image_chip, reimplemented.
// Reference: dlib 19.24 image_transforms/interpolation.h (chip_details, get_mapping_to_chip,
// extract_image_chips), image_pyramid.h (pyramid_down<2>), geometry/point_transforms.h
// (find_similarity_transform). The recognition net was trained on chips made exactly this
// way, so we copy dlib's quirks (its pyramid offsets, truncating pixel conversion, black
// where the bilinear neighbourhood leaves the image) instead of using cv::warpAffine,
// whose 5-bit fixed-point weights and rounding differ by a few grey levels.
// tests/integration/face_chip_dlib_test.cpp checks the result against dlib itself.
#include "align/face_chip.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "siamface/errors.hpp"

namespace siamface {
namespace {

struct Vec2 {
  double x = 0, y = 0;
};

// dlib's drectangle: inclusive corners, width() = right - left + 1.
struct DRect {
  double l = 0, t = 0, r = -1, b = -1;
  bool empty() const { return t > b || l > r; }
  double width() const { return empty() ? 0 : r - l + 1; }
  double height() const { return empty() ? 0 : b - t + 1; }
  double area() const { return width() * height(); }
  Vec2 center() const { return {(l + r) / 2, (t + b) / 2}; }
};

// dlib's pyramid_down<2>::rect_down.
DRect rect_down(const DRect& rect) {
  return {rect.l / 2 - 1.25, rect.t / 2 - 0.75, rect.r / 2 - 1.25, rect.b / 2 - 0.75};
}

Vec2 rotate_point(const Vec2& center, const Vec2& p, double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  const double dx = p.x - center.x, dy = p.y - center.y;
  return {c * dx - s * dy + center.x, s * dx + c * dy + center.y};
}

// What dlib's chip_details holds.
struct ChipDetails {
  DRect rect;  // in image pixels, before rotation about its center
  double angle = 0;
  int rows = 0, cols = 0;
};

// dlib's mean face (points 17..67) from get_face_chip_details.
constexpr double kMeanFaceX[51] = {
    0.000213256, 0.0752622, 0.18113,  0.29077,  0.393397, 0.586856, 0.689483, 0.799124, 0.904991,
    0.98004,     0.490127,  0.490127, 0.490127, 0.490127, 0.36688,  0.426036, 0.490127, 0.554217,
    0.613373,    0.121737,  0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428,
    0.793132,    0.858516,  0.79751,  0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395,
    0.639268,    0.726104,  0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096,
    0.490127,    0.552157,  0.689874, 0.553364, 0.490127, 0.42689};
constexpr double kMeanFaceY[51] = {
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915,
    0.106454, 0.203352, 0.307009,  0.409805,  0.515625,  0.587326,  0.609345,  0.628106,  0.609345,
    0.587326, 0.216423, 0.178758,  0.179852,  0.231733,  0.245099,  0.244077,  0.231733,  0.179852,
    0.178758, 0.216423, 0.244077,  0.245099,  0.780233,  0.745405,  0.727388,  0.742578,  0.727388,
    0.745405, 0.780233, 0.864805,  0.902192,  0.909281,  0.902192,  0.864805,  0.784792,  0.778746,
    0.785343, 0.778746, 0.784792,  0.824182,  0.831803,  0.824182};

ChipDetails face_chip_details(const Landmarks& landmarks, int size, double padding) {
  if (size <= 0 || padding < 0 || !std::isfinite(padding)) {
    throw Error(ErrorCode::kInvalidArgument, "face chip: size must be > 0 and padding >= 0");
  }
  // The template points dlib uses: 27..54 and 60..64 (no eyebrows, no lower lip).
  std::vector<Vec2> from, to;
  for (int i = 17; i < kLandmarkCount; ++i) {
    if ((55 <= i && i <= 59) || (65 <= i && i <= 67) || i <= 26) continue;
    from.push_back({(padding + kMeanFaceX[i - 17]) / (2 * padding + 1) * size,
                    (padding + kMeanFaceY[i - 17]) / (2 * padding + 1) * size});
    to.push_back({landmarks[i].x, landmarks[i].y});
  }

  // find_similarity_transform(from, to): Umeyama's least squares. In 2-D its SVD has a
  // closed form: the rotation angle and trace(D*S) follow from the cross-covariance.
  const double n = static_cast<double>(from.size());
  Vec2 mean_from, mean_to;
  for (std::size_t i = 0; i < from.size(); ++i) {
    mean_from.x += from[i].x, mean_from.y += from[i].y;
    mean_to.x += to[i].x, mean_to.y += to[i].y;
  }
  mean_from = {mean_from.x / n, mean_from.y / n};
  mean_to = {mean_to.x / n, mean_to.y / n};
  double sigma_from = 0, a = 0, b = 0, c = 0, d = 0;  // cov = [a b; c d] = E[(to-mt)(from-mf)^T]
  for (std::size_t i = 0; i < from.size(); ++i) {
    const double fx = from[i].x - mean_from.x, fy = from[i].y - mean_from.y;
    const double tx = to[i].x - mean_to.x, ty = to[i].y - mean_to.y;
    sigma_from += fx * fx + fy * fy;
    a += tx * fx, b += tx * fy, c += ty * fx, d += ty * fy;
  }
  sigma_from /= n, a /= n, b /= n, c /= n, d /= n;
  // Rotation when det(cov) >= 0; a reflection (dlib flips the smaller singular value) when
  // the landmarks are mirrored. m = c*R is the linear part; only m*(1,0) is used below.
  double angle = 0, trace = 0;
  if (a * d - b * c >= 0) {
    angle = std::atan2(c - b, a + d);
    trace = std::hypot(a + d, c - b);
  } else {
    angle = std::atan2(b + c, a - d);
    trace = std::hypot(a - d, b + c);
  }
  const double scale = sigma_from != 0 ? trace / sigma_from : 1.0;
  const double m00 = scale * std::cos(angle), m10 = scale * std::sin(angle);
  const double m01 = a * d - b * c >= 0 ? -m10 : m10;
  const double m11 = a * d - b * c >= 0 ? m00 : -m00;
  const double t_x = mean_to.x - (m00 * mean_from.x + m01 * mean_from.y);
  const double t_y = mean_to.y - (m10 * mean_from.x + m11 * mean_from.y);

  // chip_details(chip_points, img_points, dims): angle and scale from tform*(1,0), and a
  // rectangle centered on tform(dims/2) (dlib's centered_drect subtracts 1 from the sides).
  ChipDetails details;
  details.rows = details.cols = size;
  details.angle = std::atan2(m10, m00);
  const double length = std::hypot(m00, m10);
  const Vec2 center{m00 * size / 2.0 + m01 * size / 2.0 + t_x, m10 * size / 2.0 + m11 * size / 2.0 + t_y};
  const double w = size * length - 1, h = size * length - 1;
  details.rect = {center.x - w / 2, center.y - h / 2, center.x + w / 2, center.y + h / 2};
  return details;
}

// The affine map (2x3, CV_64F) taking chip pixel (c, r) to `rect`'s rotated corners: chip
// (0,0) -> tl, (cols-1, 0) -> tr, (0, rows-1) -> bl.
cv::Mat chip_to_rect_map(const DRect& rect, double angle, int rows, int cols) {
  const Vec2 center = rect.center();
  const Vec2 tl = rotate_point(center, {rect.l, rect.t}, angle);
  const Vec2 tr = rotate_point(center, {rect.r, rect.t}, angle);
  const Vec2 bl = rotate_point(center, {rect.l, rect.b}, angle);
  const double sx = cols > 1 ? 1.0 / (cols - 1) : 0.0, sy = rows > 1 ? 1.0 / (rows - 1) : 0.0;
  cv::Mat map(2, 3, CV_64F);
  map.at<double>(0, 0) = (tr.x - tl.x) * sx;
  map.at<double>(1, 0) = (tr.y - tl.y) * sx;
  map.at<double>(0, 1) = (bl.x - tl.x) * sy;
  map.at<double>(1, 1) = (bl.y - tl.y) * sy;
  map.at<double>(0, 2) = tl.x;
  map.at<double>(1, 2) = tl.y;
  return map;
}

// dlib's pyramid_down<2> for 8-bit 3-channel images: a [1 4 6 4 1]^2 / 256 filter with
// integer truncation, output ((rows-3)/2) x ((cols-3)/2), sampled at 2i+2.
cv::Mat pyramid_down(const cv::Mat& src) {
  if (src.rows <= 8 || src.cols <= 8) return cv::Mat(0, 0, CV_8UC3);
  const int out_cols = (src.cols - 3) / 2, out_rows = (src.rows - 3) / 2;
  cv::Mat temp(src.rows, out_cols, CV_16UC3);
  for (int r = 0; r < src.rows; ++r) {
    const cv::Vec3b* in = src.ptr<cv::Vec3b>(r);
    cv::Vec3w* out = temp.ptr<cv::Vec3w>(r);
    for (int c = 0; c < out_cols; ++c) {
      const cv::Vec3b* p = in + 2 * c;
      for (int ch = 0; ch < 3; ++ch) {
        out[c][ch] = static_cast<std::uint16_t>(p[0][ch] + 4 * p[1][ch] + 6 * p[2][ch] + 4 * p[3][ch] + p[4][ch]);
      }
    }
  }
  cv::Mat down(out_rows, out_cols, CV_8UC3);
  for (int dr = 0, r = 2; r < temp.rows - 2; r += 2, ++dr) {
    cv::Vec3b* out = down.ptr<cv::Vec3b>(dr);
    for (int c = 0; c < out_cols; ++c) {
      for (int ch = 0; ch < 3; ++ch) {
        // dlib sums in uint16 too; the maximum, 256 * 255, fits.
        const std::uint16_t sum = static_cast<std::uint16_t>(
            temp.ptr<cv::Vec3w>(r - 2)[c][ch] + 4 * temp.ptr<cv::Vec3w>(r - 1)[c][ch] +
            6 * temp.ptr<cv::Vec3w>(r)[c][ch] + 4 * temp.ptr<cv::Vec3w>(r + 1)[c][ch] +
            temp.ptr<cv::Vec3w>(r + 2)[c][ch]);
        out[c][ch] = static_cast<std::uint8_t>(sum / 256);
      }
    }
  }
  return down;
}

// dlib's transform_image with interpolate_bilinear: double-precision weights, the result
// truncated to 8 bits, black where any of the 4 neighbours falls outside the source.
void sample_bilinear(const cv::Mat& src, const cv::Mat& chip_to_src, cv::Mat& chip) {
  const double* m = chip_to_src.ptr<double>();
  for (int r = 0; r < chip.rows; ++r) {
    cv::Vec3b* out = chip.ptr<cv::Vec3b>(r);
    for (int c = 0; c < chip.cols; ++c) {
      const double x = m[0] * c + m[1] * r + m[2];
      const double y = m[3] * c + m[4] * r + m[5];
      const long left = static_cast<long>(std::floor(x)), top = static_cast<long>(std::floor(y));
      if (!(left >= 0 && top >= 0 && left + 1 < src.cols && top + 1 < src.rows)) {
        out[c] = cv::Vec3b(0, 0, 0);
        continue;
      }
      const double fx = x - left, fy = y - top;
      const cv::Vec3b* row0 = src.ptr<cv::Vec3b>(static_cast<int>(top));
      const cv::Vec3b* row1 = src.ptr<cv::Vec3b>(static_cast<int>(top + 1));
      for (int ch = 0; ch < 3; ++ch) {
        const double v = (1 - fy) * ((1 - fx) * row0[left][ch] + fx * row0[left + 1][ch]) +
                         fy * ((1 - fx) * row1[left][ch] + fx * row1[left + 1][ch]);
        out[c][ch] = static_cast<std::uint8_t>(v);
      }
    }
  }
}

}  // namespace

Landmarks face_chip_template(int chip_size, double padding) {
  Landmarks points{};
  for (int i = 17; i < kLandmarkCount; ++i) {
    points[i].x = static_cast<float>((padding + kMeanFaceX[i - 17]) / (2 * padding + 1) * chip_size);
    points[i].y = static_cast<float>((padding + kMeanFaceY[i - 17]) / (2 * padding + 1) * chip_size);
  }
  return points;
}

cv::Mat face_chip_transform(const Landmarks& landmarks, int chip_size, double padding) {
  // get_mapping_to_chip: the inverse of the chip -> image map (the rotated rect's tl, tr and
  // br corners go to (0,0), (cols-1,0) and (cols-1,rows-1); the corners form a rectangle,
  // so using bl instead of br gives the same map).
  const ChipDetails details = face_chip_details(landmarks, chip_size, padding);
  cv::Mat image_to_chip;
  cv::invertAffineTransform(chip_to_rect_map(details.rect, details.angle, details.rows, details.cols),
                            image_to_chip);
  return image_to_chip;
}

cv::Mat extract_face_chip(const cv::Mat& bgr, const Landmarks& landmarks, int chip_size, double padding) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    throw Error(ErrorCode::kInvalidArgument, "face chip: expected a non-empty CV_8UC3 image");
  }
  const ChipDetails details = face_chip_details(landmarks, chip_size, padding);
  const double chip_area = static_cast<double>(details.rows) * details.cols;
  cv::Mat chip(details.rows, details.cols, CV_8UC3, cv::Scalar::all(0));

  // extract_image_chips: when the source region is much bigger than the chip, sample from a
  // pyramid level instead (bilinear would otherwise alias). First the depth and the crop of
  // the image the pyramid is built on (the rotated rect grown by a border per level).
  int depth = 0;
  double grow = 2;
  for (DRect rect = rect_down(details.rect); rect.area() > chip_area;) {
    rect = rect_down(rect);
    ++depth;
    grow = grow * 2 + 2;
  }
  const Vec2 center = details.rect.center();
  DRect rotated{1e300, 1e300, -1e300, -1e300};
  for (const Vec2 corner : {Vec2{details.rect.l, details.rect.t}, Vec2{details.rect.r, details.rect.t},
                            Vec2{details.rect.l, details.rect.b}, Vec2{details.rect.r, details.rect.b}}) {
    const Vec2 p = rotate_point(center, corner, details.angle);
    rotated = {std::min(rotated.l, p.x), std::min(rotated.t, p.y), std::max(rotated.r, p.x),
               std::max(rotated.b, p.y)};
  }
  // grow_rect, intersect with the image, then dlib's drectangle -> rectangle rounding.
  const DRect grown{std::max(rotated.l - grow, 0.0), std::max(rotated.t - grow, 0.0),
                    std::min(rotated.r + grow, bgr.cols - 1.0), std::min(rotated.b + grow, bgr.rows - 1.0)};
  if (grown.empty()) return chip;  // the chip lies wholly outside the image
  const int box_l = static_cast<int>(std::floor(grown.l + 0.5)), box_t = static_cast<int>(std::floor(grown.t + 0.5));
  const int box_r = static_cast<int>(std::floor(grown.r + 0.5)), box_b = static_cast<int>(std::floor(grown.b + 0.5));
  const cv::Mat region = bgr(cv::Rect(box_l, box_t, box_r - box_l + 1, box_b - box_t + 1));

  // Which level to sample and the rect in that level's coordinates.
  DRect rect{details.rect.l - box_l, details.rect.t - box_t, details.rect.r - box_l, details.rect.b - box_t};
  int level = -1;
  while (rect_down(rect).area() > chip_area) {
    ++level;
    rect = rect_down(rect);
  }
  cv::Mat source = region;
  for (int i = 0; i <= level && i < depth; ++i) source = pyramid_down(source);
  sample_bilinear(source, chip_to_rect_map(rect, details.angle, details.rows, details.cols), chip);
  return chip;
}

}  // namespace siamface
