// Test-time augmentation study on LFW: which chip variants, averaged, verify best.
// Detects and places landmarks once per image, then embeds a fixed set of chip variants
// (landmark jitter: rotation, scale, shift; bicubic sampling; each also mirrored) and scores
// averaged combinations with the 10-fold protocol. Two steps, so combinations are cheap:
//   build/bench/lfw_tta_bench dump  ROOT PAIRS OUT.bin [jobs] [per_fold]
//   build/bench/lfw_tta_bench score PAIRS OUT.bin [per_fold]
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <algorithm>
#include <map>
#include <mutex>
#include <numeric>
#include <opencv2/core.hpp>
#include <string>
#include <thread>
#include <vector>

#include "enhance/enhance.hpp"
#include "eval/lfw_pairs.hpp"
#include "eval/verification_protocol.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

using namespace siamface;

namespace {

struct Jitter {
  const char* name;
  double degrees, scale, shift_x, shift_y;  // shift as a fraction of the landmark span
  ChipSampling sampling;
};

const std::vector<Jitter> kJitters = {
    {"id", 0, 1, 0, 0, ChipSampling::kDlib},       {"bicubic", 0, 1, 0, 0, ChipSampling::kBicubic},
    {"rot+3", 3, 1, 0, 0, ChipSampling::kDlib},    {"rot-3", -3, 1, 0, 0, ChipSampling::kDlib},
    {"s0.96", 0, 0.96, 0, 0, ChipSampling::kDlib}, {"s1.04", 0, 1.04, 0, 0, ChipSampling::kDlib},
    {"x+2", 0, 1, 0.02, 0, ChipSampling::kDlib},   {"x-2", 0, 1, -0.02, 0, ChipSampling::kDlib},
    {"y+2", 0, 1, 0, 0.02, ChipSampling::kDlib},   {"y-2", 0, 1, 0, -0.02, ChipSampling::kDlib},
    {"rot+6", 6, 1, 0, 0, ChipSampling::kDlib},    {"rot-6", -6, 1, 0, 0, ChipSampling::kDlib},
};
constexpr int kViews = 2;  // plain, mirrored

Landmarks jitter_landmarks(const Landmarks& in, const Jitter& j) {
  double cx = 0, cy = 0, min_x = 1e9, max_x = -1e9;
  for (const Point& p : in) cx += p.x, cy += p.y, min_x = std::min<double>(min_x, p.x), max_x = std::max<double>(max_x, p.x);
  cx /= in.size(), cy /= in.size();
  const double span = max_x - min_x, a = j.degrees * CV_PI / 180, c = std::cos(a) * j.scale, s = std::sin(a) * j.scale;
  Landmarks out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const double dx = in[i].x - cx, dy = in[i].y - cy;
    out[i] = {static_cast<float>(cx + c * dx - s * dy + j.shift_x * span),
              static_cast<float>(cy + s * dx + c * dy + j.shift_y * span)};
  }
  return out;
}

using Views = std::vector<Embedding>;  // kJitters.size() * kViews, empty when no face

