// Study: the MobileFaceNet on oneDNN (src/embed/dnnl_mobile_face_net.cpp) against the product's
// OpenCV DNN implementation (src/embed/mobile_face_net.cpp). Prints
//   (a) how far the oneDNN embeddings are from OpenCV's, on random chips and on LFW face chips
//       (max |difference| per value, max Euclidean distance between the two L2-normalised
//       embeddings of a chip), batch 11 against batch 1, and two threads at once against one;
//   (b) ms per face at batch 1 and 8, one thread for both engines, implementations interleaved
//       every round, median of the rounds after a warm-up round.
//
//   build/bench/dnnl_mfn_study_bench [--models DIR] [--lfw DIR] [--rounds N]
//
// Per-layer times: run with ONEDNN_VERBOSE=1 (oneDNN prints one line per executed primitive).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_timing.hpp"
#include "embed/dnnl_mobile_face_net.hpp"
#include "embed/mobile_face_net.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"

namespace fs = std::filesystem;
using siamface::MobileFaceNet;
using namespace siamface::bench;

namespace {

using Embeddings = std::vector<std::vector<float>>;

constexpr int kChip = 112;
constexpr int kCompareChips = 16;

std::vector<cv::Mat> random_chips(int count) {
  cv::RNG rng(20240601);  // fixed: the figures are reproducible
  std::vector<cv::Mat> chips;
  for (int i = 0; i < count; ++i) {
    cv::Mat chip(kChip, kChip, CV_8UC3);
    rng.fill(chip, cv::RNG::UNIFORM, 0, 256);
    chips.push_back(chip);
  }
  return chips;
}

// LFW deep-funneled photos are 250x250 with the face near the centre: resize to 180x180 and keep the
// central 112x112. Good enough for a numeric comparison, not an aligned chip.
std::vector<cv::Mat> lfw_chips(const fs::path& dir, int count) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return {};
  for (const auto& person : fs::directory_iterator(dir)) {
    if (!person.is_directory()) continue;
    for (const auto& file : fs::directory_iterator(person.path())) {
      if (file.path().extension() == ".jpg") files.push_back(file.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<cv::Mat> chips;
  for (const fs::path& file : files) {
    if (static_cast<int>(chips.size()) == count) break;
    const cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);
    if (image.empty()) continue;
    cv::Mat resized;
    cv::resize(image, resized, cv::Size(180, 180), 0, 0, cv::INTER_AREA);
    chips.push_back(resized(cv::Rect(34, 34, kChip, kChip)).clone());
  }
  return chips;
}

struct Diff {
  double max_abs = 0;   // over every value of every embedding
  double max_dist = 0;  // Euclidean distance between the two embeddings of one chip, max over chips
  double mean_dist = 0;
};

Diff compare(const Embeddings& a, const Embeddings& b) {
  Diff d;
  if (a.size() != b.size()) std::abort();
  for (std::size_t i = 0; i < a.size(); ++i) {
    double sq = 0;
    for (std::size_t k = 0; k < a[i].size(); ++k) {
      const double delta = static_cast<double>(a[i][k]) - b[i][k];
      d.max_abs = std::max(d.max_abs, std::abs(delta));
      sq += delta * delta;
    }
    d.max_dist = std::max(d.max_dist, std::sqrt(sq));
    d.mean_dist += std::sqrt(sq) / static_cast<double>(a.size());
  }
  return d;
}

// Smallest Euclidean distance between embeddings of different chips: context for the diffs.
double min_pair_distance(const Embeddings& e) {
  double best = 1e30;
  for (std::size_t i = 0; i < e.size(); ++i)
    for (std::size_t j = i + 1; j < e.size(); ++j) best = std::min(best, compare({e[i]}, {e[j]}).max_dist);
  return best;
}

void compare_set(const std::string& label, const std::vector<cv::Mat>& chips, const MobileFaceNet& opencv,
                 const MobileFaceNet& onednn) {
  if (chips.empty()) {
    std::printf("%s: no chips\n", label.c_str());
    return;
  }
  const Embeddings reference = opencv.embed(chips);
  const Embeddings batched = onednn.embed(chips);
  const Diff d = compare(reference, batched);
  std::printf("%s (%zu chips; closest pair of chips %.4f):\n", label.c_str(), chips.size(),
              min_pair_distance(reference));
  std::printf("  oneDNN vs OpenCV: max |diff| %.3g, max distance %.3g, mean distance %.3g\n", d.max_abs,
              d.max_dist, d.mean_dist);
}

// Batch 11 (8 + 2 + 1 plans) against the same chips one at a time.
void check_batches(const MobileFaceNet& net, const std::vector<cv::Mat>& pool) {
  const std::vector<cv::Mat> chips(pool.begin(), pool.begin() + 11);
  const Embeddings batched = net.embed(chips);
  Embeddings single;
  for (const cv::Mat& chip : chips) single.push_back(net.embed({chip})[0]);
  std::printf("  batch 11 vs batch 1: max |diff| %.3g\n", compare(batched, single).max_abs);
}

// Two threads embedding at once must get what one thread gets (embed() is documented thread-safe).
void check_concurrency(const MobileFaceNet& net, const std::vector<cv::Mat>& chips) {
  const Embeddings expected = net.embed(chips);
  Embeddings got[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r) got[t] = net.embed(chips);
    });
  }
  for (std::thread& t : threads) t.join();
  const double worst = std::max(compare(expected, got[0]).max_abs, compare(expected, got[1]).max_abs);
  std::printf("  two threads at once vs one thread: max |diff| %.3g\n", worst);
}

