// Study: the two embedding networks on oneDNN (src/embed/dnnl_recognition_net.cpp,
// dnnl_mobile_face_net.cpp) against the OpenCV DNN implementations (recognition_net.cpp,
// mobile_face_net.cpp). For each network it prints
//   (a) how far the oneDNN embeddings are from OpenCV's, on random chips and on LFW face chips
//       (max |difference| per value, max Euclidean distance between the two embeddings of a chip;
//       the product compares embeddings by Euclidean distance against a threshold near 0.6), and
//       batch 16 against one chip at a time;
//   (b) two threads embedding at once against one;
//   (c) ms per face at batch 1 and 8, one thread for both engines, implementations interleaved
//       every round, median of the rounds after a warm-up round;
//   (d) with --pairs: LFW View 2 verification with the ResNet on the same aligned chips per
//       implementation, and how many decisions at 0.6 move (the issue's "LFW figure within 0.05
//       points").
//
//   build/bench/dnnl_study_bench [--models DIR] [--lfw DIR] [--rounds N]
//       [--pairs ../shared/testdata/lfw/pairs.txt --lfw-root ../shared/testdata/lfw/lfw-deepfunneled [--per-fold N]]
//
// Per-layer times: run with ONEDNN_VERBOSE=1 (oneDNN prints one line per executed primitive).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <functional>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_timing.hpp"
#include "align/arcface_chip.hpp"
#include "embed/mobile_face_net.hpp"
#include "embed/recognition_net.hpp"
#include "eval/lfw_pairs.hpp"
#include "eval/verification_protocol.hpp"
#include "image/cv_image.hpp"
#include "siamface/image.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"

namespace fs = std::filesystem;
using siamface::Embedding;
using namespace siamface::bench;

namespace {

constexpr int kCompareChips = 16;

const char* isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "all/unknown";
  }
}

std::vector<cv::Mat> random_chips(int count, int size) {
  cv::RNG rng(20240601);  // fixed: the figures are reproducible
  std::vector<cv::Mat> chips;
  for (int i = 0; i < count; ++i) {
    cv::Mat chip(size, size, CV_8UC3);
    rng.fill(chip, cv::RNG::UNIFORM, 0, 256);
    chips.push_back(chip);
  }
  return chips;
}

// LFW deep-funneled photos are 250x250 with the face near the centre: resize to 4/3 of the chip and
// keep the central chip (150 of 200, 112 of 149). Good enough for a numeric comparison, not an
// aligned chip.
std::vector<cv::Mat> lfw_chips(const fs::path& dir, int count, int size) {
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
    const int side = size * 4 / 3, offset = (side - size) / 2;
    cv::resize(image, resized, cv::Size(side, side), 0, 0, cv::INTER_AREA);
    chips.push_back(resized(cv::Rect(offset, offset, size, size)).clone());
  }
  return chips;
}

struct Diff {
  double max_abs = 0;   // over every value of every embedding
  double max_dist = 0;  // Euclidean distance between the two embeddings of one chip, max over chips
  double mean_dist = 0;
};

Diff compare(const std::vector<Embedding>& a, const std::vector<Embedding>& b) {
  Diff d;
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

double mean_norm(const std::vector<Embedding>& e) {
  double total = 0;
  for (const Embedding& v : e) {
    double sq = 0;
    for (float x : v) sq += static_cast<double>(x) * x;
    total += std::sqrt(sq);
  }
  return total / static_cast<double>(e.size());
}

// Smallest Euclidean distance between embeddings of different chips: context for the diffs.
double min_pair_distance(const std::vector<Embedding>& e) {
  double best = 1e30;
  for (std::size_t i = 0; i < e.size(); ++i)
    for (std::size_t j = i + 1; j < e.size(); ++j) best = std::min(best, compare({e[i]}, {e[j]}).max_dist);
  return best;
}

// One implementation of one network: its embed().
struct Impl {
  std::string name;
  std::function<std::vector<Embedding>(const std::vector<cv::Mat>&)> embed;
};

template <typename Net>
Impl impl_of(const std::string& name, const Net& net) {
  return {name, [&net](const std::vector<cv::Mat>& chips) { return net.embed(chips); }};
}

void compare_set(const std::string& label, const std::vector<cv::Mat>& chips, const std::vector<Impl>& impls) {
  if (chips.empty()) {
    std::printf("%s: no chips\n", label.c_str());
    return;
  }
  const std::vector<Embedding> reference = impls[0].embed(chips);
  std::printf("%s (%zu chips; OpenCV mean |e| %.4f, closest pair of chips %.4f):\n", label.c_str(), chips.size(),
              mean_norm(reference), min_pair_distance(reference));
  for (std::size_t i = 1; i < impls.size(); ++i) {
    const std::vector<Embedding> batched = impls[i].embed(chips);
    const Diff d = compare(reference, batched);
    // The same chips one at a time: the batch-1 plan must agree with the batch-N plan.
    std::vector<Embedding> single;
    for (const cv::Mat& chip : chips) single.push_back(impls[i].embed({chip})[0]);
    const Diff self = compare(batched, single);
    std::printf("  %-12s vs OpenCV: max |diff| %.3g, max distance %.3g, mean distance %.3g;"
                " batch %zu vs batch 1: max |diff| %.3g\n",
                impls[i].name.c_str(), d.max_abs, d.max_dist, d.mean_dist, chips.size(), self.max_abs);
  }
}

// Two threads embedding at once must get what one thread gets (embed() is documented thread-safe).
void check_concurrency(const Impl& impl, const std::vector<cv::Mat>& chips) {
  const std::vector<Embedding> expected = impl.embed(chips);
  std::vector<Embedding> got[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r) got[t] = impl.embed(chips);
    });
  }
  for (std::thread& t : threads) t.join();
  const double worst = std::max(compare(expected, got[0]).max_abs, compare(expected, got[1]).max_abs);
  std::printf("  %-12s two threads at once: max |diff| vs one thread %.3g\n", impl.name.c_str(), worst);
}

