// Issue 18: identify photos per second, today's default pipeline (the baseline) against each
// speed candidate, measured side by side in one run: for every photo set the configurations
// take turns photo by photo, each repeat, so load from other processes hits them alike; the
// figure is the median over repeats of the set's total time, and the ratio is baseline time /
// candidate time (> 1: faster). The order rotates; the baseline runs twice, so the second
// baseline's ratio shows the run's noise. Then where a photo's time goes (stages, baseline and chosen).
//   taskset -c 1 build/bench/identify_speed_bench [--repeat N] [--sets samples,synthetic] [--lfw DIR]
// Sets: the bundled samples (scripts/setup.sh installs 6 photos, 1920 px, 3-5 faces), and
// synthetic photos of 0.3, 2, 8 and 24 MP holding 1, 5 and 20 faces: lfw_dev's crops pasted on a
// smooth noise background in a grid (faces need not be real people here, only real faces).
// One OpenCV thread (the CLI runs one per worker, a worker per core).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <functional>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "align/arcface_chip.hpp"
#include "align/face_chip.hpp"
#include "common/scoped_settings.hpp"
#include "common/test_env.hpp"
#include "detect/face_detector.hpp"
#include "embed/mobile_face_net.hpp"
#include "embed/recognition_net.hpp"
#include "image/cv_image.hpp"
#include "landmarks/landmark_net.hpp"
#include "bench_timing.hpp"
#include "siamface/engine.hpp"
#include "siamface/decision.hpp"
#include "siamface/image.hpp"
#include "siamface/identify.hpp"

using namespace siamface;
namespace fs = std::filesystem;
using siamface::bench::Clock;
using siamface::bench::median;
using siamface::bench::ms_since;

