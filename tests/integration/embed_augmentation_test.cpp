// Test-time augmentation in the engine (ChipOptions::augmentation): embed() and analyze()
// average exactly the chips the augmentation names, on a real group photo.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>

#include "common/configured_engine.hpp"
#include "common/test_env.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

constexpr const char* kPhoto = "face-api.js/examples/images/bbt1.jpg";

test::ConfiguredEngine open_engine(EmbedAugmentation augmentation) {
  ModelOptions options;
  options.recognizer = Recognizer::kDlib;  // embed_chip and the view arithmetic below are dlib's
  PipelineOptions pipeline;
  pipeline.chip.augmentation = augmentation;
  return {Engine::open(options), pipeline};
}

float max_abs_difference(const Embedding& a, const Embedding& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (std::size_t k = 0; k < std::min(a.size(), b.size()); ++k) worst = std::max(worst, std::abs(a[k] - b[k]));
  return worst;
}

TEST(EmbedAugmentationTest, FlipAveragesTheChipAndItsMirror) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kPhoto);
  const test::ConfiguredEngine plain = open_engine(EmbedAugmentation::kNone);
  const test::ConfiguredEngine flip = open_engine(EmbedAugmentation::kFlip);
  const Image image = load_image((test::testdata_dir() / kPhoto).string());
  const std::vector<Face> faces = plain.detect(image);
  ASSERT_GE(faces.size(), 2U);
  for (const Face& face : faces) {
    const Image chip = plain.align(image, face);
    cv::Mat mirrored;
    cv::flip(as_mat(chip), mirrored, 1);
    const Embedding a = plain.embed_chip(chip), b = plain.embed_chip(from_mat(mirrored));
    Embedding expected(a.size());
    for (std::size_t k = 0; k < a.size(); ++k) expected[k] = (a[k] + b[k]) / 2;
    EXPECT_LT(max_abs_difference(flip.embed(image, face), expected), 1e-5F);
    EXPECT_GT(max_abs_difference(flip.embed(image, face), a), 1e-3F) << "flip must change the embedding";
  }
}

TEST(EmbedAugmentationTest, AnalyzeBatchesTheSameViewsAsEmbed) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kPhoto);
  const test::ConfiguredEngine engine = open_engine(EmbedAugmentation::kFlipRotate);
  const test::ConfiguredEngine plain = open_engine(EmbedAugmentation::kNone);
  const Image image = load_image((test::testdata_dir() / kPhoto).string());
  const std::vector<FaceEmbedding> analyzed = engine.analyze(image);
  ASSERT_GE(analyzed.size(), 2U);
  for (const FaceEmbedding& fe : analyzed) {
    EXPECT_LT(max_abs_difference(fe.embedding, engine.embed(image, fe.face)), 1e-4F);
    // Same person, nearly the same embedding: the views are small changes of one face.
    EXPECT_LT(euclidean_distance(fe.embedding, plain.embed(image, fe.face)), 0.15F);
  }
}

}  // namespace
}  // namespace siamface
