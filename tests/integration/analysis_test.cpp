// Face analysis (issue 32) with the models: the liveness net against ONNX Runtime running the
// same file (tests/reference/liveness_reference.mjs), analyze_faces on real photos, and the
// loader's errors. face-api's age/gender and expression nets are compared with face-api itself
// in face_api_reference_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "attributes/attribute_nets.hpp"
#include "common/onnx_reference.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"
#include "image/cv_image.hpp"
#include "siamface/analysis.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPhotos = "face_recognition_ageitgey/tests/test_images";
constexpr const char* kGroup = "face-api.js/examples/images/bbt1.jpg";


std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool has_analysis_models() {
  const fs::path dir = test::models_dir();
  return fs::exists(dir / kLivenessFile) && fs::exists(dir / (std::string(kAgeGenderModel) + ".bin")) &&
         fs::exists(dir / (std::string(kExpressionModel) + ".bin"));
}

#define SIAMFACE_REQUIRE_ANALYSIS_MODELS()                                                         \
  SIAMFACE_REQUIRE_MODELS();                                                                       \
  SIAMFACE_REQUIRE_PATH(test::models_dir() / kLivenessFile, "the analysis models (scripts/setup.sh)"); \
  ASSERT_TRUE(has_analysis_models()) << "some analysis models are missing: rerun scripts/setup.sh"

class Analysis : public test::TempDirTest {};

// The liveness net's input for every face of a few real photos, cut by the package's crop.
std::vector<cv::Mat> liveness_inputs(const Engine& engine) {
  std::vector<cv::Mat> inputs;
  for (const fs::path& file : {test::testdata_dir() / kPhotos / "obama.jpg", test::testdata_dir() / kPhotos / "biden.jpg",
                               test::testdata_dir() / kGroup}) {
    const Image image = load_image(file.string());
    const cv::Mat bgr = as_mat(image);
    for (const Face& face : engine.detect(image)) {
      cv::Mat input;
      cv::resize(bgr(liveness_crop(face.box, bgr.cols, bgr.rows)), input,
                 cv::Size(kLivenessInputSize, kLivenessInputSize), 0, 0, cv::INTER_LINEAR);
      inputs.push_back(input);
    }
  }
  return inputs;
}

TEST_F(Analysis, LivenessNetMatchesOnnxRuntime) {
  SIAMFACE_REQUIRE_ANALYSIS_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kPhotos);
  SIAMFACE_REQUIRE_TESTDATA(kGroup);
  SIAMFACE_REQUIRE_PATH(test::onnx_reference_dir() / "node_modules" / "onnxruntime-web",
                        "ONNX Runtime reference (npm ci --prefix tests/reference)");
  const Engine engine = Engine::open();
  std::vector<cv::Mat> inputs = liveness_inputs(engine);
  ASSERT_GE(inputs.size(), 5U);
  // Both channel orders: the library's (BGR) and the package JavaScript's (RGB).
  const std::size_t real = inputs.size();
  for (std::size_t i = 0; i < real; ++i) {
    cv::Mat rgb;
    cv::cvtColor(inputs[i], rgb, cv::COLOR_BGR2RGB);
    inputs.push_back(rgb);
  }
  const auto net = make_liveness_net(test::models_dir());
  const nlohmann::json reference =
      test::run_onnx_reference("liveness_reference.mjs", test::models_dir() / kLivenessFile, inputs, temp_);
  ASSERT_FALSE(reference.is_null());
  float lowest_live = 1.0F, highest_live = 0.0F;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<float> expected =
        reference.at("case" + std::to_string(i)).at("probabilities").get<std::vector<float>>();
    const std::vector<float> ours = net->predict_input(inputs[i]);
    ASSERT_EQ(expected.size(), 3U);
    ASSERT_EQ(ours.size(), 3U);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(ours[k], expected[k], 1e-3F) << "face " << i << " class " << k;
    lowest_live = std::min(lowest_live, expected[0]);
    highest_live = std::max(highest_live, expected[0]);
  }
  // Not vacuous: the inputs span a range of scores, not one saturated answer.
  EXPECT_GT(highest_live - lowest_live, 0.2F);
}