void time_impls(const std::vector<Impl>& impls, const std::vector<cv::Mat>& pool, int rounds) {
  const int batches[] = {1, 8};
  std::vector<std::vector<double>> per_face(impls.size() * 2);
  for (int b = 0; b < 2; ++b) {
    const std::vector<cv::Mat> chips(pool.begin(), pool.begin() + batches[b]);
    for (int round = 0; round <= rounds; ++round) {  // round 0 is the warm-up
      for (std::size_t k = 0; k < impls.size(); ++k) {
        // Rotate the order each round so no implementation always runs right after another.
        const std::size_t i = (k + static_cast<std::size_t>(round)) % impls.size();
        const auto start = Clock::now();
        const auto out = impls[i].embed(chips);
        const double ms = ms_since(start);
        if (out.size() != chips.size()) std::abort();
        if (round > 0) per_face[i * 2 + b].push_back(ms / batches[b]);
      }
    }
  }
  std::printf("\nms per face, one thread, median of %d rounds after a warm-up (ratio = OpenCV / this):\n", rounds);
  std::printf("  %-12s %10s %8s %10s %8s\n", "engine", "batch 1", "ratio", "batch 8", "ratio");
  const double base1 = median(per_face[0]), base8 = median(per_face[1]);
  for (std::size_t i = 0; i < impls.size(); ++i) {
    const double t1 = median(per_face[i * 2]), t8 = median(per_face[i * 2 + 1]);
    std::printf("  %-12s %10.2f %7.2fx %10.2f %7.2fx\n", impls[i].name.c_str(), t1, base1 / t1, t8, base8 / t8);
  }
}


// LFW View 2 pairs (the first `per_fold` same and different pairs of each fold), each image's
// face found, chosen and aligned once by the product's engine; then every implementation embeds
// the same chips. Reports 10-fold accuracy and accuracy at 0.6 per implementation, the largest
// pair-distance change against OpenCV DNN and how many decisions at 0.6 it flips.
void lfw_pairs_check(const fs::path& root, const fs::path& pairs_txt, int per_fold, const std::vector<Impl>& impls) {
  const std::vector<siamface::LfwPair> pairs = siamface::read_lfw_pairs(pairs_txt.string(), per_fold);
  const siamface::Engine engine = siamface::Engine::open();
  std::map<std::string, int> index;  // image -> chip number, -1 without a face
  std::vector<cv::Mat> chips;
  for (const siamface::LfwPair& p : pairs) {
    for (const std::string& path : {p.a, p.b}) {
      if (index.count(path)) continue;
      const siamface::Image photo = siamface::load_image((root / path).string());
      const std::vector<siamface::Face> faces = engine.detect(photo);
      const int chosen = siamface::choose_face(faces, photo.width, photo.height, siamface::FaceChoice::kNearestCenter);
      if (chosen < 0) {
        index[path] = -1;
        continue;
      }
      const siamface::Image chip = engine.align(photo, faces[static_cast<std::size_t>(chosen)]);
      chips.push_back(siamface::as_mat(chip).clone());
      index[path] = static_cast<int>(chips.size()) - 1;
    }
  }
  std::printf("\nLFW View 2, %zu pairs (%d per fold and kind), %zu faces aligned:\n", pairs.size(), per_fold, chips.size());
  std::printf("| implementation | 10-fold accuracy | at 0.6 | largest distance change vs OpenCV | decisions at 0.6 flipped |\n");
  std::printf("|---|---|---|---|---|\n");
  std::vector<float> reference;
  for (const Impl& impl : impls) {
    std::vector<Embedding> embeddings;
    for (std::size_t i = 0; i < chips.size(); i += 8) {
      const std::vector<cv::Mat> batch(chips.begin() + static_cast<std::ptrdiff_t>(i),
                                       chips.begin() + static_cast<std::ptrdiff_t>(std::min(i + 8, chips.size())));
      for (Embedding& e : impl.embed(batch)) embeddings.push_back(std::move(e));
    }
    std::vector<siamface::ScoredPair> scored;
    std::vector<float> distances;
    for (const siamface::LfwPair& p : pairs) {
      const int a = index.at(p.a), b = index.at(p.b);
      siamface::ScoredPair s{.same = p.same, .fold = p.fold, .valid = a >= 0 && b >= 0};
      if (s.valid) s.distance = siamface::euclidean_distance(embeddings[static_cast<std::size_t>(a)], embeddings[static_cast<std::size_t>(b)]);
      distances.push_back(s.distance);
      scored.push_back(s);
    }
    if (reference.empty()) reference = distances;
    float largest = 0;
    int flipped = 0;
    for (std::size_t i = 0; i < distances.size(); ++i) {
      largest = std::max(largest, std::fabs(distances[i] - reference[i]));
      flipped += (distances[i] < 0.6F) != (reference[i] < 0.6F);
    }
    const siamface::TenFoldResult folds_result = siamface::ten_fold(scored);  // LFW: 10 folds
    std::printf("| %s | %.2f %% | %.2f %% | %.2g | %d |\n", impl.name.c_str(), 100 * folds_result.mean_accuracy,
                100 * siamface::accuracy_at(scored, 0.6), largest, flipped);
  }
}

}  // namespace

