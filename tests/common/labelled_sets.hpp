// The labelled photo sets of ../shared/testdata used by the identification tests and the
// open-set benchmark, embedded once, with greyscale and low-resolution variants.
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <map>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "eval/open_set.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"

namespace siamface::test {

struct LabelledSet {
  std::string name;
  std::filesystem::path root;  // root/<person>/<photos>
  // For big sets: only people with at least this many photos, and only their first ones.
  std::size_t photos_per_person = 0;  // 0: every person, every photo
};

inline std::vector<LabelledSet> labelled_sets(const std::filesystem::path& testdata) {
  return {{"face-api.js", testdata / "face-api.js/examples/images"},
          {"dlib johns", testdata / "dlib_examples/johns"},
          {"lfw_dev", testdata / "lfw_dev/lfw-deepfunneled"}};
}

enum class Variant { kOriginal, kGrey, kLowResolution, kGreyLowResolution };

inline const char* to_string(Variant variant) {
  switch (variant) {
    case Variant::kOriginal: return "original";
    case Variant::kGrey: return "greyscale";
    case Variant::kLowResolution: return "low-res (1/3)";
    case Variant::kGreyLowResolution: return "greyscale, low-res (1/3)";
  }
  return "?";
}

// Greyscale: luminance only. Low resolution: a third of the size and back, as a distant face.
inline Image apply_variant(const Image& image, Variant variant) {
  if (variant == Variant::kOriginal) return image;
  if (variant == Variant::kGreyLowResolution) return apply_variant(apply_variant(image, Variant::kGrey), Variant::kLowResolution);
  const cv::Mat source = as_mat(image);
  cv::Mat out;
  if (variant == Variant::kGrey) {
    cv::Mat grey;
    cv::cvtColor(source, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(grey, out, cv::COLOR_GRAY2BGR);
  } else {
    cv::Mat small;
    cv::resize(source, small, cv::Size(), 1.0 / 3, 1.0 / 3, cv::INTER_AREA);
    cv::resize(small, out, source.size(), 0, 0, cv::INTER_LINEAR);
  }
  return from_mat(out);
}

// Every photo of every person (root/<person>/<photo>), sorted.
inline std::vector<std::filesystem::path> photos_of(const LabelledSet& set) {
  namespace fs = std::filesystem;
  std::vector<fs::path> photos;
  for (const auto& person : fs::directory_iterator(set.root)) {
    if (!person.is_directory()) continue;
    std::vector<fs::path> own;
    for (const auto& photo : fs::directory_iterator(person.path()))
      if (photo.is_regular_file()) own.push_back(photo.path());
    std::sort(own.begin(), own.end());
    if (set.photos_per_person > 0) {
      if (own.size() < set.photos_per_person) continue;
      own.resize(set.photos_per_person);
    }
    photos.insert(photos.end(), own.begin(), own.end());
  }
  std::sort(photos.begin(), photos.end());
  return photos;
}

// Every photo of every person (sorted), embedded from the face enrolment takes (the largest the
// detectors agree on: Engine::choose_subject). Photos without a face are counted in `missed`.
inline std::vector<LabelledFace> embed_set(const Engine& engine, const LabelledSet& set, Variant variant,
                                           int* missed = nullptr) {
  namespace fs = std::filesystem;
  const std::vector<fs::path> photos = photos_of(set);
  std::vector<LabelledFace> faces;
  for (const fs::path& photo : photos) {
    const Image image = apply_variant(load_image(photo.string()), variant);
    const std::vector<Face> found = engine.detect(image);
    const int chosen = engine.choose_subject(image, found, FaceChoice::kLargest);
    if (chosen < 0) {
      if (missed) ++*missed;
      continue;
    }
    faces.push_back({photo.parent_path().filename().string(), engine.embed(image, found[chosen]), found[chosen].quality});
  }
  return faces;
}

}  // namespace siamface::test