void time_impls(const MobileFaceNet* impls[2], const std::vector<cv::Mat>& pool, int rounds) {
  const int batches[] = {1, 8};
  std::vector<double> per_face[2][2];  // [impl][batch]
  for (int b = 0; b < 2; ++b) {
    const std::vector<cv::Mat> chips(pool.begin(), pool.begin() + batches[b]);
    for (int round = 0; round <= rounds; ++round) {  // round 0 is the warm-up
      for (int k = 0; k < 2; ++k) {
        const int i = (k + round) % 2;  // alternate which runs first
        const auto start = Clock::now();
        const Embeddings out = impls[i]->embed(chips);
        const double ms = ms_since(start);
        if (out.size() != chips.size()) std::abort();
        if (round > 0) per_face[i][b].push_back(ms / batches[b]);
      }
    }
  }
  std::printf("\nms per face, one thread, median of %d rounds after a warm-up (speed-up = OpenCV / oneDNN):\n\n",
              rounds);
  std::printf("| engine | batch 1 | batch 8 |\n|---|---:|---:|\n");
  const char* names[2] = {"OpenCV DNN", "oneDNN f32"};
  for (int i = 0; i < 2; ++i) {
    std::printf("| %s | %.2f | %.2f |\n", names[i], median(per_face[i][0]), median(per_face[i][1]));
  }
  std::printf("| speed-up | %.2fx | %.2fx |\n", median(per_face[0][0]) / median(per_face[1][0]),
              median(per_face[0][1]) / median(per_face[1][1]));
}

}  // namespace

int main(int argc, char** argv) {
  fs::path models = siamface::default_models_dir();
  fs::path lfw = "/work/shared/testdata/lfw_dev/lfw-deepfunneled";
  int rounds = 15;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--models" && i + 1 < argc) {
      models = argv[++i];
    } else if (arg == "--lfw" && i + 1 < argc) {
      lfw = argv[++i];
    } else if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--models DIR] [--lfw DIR] [--rounds N]\n", argv[0]);
      return 2;
    }
  }

  try {
    // One thread for both engines: OpenCV's own pool, and OpenMP, which this oneDNN build uses.
    cv::setNumThreads(1);
    omp_set_num_threads(1);
    const dnnl::version_t* v = dnnl::version();
    std::printf("oneDNN %d.%d.%d; OpenCV %s\n", v->major, v->minor, v->patch, CV_VERSION);

    const auto opencv = siamface::make_mobile_face_net(models, siamface::RecognitionBackend::kOpenCv);
    const auto onednn = siamface::make_dnnl_mobile_face_net(models);
    std::printf("flops_per_chip: OpenCV %lld, oneDNN %lld\n\n", static_cast<long long>(opencv->flops_per_chip()),
                static_cast<long long>(onednn->flops_per_chip()));

    const std::vector<cv::Mat> random = random_chips(kCompareChips);
    const std::vector<cv::Mat> faces = lfw_chips(lfw, kCompareChips);
    compare_set("random chips", random, *opencv, *onednn);
    compare_set("LFW chips (" + lfw.string() + ")", faces, *opencv, *onednn);
    std::printf("\nbatching and thread safety (oneDNN):\n");
    check_batches(*onednn, random);
    check_concurrency(*onednn, random);

    const MobileFaceNet* impls[2] = {opencv.get(), onednn.get()};
    time_impls(impls, faces.size() >= 8 ? faces : random, rounds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
