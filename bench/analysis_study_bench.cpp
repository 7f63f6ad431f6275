// Issue 32: the measurements of docs/analysis.md.
//   build/bench/analysis_study_bench scores [--lfw-every K] [--only SET,...] > scores.tsv
//     (then bench/analysis_study.py liveness scores.tsv)
//   build/bench/analysis_study_bench speed [--repeat N]
// scores: every face of every real-photo set of the test data, of faceplugin's and
// Silent-Face-Anti-Spoofing's sample images when present in ~/.cache/siamface/attack_samples
// (not committed: docs/analysis.md says how to fetch them), and of synthetic attacks rendered
// here from the bona fide photos (a print and a screen re-shown to the camera: perspective,
// paper or screen tone, moire grid, glare, frame, recompression); one TSV row per face with the
// liveness net's three class probabilities (0: live) for RGB input (the package's JavaScript)
// and for BGR input (MiniFASNet's recipe, the library's choice), age and the male probability.
// speed: per face, what each attribute adds to identify's work (detect + landmarks + embed:
// Engine::analyze), computed by analyze_faces on the faces found, as ratios against identify
// alone; medians over repeats, one OpenCV thread.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "attributes/attribute_nets.hpp"
#include "bench_timing.hpp"
#include "common/test_env.hpp"
#include "image/cv_image.hpp"
#include "siamface/analysis.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"

using namespace siamface;
namespace fs = std::filesystem;
using siamface::bench::Clock;
using siamface::bench::median;
using siamface::bench::ms_since;

namespace {

// Every image under `dir`, sorted; with `every` > 1 only every every-th of them.
std::vector<fs::path> images_under(const fs::path& dir, std::size_t every = 1) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".png" || ext == ".jpeg")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (every <= 1) return files;
  std::vector<fs::path> sampled;
  for (std::size_t i = 0; i < files.size(); i += every) sampled.push_back(files[i]);
  return sampled;
}

struct Set {
  std::string name;
  std::vector<fs::path> files;
  bool bona_fide;  // every face is a live capture
};

std::vector<Set> real_sets(std::size_t lfw_every) {
  const fs::path data = test::testdata_dir();
  return {
      {"face_recognition_ageitgey", images_under(data / "face_recognition_ageitgey"), true},
      {"face-api.js", images_under(data / "face-api.js"), true},
      {"dlib_faces", images_under(data / "dlib_examples" / "faces"), true},
      {"dlib_johns", images_under(data / "dlib_examples" / "johns"), true},
      {"lfw_dev", images_under(data / "lfw_dev"), true},
      {"lfw_deepfunneled", images_under(data / "lfw" / "lfw-deepfunneled", lfw_every), true},
      {"face-api_samples", images_under(fs::path(test::models_dir()) / "samples"), true},
  };
}

// ---- Synthetic presentation attacks ------------------------------------------------------------

// The photo as a print held up to a camera: paper tone and lower contrast, a white margin, a
// slight perspective tilt, placed in a room-like background, soft focus, sensor noise, JPEG.
cv::Mat render_print(const cv::Mat& photo, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  cv::Mat paper;
  photo.convertTo(paper, CV_32FC3, 0.75 + 0.1 * u(rng), 30 + 20 * u(rng));  // ink on paper: lifted blacks
  paper = paper.mul(cv::Scalar(0.93, 0.97, 1.0));                          // warm paper tone (BGR)
  const int margin = std::max(6, photo.cols / 12);
  cv::copyMakeBorder(paper, paper, margin, margin, margin, margin, cv::BORDER_CONSTANT, cv::Scalar(235, 240, 245));
  const int w = paper.cols * 3 / 2, h = paper.rows * 3 / 2;
  cv::Mat scene(h, w, CV_32FC3, cv::Scalar(90 + 40 * u(rng), 100 + 40 * u(rng), 110 + 40 * u(rng)));
  const float dx = paper.cols * 0.08F * static_cast<float>(u(rng)), dy = paper.rows * 0.06F * static_cast<float>(u(rng));
  const cv::Point2f src[4] = {{0, 0}, {float(paper.cols), 0}, {float(paper.cols), float(paper.rows)}, {0, float(paper.rows)}};
  const float ox = (w - paper.cols) / 2.0F, oy = (h - paper.rows) / 2.0F;
  const cv::Point2f dst[4] = {{ox + dx, oy}, {ox + paper.cols - dx, oy + dy}, {ox + paper.cols, oy + paper.rows - dy},
                              {ox, oy + paper.rows}};
  cv::warpPerspective(paper, scene, cv::getPerspectiveTransform(src, dst), scene.size(), cv::INTER_LINEAR,
                      cv::BORDER_TRANSPARENT);
  cv::GaussianBlur(scene, scene, cv::Size(0, 0), 0.8 + 0.6 * u(rng));
  cv::Mat noise(scene.size(), CV_32FC3);
  cv::randn(noise, 0, 3);
  scene += noise;
  cv::Mat out;
  scene.convertTo(out, CV_8UC3);
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", out, jpeg, {cv::IMWRITE_JPEG_QUALITY, 80});
  return cv::imdecode(jpeg, cv::IMREAD_COLOR);
}

