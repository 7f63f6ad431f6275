// Median milliseconds per pipeline stage (decode, detect, landmarks, align, embed) with
// OpenCV using 1 and 2 threads, side by side with their ratio; then identify throughput in
// photos/s with 1 and 2 parallel workers; embed cost per test-time augmentation and per
// recognizer (dlib, mfn, fused); detect cost per border-pass policy.
//   build/bench/pipeline_bench [--images DIR]... [--repeat N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <sstream>
#include <thread>

#include "align/face_chip.hpp"
#include "common/test_env.hpp"
#include "detect/face_detector.hpp"
#include "embed/recognition_net.hpp"
#include "image/cv_image.hpp"
#include "landmarks/landmark_net.hpp"
#include "bench_timing.hpp"
#include "siamface/image.hpp"
#include "siamface/identify.hpp"

using namespace siamface;
namespace fs = std::filesystem;
using siamface::bench::Clock;
using siamface::bench::median;
using siamface::bench::ms_since;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::map<std::string, double> stage_medians(const std::vector<std::string>& files, int repeat) {
  const fs::path models = default_models_dir();
  const auto detector = make_ssd_mobilenet_detector(models);
  const auto landmarks = make_landmark_net(models, LandmarkKind::kFull);
  const auto recognition = make_recognition_net(models);
  std::map<std::string, std::vector<double>> times;
  for (int r = 0; r < repeat; ++r) {
    for (const std::string& file : files) {
      const std::string bytes = read_bytes(file);
      auto start = Clock::now();
      const Image image = decode_image({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
      times["decode"].push_back(ms_since(start));
      const cv::Mat bgr = as_mat(image);
      start = Clock::now();
      const auto found = detector->detect(bgr, detector->default_min_score());
      times["detect"].push_back(ms_since(start));
      if (!found.empty()) {  // the engine's way: every face of the photo in one predict_all
        std::vector<LandmarkRegion> regions;
        for (const RawDetection& detection : found) regions.push_back({bgr, detection.box});
        start = Clock::now();
        landmarks->predict_all(regions);
        times["landmarks batched (per face)"].push_back(ms_since(start) / static_cast<double>(found.size()));
      }
      for (const RawDetection& detection : found) {
        start = Clock::now();
        const Landmarks points = landmarks->predict(bgr, detection.box);
        times["landmarks (per face)"].push_back(ms_since(start));
        start = Clock::now();
        const cv::Mat chip = extract_face_chip(bgr, points);
        times["align (per face)"].push_back(ms_since(start));
        start = Clock::now();
        recognition->embed({chip});
        times["embed (per face)"].push_back(ms_since(start));
      }
    }
  }
  std::map<std::string, double> medians;
  for (auto& [stage, values] : times) medians[stage] = median(values);
  return medians;
}

// Median ms of Engine::embed per face (align + embed) with `options` (one OpenCV thread).
double embed_median(const ModelOptions& options, const ChipOptions& chip, const std::vector<std::string>& files,
                    int repeat) {
  const Engine engine = Engine::open(options);
  std::vector<double> times;
  for (const std::string& file : files) {
    const Image image = load_image(file);
    for (const Face& face : engine.detect(image)) {
      for (int r = 0; r < repeat; ++r) {
        const auto start = Clock::now();
        engine.embed(image, face, chip);
        times.push_back(ms_since(start));
      }
    }
  }
  return median(times);
}

// Median ms of Engine::embed per face under each test-time augmentation (one OpenCV thread).
std::map<EmbedAugmentation, double> augmentation_medians(const std::vector<std::string>& files, int repeat) {
  std::map<EmbedAugmentation, double> medians;
  for (EmbedAugmentation augmentation :
       {EmbedAugmentation::kNone, EmbedAugmentation::kFlip, EmbedAugmentation::kFlipRotate}) {
    ChipOptions chip;
    chip.augmentation = augmentation;
    medians[augmentation] = embed_median(ModelOptions{}, chip, files, repeat);
  }
  return medians;
}

// The same per recognizer (issue 16: the cost of each mode).
std::map<Recognizer, double> recognizer_medians(const std::vector<std::string>& files, int repeat) {
  std::map<Recognizer, double> medians;
  for (Recognizer recognizer : {Recognizer::kDlib, Recognizer::kMobileFaceNet, Recognizer::kFused}) {
    ModelOptions options;
    options.recognizer = recognizer;
    medians[recognizer] = embed_median(options, ChipOptions{}, files, repeat);
  }
  return medians;
}

// Median ms of Engine::detect per photo under each border-pass policy (one OpenCV thread).
std::map<BorderPass, double> border_pass_medians(const std::vector<std::string>& files, int repeat) {
  const Engine engine = Engine::open();
  std::map<BorderPass, double> medians;
  for (BorderPass pass : {BorderPass::kWhenEmpty, BorderPass::kAuto, BorderPass::kNeeded, BorderPass::kAlways}) {
    DetectOptions options;
    options.border_pass = pass;
    std::vector<double> times;
    for (const std::string& file : files) {
      const Image image = load_image(file);
      for (int r = 0; r < repeat; ++r) {
        const auto start = Clock::now();
        engine.detect(image, options);
        times.push_back(ms_since(start));
      }
    }
    medians[pass] = median(times);
  }
  return medians;
}

double identify_photos_per_second(const Engine& engine, const Gallery& gallery, const std::vector<std::string>& files,
                                  int workers) {
  std::atomic<std::size_t> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < files.size(); i = next++) {
        identify_image(engine, gallery, load_image(files[i]), IdentifyOptions{});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return files.size() / (ms_since(start) / 1000.0);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> dirs;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--images") && i + 1 < argc) dirs.push_back(argv[++i]);
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::atoi(argv[++i]);
  }
  if (dirs.empty()) dirs.push_back(default_models_dir() + "/samples");
  std::vector<std::string> files;
  for (const std::string& dir : dirs)
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file() && entry.path().extension() == ".jpg") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  if (files.size() > 60) files.resize(60);
  std::printf("pipeline_bench: %zu photos, %d repeats, median ms\n", files.size(), repeat);

  cv::setNumThreads(1);
  const auto one = stage_medians(files, repeat);
  cv::setNumThreads(2);
  const auto two = stage_medians(files, repeat);
  std::printf("%-22s %10s %10s %14s\n", "stage", "1 thread", "2 threads", "ratio 1t/2t");
  for (const auto& [stage, ms] : one) {
    std::printf("%-22s %10.2f %10.2f %14.2f\n", stage.c_str(), ms, two.at(stage), ms / std::max(two.at(stage), 1e-9));
  }

  cv::setNumThreads(1);
  const auto augmented = augmentation_medians(files, repeat);
  std::printf("\nembed per face by test-time augmentation (align + embed, 1 thread)\n");
  for (const auto& [augmentation, ms] : augmented) {
    std::printf("%-22s %10.2f ms   ratio to none %.2f\n", to_string(augmentation), ms,
                ms / std::max(augmented.at(EmbedAugmentation::kNone), 1e-9));
  }

  const auto by_recognizer = recognizer_medians(files, repeat);
  std::printf("\nembed per face by recognizer (align + embed, 1 thread)\n");
  for (const auto& [recognizer, ms] : by_recognizer) {
    std::printf("%-22s %10.2f ms   ratio to dlib %.2f\n", to_string(recognizer), ms,
                ms / std::max(by_recognizer.at(Recognizer::kDlib), 1e-9));
  }

  const auto by_border_pass = border_pass_medians(files, repeat);
  std::printf("\ndetect + landmarks per photo by border pass (Engine::detect, 1 thread)\n");
  const std::map<BorderPass, const char*> pass_names = {
      {BorderPass::kWhenEmpty, "empty"}, {BorderPass::kAuto, "auto"}, {BorderPass::kNeeded, "needed (default)"},
      {BorderPass::kAlways, "always"}};
  for (const auto& [pass, ms] : by_border_pass) {
    std::printf("%-22s %10.2f ms   ratio to empty %.2f\n", pass_names.at(pass), ms,
                ms / std::max(by_border_pass.at(BorderPass::kWhenEmpty), 1e-9));
  }

  const fs::path gallery_path = fs::temp_directory_path() / ("pipeline_bench_" + std::to_string(::getpid()) + ".db");
  {
    const Engine engine = Engine::open();
    Gallery gallery = Gallery::open(gallery_path.string());
    // One face per photo of the set enrolled under the file name: a realistic gallery size.
    std::vector<EnrollResult> batch;
    for (const std::string& file : files) {
      EnrollOptions options;
      options.take_largest = true;
      batch.push_back(prepare_enrollment(engine, fs::path(file).stem().string(), file, options));
    }
    commit_enrollments(gallery, batch);
    cv::setNumThreads(2);
    const double single = identify_photos_per_second(engine, gallery, files, 1);
    cv::setNumThreads(1);
    const double parallel = identify_photos_per_second(engine, gallery, files, 2);
    std::printf("\nidentify throughput (gallery of %lld faces)\n", static_cast<long long>(gallery.face_count()));
    std::printf("%-34s %10.2f photos/s\n", "1 worker, OpenCV 2 threads", single);
    std::printf("%-34s %10.2f photos/s   ratio %.2f\n", "2 workers, OpenCV 1 thread each", parallel, parallel / single);
  }
  fs::remove(gallery_path);
  fs::remove(gallery_path.string() + "-wal");
  fs::remove(gallery_path.string() + "-shm");
  return 0;
}
