// Verification on labelled pairs: face_recognition's Obama/Biden expectations and lfw_dev.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "common/test_env.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface::test {
namespace {

// The face `siamface verify` takes: the largest of those both detectors find (Engine::choose_subject).
Embedding embed_largest(const Engine& engine, const std::string& path) {
  const Image image = load_image(path);
  const std::vector<Face> faces = engine.detect(image);
  const int chosen = engine.choose_subject(image, faces, FaceChoice::kLargest);
  if (chosen < 0) throw Error(ErrorCode::kNoFace, "no face in " + path);
  return engine.embed(image, faces[chosen]);
}

TEST(VerifyPairs, FaceRecognitionExpectations) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama3.jpg");
  const Engine engine = Engine::open();
  const auto dir = testdata_dir() / "face_recognition_ageitgey/tests/test_images";
  const Embedding obama = embed_largest(engine, (dir / "obama.jpg").string());
  // test_expectations.tsv: obama~obama2 and obama~obama3 same (<= 0.6), obama vs biden different.
  EXPECT_LE(euclidean_distance(obama, embed_largest(engine, (dir / "obama2.jpg").string())), 0.6F);
  EXPECT_LE(euclidean_distance(obama, embed_largest(engine, (dir / "obama3.jpg").string())), 0.6F);
  EXPECT_GT(euclidean_distance(obama, embed_largest(engine, (dir / "biden.jpg").string())), 0.6F);
}

TEST(VerifyPairs, LfwDevPairsAtTheDefaultThreshold) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/pairs.tsv");
  const Engine engine = Engine::open();
  const auto root = testdata_dir() / "lfw_dev/lfw-deepfunneled";
  std::ifstream in(testdata_dir() / "lfw_dev/pairs.tsv");
  std::map<std::string, Embedding> cache;
  const auto embedding = [&](const std::string& relative) -> const Embedding& {
    auto it = cache.find(relative);
    if (it == cache.end()) it = cache.emplace(relative, embed_largest(engine, (root / relative).string())).first;
    return it->second;
  };
  int pairs = 0, correct = 0;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string a, b;
    int same = 0;
    if (!(fields >> a >> b >> same)) continue;
    ++pairs;
    if ((euclidean_distance(embedding(a), embedding(b)) < 0.6F) == (same == 1)) ++correct;
  }
  const double accuracy = static_cast<double>(correct) / pairs;
  std::printf("[report] lfw_dev: %d/%d pairs right at 0.6 (%.1f%%)\n", correct, pairs, 100 * accuracy);
  EXPECT_EQ(pairs, 90);
  // Measured: 90 of 90. One pair of slack for floating-point differences.
  EXPECT_GE(correct, 89);
}

}  // namespace
}  // namespace siamface::test
