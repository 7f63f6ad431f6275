#include "eval/plots.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "image/cv_image.hpp"

namespace siamface {
namespace {

constexpr int kWidth = 640, kHeight = 480, kMargin = 60;

struct Canvas {
  cv::Mat mat{kHeight, kWidth, CV_8UC3, cv::Scalar(255, 255, 255)};
  cv::Rect plot{kMargin, 30, kWidth - kMargin - 20, kHeight - 30 - kMargin};

  cv::Point at(double fx, double fy) const {  // fx, fy in 0..1
    return {plot.x + static_cast<int>(std::clamp(fx, 0.0, 1.0) * plot.width),
            plot.y + plot.height - static_cast<int>(std::clamp(fy, 0.0, 1.0) * plot.height)};
  }
  void text(const std::string& s, cv::Point p, double scale = 0.45) {
    cv::putText(mat, s, p, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  void frame(const std::string& title, const std::string& x_label, const std::string& y_label) {
    cv::rectangle(mat, plot, cv::Scalar(0, 0, 0), 1);
    text(title, {kMargin, 20}, 0.55);
    text(x_label, {plot.x + plot.width / 2 - 60, kHeight - 15});
    text(y_label, {plot.x + 6, plot.y + 16});  // inside the frame, clear of the title
  }
};

}  // namespace

Image plot_roc(const std::vector<RocPoint>& roc, const std::string& title) {
  Canvas canvas;
  canvas.frame(title, "false accept rate (log)", "true accept rate");
  const auto fx = [](double far) { return (std::log10(std::max(far, 1e-3)) + 3.0) / 3.0; };
  for (int decade = -3; decade <= 0; ++decade) {
    const cv::Point p = canvas.at((decade + 3) / 3.0, 0);
    cv::line(canvas.mat, p, canvas.at((decade + 3) / 3.0, 1), cv::Scalar(220, 220, 220));
    canvas.text("1e" + std::to_string(decade), {p.x - 12, p.y + 18});
  }
  for (int tenth = 0; tenth <= 10; tenth += 2) {
    const cv::Point p = canvas.at(0, tenth / 10.0);
    cv::line(canvas.mat, p, canvas.at(1, tenth / 10.0), cv::Scalar(220, 220, 220));
    canvas.text(std::to_string(tenth / 10.0).substr(0, 3), {p.x - 30, p.y + 4});
  }
  std::vector<cv::Point> points;
  for (const RocPoint& point : roc) points.push_back(canvas.at(fx(point.false_accept_rate), point.true_accept_rate));
  if (points.size() > 1) cv::polylines(canvas.mat, points, false, cv::Scalar(200, 80, 0), 2, cv::LINE_AA);
  return from_mat(canvas.mat);
}

Image plot_distance_histogram(const std::vector<float>& genuine, const std::vector<float>& impostor,
                              double threshold, const std::string& title) {
  Canvas canvas;
  canvas.frame(title, "Euclidean distance", "share of pairs");
  constexpr int kBins = 60;
  constexpr double kMaxDistance = 1.5;
  const auto histogram = [&](const std::vector<float>& values) {
    std::vector<double> bins(kBins, 0.0);
    for (float v : values) bins[std::clamp(static_cast<int>(v / kMaxDistance * kBins), 0, kBins - 1)] += 1.0;
    for (double& b : bins) b /= std::max<std::size_t>(1, values.size());
    return bins;
  };
  const std::vector<double> g = histogram(genuine), im = histogram(impostor);
  const double peak = std::max(*std::max_element(g.begin(), g.end()), *std::max_element(im.begin(), im.end()));
  const auto draw = [&](const std::vector<double>& bins, const cv::Scalar& color) {
    std::vector<cv::Point> points;
    for (int i = 0; i < kBins; ++i) {
      points.push_back(canvas.at(double(i) / kBins, bins[i] / std::max(peak, 1e-9)));
      points.push_back(canvas.at(double(i + 1) / kBins, bins[i] / std::max(peak, 1e-9)));
    }
    cv::polylines(canvas.mat, points, false, color, 2, cv::LINE_AA);
  };
  draw(g, cv::Scalar(0, 160, 0));
  draw(im, cv::Scalar(0, 0, 200));
  for (int step = 0; step <= 6; ++step) {
    const cv::Point p = canvas.at(step / 6.0, 0);
    canvas.text(std::to_string(step * kMaxDistance / 6).substr(0, 4), {p.x - 12, p.y + 18});
  }
  const double tx = threshold / kMaxDistance;
  cv::line(canvas.mat, canvas.at(tx, 0), canvas.at(tx, 1), cv::Scalar(0, 0, 0), 1);
  canvas.text("threshold " + std::to_string(threshold).substr(0, 5), canvas.at(tx, 0.95));
  canvas.text("genuine", {kWidth - 140, 50});
  canvas.text("impostor", {kWidth - 140, 70});
  cv::line(canvas.mat, {kWidth - 160, 46}, {kWidth - 145, 46}, cv::Scalar(0, 160, 0), 2);
  cv::line(canvas.mat, {kWidth - 160, 66}, {kWidth - 145, 66}, cv::Scalar(0, 0, 200), 2);
  return from_mat(canvas.mat);
}

}  // namespace siamface