namespace {

struct PhotoSet {
  std::string name;
  std::vector<Image> photos;  // decoded once: decoding is the same for every configuration
  std::vector<std::vector<std::uint8_t>> jpegs;  // the same photos as JPEG (quality 95), for the decode stage
};

void add_jpegs(PhotoSet& set) {
  for (const Image& photo : set.photos) {
    std::vector<std::uint8_t> bytes;
    cv::imencode(".jpg", as_mat(photo), bytes, {cv::IMWRITE_JPEG_QUALITY, 95});
    set.jpegs.push_back(std::move(bytes));
  }
}

struct Config {
  std::string name;
  PipelineOptions options;
  DetectorKind detector = ModelOptions{}.detector;  // a load-time choice: one engine per detector
  // $SIAMFACE_RECOGNITION_BACKEND for this engine: "opencv" (every network on OpenCV DNN, as
  // before oneDNN), "onednn-bf16" (the opt-in), or empty for the caller's choice.
  std::string backend;
};

// One engine per detector and backend; the backend is chosen where the engine loads its
// networks, through the variable make_recognition_net reads.
Engine open_engine(const Config& config) {
  ModelOptions models;
  models.detector = config.detector;
  if (config.backend.empty()) return Engine::open(models);
  // The other configurations keep what the caller chose (e.g. onednn-bf16).
  const test::ScopedEnv backend("SIAMFACE_RECOGNITION_BACKEND", config.backend.c_str());
  return Engine::open(models);
}

// Today's default pipeline, pinned so it stays the baseline whatever the defaults become.
PipelineOptions baseline_options() {
  PipelineOptions options;
  options.detect.border_pass = BorderPass::kAuto;
  return options;
}

std::vector<Config> configs() {
  std::vector<Config> out;
  // The baseline: SSD, border pass auto, every network on OpenCV DNN.
  out.push_back({"baseline (SSD, border pass auto, networks on OpenCV DNN)", baseline_options(), DetectorKind::kSsd, "opencv"});
  // The baseline a second time: the spread between the two is the noise of the run.
  out.push_back({"baseline again (noise)", baseline_options(), DetectorKind::kSsd, "opencv"});
  PipelineOptions needed = baseline_options();
  needed.detect.border_pass = BorderPass::kNeeded;
  out.push_back({"**today's default** (RFB, border pass needed, oneDNN)", needed, ModelOptions{}.detector});
  out.push_back({"SSD, border pass needed, oneDNN (the default before)", needed, DetectorKind::kSsd});
  // The opt-in bf16 (CPUs with native bf16 only; left out elsewhere): the SSD and the ResNet in bf16.
  out.push_back({"SSD, onednn-bf16 (opt-in: SSD and ResNet in bf16)", needed, DetectorKind::kSsd, "onednn-bf16"});
  return out;
}

std::vector<fs::path> lfw_crops(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".jpg") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A width x height photo with `faces` crops in a grid on a smooth noise background.
Image synthetic_photo(int width, int height, int faces, const std::vector<fs::path>& crops, std::size_t& next) {
  cv::Mat noise(std::max(2, height / 64), std::max(2, width / 64), CV_8UC3);
  cv::RNG rng(static_cast<std::uint64_t>(width) * 7919 + static_cast<std::uint64_t>(faces));
  rng.fill(noise, cv::RNG::UNIFORM, 40, 200);
  cv::Mat canvas;
  cv::resize(noise, canvas, cv::Size(width, height), 0, 0, cv::INTER_CUBIC);
  const int columns = static_cast<int>(std::ceil(std::sqrt(faces * static_cast<double>(width) / height)));
  const int rows = (faces + columns - 1) / columns;
  const int cell_w = width / columns, cell_h = height / rows;
  // A lone face takes a third of the short side, like a person in a snapshot, not a passport photo.
  const int side = std::min({cell_w, cell_h, std::min(width, height) / 3}) * 9 / 10;
  for (int i = 0; i < faces; ++i) {
    const cv::Mat crop = cv::imread(crops[next++ % crops.size()].string(), cv::IMREAD_COLOR);
    cv::Mat scaled;
    cv::resize(crop, scaled, cv::Size(side, side), 0, 0, side < crop.cols ? cv::INTER_AREA : cv::INTER_CUBIC);
    const int x = (i % columns) * cell_w + (cell_w - side) / 2, y = (i / columns) * cell_h + (cell_h - side) / 2;
    scaled.copyTo(canvas(cv::Rect(x, y, side, side)));
  }
  return from_mat(canvas);
}

std::vector<PhotoSet> photo_sets(const std::string& which, const fs::path& lfw_dir) {
  std::vector<PhotoSet> sets;
  if (which.find("samples") != std::string::npos) {
    PhotoSet samples{"bundled samples (6, 1920 px)", {}};
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(fs::path(default_models_dir()) / "samples")) {
      if (e.path().extension() == ".jpg") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) samples.photos.push_back(load_image(f.string()));
    add_jpegs(samples);
    sets.push_back(std::move(samples));
  }
  if (which.find("synthetic") != std::string::npos) {
    const std::vector<fs::path> crops = lfw_crops(lfw_dir);
    if (crops.empty()) throw Error(ErrorCode::kIo, "no .jpg crops under " + lfw_dir.string());
    std::size_t next = 0;
    const struct { const char* label; int w, h; } sizes[] = {
        {"0.3 MP", 640, 480}, {"2 MP", 1632, 1224}, {"8 MP", 3264, 2448}, {"24 MP", 5664, 4248}};
    for (const auto& size : sizes) {
      for (int faces : {1, 5, 20}) {
        PhotoSet set{std::string(size.label) + ", " + std::to_string(faces) + " face" + (faces > 1 ? "s" : ""), {}};
        for (int p = 0; p < 3; ++p) set.photos.push_back(synthetic_photo(size.w, size.h, faces, crops, next));
        add_jpegs(set);
        sets.push_back(std::move(set));
      }
    }
  }
  return sets;
}