int dump(const std::string& root, const std::string& pairs_file, const std::string& out, int jobs, int per_fold) {
  const std::vector<std::string> images = read_lfw_image_pairs(root, pairs_file, per_fold).images;
  const Engine engine = Engine::open();
  set_intra_op_threads(1);
  std::vector<Views> views(images.size());
  std::atomic<std::size_t> next{0}, done{0};
  std::mutex log;
  const auto worker = [&] {
    for (std::size_t i = next++; i < images.size(); i = next++) {
      try {
        const Image image = load_image(images[i]);
        const auto faces = engine.detect(image);
        const int k = choose_face(faces, image.width, image.height, FaceChoice::kNearestCenter);
        if (k >= 0) {
          const cv::Mat bgr = as_mat(image);
          for (const Jitter& j : kJitters) {
            cv::Mat chip = extract_chip_sampled(bgr, jitter_landmarks(faces[k].landmarks, j), j.sampling), mirrored;
            cv::flip(chip, mirrored, 1);
            views[i].push_back(engine.embed_chip(from_mat(chip)));
            views[i].push_back(engine.embed_chip(from_mat(mirrored)));
          }
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(log);
        std::cerr << images[i] << ": " << e.what() << '\n';
      }
      if (++done % 200 == 0) {
        std::lock_guard<std::mutex> lock(log);
        std::cerr << done << "/" << images.size() << '\n';
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < jobs; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  std::ofstream file(out, std::ios::binary);
  const std::int32_t count = static_cast<std::int32_t>(images.size()), per = static_cast<std::int32_t>(kJitters.size() * kViews);
  file.write(reinterpret_cast<const char*>(&count), 4).write(reinterpret_cast<const char*>(&per), 4);
  for (const Views& v : views) {
    const std::int32_t found = v.empty() ? 0 : 1;
    file.write(reinterpret_cast<const char*>(&found), 4);
    for (const Embedding& e : v) file.write(reinterpret_cast<const char*>(e.data()), sizeof(float) * kDlibEmbeddingSize);
  }
  return 0;
}

Embedding average(const Views& v, const std::vector<int>& which, bool normalize) {
  Embedding sum(kDlibEmbeddingSize, 0.0F);
  for (int w : which) {
    const Embedding& e = v[w];
    double norm = 0;
    for (float x : e) norm += x * x;
    const double scale = normalize ? 1 / std::sqrt(norm) : 1;
    for (int d = 0; d < kDlibEmbeddingSize; ++d) sum[d] += static_cast<float>(e[d] * scale / which.size());
  }
  return sum;
}

int score(const std::string& pairs_file, const std::string& in_file, int per_fold) {
  const LfwImagePairs lfw = read_lfw_image_pairs("", pairs_file, per_fold);
  const std::vector<std::string>& images = lfw.images;
  const std::vector<IndexedLfwPair>& pairs = lfw.pairs;
  std::ifstream in(in_file, std::ios::binary);
  std::int32_t count = 0, per = 0;
  in.read(reinterpret_cast<char*>(&count), 4).read(reinterpret_cast<char*>(&per), 4);
  if (count != static_cast<std::int32_t>(images.size())) throw std::runtime_error("dump does not match the pairs");
  std::vector<Views> views(count);
  for (Views& v : views) {
    std::int32_t found = 0;
    in.read(reinterpret_cast<char*>(&found), 4);
    if (found) {
      v.assign(per, Embedding(kDlibEmbeddingSize));
      for (Embedding& e : v) in.read(reinterpret_cast<char*>(e.data()), sizeof(float) * kDlibEmbeddingSize);
    }
  }
  const auto idx = [](int jitter, bool mirrored) { return jitter * kViews + (mirrored ? 1 : 0); };
  const auto with_mirror = [&](std::vector<int> jitters) {
    std::vector<int> out;
    for (int j : jitters) out.push_back(idx(j, false)), out.push_back(idx(j, true));
    return out;
  };
  std::vector<std::pair<std::string, std::vector<int>>> combos = {
      {"id", {idx(0, false)}},
      {"id+flip", with_mirror({0})},
      {"bicubic", {idx(1, false)}},
      {"bicubic+flip", with_mirror({1})},
      {"id,bicubic +flip", with_mirror({0, 1})},
      {"rot3 +flip", with_mirror({0, 2, 3})},
      {"scale4 +flip", with_mirror({0, 4, 5})},
      {"shift2 +flip", with_mirror({0, 6, 7, 8, 9})},
      {"rot6 +flip", with_mirror({0, 10, 11})},
      {"rot3,6 +flip", with_mirror({0, 2, 3, 10, 11})},
      {"rot3,scale,shift +flip", with_mirror({0, 2, 3, 4, 5, 6, 7, 8, 9})},
      {"all dlib +flip", with_mirror({0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})},
      {"all +flip", with_mirror({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})},
      {"bicubic jitter: b,rot3,scale +flip", with_mirror({1, 2, 3, 4, 5})},
  };
  for (bool normalize : {false, true}) {
    for (const auto& [name, which] : combos) {
      std::vector<ScoredPair> scored;
      for (const IndexedLfwPair& p : pairs) {
        ScoredPair s;
        s.same = p.same, s.fold = p.fold;
        s.valid = !views[p.image_a].empty() && !views[p.image_b].empty();
        if (s.valid) {
          s.distance = euclidean_distance(average(views[p.image_a], which, normalize),
                                          average(views[p.image_b], which, normalize));
        }
        scored.push_back(s);
      }
      const TenFoldResult r = ten_fold(scored);
      std::printf("%-36s %-5s %6.2f%% +- %.2f  valid-only %6.2f%%\n", name.c_str(), normalize ? "norm" : "raw",
                  100 * r.mean_accuracy, 100 * r.std_accuracy, 100 * r.mean_accuracy_valid_only);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "dump" && argc >= 5)
      return dump(argv[2], argv[3], argv[4], argc > 5 ? std::stoi(argv[5]) : 2, argc > 6 ? std::stoi(argv[6]) : 0);
    if (mode == "score" && argc >= 4) return score(argv[2], argv[3], argc > 4 ? std::stoi(argv[4]) : 0);
    std::cerr << "usage: lfw_tta_bench dump ROOT PAIRS OUT.bin [jobs] [per_fold] | score PAIRS OUT.bin [per_fold]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "lfw_tta_bench: " << e.what() << '\n';
    return 2;
  }
}
