// Issue 18, item 3: how fast the embedding networks run, side by side in one process, against
//   - dlib's own implementation of the same ResNet (dlib_face_recognition_resnet_model_v1) with
//     the BLAS Debian links it to (OpenBLAS here): the baseline face_recognition users have;
//   - this CPU's measured fp32 peak: single-precision GEMM through the same BLAS, whose
//     GFLOP/s turn each network's FLOPs into the time it would take at that rate.
// dlib's network runs with freshly initialised weights: its cost does not depend on their values
// (dense fp32 arithmetic, no data-dependent branches), and dlib's float file is not shipped.
// Inputs are random chips for the same reason.
//
// Every round times each implementation once, in turn, so the machine's noise hits all of them
// alike; the figures are medians over the rounds. Thread counts: OpenCV (cv::setNumThreads) and
// OpenBLAS (openblas_set_num_threads, looked up at run time) both get --threads.
//
// Usage: embed_speed_bench [--threads N] [--batch B] [--rounds R] [--models DIR]
#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "align/arcface_chip.hpp"
#include "align/face_chip.hpp"
#include "bench_timing.hpp"
#include "dlib_face_resnet.hpp"
#include "embed/mobile_face_net.hpp"
#include "embed/recognition_net.hpp"
#include "siamface/engine.hpp"
#include "util/omp_threads.hpp"

#ifdef SIAMFACE_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

using siamface::bench::Clock;
using siamface::bench::median;
using siamface::bench::ms_since;

struct Options {
  int threads = 1;
  int batch = 8;
  int rounds = 15;
  std::string models;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "embed_speed_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--threads") o.threads = std::stoi(value());
    else if (arg == "--batch") o.batch = std::stoi(value());
    else if (arg == "--rounds") o.rounds = std::stoi(value());
    else if (arg == "--models") o.models = value();
    else {
      std::fprintf(stderr, "usage: embed_speed_bench [--threads N] [--batch B] [--rounds R] [--models DIR]\n");
      std::exit(2);
    }
  }
  if (o.threads < 1 || o.batch < 1 || o.rounds < 1) {
    std::fprintf(stderr, "embed_speed_bench: --threads, --batch and --rounds must be positive\n");
    std::exit(2);
  }
  return o;
}

// OpenBLAS reads OPENBLAS_NUM_THREADS when it loads; this also works after that, and is a no-op
// with a BLAS that has no such function.
void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(threads);
}

std::string blas_name() {
  using Config = char* (*)();
  if (auto* config = reinterpret_cast<Config>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    return std::string("OpenBLAS ") + config();
  }
  return "the system BLAS (not OpenBLAS)";
}

using Sgemm = std::function<void(int n, const float* a, const float* b, float* c)>;

// fp32 GEMM n x n x n: GFLOP/s, median of `rounds`.
double sgemm_gflops(int n, int rounds, const Sgemm& sgemm) {
  std::vector<float> a(static_cast<std::size_t>(n) * n), b(a.size()), c(a.size());
  cv::randu(cv::Mat(1, static_cast<int>(a.size()), CV_32F, a.data()), -1, 1);
  cv::randu(cv::Mat(1, static_cast<int>(b.size()), CV_32F, b.data()), -1, 1);
  std::vector<double> ms;
  for (int r = 0; r < rounds + 1; ++r) {
    const auto start = Clock::now();
    sgemm(n, a.data(), b.data(), c.data());
    if (r > 0) ms.push_back(ms_since(start));  // the first call warms caches and threads
  }
  return 2.0 * n * n * n / (median(ms) * 1e6);
}

std::vector<cv::Mat> random_chips(int count, int size) {
  std::vector<cv::Mat> chips;
  for (int i = 0; i < count; ++i) {
    cv::Mat chip(size, size, CV_8UC3);
    cv::randu(chip, 0, 256);
    chips.push_back(chip);
  }
  return chips;
}

std::vector<dlib::matrix<dlib::rgb_pixel>> as_dlib(const std::vector<cv::Mat>& chips) {
  std::vector<dlib::matrix<dlib::rgb_pixel>> out;
  for (const cv::Mat& chip : chips) {
    dlib::matrix<dlib::rgb_pixel> m(chip.rows, chip.cols);
    for (int y = 0; y < chip.rows; ++y)
      for (int x = 0; x < chip.cols; ++x) {
        const cv::Vec3b p = chip.at<cv::Vec3b>(y, x);
        m(y, x) = dlib::rgb_pixel(p[2], p[1], p[0]);
      }
    out.push_back(std::move(m));
  }
  return out;
}