TEST_F(Analysis, AnalyzeFacesFillsWhatIsAskedAndNothingElse) {
  SIAMFACE_REQUIRE_ANALYSIS_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kGroup);
  const Engine engine = Engine::open();
  const Image image = load_image((test::testdata_dir() / kGroup).string());
  AnalyzeOptions options;
  options.attributes = AttributeSet::all();
  const std::vector<FaceAnalysis> all = analyze_faces(engine, image, options);
  ASSERT_GE(all.size(), 4U);  // bbt1: four faces
  for (const FaceAnalysis& a : all) {
    ASSERT_FALSE(a.too_small);
    ASSERT_TRUE(a.age && a.gender && a.expression && a.liveness && a.pose);
    EXPECT_GT(*a.age, 10.0F);
    EXPECT_LT(*a.age, 70.0F);
    EXPECT_TRUE(a.gender->value == "male" || a.gender->value == "female");
    EXPECT_GE(a.gender->probability, 0.5F);
    float sum = 0.0F;
    for (float p : a.expression->scores) sum += p;
    EXPECT_NEAR(sum, 1.0F, 1e-4F);
    EXPECT_EQ(a.expression->value,
              kExpressionClasses[std::max_element(a.expression->scores.begin(), a.expression->scores.end()) -
                                 a.expression->scores.begin()]);
    EXPECT_FLOAT_EQ(a.liveness->threshold, default_liveness_threshold());
    EXPECT_EQ(a.liveness->verdict == LivenessVerdict::kLive, a.liveness->score >= a.liveness->threshold);
    EXPECT_LT(std::abs(a.pose->yaw), 60.0F);
  }
  // The same faces with pose only: the same boxes, no network attributes.
  options.attributes = AttributeSet::parse("pose");
  const std::vector<FaceAnalysis> pose_only = analyze_faces(engine, image, options);
  ASSERT_EQ(pose_only.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_FALSE(pose_only[i].age || pose_only[i].gender || pose_only[i].expression || pose_only[i].liveness);
    EXPECT_FLOAT_EQ(pose_only[i].pose->yaw, all[i].pose->yaw);
  }
  // analyze_face on one of them gives what analyze_faces gave.
  options.attributes = AttributeSet::all();
  const FaceAnalysis one = analyze_face(engine, image, all[1].face, options);
  EXPECT_FLOAT_EQ(*one.age, *all[1].age);
  EXPECT_FLOAT_EQ(one.liveness->score, all[1].liveness->score);
  EXPECT_EQ(one.expression->value, all[1].expression->value);
  // ...and so do the faces given back in another order, batched (the age within float noise of
  // another batch size).
  std::vector<Face> reversed;
  for (auto it = all.rbegin(); it != all.rend(); ++it) reversed.push_back(it->face);
  const std::vector<FaceAnalysis> again = analyze_faces(engine, image, reversed, options);
  ASSERT_EQ(again.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const FaceAnalysis& a = again[all.size() - 1 - i];
    EXPECT_NEAR(*a.age, *all[i].age, 1e-3F);
    EXPECT_EQ(a.gender->value, all[i].gender->value);
    EXPECT_NEAR(a.liveness->score, all[i].liveness->score, 1e-5F);
  }
}

TEST_F(Analysis, KnownPeopleGetTheirPublicGender) {
  SIAMFACE_REQUIRE_ANALYSIS_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kPhotos);
  const Engine engine = Engine::open();
  AnalyzeOptions options;
  options.attributes = AttributeSet::parse("gender,age");
  for (const char* name : {"obama.jpg", "obama2.jpg", "biden.jpg"}) {
    const std::vector<FaceAnalysis> faces =
        analyze_faces(engine, load_image((test::testdata_dir() / kPhotos / name).string()), options);
    ASSERT_EQ(faces.size(), 1U) << name;
    EXPECT_EQ(faces[0].gender->value, "male") << name;
    EXPECT_GT(*faces[0].age, 30.0F) << name;  // both were past 45 in these photos
  }
}

