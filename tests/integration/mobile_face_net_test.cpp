// The second recognizer (issue 16): the MobileFaceNet against ONNX Runtime running the same
// file (tests/reference/mobilefacenet_reference.mjs), its loader's errors, and the three
// recognizer modes of the Engine on real photos.
#include <gtest/gtest.h>

#include <map>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <opencv2/imgproc.hpp>

#include "align/arcface_chip.hpp"
#include "common/backend_comparison.hpp"
#include "common/onnx_reference.hpp"
#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"
#include "embed/mobile_face_net.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;
using test::shell_quote;

constexpr const char* kPhotos = "face_recognition_ageitgey/tests/test_images";

fs::path reference_dir() { return fs::path(SIAMFACE_SOURCE_DIR) / "tests" / "reference"; }

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The ArcFace chip of the largest face of each photo.
std::vector<cv::Mat> chips_of(const Engine& engine, const std::vector<std::string>& names) {
  std::vector<cv::Mat> chips;
  for (const std::string& name : names) {
    const Image image = load_image((test::testdata_dir() / kPhotos / name).string());
    const std::vector<Face> faces = engine.detect(image);
    const int chosen = engine.choose_subject(image, faces, FaceChoice::kLargest);
    EXPECT_GE(chosen, 0) << name;
    if (chosen >= 0) chips.push_back(extract_arcface_chip(as_mat(image), faces[chosen].landmarks).clone());
  }
  return chips;
}

Embedding normalised(const std::vector<float>& v) {
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  Embedding out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] / std::sqrt(norm));
  return out;
}

class MobileFaceNet : public test::TempDirTest {};

TEST_F(MobileFaceNet, MatchesOnnxRuntimeOnRealChips) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kPhotos);
  SIAMFACE_REQUIRE_PATH(reference_dir() / "node_modules" / "onnxruntime-web",
                        "ONNX Runtime reference (npm ci --prefix tests/reference)");
  const Engine engine = Engine::open();
  const std::vector<cv::Mat> chips = chips_of(engine, {"obama.jpg", "obama2.jpg", "biden.jpg", "32bit.png"});
  ASSERT_EQ(chips.size(), 4U);
  const auto net = make_mobile_face_net(test::models_dir());
  const std::vector<std::vector<float>> ours = net->embed(chips);  // one batch of four

  const nlohmann::json reference =
      test::run_onnx_reference("mobilefacenet_reference.mjs", test::models_dir() / kMobileFaceNetFile, chips, temp_);
  ASSERT_FALSE(reference.is_null());
  for (std::size_t i = 0; i < chips.size(); ++i) {
    const std::vector<float> raw = reference.at("case" + std::to_string(i)).get<std::vector<float>>();
    ASSERT_EQ(raw.size(), static_cast<std::size_t>(kMobileFaceNetDims));
    const Embedding expected = normalised(raw);
    float worst = 0;
    for (std::size_t k = 0; k < expected.size(); ++k) worst = std::max(worst, std::abs(expected[k] - ours[i][k]));
    // Two runtimes, the same float32 graph: measured ~1e-6; 1e-4 leaves room for other CPUs.
    EXPECT_LT(worst, 1e-4F) << "chip " << i;
  }
  // Not vacuous: the chips are of different people and the reference tells them apart.
  EXPECT_LT(euclidean_distance(ours[0], ours[1]), euclidean_distance(ours[0], ours[2]));
}

// The oneDNN port (the default when the build has oneDNN) against OpenCV DNN running the same
// file, on real and image-like chips: 11 at once (plans of 8, 2 and 1) and one at a time.
TEST_F(MobileFaceNet, OneDnnGivesTheOpenCvEmbeddingsInBatchesAndAlone) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kPhotos);
  std::unique_ptr<siamface::MobileFaceNet> onednn;
  try {
    onednn = make_mobile_face_net(test::models_dir(), InferenceBackend::kOneDnn);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidArgument) throw;
  }
  SIAMFACE_REQUIRE_ONEDNN(onednn);
  EXPECT_STREQ(onednn->backend_name(), "oneDNN f32");
  const auto reference = make_mobile_face_net(test::models_dir(), InferenceBackend::kOpenCv);
  EXPECT_STREQ(reference->backend_name(), "OpenCV DNN");
  EXPECT_EQ(onednn->flops_per_chip(), reference->flops_per_chip());

  const Engine engine = Engine::open();
  std::vector<cv::Mat> chips = chips_of(engine, {"obama.jpg", "obama2.jpg", "biden.jpg", "32bit.png"});
  ASSERT_EQ(chips.size(), 4U);
  cv::RNG rng(7);
  while (chips.size() < 11) {
    cv::Mat chip(kArcFaceChipSize, kArcFaceChipSize, CV_8UC3);
    rng.fill(chip, cv::RNG::UNIFORM, 0, 256);
    cv::GaussianBlur(chip, chip, cv::Size(5, 5), 0);
    chips.push_back(chip);
  }
  // Measured: 2e-6 at most between unit vectors.
  test::expect_same_embeddings(*reference, *onednn, chips, 1e-4F);
}