struct Row {
  std::string name;
  double flops = 0;  // per face
  std::map<int, std::vector<double>> ms_per_face;  // by batch size
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  cv::setNumThreads(options.threads);
  set_blas_threads(options.threads);
  const std::filesystem::path models = options.models.empty() ? siamface::default_models_dir() : options.models;

  // The ResNet on each backend this build and CPU have; the product runs the first (kAuto).
  struct Backend {
    std::unique_ptr<siamface::RecognitionNet> net;
    Row row;
  };
  std::vector<Backend> resnets;
  for (const auto backend : {siamface::InferenceBackend::kAuto, siamface::InferenceBackend::kOpenCv,
                             siamface::InferenceBackend::kOneDnnBf16}) {
    try {
      auto net = siamface::make_recognition_net(models, backend);
      const std::string name = std::string("siamface ResNet (") + net->backend_name() + ")";
      const bool seen = std::any_of(resnets.begin(), resnets.end(), [&](const Backend& b) { return b.row.name == name; });
      if (!seen) resnets.push_back({std::move(net), Row{name, 0, {}}});
    } catch (const siamface::Error& e) {
      std::printf("(no %s: %s)\n", backend == siamface::InferenceBackend::kOneDnnBf16 ? "bf16" : "backend", e.what());
    }
  }
  const auto& resnet = resnets.front().net;
  std::vector<std::unique_ptr<siamface::MobileFaceNet>> mobiles;  // the product's first
  mobiles.push_back(siamface::make_mobile_face_net(models));
  if (std::string(mobiles.front()->backend_name()) != "OpenCV DNN") {
    mobiles.push_back(siamface::make_mobile_face_net(models, siamface::InferenceBackend::kOpenCv));
  }
  const auto& mobile = mobiles.front();
  siamface::dlib_face_resnet dlib_net;

  const std::vector<int> batches = options.batch == 1 ? std::vector<int>{1} : std::vector<int>{1, options.batch};
  const auto chips150 = random_chips(options.batch, siamface::kChipSize);
  const auto chips112 = random_chips(options.batch, siamface::kArcFaceChipSize);
  const auto dlib_chips = as_dlib(chips150);

  Row dlib_row{"dlib + BLAS (same ResNet)", static_cast<double>(resnet->flops_per_chip()), {}};
  for (Backend& b : resnets) b.row.flops = static_cast<double>(b.net->flops_per_chip());
  std::vector<Row> mobile_rows;
  for (const auto& m : mobiles) {
    mobile_rows.push_back(Row{std::string("siamface MobileFaceNet (") + m->backend_name() + ")",
                              static_cast<double>(m->flops_per_chip()), {}});
  }
  Row& mobile_row = mobile_rows.front();
  Row fused_row{"siamface fused (both, as the product runs them)", resnets.front().row.flops + mobile_row.flops, {}};