int main(int argc, char** argv) {
  fs::path models = siamface::default_models_dir();
  fs::path lfw = "/work/shared/testdata/lfw_dev/lfw-deepfunneled";
  int rounds = 15;
  fs::path pairs_txt, lfw_root;
  int per_fold = 300;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--models" && i + 1 < argc) {
      models = argv[++i];
    } else if (arg == "--lfw" && i + 1 < argc) {
      lfw = argv[++i];
    } else if (arg == "--pairs" && i + 1 < argc) {
      pairs_txt = argv[++i];
    } else if (arg == "--lfw-root" && i + 1 < argc) {
      lfw_root = argv[++i];
    } else if (arg == "--per-fold" && i + 1 < argc) {
      per_fold = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--models DIR] [--lfw DIR] [--rounds N] [--pairs PAIRS_TXT --lfw-root DIR [--per-fold N]]\n", argv[0]);
      return 2;
    }
  }

  try {
    // One thread for both engines: OpenCV's own pool, and OpenMP, which this oneDNN build uses.
    cv::setNumThreads(1);
    omp_set_num_threads(1);
    const dnnl::version_t* v = dnnl::version();
    std::printf("oneDNN %d.%d.%d, effective CPU ISA %s; OpenCV %s\n", v->major, v->minor, v->patch,
                isa_name(dnnl::get_effective_cpu_isa()), CV_VERSION);

    using siamface::InferenceBackend;
    const auto resnet_opencv = siamface::make_recognition_net(models, InferenceBackend::kOpenCv);
    const auto resnet_f32 = siamface::make_recognition_net(models, InferenceBackend::kOneDnn);
    std::unique_ptr<siamface::RecognitionNet> resnet_bf16;
    try {
      resnet_bf16 = siamface::make_recognition_net(models, InferenceBackend::kOneDnnBf16);
    } catch (const siamface::Error& e) {
      std::printf("bf16 left out: %s\n", e.what());
    }
    const auto mfn_opencv = siamface::make_mobile_face_net(models, InferenceBackend::kOpenCv);
    const auto mfn_f32 = siamface::make_mobile_face_net(models, InferenceBackend::kOneDnn);

    struct Network {
      std::string name;
      int chip_size;
      std::vector<Impl> impls;  // the OpenCV reference first
      long long flops[2];
    };
    std::vector<Network> networks;
    networks.push_back({"dlib ResNet",
                        siamface::kChipSize,
                        {impl_of("opencv-dnn", *resnet_opencv), impl_of("onednn-f32", *resnet_f32)},
                        {resnet_opencv->flops_per_chip(), resnet_f32->flops_per_chip()}});
    if (resnet_bf16) networks.back().impls.push_back(impl_of("onednn-bf16", *resnet_bf16));
    networks.push_back({"MobileFaceNet",
                        siamface::kArcFaceChipSize,
                        {impl_of("opencv-dnn", *mfn_opencv), impl_of("onednn-f32", *mfn_f32)},
                        {mfn_opencv->flops_per_chip(), mfn_f32->flops_per_chip()}});

    for (const Network& network : networks) {
      std::printf("\n## %s (%dx%d chips): flops_per_chip OpenCV %lld, oneDNN %lld\n\n", network.name.c_str(),
                  network.chip_size, network.chip_size, network.flops[0], network.flops[1]);
      const std::vector<cv::Mat> random = random_chips(kCompareChips, network.chip_size);
      const std::vector<cv::Mat> faces = lfw_chips(lfw, kCompareChips, network.chip_size);
      compare_set("random chips", random, network.impls);
      compare_set("LFW chips (" + lfw.string() + ")", faces, network.impls);
      std::printf("\nthread safety:\n");
      for (std::size_t i = 1; i < network.impls.size(); ++i) check_concurrency(network.impls[i], random);
      time_impls(network.impls, faces.size() >= 8 ? faces : random, rounds);
    }
    if (!pairs_txt.empty()) lfw_pairs_check(lfw_root, pairs_txt, per_fold, networks.front().impls);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
