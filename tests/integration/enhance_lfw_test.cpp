// Enhancement on real photos: `auto` leaves a clean photo alone, and on degraded lfw_dev
// pairs it rescues more decisions than it breaks.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "common/test_env.hpp"
#include "degrade/degrade.hpp"
#include "align/face_chip.hpp"
#include "enhance/enhance.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

constexpr float kThreshold = 0.6F;  // the default decision threshold

std::string dev_image(const std::string& relative) {
  return (test::testdata_dir() / "lfw_dev" / "lfw-deepfunneled" / relative).string();
}

Engine open_engine(const Enhancement& enhancement) {
  EngineOptions options;
  options.enhancement = enhancement;
  return Engine::open(options);
}

TEST(EnhanceLfwTest, AutoLeavesCleanWellExposedPhotoAlone) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const Engine plain = open_engine({});
  const Engine automatic = open_engine(parse_enhancement("auto"));
  const Image image = load_image(dev_image("Barbra_Streisand/Barbra_Streisand_0001.jpg"));
  const std::vector<Face> faces = plain.detect(image);
  ASSERT_FALSE(faces.empty());
  const cv::Mat chip = extract_face_chip(as_mat(image), faces[0].landmarks);
  EXPECT_FALSE(auto_enhancement(measure_chip_quality(chip, faces[0].box.width)).any());
  const Image a = plain.align(image, faces[0]);
  const Image b = automatic.align(image, faces[0]);
  EXPECT_EQ(a.bgr, b.bgr);
  EXPECT_EQ(plain.embed(image, faces[0]), automatic.embed(image, faces[0]));
}

struct DevPair {
  std::string a, b;
  bool same = false;
};

std::vector<DevPair> read_dev_pairs() {
  std::ifstream in(test::testdata_dir() / "lfw_dev" / "pairs.tsv");
  std::vector<DevPair> pairs;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    DevPair pair;
    int same = 0;
    if (fields >> pair.a >> pair.b >> same) {
      pair.same = same == 1;
      pairs.push_back(pair);
    }
  }
  return pairs;
}

// Per degraded image: the embedding without and with `auto` (nullopt: no face found).
struct DegradedEmbeddings {
  std::optional<Embedding> off, automatic;
};

TEST(EnhanceLfwTest, AutoOnDegradedDevPairsRescuesMoreThanItBreaks) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/pairs.tsv");
  const Engine plain = open_engine({});
  const Engine automatic = open_engine(parse_enhancement("auto"));
  const std::vector<DevPair> pairs = read_dev_pairs();
  ASSERT_EQ(pairs.size(), 90U);
  std::map<std::string, Image> originals;
  for (const DevPair& pair : pairs) {
    for (const std::string& name : {pair.a, pair.b}) {
      if (!originals.count(name)) originals.emplace(name, load_image(dev_image(name)));
    }
  }
  for (const Degradation degradation : all_degradations()) {
    std::map<std::string, DegradedEmbeddings> embedded;
    for (const auto& [name, original] : originals) {
      const Image degraded = from_mat(degrade(as_mat(original), degradation, seed_for(name)));
      const std::vector<Face> faces = plain.detect(degraded);
      const int index = choose_face(faces, degraded.width, degraded.height, FaceChoice::kNearestCenter);
      DegradedEmbeddings& e = embedded[name];
      if (index < 0) continue;
      e.off = plain.embed(degraded, faces[index]);
      e.automatic = automatic.embed(degraded, faces[index]);
    }
    int right_off = 0, right_auto = 0;
    std::vector<std::string> rescued, broken;
    for (const DevPair& pair : pairs) {
      const DegradedEmbeddings& a = embedded[pair.a];
      const DegradedEmbeddings& b = embedded[pair.b];
      if (!a.off || !b.off) continue;  // no face: wrong either way
      const float d_off = euclidean_distance(*a.off, *b.off);
      const float d_auto = euclidean_distance(*a.automatic, *b.automatic);
      const bool ok_off = (d_off <= kThreshold) == pair.same, ok_auto = (d_auto <= kThreshold) == pair.same;
      right_off += ok_off;
      right_auto += ok_auto;
      const std::string label = pair.a + " ~ " + pair.b + " (" + std::to_string(d_off) + " -> " + std::to_string(d_auto) + ")";
      if (!ok_off && ok_auto) rescued.push_back(label);
      if (ok_off && !ok_auto) broken.push_back(label);
    }
    std::cout << to_string(degradation) << ": " << right_off << "/90 right without enhancement, " << right_auto
              << "/90 with auto\n";
    for (const std::string& r : rescued) std::cout << "  rescued " << r << "\n";
    for (const std::string& r : broken) std::cout << "  broken  " << r << "\n";
    EXPECT_GE(right_auto, right_off) << to_string(degradation);
  }
}

}  // namespace
}  // namespace siamface
