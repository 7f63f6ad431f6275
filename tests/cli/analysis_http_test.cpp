// Face analysis over HTTP (issue 32): native POST /v1/analyze, the liveness option of the three
// recognize routes, CompreFace's face plugins on recognize, detect and verify, its detection
// service and face-collection verify, each called with the exact requests the CompreFace Python
// SDK (compreface-python-sdk: query string built as "?&key=value...", multipart "file", header
// x-api-key) and Double Take (recognize?face_plugins=<its setting>&det_prob_threshold=0.8) send.
// The liveness rule is checked at thresholds 0 and 1, which force "live" and "spoof" whatever
// the model's calibration.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/server_process.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path photos() { return testdata_dir() / "face_recognition_ageitgey/tests/test_images"; }
std::string photo(const std::string& name) { return read_binary_file(photos() / name); }

// obama2.jpg shrunk to 40 px wide on a grey canvas: the detector still finds the face, at about
// 17 px, under kMinAnalysisFacePx (20).
std::string tiny_face_png() {
  cv::Mat small;
  cv::resize(cv::imread((photos() / "obama2.jpg").string()), small, cv::Size(40, 77), 0, 0, cv::INTER_AREA);
  cv::Mat canvas(154, 160, CV_8UC3, cv::Scalar(128, 128, 128));
  small.copyTo(canvas(cv::Rect(40, 38, small.cols, small.rows)));
  std::vector<unsigned char> png;
  cv::imencode(".png", canvas, png);
  return {png.begin(), png.end()};
}

#define REQUIRE_DATA()        \
  SIAMFACE_REQUIRE_MODELS();  \
  SIAMFACE_REQUIRE_PATH(models_dir() / "age_gender_model.bin", "the age and gender model (scripts/setup.sh)"); \
  SIAMFACE_REQUIRE_PATH(models_dir() / "faceplugin_fr_liveness.onnx", "the liveness model (scripts/setup.sh)"); \
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg")

class AnalysisHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void start(const std::vector<std::string>& args) {
    REQUIRE_DATA();
    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_GT(server_->port(), 0) << server_->log();
    ASSERT_TRUE(server_->wait_ready()) << server_->log();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(120, 0);
    client_->set_write_timeout(120, 0);
    // The CompreFace SDK's add_image: POST faces?subject=, multipart "file".
    const Reply added = post("/api/v1/recognition/faces?subject=obama", {file_part("file", photo("obama.jpg"))});
    ASSERT_EQ(added.status, 201) << added.body;
    image_id_ = added.body["image_id"];
  }
  Reply post(const std::string& path, const httplib::MultipartFormDataItems& items) {
    return reply_of(client_->Post(path.c_str(), httplib::Headers{{"x-api-key", "any"}}, items));
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<httplib::Client> client_;
  std::string image_id_;
};

void expect_plugin_shapes(const json& face) {
  ASSERT_TRUE(face.contains("age")) << face;
  EXPECT_TRUE(face["age"]["probability"].is_null());  // a regression: no probability
  EXPECT_LE(face["age"]["low"].get<int>(), face["age"]["value"].get<int>());
  EXPECT_GE(face["age"]["high"].get<int>(), face["age"]["value"].get<int>());
  ASSERT_TRUE(face.contains("gender")) << face;
  EXPECT_EQ(face["gender"]["value"], "male");  // Obama
  EXPECT_GE(face["gender"]["probability"].get<double>(), 0.5);
  EXPECT_LE(face["gender"]["probability"].get<double>(), 1.0);
}

TEST_F(AnalysisHttpTest, NativeAnalyzeReturnsTheAttributesAsked) {
  Reply r = post("/v1/analyze", {file_part("image", photo("obama2.jpg")), text_part("attributes", "age,gender,expression,liveness,pose")});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["faces"].size(), 1U);
  const json& face = r.body["faces"][0];
  EXPECT_GT(face["age"].get<int>(), 20);
  EXPECT_LT(face["age"].get<int>(), 80);
  EXPECT_EQ(face["gender"]["value"], "male");
  EXPECT_EQ(face["expression"]["scores"].size(), 7U);
  EXPECT_TRUE(face["liveness"]["value"] == "live" || face["liveness"]["value"] == "spoof");
  EXPECT_TRUE(face["pose"].contains("yaw"));

  r = post("/v1/analyze", {file_part("image", photo("obama2.jpg")), text_part("attributes", "age")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.body["faces"][0].contains("age"));
  EXPECT_FALSE(r.body["faces"][0].contains("gender"));  // computed only when asked
  EXPECT_FALSE(r.body["faces"][0].contains("liveness"));

  r = post("/v1/analyze", {file_part("image", photo("obama2.jpg")), text_part("attributes", "age,mask")});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("'mask'"), std::string::npos) << r.body;
  r = post("/v1/analyze", {file_part("image", "not an image at all")});
  EXPECT_EQ(r.status, 400) << r.body;

  // /v1/identify takes attributes too (the web page's identify view asks for them).
  r = post("/v1/identify", {file_part("image", photo("obama2.jpg")), text_part("attributes", "age,gender")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["faces"][0]["name"], "obama");
  EXPECT_EQ(r.body["faces"][0]["gender"]["value"], "male");
  EXPECT_TRUE(r.body["faces"][0].contains("age"));
  EXPECT_FALSE(r.body["faces"][0].contains("expression"));
}