TEST_F(Analysis, ATinyFaceGetsNoNetworkAttributes) {
  SIAMFACE_REQUIRE_ANALYSIS_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kPhotos);
  const Engine engine = Engine::open();
  const Image image = load_image((test::testdata_dir() / kPhotos / "obama.jpg").string());
  const std::vector<Face> faces = engine.detect(image);
  ASSERT_FALSE(faces.empty());
  Face tiny = faces[0];
  tiny.box.width = tiny.box.height = kMinAnalysisFacePx - 1;
  AnalyzeOptions options;
  options.attributes = AttributeSet::all();
  const FaceAnalysis a = analyze_face(engine, image, tiny, options);
  EXPECT_TRUE(a.too_small);
  EXPECT_FALSE(a.age || a.gender || a.expression || a.liveness);
  EXPECT_TRUE(a.pose.has_value());
}

TEST_F(Analysis, BadInputsAreRefusedClearly) {
  SIAMFACE_REQUIRE_MODELS();
  const Engine engine = Engine::open();
  AnalyzeOptions options;
  options.attributes = AttributeSet::all();
  try {
    analyze_faces(engine, Image{}, options);
    FAIL() << "an empty image was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidImage);
  }
  Image grey{64, 64, std::vector<std::uint8_t>(64 * 64 * 3, 128)};
  options.liveness_threshold = 1.5F;
  try {
    analyze_faces(engine, grey, options);
    FAIL() << "a liveness threshold of 1.5 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("liveness_threshold"), std::string::npos) << e.what();
  }
}

// A models folder without the analysis models: recognition works, an attribute asked for
// fails naming its file, one not asked for costs nothing.
TEST_F(Analysis, AMissingAttributeModelIsNamed) {
  SIAMFACE_REQUIRE_ANALYSIS_MODELS();
  for (const auto& entry : fs::directory_iterator(test::models_dir())) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.rfind("age_gender", 0) != 0 && name != kLivenessFile) {
      fs::create_symlink(entry.path(), temp_ / name);
    }
  }
  ModelOptions model_options;
  model_options.models_dir = temp_.string();
  const Engine engine = Engine::open(model_options);
  const Image grey{64, 64, std::vector<std::uint8_t>(64 * 64 * 3, 128)};
  AnalyzeOptions options;
  options.attributes = AttributeSet::parse("expression,pose");
  EXPECT_NO_THROW(analyze_faces(engine, grey, options));
  for (const char* attributes : {"age", "gender", "liveness"}) {
    options.attributes = AttributeSet::parse(attributes);
    try {
      analyze_faces(engine, grey, options);
      FAIL() << attributes << " worked without its model";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelMissing) << attributes;
      const std::string file = std::string(attributes) == "liveness" ? kLivenessFile : kAgeGenderModel;
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
  }
}

TEST_F(Analysis, ADamagedLivenessModelIsRefusedNamingIt) {
  SIAMFACE_REQUIRE_ANALYSIS_MODELS();
  const std::string bytes = read_text(test::models_dir() / kLivenessFile);
  std::ofstream(temp_ / kLivenessFile, std::ios::binary).write(bytes.data(), 4096);  // truncated
  try {
    make_liveness_net(temp_);
    FAIL() << "a truncated model loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelCorrupt);
    EXPECT_NE(std::string(e.what()).find(kLivenessFile), std::string::npos) << e.what();
  } catch (const cv::Exception& e) {
    FAIL() << "an OpenCV exception escaped: " << e.what();
  }
}

// The expression net's weights under the age/gender net's name: the loader names a tensor
// that is missing, not a crash or a silently wrong net.
TEST_F(Analysis, AgeGenderWeightsOfAnotherNetAreRefusedNamingATensor) {
  SIAMFACE_REQUIRE_ANALYSIS_MODELS();
  fs::copy_file(test::models_dir() / (std::string(kExpressionModel) + "-weights_manifest.json"),
                temp_ / (std::string(kAgeGenderModel) + "-weights_manifest.json"));
  fs::copy_file(test::models_dir() / (std::string(kExpressionModel) + ".bin"), temp_ / (std::string(kExpressionModel) + ".bin"));
  try {
    make_age_gender_net(temp_);
    FAIL() << "the expression weights loaded as the age/gender net";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelCorrupt);
    const std::string message = e.what();
    EXPECT_NE(message.find(kAgeGenderModel), std::string::npos) << message;
    EXPECT_TRUE(message.find("entry_flow") != std::string::npos || message.find("dense0") != std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace siamface