// Median ms per stage of one photo, recomputed from the engine's parts as Engine::analyze runs
// them for `options` (detect first pass, border pass, landmarks with the mirrored pass, both
// chips, each network over the photo's faces in one batch).
std::map<std::string, std::vector<double>> stage_times(const Engine& engine, const PhotoSet& set,
                                                       const PipelineOptions& options, int repeat) {
  const fs::path models = default_models_dir();
  static const auto detector = make_ssd_mobilenet_detector(models);
  static const auto dlib = make_recognition_net(models);  // the default backend (oneDNN when built with it)
  static const auto mfn = make_mobile_face_net(models);
  std::map<std::string, std::vector<double>> times;
  for (int r = 0; r < repeat; ++r) {
    for (std::size_t p = 0; p < set.photos.size(); ++p) {
      const Image& photo = set.photos[p];
      auto start = Clock::now();
      decode_image(set.jpegs[p]);
      times["decode (JPEG q95; not in the photos/s above)"].push_back(ms_since(start));
      const cv::Mat bgr = as_mat(photo);
      const int side = std::max(bgr.cols, bgr.rows);
      start = Clock::now();
      const auto found = detector->detect(bgr, 0.5F);
      times["detect, first pass"].push_back(ms_since(start));
      std::vector<Face> first_pass;
      for (const RawDetection& d : found) first_pass.push_back(Face{.box = d.box, .score = d.score});
      const bool small = side <= kBorderPassAlwaysMaxSide;
      const BorderPass pass = options.detect.border_pass;
      const bool border = found.empty() ? pass != BorderPass::kOff
                                        : pass == BorderPass::kAlways || (pass == BorderPass::kAuto && small) ||
                                              (pass == BorderPass::kNeeded && small &&
                                               border_pass_needed(first_pass, bgr.cols, bgr.rows));
      start = Clock::now();
      if (border) detect_with_border(*detector, bgr, 0.5F);
      times["detect, border pass"].push_back(ms_since(start));
      std::vector<cv::Mat> dlib_chips, mfn_chips;
      double landmark_ms = 0, align_ms = 0;
      for (const RawDetection& d : found) {
        start = Clock::now();
        const Landmarks points = engine.face_at(photo, d.box, options).landmarks;  // both passes + quality
        landmark_ms += ms_since(start);
        start = Clock::now();
        dlib_chips.push_back(extract_face_chip(bgr, points));
        mfn_chips.push_back(extract_arcface_chip(bgr, points));
        align_ms += ms_since(start);
      }
      times["landmarks (both passes) + quality, all faces"].push_back(landmark_ms);
      times["align (both chips), all faces"].push_back(align_ms);
      start = Clock::now();
      if (!dlib_chips.empty()) dlib->embed(dlib_chips);
      times["embed dlib ResNet, all faces"].push_back(ms_since(start));
      start = Clock::now();
      if (!mfn_chips.empty()) mfn->embed(mfn_chips);
      times["embed MobileFaceNet, all faces"].push_back(ms_since(start));
      times["faces"].push_back(static_cast<double>(found.size()));
    }
  }
  return times;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 5;
  std::string which = "samples,synthetic";
  fs::path lfw_dir = test::testdata_dir() / "lfw_dev/lfw-deepfunneled";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--sets") && i + 1 < argc) which = argv[++i];
    else if (!std::strcmp(argv[i], "--lfw") && i + 1 < argc) lfw_dir = argv[++i];
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of the source)\n", argv[i]);
      return 2;
    }
  }
  set_intra_op_threads(1);
  const std::vector<PhotoSet> sets = photo_sets(which, lfw_dir);
  std::vector<Config> candidates;
  std::map<std::pair<DetectorKind, std::string>, Engine> engines;
  for (const Config& c : configs()) {
    const std::pair key{c.detector, c.backend};
    try {
      if (!engines.count(key)) engines.emplace(key, open_engine(c));
      candidates.push_back(c);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kInvalidArgument) throw;
      std::printf("(left out: %s: %s)\n", c.name.c_str(), e.what());  // e.g. bf16 on a CPU without it
    }
  }
  // The default engine, for the stage study (which times the SSD and each network itself).
  const Engine& engine = engines.at({ModelOptions{}.detector, std::string()});
  const fs::path gallery_path = fs::temp_directory_path() / ("identify_speed_bench_" + std::to_string(::getpid()) + ".db");
  {
    Gallery gallery = Gallery::open(gallery_path.string());
    std::printf("identify_speed_bench: %d repeats, 1 OpenCV thread, fused recognizer; photos/s = photos / median "
                "time of the set; ratio = baseline time / candidate time\n\n",
                repeat);
    std::printf("| photo set | faces found (baseline) |");
    for (const Config& c : candidates) std::printf(" %s |", c.name.c_str());
    std::printf("\n|---|---|");
    for (std::size_t i = 0; i < candidates.size(); ++i) std::printf("---|");
    std::printf("\n");
    for (const PhotoSet& set : sets) {
      std::vector<std::vector<double>> totals(candidates.size(), std::vector<double>(repeat, 0.0));
      std::vector<std::size_t> faces(candidates.size(), 0);
      for (int r = 0; r < repeat; ++r) {
        for (std::size_t p = 0; p < set.photos.size(); ++p) {
          const Image& photo = set.photos[p];
          // Each configuration goes first in turn: no one pays or gains from the order.
          for (std::size_t k = 0; k < candidates.size(); ++k) {
            const std::size_t c = (k + p + static_cast<std::size_t>(r)) % candidates.size();
            IdentifyOptions options;
            options.pipeline = candidates[c].options;
            const auto start = Clock::now();
            const auto found = identify_image(engines.at({candidates[c].detector, candidates[c].backend}),
                                              gallery, photo, options);
            totals[c][static_cast<std::size_t>(r)] += ms_since(start);
            if (r == 0) faces[c] += found.size();
          }
        }
      }
      const double base = median(totals[0]);
      std::printf("| %s | %zu |", set.name.c_str(), faces[0]);
      for (std::size_t c = 0; c < candidates.size(); ++c) {
        const double ms = median(totals[c]);
        std::printf(" %.2f/s x%.2f%s |", set.photos.size() / (ms / 1000.0), base / ms,
                    faces[c] == faces[0] ? "" : (" (" + std::to_string(faces[c]) + " faces)").c_str());
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  fs::remove(gallery_path);
  fs::remove(gallery_path.string() + "-wal");
  fs::remove(gallery_path.string() + "-shm");

  std::printf("\nWhere a photo's time goes: median ms per photo (faces: median per photo), baseline | border "
              "pass needed\n\n");
  PipelineOptions chosen = baseline_options();
  chosen.detect.border_pass = BorderPass::kNeeded;
  for (const PhotoSet& set : sets) {
    // Taking turns repeat by repeat, as above.
    std::map<std::string, std::vector<double>> base, mine;
    for (int r = 0; r < std::max(1, repeat / 2); ++r) {
      for (auto [options, into] : {std::pair{baseline_options(), &base}, std::pair{chosen, &mine}}) {
        for (auto& [stage, values] : stage_times(engine, set, options, 1)) {
          (*into)[stage].insert((*into)[stage].end(), values.begin(), values.end());
        }
      }
    }
    std::printf("%s:", set.name.c_str());
    for (const auto& [stage, values] : base) {
      std::printf("  %s %.1f | %.1f;", stage.c_str(), median(values), median(mine.at(stage)));
    }
    std::printf("\n");
  }

  // The SSD at a smaller input (rejected): faster, but its boxes shrink (docs/speed-history.md, "Candidates measured and not taken").
  std::printf("\nSSD input size (rejected candidate), bundled samples and lfw_dev crops: median ms per photo, and "
              "median box side relative to the 512 px box of the same face\n");
  const auto detector = make_ssd_mobilenet_detector(default_models_dir());
  for (const PhotoSet& set : sets) {
    if (set.name.rfind("bundled", 0) != 0 && set.name.rfind("0.3 MP, 1 ", 0) != 0) continue;
    std::printf("%s:", set.name.c_str());
    for (int input : {512, 384, 256}) {
      std::vector<double> ms, side_ratio;
      for (int r = 0; r < std::max(1, repeat / 2); ++r) {
        for (const Image& photo : set.photos) {
          const cv::Mat bgr = as_mat(photo);
          const auto reference = detector->detect(bgr, 0.5F);
          const auto start = Clock::now();
          const auto found = detector->detect_at(bgr, 0.5F, input);
          ms.push_back(ms_since(start));
          for (const RawDetection& d : found) {
            for (const RawDetection& ref : reference) {
              const Point c = d.box.center();
              const bool inside = c.x >= ref.box.left && c.x <= ref.box.right() && c.y >= ref.box.top &&
                                  c.y <= ref.box.bottom();
              if (inside) {
                side_ratio.push_back(std::sqrt(d.box.area() / ref.box.area()));
                break;
              }
            }
          }
        }
      }
      std::printf("  %d px %.1f ms, box side x%.2f;", input, median(ms), median(side_ratio));
    }
    std::printf("\n");
  }
  return 0;
}