  const auto slice = [](const auto& all, int n) { return std::vector(all.begin(), all.begin() + n); };
  // One batch size at a time: a Net whose input shape changes between calls reallocates its
  // buffers (measured separately, "shape changes" below).
  for (const int b : batches) {
    for (int round = 0; round < options.rounds + 1; ++round) {  // round 0 warms up
      const auto c150 = slice(chips150, b);
      const auto c112 = slice(chips112, b);
      const auto cd = slice(dlib_chips, b);
      auto start = Clock::now();
      const auto dlib_out = dlib_net(cd, static_cast<unsigned long>(b));
      const double dlib_ms = ms_since(start);
      std::vector<double> resnet_ms;
      bool counts_right = dlib_out.size() == static_cast<std::size_t>(b);
      for (Backend& backend : resnets) {
        start = Clock::now();
        counts_right &= backend.net->embed(c150).size() == static_cast<std::size_t>(b);
        resnet_ms.push_back(ms_since(start));
      }
      std::vector<double> mobile_ms_each;
      for (const auto& m : mobiles) {
        start = Clock::now();
        counts_right &= m->embed(c112).size() == static_cast<std::size_t>(b);
        mobile_ms_each.push_back(ms_since(start));
      }
      const double mobile_ms = mobile_ms_each.front();
      if (!counts_right) {
        std::fprintf(stderr, "embed_speed_bench: a network returned the wrong number of embeddings\n");
        return 1;
      }
      if (round == 0) continue;
      dlib_row.ms_per_face[b].push_back(dlib_ms / b);
      for (std::size_t i = 0; i < resnets.size(); ++i) resnets[i].row.ms_per_face[b].push_back(resnet_ms[i] / b);
      for (std::size_t i = 0; i < mobiles.size(); ++i) mobile_rows[i].ms_per_face[b].push_back(mobile_ms_each[i] / b);
      fused_row.ms_per_face[b].push_back((resnet_ms.front() + mobile_ms) / b);
    }
  }
  // Photos of 1 to 5 faces in turn (as a folder of group photos comes): the product's networks
  // run once per photo over all its faces, so the input shape changes from call to call. Against
  // that, one call per face, whose shape never changes.
  const int photo_faces[] = {3, 1, 5, 2, 4};
  std::vector<double> per_photo_ms, per_face_ms;
  for (int round = 0; round < options.rounds + 1; ++round) {
    int faces = 0;
    auto start = Clock::now();
    for (const int n : photo_faces) {
      const int count = std::min(n, options.batch);
      faces += count;
      resnet->embed(slice(chips150, count));
      mobile->embed(slice(chips112, count));
    }
    const double photo_total = ms_since(start);
    start = Clock::now();
    for (const int n : photo_faces) {
      for (int i = 0; i < std::min(n, options.batch); ++i) {
        resnet->embed({chips150[i]});
        mobile->embed({chips112[i]});
      }
    }
    const double face_total = ms_since(start);
    if (round == 0) continue;
    per_photo_ms.push_back(photo_total / faces);
    per_face_ms.push_back(face_total / faces);
  }
  // The peak: the faster of two GEMMs (OpenBLAS 0.3.21 has no AVX-512 kernel for AMD chips;
  // oneDNN's JIT GEMM uses it).
  const double blas_peak = sgemm_gflops(1536, 7, [](int n, const float* a, const float* b, float* c) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0F, a, n, b, n, 0.0F, c, n);
  });
  double onednn_peak = 0;
#ifdef SIAMFACE_HAVE_ONEDNN
  {
    const siamface::ScopedOmpThreads omp(options.threads);
    onednn_peak = sgemm_gflops(1536, 7, [](int n, const float* a, const float* b, float* c) {
      dnnl_sgemm('N', 'N', n, n, n, 1.0F, a, n, b, n, 0.0F, c, n);
    });
  }
#endif
  const double peak = std::max(blas_peak, onednn_peak);

  std::printf("embed_speed_bench: %d thread(s), batches 1 and %d, median of %d rounds, random chips\n",
              options.threads, options.batch, options.rounds);
  std::printf("fp32 peak measured: %.1f GFLOP/s (sgemm 1536^3: %s %.1f, oneDNN %.1f)\n\n", peak,
              blas_name().c_str(), blas_peak, onednn_peak);
  std::printf("| network | GFLOP/face | batch | ms/face | GFLOP/s | time / peak time | dlib ms / this |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::vector<const Row*> rows{&dlib_row};
  for (const Backend& backend : resnets) rows.push_back(&backend.row);
  for (const Row& row : mobile_rows) rows.push_back(&row);
  rows.push_back(&fused_row);
  for (const Row* row : rows) {
    for (const int b : batches) {
      const double ms = median(row->ms_per_face.at(b));
      const double at_peak_ms = row->flops / (peak * 1e6);
      const double dlib_ms = median(dlib_row.ms_per_face.at(b));
      std::printf("| %s | %.3f | %d | %.2f | %.1f | x%.2f | x%.2f |\n", row->name.c_str(), row->flops / 1e9, b, ms,
                  row->flops / (ms * 1e6), ms / at_peak_ms, dlib_ms / ms);
    }
  }
  std::printf("\nphotos of 3, 1, 5, 2, 4 faces in turn, fused (both networks), ms per face: one call per photo "
              "%.2f, one call per face %.2f (x%.2f)\n",
              median(per_photo_ms), median(per_face_ms), median(per_photo_ms) / median(per_face_ms));
  std::printf("\ntargets (issue 18): dlib ms / this >= x3.00; time / peak time <= x1.50\n");
  return 0;
}
