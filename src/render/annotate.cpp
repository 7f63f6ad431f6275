#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <string>

#include "image/cv_image.hpp"
#include "siamface/render.hpp"

namespace siamface {

namespace {

constexpr int kFont = cv::FONT_HERSHEY_DUPLEX;

cv::Scalar to_scalar(const Color& c) { return {double(c.b), double(c.g), double(c.r)}; }

// Hershey fonts draw only printable ASCII; anything else would come out as garbage glyphs.
std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else if (c >= 0xC0) {  // lead byte of a UTF-8 sequence: one '?' per character
      out += '?';
    } else if (c < 0x80) {
      out += ' ';
    }
  }
  return out;
}

// Coordinates far outside the image overflow OpenCV's fixed-point drawing; clamp them to a
// margin that keeps every visible edge where it belongs.
int clamp_coord(float v, int extent) {
  const float margin = 4.0F * static_cast<float>(std::max(extent, 1));
  if (!std::isfinite(v)) return 0;
  return static_cast<int>(std::lround(std::clamp(v, -margin, static_cast<float>(extent) + margin)));
}

struct Style {
  int line_px;   // rectangle thickness
  double scale;  // font scale for the title (the subtitle is 80% of it)
  int text_px;   // text stroke thickness
  int pad_px;    // bar padding
  int dot_px;    // landmark radius
};

Style style_for(const cv::Size& image, const Box& box) {
  const double image_short = std::min(image.width, image.height);
  const double box_width = std::max(box.width, 1.0F);
  // Follow the box, within bounds set by the image: big faces get big labels, small faces in
  // large photos still get text readable at the photo's viewing scale.
  const double scale = std::max(0.35, std::clamp(box_width / 180.0, image_short / 1600.0,
                                                 std::max(image_short / 600.0, 0.35)));
  Style s;
  s.scale = scale;
  s.line_px = std::max(1, static_cast<int>(std::lround(image_short / 300.0)));
  s.text_px = std::max(1, static_cast<int>(std::lround(scale * 1.2)));
  s.pad_px = std::max(2, static_cast<int>(std::lround(scale * 6.0)));
  s.dot_px = std::max(1, static_cast<int>(std::lround(image_short / 400.0)));
  return s;
}

cv::Scalar text_color_on(const Color& c) {
  const double luma = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b;
  return luma > 140.0 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
}

void draw_one(cv::Mat& canvas, const FaceLabel& label) {
  const Style s = style_for(canvas.size(), label.box);
  const cv::Scalar color = to_scalar(label.color);
  const cv::Point top_left(clamp_coord(label.box.left, canvas.cols),
                           clamp_coord(label.box.top, canvas.rows));
  const cv::Point bottom_right(clamp_coord(label.box.right(), canvas.cols),
                               clamp_coord(label.box.bottom(), canvas.rows));
  cv::rectangle(canvas, top_left, bottom_right, color, s.line_px,
                cv::LINE_8);  // axis-aligned: AA only blurs

  if (label.landmarks != nullptr) {
    for (const Point& p : *label.landmarks) {
      cv::circle(canvas, {clamp_coord(p.x, canvas.cols), clamp_coord(p.y, canvas.rows)}, s.dot_px,
                 color, cv::FILLED, cv::LINE_AA);
    }
  }

  const bool visible = bottom_right.x > 0 && bottom_right.y > 0 && top_left.x < canvas.cols &&
                       top_left.y < canvas.rows;
  const std::string title = printable(label.title);
  if (title.empty() || !visible) return;  // no label for a face that is not in the picture
  const std::string subtitle = printable(label.subtitle);
  const double sub_scale = s.scale * 0.8;
  int baseline = 0;
  const cv::Size title_size = cv::getTextSize(title, kFont, s.scale, s.text_px, &baseline);
  cv::Size sub_size;
  if (!subtitle.empty())
    sub_size = cv::getTextSize(subtitle, kFont, sub_scale, s.text_px, &baseline);

  const int line_gap = s.pad_px;
  const int bar_h = s.pad_px * 2 + title_size.height +
                    (subtitle.empty() ? 0 : line_gap + sub_size.height) + baseline / 2;
  const int bar_w = std::max({bottom_right.x - top_left.x + s.line_px,
                              title_size.width + 2 * s.pad_px, sub_size.width + 2 * s.pad_px});
  // Classic face_recognition layout: below the box; above it, or inside its bottom, if the
  // image ends first.
  const int box_left = top_left.x - s.line_px / 2;
  int bar_top = bottom_right.y + (s.line_px + 1) / 2;
  if (bar_top + bar_h > canvas.rows) {
    bar_top = top_left.y - (s.line_px + 1) / 2 - bar_h >= 0
                  ? top_left.y - (s.line_px + 1) / 2 - bar_h
                  : std::max(0, std::min(bottom_right.y, canvas.rows) - bar_h);
  }
  const int bar_left = std::clamp(box_left, 0, std::max(0, canvas.cols - bar_w));
  cv::rectangle(canvas, cv::Rect(bar_left, bar_top, bar_w, bar_h), color, cv::FILLED);

  const cv::Scalar ink = text_color_on(label.color);
  int y = bar_top + s.pad_px + title_size.height;
  cv::putText(canvas, title, {bar_left + s.pad_px, y}, kFont, s.scale, ink, s.text_px, cv::LINE_AA);
  if (!subtitle.empty()) {
    y += line_gap + sub_size.height;
    cv::putText(canvas, subtitle, {bar_left + s.pad_px, y}, kFont, sub_scale, ink, s.text_px,
                cv::LINE_AA);
  }
}

}  // namespace

void draw_faces(Image& image, const std::vector<FaceLabel>& labels) {
  cv::Mat canvas = as_mat(image);
  if (canvas.empty()) return;
  for (const FaceLabel& label : labels) draw_one(canvas, label);
}

}  // namespace siamface
