// Enhancement on real photos: `auto` leaves a clean photo alone, and on degraded lfw_dev
// pairs it rescues more decisions than it breaks.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "common/configured_engine.hpp"
#include "common/test_env.hpp"
#include "degrade/degrade.hpp"
#include "align/face_chip.hpp"
#include "enhance/enhance.hpp"
#include "image/cv_image.hpp"
#include "pipeline/face_quality.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

constexpr float kThreshold = 0.6F;  // the default decision threshold

std::string dev_image(const std::string& relative) {
  return (test::testdata_dir() / "lfw_dev" / "lfw-deepfunneled" / relative).string();
}

// The pairs below were chosen as failures of dlib's ResNet behind the SSD detector, which misses
// faces in the dark that the default RFB finds without help; so the enhancement is measured there.
test::ConfiguredEngine open_engine(const Enhancement& enhancement, DetectorKind detector = DetectorKind::kSsd) {
  ModelOptions options;
  options.recognizer = Recognizer::kDlib;
  options.detector = detector;
  PipelineOptions pipeline;
  pipeline.chip.enhancement = enhancement;
  return {Engine::open(options), pipeline};
}

TEST(EnhanceLfwTest, AutoLeavesCleanWellExposedPhotoAlone) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const test::ConfiguredEngine plain = open_engine({});
  const test::ConfiguredEngine automatic = open_engine(parse_enhancement("auto"));
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

// Every photo the pairs name, decoded once.
std::map<std::string, Image> load_dev_photos(const std::vector<DevPair>& pairs) {
  std::map<std::string, Image> photos;
  for (const DevPair& pair : pairs) {
    for (const std::string& name : {pair.a, pair.b}) {
      if (!photos.count(name)) photos.emplace(name, load_image(dev_image(name)));
    }
  }
  return photos;
}

// Per degraded image: the embedding without and with `auto` (nullopt: no face found).
struct DegradedEmbeddings {
  std::optional<Embedding> off, automatic;
};

// Picked by measurement (the sweep below prints every rescued and broken pair): under the
// low-light degradation this same-person pair fails at 0.6 without enhancement (0.611) and
// verifies with chip-stage `auto` (0.569; auto picks denoise + gamma + clahe on these chips).
TEST(EnhanceLfwTest, AutoRescuesALowLightSamePersonPair) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled/Mary_Carey");
  const test::ConfiguredEngine plain = open_engine({});
  const test::ConfiguredEngine automatic = open_engine(parse_enhancement("auto"));
  std::vector<DegradedEmbeddings> embedded;
  for (const char* name : {"Mary_Carey/Mary_Carey_0003.jpg", "Mary_Carey/Mary_Carey_0004.jpg"}) {
    const Image original = load_image(dev_image(name));
    const Image degraded = from_mat(degrade(as_mat(original), Degradation::kLowLight, seed_for(name)));
    const std::vector<Face> faces = plain.detect(degraded);
    const int index = choose_face(faces, degraded.width, degraded.height, FaceChoice::kNearestCenter);
    ASSERT_GE(index, 0) << name;
    embedded.push_back({plain.embed(degraded, faces[index]), automatic.embed(degraded, faces[index])});
  }
  const float without = euclidean_distance(*embedded[0].off, *embedded[1].off);
  const float with = euclidean_distance(*embedded[0].automatic, *embedded[1].automatic);
  std::cout << "[report] low-light Mary_Carey 0003 ~ 0004: " << without << " without enhancement, " << with
            << " with auto\n";
  EXPECT_GT(without, kThreshold);
  EXPECT_LE(with, kThreshold);
}

// Every lfw_dev pair (45 same, 45 different) under each of the eight degradations, decided
// at 0.6 with and without chip-stage `auto` (both use the plain engine's detection).
// Measured: 559 of 720 decisions right without, 560 with; auto rescues one pair each under
// down3, blur3 and lowlight and loses one each under down4 and lowlight (distances within 0.03
// of the threshold). So auto must not cost more than two decisions overall: on the chip alone
// it is no cure (docs/accuracy.md "Poor and small faces").
TEST(EnhanceLfwTest, AutoOnDegradedDevPairsCostsAtMostTwoDecisions) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/pairs.tsv");
  const test::ConfiguredEngine plain = open_engine({});
  const test::ConfiguredEngine automatic = open_engine(parse_enhancement("auto"));
  const std::vector<DevPair> pairs = read_dev_pairs();
  ASSERT_EQ(pairs.size(), 90U);
  const std::map<std::string, Image> originals = load_dev_photos(pairs);
  int total_off = 0, total_auto = 0;
  for (const Degradation degradation : all_degradations()) {
    std::map<std::string, DegradedEmbeddings> embedded;
    for (const auto& [name, original] : originals) {
      const Image degraded = from_mat(degrade(as_mat(original), degradation, seed_for(name)));
      const std::vector<Face> faces = plain.detect(degraded);
      const int index = choose_face(faces, degraded.width, degraded.height, FaceChoice::kNearestCenter);
      if (index < 0) continue;
      embedded[name] = {plain.embed(degraded, faces[index]), automatic.embed(degraded, faces[index])};
    }
    int right_off = 0, right_auto = 0;
    for (const DevPair& pair : pairs) {
      const DegradedEmbeddings& a = embedded[pair.a];
      const DegradedEmbeddings& b = embedded[pair.b];
      if (!a.off || !b.off) continue;  // no face: wrong either way
      const float d_off = euclidean_distance(*a.off, *b.off);
      const float d_auto = euclidean_distance(*a.automatic, *b.automatic);
      const bool ok_off = (d_off <= kThreshold) == pair.same, ok_auto = (d_auto <= kThreshold) == pair.same;
      right_off += ok_off;
      right_auto += ok_auto;
      if (ok_off != ok_auto) {
        std::cout << "  " << to_string(degradation) << (ok_auto ? " rescued " : " broken  ") << pair.a << " ~ "
                  << pair.b << " (" << d_off << " -> " << d_auto << ")\n";
      }
    }
    std::cout << "[report] " << to_string(degradation) << ": " << right_off << "/90 right without enhancement, "
              << right_auto << "/90 with auto\n";
    total_off += right_off;
    total_auto += right_auto;
  }
  EXPECT_GE(total_auto, total_off - 2);
}