TEST_F(AnalysisHttpTest, ASpoofIsNeverNamedOnAnyRecognizeRoute) {
  // Threshold 1: every face is a spoof; threshold 0: every face is live.
  Reply r = post("/v1/identify", {file_part("image", photo("obama2.jpg")), text_part("liveness", "true"),
                                  text_part("liveness_threshold", "1")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["faces"][0]["name"], "unknown");
  EXPECT_EQ(r.body["faces"][0]["reason"], "spoof");
  EXPECT_EQ(r.body["faces"][0]["liveness"]["value"], "spoof");
  r = post("/v1/identify", {file_part("image", photo("obama2.jpg")), text_part("liveness", "true"),
                            text_part("liveness_threshold", "0")});
  EXPECT_EQ(r.body["faces"][0]["name"], "obama") << r.body;
  EXPECT_EQ(r.body["faces"][0]["liveness"]["value"], "live");
  r = post("/v1/identify", {file_part("image", photo("obama2.jpg"))});  // off by default
  EXPECT_EQ(r.body["faces"][0]["name"], "obama") << r.body;
  EXPECT_FALSE(r.body["faces"][0].contains("liveness"));
  r = post("/v1/identify", {file_part("image", photo("obama2.jpg")), text_part("liveness_threshold", "0.5")});
  EXPECT_EQ(r.status, 400) << r.body;  // a threshold for a check that is off

  // DeepStack (Home Assistant's client sends min_confidence; liveness is an extra form field).
  r = post("/v1/vision/face/recognize", {file_part("image", photo("obama2.jpg")), text_part("min_confidence", "0.45"),
                                         text_part("liveness", "true"), text_part("liveness_threshold", "1")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["predictions"][0]["userid"], "unknown");
  EXPECT_EQ(r.body["predictions"][0]["confidence"], 0.0);
  EXPECT_EQ(r.body["predictions"][0]["liveness"]["value"], "spoof");
  r = post("/v1/vision/face/recognize", {file_part("image", photo("obama2.jpg")), text_part("liveness", "true"),
                                         text_part("liveness_threshold", "0")});
  EXPECT_EQ(r.body["predictions"][0]["userid"], "obama") << r.body;

  // CompreFace: the liveness plugin, or liveness=true as the SDK appends any option.
  r = post("/api/v1/recognition/recognize?&limit=0&det_prob_threshold=0.8&prediction_count=1&face_plugins=liveness"
           "&status=true&liveness_threshold=1",
           {file_part("file", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["result"][0]["subjects"], json::array());
  EXPECT_EQ(r.body["result"][0]["liveness"]["value"], "spoof");
  r = post("/api/v1/recognition/recognize?&limit=0&liveness=true&liveness_threshold=0", {file_part("file", photo("obama2.jpg"))});
  EXPECT_EQ(r.body["result"][0]["subjects"][0]["subject"], "obama") << r.body;
  EXPECT_EQ(r.body["result"][0]["liveness"]["value"], "live");
}

TEST_F(AnalysisHttpTest, ServeLivenessChecksRequestsThatCannotAsk) {
  // Home Assistant's DeepStack integration sends only the image and min_confidence.
  start({"--liveness", "--liveness-threshold", "1"});
  Reply r = post("/v1/vision/face/recognize", {file_part("image", photo("obama2.jpg")), text_part("min_confidence", "0.45")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["predictions"][0]["userid"], "unknown");
  EXPECT_EQ(r.body["predictions"][0]["liveness"]["value"], "spoof");
  r = post("/api/v1/recognition/recognize?det_prob_threshold=0.8", {file_part("file", photo("obama2.jpg"))});
  EXPECT_EQ(r.body["result"][0]["subjects"], json::array()) << r.body;
  // A request may still turn it off, or set its own threshold.
  r = post("/v1/identify", {file_part("image", photo("obama2.jpg")), text_part("liveness", "false")});
  EXPECT_EQ(r.body["faces"][0]["name"], "obama") << r.body;
  r = post("/v1/identify", {file_part("image", photo("obama2.jpg")), text_part("liveness_threshold", "0")});
  EXPECT_EQ(r.body["faces"][0]["name"], "obama") << r.body;
  EXPECT_EQ(r.body["faces"][0]["liveness"]["value"], "live");
}

TEST_F(AnalysisHttpTest, AFaceTooSmallForTheNetsIsSaidSoAndNeverPassesTheLivenessCheck) {
  const std::string tiny = tiny_face_png();
  Reply r = post("/v1/analyze", {file_part("image", tiny, "tiny.png"), text_part("attributes", "age,liveness,pose")});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["faces"].size(), 1U) << r.body;
  const json& face = r.body["faces"][0];
  EXPECT_LT(face["box"]["width"].get<double>(), 20.0);
  EXPECT_EQ(face["too_small"], true);
  EXPECT_FALSE(face.contains("age"));
  EXPECT_FALSE(face.contains("liveness"));
  EXPECT_TRUE(face.contains("pose"));  // from the landmarks, no network

  r = post("/api/v1/detection/detect?face_plugins=age,gender", {file_part("file", tiny, "tiny.png")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.body["result"][0]["age"].is_null()) << r.body;
  EXPECT_TRUE(r.body["result"][0]["gender"].is_null());
  EXPECT_EQ(r.body["result"][0]["too_small"], true);

  r = post("/v1/identify", {file_part("image", tiny, "tiny.png"), text_part("liveness", "true"),
                            text_part("liveness_threshold", "0")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["faces"][0]["name"], "unknown");
  EXPECT_EQ(r.body["faces"][0]["reason"], "liveness_unchecked");
}

TEST_F(AnalysisHttpTest, DoubleTakesRequestsAndItsSuggestedMaskPlugin) {
  // Double Take's README suggests face_plugins: mask,gender,age: siamface has no mask model, so
  // the request is refused naming it (never silently answered without it).
  Reply r = post("/api/v1/recognition/recognize?face_plugins=mask,gender,age&det_prob_threshold=0.8",
                 {file_part("file", photo("obama2.jpg"))});
  EXPECT_EQ(r.status, 400);
  const std::string message = r.body["message"];
  EXPECT_NE(message.find("'mask'"), std::string::npos) << message;
  EXPECT_NE(message.find("age, gender, landmarks, calculator, pose"), std::string::npos) << message;
  // Without mask, as a Double Take user then configures it.
  r = post("/api/v1/recognition/recognize?face_plugins=gender,age&det_prob_threshold=0.8", {file_part("file", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  expect_plugin_shapes(r.body["result"][0]);
  EXPECT_EQ(r.body["result"][0]["subjects"][0]["subject"], "obama");
  // Its setting unset: the URL carries face_plugins=undefined.
  r = post("/api/v1/recognition/recognize?face_plugins=undefined&det_prob_threshold=0.8", {file_part("file", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.body["result"][0].contains("age"));
}

TEST_F(AnalysisHttpTest, PythonSdkDetectionAndVerificationWithPlugins) {
  // DetectionService.detect: POST /api/v1/detection/detect?&limit=..&det_prob_threshold=..&face_plugins=..&status=..
  Reply r = post("/api/v1/detection/detect?&limit=0&det_prob_threshold=0.8&face_plugins=age,gender,landmarks,calculator,pose&status=true",
                 {file_part("file", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["result"].size(), 1U);
  const json& face = r.body["result"][0];
  EXPECT_GT(face["box"]["probability"].get<double>(), 0.8);
  expect_plugin_shapes(face);
  EXPECT_EQ(face["landmarks"].size(), 5U);
  EXPECT_EQ(face["embedding"].size(), 640U);  // the fused recognizer's, as the gallery stores
  EXPECT_TRUE(face["pose"].contains("pitch") && face["pose"].contains("roll") && face["pose"].contains("yaw"));
  EXPECT_FALSE(face.contains("subjects"));

  // Face collection verify: POST faces/{image_id}/verify?&limit=..&det_prob_threshold=..&face_plugins=..&status=..
  r = post("/api/v1/recognition/faces/" + image_id_ + "/verify?&limit=0&det_prob_threshold=0.8&face_plugins=age,gender&status=true",
           {file_part("file", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["result"].size(), 1U);
  EXPECT_GT(r.body["result"][0]["similarity"].get<double>(), 0.67);
  expect_plugin_shapes(r.body["result"][0]);
  r = post("/api/v1/recognition/faces/" + image_id_ + "/verify", {file_part("file", photo("biden.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_LT(r.body["result"][0]["similarity"].get<double>(), 0.67);
  r = post("/api/v1/recognition/faces/no-such-id/verify", {file_part("file", photo("obama2.jpg"))});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["code"], 35);

  // VerificationService.verify with plugins on both faces.
  r = post("/api/v1/verification/verify?&limit=0&det_prob_threshold=0.8&face_plugins=gender&status=true",
           {file_part("source_image", photo("obama.jpg")), file_part("target_image", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["result"][0]["source_image_face"]["gender"]["value"], "male");
  EXPECT_EQ(r.body["result"][0]["face_matches"][0]["gender"]["value"], "male");

  // Bad inputs: an unknown plugin, an image that is not one, a truncated JPEG.
  r = post("/api/v1/detection/detect?face_plugins=landmarks2d106", {file_part("file", photo("obama2.jpg"))});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body["message"].get<std::string>().find("'landmarks2d106'"), std::string::npos) << r.body;
  r = post("/api/v1/detection/detect", {file_part("file", std::string(2000, '\x7f'))});
  EXPECT_EQ(r.status, 400) << r.body;
  r = post("/api/v1/recognition/faces/" + image_id_ + "/verify", {file_part("file", photo("obama2.jpg").substr(0, 600))});
  EXPECT_EQ(r.status, 400) << r.body;
}

}  // namespace
}  // namespace siamface::test