// The photo on a phone or monitor filmed by a camera: a black bezel, the screen's pixel grid
// beating against the camera's (moire), a bluish backlight with raised blacks, a glare spot,
// a slight tilt, JPEG.
cv::Mat render_screen(const cv::Mat& photo, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  cv::Mat screen;
  photo.convertTo(screen, CV_32FC3, 0.85, 25);
  screen = screen.mul(cv::Scalar(1.05, 1.0, 0.92));  // cool white point (BGR)
  const double period = 2.5 + 2.0 * u(rng), angle = 0.2 * u(rng);
  for (int y = 0; y < screen.rows; ++y) {
    auto* row = screen.ptr<cv::Vec3f>(y);
    for (int x = 0; x < screen.cols; ++x) {
      const double t = (x * std::cos(angle) + y * std::sin(angle)) / period;
      for (int c = 0; c < 3; ++c) row[x][c] *= static_cast<float>(0.82 + 0.18 * std::cos(2 * M_PI * (t + c / 3.0)));
    }
  }
  const cv::Point glare(static_cast<int>(screen.cols * (0.2 + 0.6 * u(rng))), static_cast<int>(screen.rows * (0.2 + 0.5 * u(rng))));
  cv::Mat spot(screen.size(), CV_32F, cv::Scalar(0));
  cv::circle(spot, glare, std::max(4, screen.cols / 8), cv::Scalar(1), cv::FILLED);
  cv::GaussianBlur(spot, spot, cv::Size(0, 0), screen.cols / 10.0);
  std::vector<cv::Mat> planes;
  cv::split(screen, planes);
  for (cv::Mat& plane : planes) plane += spot * 90;
  cv::merge(planes, screen);
  const int bezel = std::max(8, photo.cols / 10);
  cv::copyMakeBorder(screen, screen, bezel, bezel * 2, bezel, bezel, cv::BORDER_CONSTANT, cv::Scalar(20, 20, 20));
  const int w = screen.cols * 3 / 2, h = screen.rows * 3 / 2;
  cv::Mat scene(h, w, CV_32FC3, cv::Scalar(60 + 60 * u(rng), 70 + 60 * u(rng), 80 + 60 * u(rng)));
  const double tilt = -6 + 12 * u(rng);
  cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(screen.cols / 2.0F, screen.rows / 2.0F), tilt, 1.0);
  m.at<double>(0, 2) += (w - screen.cols) / 2.0;
  m.at<double>(1, 2) += (h - screen.rows) / 2.0;
  cv::warpAffine(screen, scene, m, scene.size(), cv::INTER_LINEAR, cv::BORDER_TRANSPARENT);
  cv::Mat out;
  scene.convertTo(out, CV_8UC3);
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", out, jpeg, {cv::IMWRITE_JPEG_QUALITY, 75});
  return cv::imdecode(jpeg, cv::IMREAD_COLOR);
}

// ---- scores ------------------------------------------------------------------------------

struct Nets {
  Engine engine;
  std::unique_ptr<LivenessNet> liveness;
  std::unique_ptr<AgeGenderNet> age_gender;
};

void score_image(const Nets& nets, const std::string& set, const std::string& file, const cv::Mat& bgr) {
  const Image image = from_mat(bgr);
  const std::vector<Face> faces = nets.engine.detect(image);
  for (std::size_t i = 0; i < faces.size(); ++i) {
    const Face& face = faces[i];
    if (std::min(face.box.width, face.box.height) < kMinAnalysisFacePx) continue;
    const cv::Rect crop = liveness_crop(face.box, bgr.cols, bgr.rows);
    cv::Mat input;
    cv::resize(bgr(crop), input, cv::Size(kLivenessInputSize, kLivenessInputSize), 0, 0, cv::INTER_LINEAR);
    const std::vector<float> bgr_probs = nets.liveness->predict_input(input);  // what the library feeds
    cv::Mat swapped;
    cv::cvtColor(input, swapped, cv::COLOR_BGR2RGB);  // what the package's JavaScript feeds
    const std::vector<float> rgb = nets.liveness->predict_input(swapped);
    const AgeGenderOutput ag = nets.age_gender->predict_all(bgr, {face_api_aligned_box(face.landmarks)}).front();
    std::printf("%s\t%s\t%zu\t%.0f\t%.4f\t%.5f\t%.5f\t%.5f\t%.5f\t%.5f\t%.5f\t%.2f\t%.4f\n", set.c_str(), file.c_str(), i,
                std::min(face.box.width, face.box.height), face.score, rgb[0], rgb[1], rgb[2], bgr_probs[0], bgr_probs[1],
                bgr_probs[2], ag.age_years, ag.male_probability);
  }
  std::fflush(stdout);
}

