// Study tool (issue 31): the embeddings behind the open-set decision rule, dumped once so that
// candidate rules can be compared on every labelled set and photo variant without re-running
// the networks (bench/decision_rule_study.py reads the dump).
//   build/bench/decision_rule_dump_bench OUT_DIR [--testdata DIR]
// Writes OUT_DIR/faces.tsv (one row per photo with a face: set, variant, person, photo, the
// face's quality and detector score) and OUT_DIR/embeddings.f32 (per row, the dlib 128 values
// then the MobileFaceNet's 512-value unit vector, float32, native order). Photos without a face are counted
// in OUT_DIR/missed.tsv.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/labelled_sets.hpp"
#include "common/test_env.hpp"
#include "degrade/degrade.hpp"
#include "image/cv_image.hpp"
#include "pipeline/fused_embedding.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"

using namespace siamface;
namespace fs = std::filesystem;

namespace {

struct Variant {
  std::string name;
  bool grey = false;
  Degradation degradation = Degradation::kNone;
};

// Copies that look like real poor photos: colourless, distant, blurred, dark, over-compressed,
// and the small grey portraits of the held-out sets.
const std::vector<Variant> kVariants = {
    {"original"},
    {"grey", true},
    {"low-res", false, Degradation::kDownscale3},
    {"grey low-res", true, Degradation::kDownscale3},
    {"blur", false, Degradation::kBlur3},
    {"low-light", false, Degradation::kLowLight},
    {"jpeg10", false, Degradation::kJpeg10},
    {"grey small", true, Degradation::kSmall3},
};

Image apply(const Image& image, const Variant& variant, const std::string& key) {
  cv::Mat mat = as_mat(image).clone();
  if (variant.grey) {
    cv::Mat grey;
    cv::cvtColor(mat, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(grey, mat, cv::COLOR_GRAY2BGR);
  }
  if (variant.degradation != Degradation::kNone) mat = degrade(mat, variant.degradation, seed_for(key));
  return from_mat(mat);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: decision_rule_dump_bench OUT_DIR [--testdata DIR]\n");
    return 2;
  }
  const fs::path out = argv[1];
  fs::path testdata = test::testdata_dir();
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--testdata") testdata = argv[i + 1];
  }
  fs::create_directories(out);
  set_intra_op_threads(1);
  ModelOptions model;
  model.recognizer = Recognizer::kFused;
  const Engine engine = Engine::open(model);

  std::vector<test::LabelledSet> sets = test::labelled_sets(testdata);
  sets.push_back({"LFW people 4+", testdata / "lfw/lfw-deepfunneled", 4});

  std::ofstream faces(out / "faces.tsv");
  std::ofstream embeddings(out / "embeddings.f32", std::ios::binary);
  std::ofstream missed_out(out / "missed.tsv");
  faces << "set\tvariant\tperson\tphoto\tface_size_px\tbrightness\tcontrast\tsharpness\tnoise\tyaw\tgrayscale\tscore\n";
  std::mutex write_mutex;
  for (const test::LabelledSet& set : sets) {
    const std::vector<fs::path> photos = test::photos_of(set);
    for (const Variant& variant : kVariants) {
      std::atomic<std::size_t> next{0};
      std::atomic<int> missed{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
          for (std::size_t i; (i = next++) < photos.size();) {
            const std::string key = photos[i].string();
            const Image image = apply(load_image(key), variant, key);
            const std::vector<Face> found = engine.detect(image);
            const int chosen = engine.choose_subject(image, found, FaceChoice::kLargest);
            if (chosen < 0) {
              ++missed;
              continue;
            }
            const Face& face = found[chosen];
            const Embedding fused = engine.embed(image, face);
            std::vector<float> parts(fused.size());
            // Back to dlib's embedding and the MobileFaceNet's unit vector (pipeline/fused_embedding.hpp).
            for (std::size_t k = 0; k < fused.size(); ++k) {
              parts[k] = fused[k] / (k < kDlibEmbeddingSize ? kFusedDlibWeight : kFusedMfnWeight);
            }
            const FaceQuality& q = face.quality;
            std::lock_guard<std::mutex> lock(write_mutex);
            faces << set.name << '\t' << variant.name << '\t' << photos[i].parent_path().filename().string() << '\t'
                  << photos[i].filename().string() << '\t' << q.face_size_px << '\t' << q.brightness << '\t'
                  << q.contrast << '\t' << q.sharpness << '\t' << q.noise << '\t' << q.yaw << '\t' << q.grayscale
                  << '\t' << face.score << '\n';
            embeddings.write(reinterpret_cast<const char*>(parts.data()), static_cast<std::streamsize>(parts.size() * sizeof(float)));
          }
        });
      }
      for (auto& t : threads) t.join();
      missed_out << set.name << '\t' << variant.name << '\t' << missed << '\t' << photos.size() << '\n';
      std::printf("%s / %s: %zu photos, %d without a face\n", set.name.c_str(), variant.name.c_str(), photos.size(),
                  missed.load());
      std::fflush(stdout);
    }
  }
  return 0;
}
