// Study behind the fused recognizer (issue 16): the dlib ResNet (128-d) and the MobileFaceNet
// (512-d) on LFW View 2, alone and fused as fused^2 = w * d_dlib^2 + (1 - w) * (s * d_mfn)^2,
// with w, s and the threshold all chosen on the nine training folds of each test fold.
//   build/bench/recognizer_fusion_bench ROOT PAIRS_TXT [CACHE_FILE [BORDER_ONLY_MIN_SCORE]]
// Embeddings are cached in CACHE_FILE (default out/fusion_cache.bin) so a rerun only scores.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "align/arcface_chip.hpp"
#include "embed/mobile_face_net.hpp"
#include "eval/lfw_pairs.hpp"
#include "eval/verification_protocol.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"

using namespace siamface;
namespace fs = std::filesystem;

namespace {

struct ImageEmbeddings {
  bool valid = false;
  std::vector<float> dlib;  // 128
  std::vector<float> mfn;   // 512
};

float distance(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += double(a[i] - b[i]) * (a[i] - b[i]);
  return static_cast<float>(std::sqrt(sum));
}

void save_cache(const std::string& file, const std::map<std::string, ImageEmbeddings>& cache) {
  std::ofstream out(file, std::ios::binary);
  for (const auto& [path, e] : cache) {
    out << path << '\n' << (e.valid ? 1 : 0) << '\n';
    if (e.valid) {
      out.write(reinterpret_cast<const char*>(e.dlib.data()), 128 * sizeof(float));
      out.write(reinterpret_cast<const char*>(e.mfn.data()), 512 * sizeof(float));
    }
  }
}

std::map<std::string, ImageEmbeddings> load_cache(const std::string& file) {
  std::map<std::string, ImageEmbeddings> cache;
  std::ifstream in(file, std::ios::binary);
  std::string path, valid;
  while (std::getline(in, path) && std::getline(in, valid)) {
    ImageEmbeddings e;
    e.valid = valid == "1";
    if (e.valid) {
      e.dlib.resize(128);
      e.mfn.resize(512);
      in.read(reinterpret_cast<char*>(e.dlib.data()), 128 * sizeof(float));
      in.read(reinterpret_cast<char*>(e.mfn.data()), 512 * sizeof(float));
    }
    cache[path] = e;
  }
  return cache;
}

struct Scored {
  float d_dlib = 0, d_mfn = 0;
  bool same = false, valid = false;
  int fold = 0;
};

std::vector<ScoredPair> fuse(const std::vector<Scored>& scored, double w, double s) {
  std::vector<ScoredPair> out;
  for (const Scored& p : scored) {
    const double d = std::sqrt(w * p.d_dlib * p.d_dlib + (1 - w) * s * s * p.d_mfn * p.d_mfn);
    out.push_back({static_cast<float>(d), p.same, p.fold, p.valid});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ROOT PAIRS_TXT [CACHE_FILE]\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1];
  const std::vector<LfwPair> pairs = read_lfw_pairs(argv[2]);
  const std::string cache_file = argc > 3 ? argv[3] : "out/fusion_cache.bin";
  DetectOptions detect_options;
  if (argc > 4) detect_options.border_only_min_score = std::stof(argv[4]);
  std::map<std::string, ImageEmbeddings> cache = load_cache(cache_file);

  std::vector<std::string> todo;
  for (const LfwPair& p : pairs) {
    for (const std::string& path : {p.a, p.b}) {
      if (!cache.count(path) && std::find(todo.begin(), todo.end(), path) == todo.end()) todo.push_back(path);
    }
  }
  if (!todo.empty()) {
    std::fprintf(stderr, "embedding %zu images\n", todo.size());
    const Engine engine = Engine::open();
    const auto mfn = make_mobile_face_net(engine.options().models_dir);
    set_intra_op_threads(1);
    std::atomic<std::size_t> next{0};
    std::mutex mutex;
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; ++t) {
      workers.emplace_back([&] {
        for (std::size_t i; (i = next++) < todo.size();) {
          ImageEmbeddings e;
          try {
            const Image image = load_image(root + "/" + todo[i]);
            const std::vector<Face> faces = engine.detect(image, detect_options);
            const int chosen = choose_face(faces, image.width, image.height, FaceChoice::kNearestCenter);
            if (chosen >= 0) {
              const Embedding d = engine.embed(image, faces[chosen]);
              e.dlib.assign(d.begin(), d.end());
              e.mfn = mfn->embed({extract_arcface_chip(as_mat(image), faces[chosen].landmarks)}).front();
              e.valid = true;
            }
          } catch (const std::exception& error) {
            std::fprintf(stderr, "%s: %s\n", todo[i].c_str(), error.what());
          }
          const std::lock_guard lock(mutex);
          cache[todo[i]] = e;
          if (i % 500 == 0) std::fprintf(stderr, "  %zu / %zu\n", i, todo.size());
        }
      });
    }
    for (auto& w : workers) w.join();
    fs::create_directories(fs::path(cache_file).parent_path());
    save_cache(cache_file, cache);
  }

