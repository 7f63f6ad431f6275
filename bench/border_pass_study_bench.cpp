// Study behind the border-pass rule (issue 16): which faces does only the grey-border pass find,
// with what score, on crops (LFW, face-api.js, johns) and on photos (LFW crops pasted into a
// larger frame with a body below, the face_recognition photos, non-face photos)?
//   build/bench/border_pass_study_bench [testdata_dir] [max_lfw_images]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/test_env.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"
#include <opencv2/imgproc.hpp>

using namespace siamface;
namespace fs = std::filesystem;

namespace {

// The crop in a frame 3x its width, 3.5x its height, face in the upper middle; below it the
// crop's bottom quarter (neck, collar, clothes) stretched down as a torso.
Image as_portrait(const Image& crop) {
  const cv::Mat c = as_mat(crop);
  const int w = c.cols, h = c.rows;
  cv::Mat frame(h * 7 / 2, w * 3, CV_8UC3, cv::Scalar(180, 190, 200));
  const int x = w, y = h / 2;
  const cv::Mat bottom = c(cv::Rect(0, h * 3 / 4, w, h / 4));
  cv::Mat torso;
  cv::resize(bottom, torso, cv::Size(w * 2, frame.rows - (y + h)), 0, 0, cv::INTER_LINEAR);
  torso.copyTo(frame(cv::Rect(w / 2, y + h, torso.cols, torso.rows)));
  c.copyTo(frame(cv::Rect(x, y, w, h)));
  return from_mat(frame);
}

struct Tally {
  std::vector<float> true_scores, false_scores;
};

bool overlaps(const Box& a, const std::vector<Face>& faces) {
  for (const Face& f : faces)
    if (intersection_over_union(a, f.box) > 0.3F) return true;
  return false;
}

// Border-only detections: in the merged result, not in the first pass.
void study(const Engine& engine, const Image& image, const Box* true_face, Tally& tally, int& first_empty) {
  DetectOptions off, always;
  off.border_pass = BorderPass::kOff;
  always.border_pass = BorderPass::kAlways;
  const std::vector<Face> first = engine.detect(image, off);
  if (first.empty()) ++first_empty;
  for (const Face& f : engine.detect(image, always)) {
    if (overlaps(f.box, first)) continue;
    const bool is_true = true_face && intersection_over_union(f.box, *true_face) > 0.3F;
    (is_true ? tally.true_scores : tally.false_scores).push_back(f.score);
  }
}

void print(const char* name, Tally& t, int images, int first_empty) {
  std::sort(t.true_scores.begin(), t.true_scores.end());
  std::sort(t.false_scores.begin(), t.false_scores.end());
  std::printf("\n== %s: %d images, first pass empty on %d; border-only true %zu, false %zu\n", name, images,
              first_empty, t.true_scores.size(), t.false_scores.size());
  for (float cut : {0.5F, 0.6F, 0.7F, 0.75F, 0.8F, 0.85F, 0.9F, 0.95F}) {
    const auto above = [cut](const std::vector<float>& v) {
      return v.end() - std::lower_bound(v.begin(), v.end(), cut);
    };
    std::printf("  score >= %.2f: true kept %ld, false kept %ld\n", cut, above(t.true_scores), above(t.false_scores));
  }
}

std::vector<fs::path> images_under(const fs::path& root, std::size_t limit) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".jpg" || ext == ".png" || ext == ".jpeg")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path testdata = argc > 1 ? fs::path(argv[1]) : test::testdata_dir();
  const std::size_t max_lfw = argc > 2 ? std::stoul(argv[2]) : 600;
  const Engine engine = Engine::open();

  // LFW crops: the true face is the one nearest the centre (LFW's convention); photos: the same
  // crop in a portrait frame, where the true face is where it was pasted.
  Tally crops, portraits;
  int crop_empty = 0, portrait_empty = 0, n = 0;
  for (const fs::path& path : images_under(testdata / "lfw/lfw-deepfunneled", max_lfw)) {
    const Image image = load_image(path.string());
    const Box centre{image.width * 0.3F, image.height * 0.3F, image.width * 0.4F, image.height * 0.4F};
    study(engine, image, &centre, crops, crop_empty);
    const Box pasted{image.width * 1.3F, image.height * 0.8F, image.width * 0.4F, image.height * 0.4F};
    study(engine, as_portrait(image), &pasted, portraits, portrait_empty);
    ++n;
  }
  print("LFW crops (true = central box)", crops, n, crop_empty);
  print("LFW crops in portrait frames with a body (true = pasted face)", portraits, n, portrait_empty);

  struct Set {
    const char* name;
    fs::path root;
    bool one_central_face;
  };
  for (const Set& set : {Set{"face-api.js crops", testdata / "face-api.js/examples/images", true},
                         Set{"dlib johns", testdata / "dlib_examples/johns", true},
                         Set{"face_recognition photos", testdata / "face_recognition_ageitgey/tests", false},
                         Set{"non-face photos (every face false)", testdata / "dlib_examples/non_face", false},
                         Set{"VOC photos", testdata / "dlib_examples/faces", false}}) {
    Tally t;
    int empty = 0, count = 0;
    for (const fs::path& path : images_under(set.root, 10000)) {
      Image image;
      try {
        image = load_image(path.string());
      } catch (const std::exception&) {
        continue;
      }
      const Box centre{image.width * 0.3F, image.height * 0.3F, image.width * 0.4F, image.height * 0.4F};
      study(engine, image, set.one_central_face ? &centre : nullptr, t, empty);
      ++count;
    }
    print(set.name, t, count, empty);
  }
  return 0;
}