// `only`: a comma-separated list of set names to score (empty: all).
int run_scores(std::size_t lfw_every, const std::string& only) {
  const auto wanted = [&](const std::string& name) {
    return only.empty() || ("," + only + ",").find("," + name + ",") != std::string::npos;
  };
  const fs::path models = test::models_dir();
  Nets nets{Engine::open(), make_liveness_net(models), make_age_gender_net(models)};
  std::printf("set\tfile\tface\tsize_px\tdet_score\trgb0\trgb1\trgb2\tbgr0\tbgr1\tbgr2\tage\tmale\n");
  std::mt19937 rng(32);
  for (const Set& set : real_sets(lfw_every)) {
    if (!wanted(set.name)) continue;
    std::size_t index = 0;
    for (const fs::path& file : set.files) {
      const cv::Mat bgr = cv::imread(file.string(), cv::IMREAD_COLOR);
      if (bgr.empty()) continue;
      score_image(nets, set.name, file.string(), bgr);
      // Synthetic attacks from every bona fide photo except LFW's thousands (every tenth there).
      if (set.name == "lfw_deepfunneled" && index++ % 10 != 0) continue;
      score_image(nets, "synthetic_print", file.string(), render_print(bgr, rng));
      score_image(nets, "synthetic_screen", file.string(), render_screen(bgr, rng));
    }
  }
  const fs::path samples = fs::path(std::getenv("HOME") ? std::getenv("HOME") : ".") / ".cache/siamface/attack_samples";
  for (const fs::path& file : wanted("attack_samples") ? images_under(samples) : std::vector<fs::path>{}) {
    const cv::Mat bgr = cv::imread(file.string(), cv::IMREAD_COLOR);
    if (!bgr.empty()) score_image(nets, "attack_samples", file.string(), bgr);
  }
  return 0;
}

// ---- speed -------------------------------------------------------------------------------

int run_speed(int repeat) {
  cv::setNumThreads(1);
  const Engine engine = Engine::open();
  std::vector<Image> photos;
  std::size_t face_count = 0;
  for (const fs::path& file : images_under(test::testdata_dir() / "lfw_dev")) {
    Image image = load_image(file.string());
    if (engine.detect(image).empty()) continue;
    photos.push_back(std::move(image));
  }
  for (const fs::path& file : images_under(fs::path(test::models_dir()) / "samples")) photos.push_back(load_image(file.string()));
  for (const Image& photo : photos) face_count += engine.detect(photo).size();
  struct Config {
    std::string name;
    std::function<void(const Image&)> run;
  };
  const auto analyze_with = [&](const char* attributes) {
    AnalyzeOptions options;
    options.attributes = AttributeSet::parse(attributes);
    // identify's work, then the attribute for the faces it found, all at once (analyze_faces
    // over faces already detected, as the liveness gate and the HTTP face plugins can).
    return [&engine, options](const Image& image) {
      std::vector<Face> faces;
      for (const FaceEmbedding& face : engine.analyze(image)) faces.push_back(face.face);
      analyze_faces(engine, image, faces, options);
    };
  };
  // Warm every net first: the first call loads the models.
  AnalyzeOptions warm;
  warm.attributes = AttributeSet::all();
  analyze_faces(engine, photos.front(), warm);
  const std::vector<Config> configs = {
      {"identify alone (detect + landmarks + embed)", [&](const Image& image) { engine.analyze(image); }},
      {"+ pose", analyze_with("pose")},
      {"+ age and gender", analyze_with("age,gender")},
      {"+ expression", analyze_with("expression")},
      {"+ liveness", analyze_with("liveness")},
      {"+ all five", analyze_with("age,gender,expression,liveness,pose")},
  };
  std::vector<std::vector<double>> totals(configs.size());
  // The configurations take turns photo by photo, in a rotating order, so load from other
  // processes hits them alike; a repeat's figure is the set's total per configuration.
  for (int r = 0; r < repeat; ++r) {
    std::vector<double> total(configs.size(), 0.0);
    for (std::size_t p = 0; p < photos.size(); ++p) {
      for (std::size_t k = 0; k < configs.size(); ++k) {
        const std::size_t c = (k + p + static_cast<std::size_t>(r)) % configs.size();
        const auto start = Clock::now();
        configs[c].run(photos[p]);
        total[c] += ms_since(start);
      }
    }
    for (std::size_t c = 0; c < configs.size(); ++c) totals[c].push_back(total[c]);
  }
  const double base = median(totals[0]);
  std::printf("%zu photos, %zu faces, %d repeats, one OpenCV thread; medians\n", photos.size(), face_count, repeat);
  std::printf("%-45s %12s %14s %10s\n", "configuration", "ms per face", "added ms/face", "ratio");
  for (std::size_t c = 0; c < configs.size(); ++c) {
    const double per_face = median(totals[c]) / face_count;
    std::printf("%-45s %12.2f %14.2f %10.2f\n", configs[c].name.c_str(), per_face, per_face - base / face_count,
                median(totals[c]) / base);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  std::size_t lfw_every = 1;
  std::string only;
  int repeat = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--lfw-every") lfw_every = std::strtoul(argv[i + 1], nullptr, 10);
    if (flag == "--repeat") repeat = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--only") only = argv[i + 1];
  }
  try {
    if (mode == "scores") return run_scores(lfw_every, only);
    if (mode == "speed") return run_speed(repeat);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "analysis_study_bench: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "usage: analysis_study_bench scores [--lfw-every K] [--only SET,...] | speed [--repeat N]\n");
  return 2;
}