  std::vector<Scored> scored;
  for (const LfwPair& p : pairs) {
    const ImageEmbeddings& a = cache[p.a];
    const ImageEmbeddings& b = cache[p.b];
    Scored s;
    s.same = p.same, s.fold = p.fold, s.valid = a.valid && b.valid;
    if (s.valid) s.d_dlib = distance(a.dlib, b.dlib), s.d_mfn = distance(a.mfn, b.mfn);
    scored.push_back(s);
  }
  const auto report = [](const char* label, const std::vector<ScoredPair>& sp) {
    const TenFoldResult r = ten_fold(sp);
    std::printf("%-28s %.2f%% +- %.2f (valid only %.2f%%), best threshold %.4f\n", label, 100 * r.mean_accuracy,
                100 * r.std_accuracy, 100 * r.mean_accuracy_valid_only, best_threshold(sp));
  };
  report("dlib", fuse(scored, 1.0, 1.0));
  report("mfn", fuse(scored, 0.0, 1.0));
  const double t_dlib = best_threshold(fuse(scored, 1.0, 1.0));
  const double t_mfn = best_threshold(fuse(scored, 0.0, 1.0));
  const double s = t_dlib / t_mfn;
  std::printf("scale s = t_dlib / t_mfn = %.4f\n", s);
  for (double w = 0.1; w < 0.95; w += 0.1) {
    char label[64];
    std::snprintf(label, sizeof label, "fused w=%.1f", w);
    report(label, fuse(scored, w, s));
  }
  // Cross-validated choice: w and s from the nine training folds of each test fold.
  std::vector<double> fold_acc;
  for (int f = 0; f < 10; ++f) {
    std::vector<Scored> train, test;
    for (const Scored& p : scored) (p.fold == f ? test : train).push_back(p);
    const double fs_ = best_threshold(fuse(train, 1, 1)) / best_threshold(fuse(train, 0, 1));
    double best_w = 0, best_acc = -1;
    for (double w = 0; w <= 1.0001; w += 0.05) {
      const auto sp = fuse(train, w, fs_);
      const double acc = accuracy_at(sp, best_threshold(sp));
      if (acc > best_acc) best_acc = acc, best_w = w;
    }
    const auto train_sp = fuse(train, best_w, fs_);
    fold_acc.push_back(accuracy_at(fuse(test, best_w, fs_), best_threshold(train_sp)));
    std::printf("fold %d: w=%.2f s=%.3f acc %.2f%%\n", f, best_w, fs_, 100 * fold_acc.back());
  }
  double mean = 0;
  for (double a : fold_acc) mean += a / 10;
  std::printf("fused, w and s cross-validated: %.2f%%\n", 100 * mean);
  return 0;
}