TEST_F(MobileFaceNet, DamagedModelFileIsRefusedNamingIt) {
  SIAMFACE_REQUIRE_MODELS();
  const std::string bytes = read_text(test::models_dir() / kMobileFaceNetFile);
  ASSERT_GT(bytes.size(), 1000U);
  std::ofstream(temp_ / kMobileFaceNetFile, std::ios::binary).write(bytes.data(), 1000);  // truncated
  try {
    make_mobile_face_net(temp_);
    FAIL() << "a truncated model loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelCorrupt);
    EXPECT_NE(std::string(e.what()).find(kMobileFaceNetFile), std::string::npos) << e.what();
  }
  try {
    make_mobile_face_net(temp_ / "nowhere");
    FAIL() << "a missing model loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelMissing);
  }
}

TEST(Recognizers, FusedIsTheWeightedPairAndEveryModeSeparatesPeople) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kPhotos);
  std::map<Recognizer, Engine> engines;
  for (Recognizer r : {Recognizer::kDlib, Recognizer::kMobileFaceNet, Recognizer::kFused}) {
    ModelOptions options;
    options.recognizer = r;
    engines.emplace(r, Engine::open(options));
  }
  const auto embed = [&](Recognizer r, const std::string& name) {
    const Engine& engine = engines.at(r);
    const Image image = load_image((test::testdata_dir() / kPhotos / name).string());
    const std::vector<FaceEmbedding> faces = engine.analyze(image);
    EXPECT_EQ(faces.size(), 1U) << name;
    return faces.empty() ? Embedding{} : faces.front().embedding;
  };
  for (const auto& [r, engine] : engines) {
    SCOPED_TRACE(to_string(r));
    EXPECT_EQ(embed(r, "obama.jpg").size(), engine.embedding_size());
    const float same = euclidean_distance(embed(r, "obama.jpg"), embed(r, "obama2.jpg"));
    const float different = euclidean_distance(embed(r, "obama.jpg"), embed(r, "biden.jpg"));
    // One default threshold (0.6) serves every mode (docs/validation.md).
    EXPECT_LT(same, 0.6F);
    EXPECT_GT(different, 0.6F);
  }
  // fused = [0.5 * dlib, sqrt(0.75) * (0.5 * mfn unit vector)] = [0.5 * dlib, 0.866 * mfn].
  const Embedding dlib = embed(Recognizer::kDlib, "biden.jpg");
  const Embedding mfn = embed(Recognizer::kMobileFaceNet, "biden.jpg");
  const Embedding fused = embed(Recognizer::kFused, "biden.jpg");
  ASSERT_EQ(fused.size(), dlib.size() + mfn.size());
  for (std::size_t i = 0; i < dlib.size(); ++i) EXPECT_NEAR(fused[i], 0.5F * dlib[i], 1e-5F);
  for (std::size_t i = 0; i < mfn.size(); ++i) EXPECT_NEAR(fused[dlib.size() + i], 0.8660254F * mfn[i], 1e-5F);
  // The recognizers are told apart by the gallery: each has its own model identity.
  EXPECT_NE(engines.at(Recognizer::kFused).model_info().weights_sha256,
            engines.at(Recognizer::kDlib).model_info().weights_sha256);
  EXPECT_NE(engines.at(Recognizer::kMobileFaceNet).model_info().name, engines.at(Recognizer::kDlib).model_info().name);
  EXPECT_THROW(engines.at(Recognizer::kFused).embed_chip(engines.at(Recognizer::kFused).align(
                   load_image((test::testdata_dir() / kPhotos / "obama.jpg").string()),
                   engines.at(Recognizer::kFused).detect(load_image((test::testdata_dir() / kPhotos / "obama.jpg").string())).front())),
               Error);
}

}  // namespace
}  // namespace siamface