// The whole product path under low light: each engine detects, aligns and embeds on its own,
// so `auto` also brightens the photo before detection and landmarks. Measured on the 90
// lfw_dev pairs (35 photos), SSD: faces found in 30 without enhancement, 35 with auto; pairs right
// 51/90 without, 85/90 with auto. Asserted: more faces, and at least half of the loss recovered.
// The default RFB detector finds 34 and gets 88/90 right without enhancement: asserted to do at
// least as well without it as the SSD does with it.
TEST(EnhanceLfwTest, AutoDetectsAndVerifiesLowLightPairsBetter) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/pairs.tsv");
  const test::ConfiguredEngine plain = open_engine({});
  const test::ConfiguredEngine automatic = open_engine(parse_enhancement("auto"));
  const std::vector<DevPair> pairs = read_dev_pairs();
  ASSERT_EQ(pairs.size(), 90U);
  const auto embed_own = [](const test::ConfiguredEngine& engine, const Image& image) -> std::optional<Embedding> {
    const std::vector<Face> faces = engine.detect(image);
    const int index = choose_face(faces, image.width, image.height, FaceChoice::kNearestCenter);
    if (index < 0) return std::nullopt;
    return engine.embed(image, faces[index]);
  };
  std::map<std::string, DegradedEmbeddings> embedded;
  int found_off = 0, found_auto = 0;
  for (const auto& [name, original] : load_dev_photos(pairs)) {
    const Image degraded = from_mat(degrade(as_mat(original), Degradation::kLowLight, seed_for(name)));
    DegradedEmbeddings& e = embedded[name];
    e.off = embed_own(plain, degraded);
    e.automatic = embed_own(automatic, degraded);
    found_off += e.off.has_value();
    found_auto += e.automatic.has_value();
  }
  const auto right = [](const std::optional<Embedding>& a, const std::optional<Embedding>& b, bool same) {
    if (!a || !b) return false;  // no face: a wrong answer
    return (euclidean_distance(*a, *b) <= kThreshold) == same;
  };
  int right_off = 0, right_auto = 0;
  for (const DevPair& pair : pairs) {
    right_off += right(embedded[pair.a].off, embedded[pair.b].off, pair.same);
    right_auto += right(embedded[pair.a].automatic, embedded[pair.b].automatic, pair.same);
  }
  std::cout << "[report] lowlight, own detection: faces found " << found_off << "/" << embedded.size()
            << " without enhancement, " << found_auto << " with auto; pairs right " << right_off << "/90 without, "
            << right_auto << "/90 with auto\n";
  EXPECT_GT(found_auto, found_off);
  EXPECT_GE(right_auto, right_off + (90 - right_off) / 2);

  const test::ConfiguredEngine rfb = open_engine({}, DetectorKind::kRfb);
  int found_rfb = 0, right_rfb = 0;
  std::map<std::string, std::optional<Embedding>> by_rfb;
  for (const auto& [name, original] : load_dev_photos(pairs)) {
    by_rfb[name] = embed_own(rfb, from_mat(degrade(as_mat(original), Degradation::kLowLight, seed_for(name))));
    found_rfb += by_rfb[name].has_value();
  }
  for (const DevPair& pair : pairs) right_rfb += right(by_rfb[pair.a], by_rfb[pair.b], pair.same);
  std::cout << "[report] lowlight, RFB without enhancement: faces found " << found_rfb << ", pairs right " << right_rfb
            << "/90\n";
  EXPECT_GE(found_rfb, found_auto - 1);
  EXPECT_GE(right_rfb, right_auto);
}

}  // namespace
}  // namespace siamface
