// The face-api 68-point nets on real photos, against dlib's landmarks.
// Agreement with face-api itself (to ~1e-5 px) is the job of the differential test.
#include "landmarks/landmark_net.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "common/imglab_xml.hpp"
#include "common/test_env.hpp"

namespace siamface {
namespace {

const char* kObama = "face_recognition_ageitgey/tests/test_images/obama.jpg";
const char* kDlibFaces = "dlib_examples/faces/training_with_face_landmarks.xml";

// test_expectations.tsv: dlib's chin points (0-16) and HOG box (top,right,bottom,left =
// 142,617,409,349) for obama.jpg.
constexpr float kObamaChin[17][2] = {{369, 220}, {372, 254}, {378, 289}, {384, 322}, {395, 353}, {414, 382},
                                     {437, 407}, {464, 424}, {495, 428}, {527, 420}, {552, 399}, {576, 372},
                                     {594, 344}, {604, 314}, {610, 282}, {613, 250}, {615, 219}};
const Box kObamaBox{349, 142, 617 - 349, 409 - 142};

const char* name_of(LandmarkKind kind) { return kind == LandmarkKind::kFull ? "full" : "tiny"; }

double distance(const Point& a, const Point& b) { return std::hypot(a.x - b.x, a.y - b.y); }

double obama_chin_error_px(const LandmarkNet& net, const cv::Mat& image) {
  const Landmarks lm = net.predict(image, kObamaBox);
  double sum = 0;
  for (int i = 0; i < 17; ++i) sum += distance(lm[i], {kObamaChin[i][0], kObamaChin[i][1]});
  return sum / 17;
}

TEST(LandmarkNetTest, ObamaChinMatchesDlib) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kObama);
  const cv::Mat image = cv::imread((test::testdata_dir() / kObama).string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  // Measured: full 13.46 px, tiny 11.14 px mean over the 17 points on a 268 px wide box
  // (~5% of the face width). dlib's HOG box is tight and ends above the chin (bottom 409,
  // chin point 8 at y=428) while face-api's nets were trained on looser SSD boxes, and the
  // jaw is the least precise part of either scheme. Limits: measured + ~25%.
  const std::map<LandmarkKind, double> limits_px = {{LandmarkKind::kFull, 17.0}, {LandmarkKind::kTiny, 14.0}};
  for (const auto& [kind, limit] : limits_px) {
    const auto net = make_landmark_net(test::models_dir(), kind);
    const double error = obama_chin_error_px(*net, image);
    std::printf("obama chin mean error (%s): %.2f px\n", name_of(kind), error);
    EXPECT_LT(error, limit) << name_of(kind);
  }
}

// Mean point-to-point error over all 68 points, normalised by the outer-eye-corner distance
// (36-45) of dlib's landmarks, as in 300-W.
struct Evaluation {
  double mean_normalised_error = 0;
  int faces = 0;
};

Evaluation evaluate_on_dlib_faces(const LandmarkNet& net) {
  const auto xml = test::testdata_dir() / kDlibFaces;
  std::map<std::string, cv::Mat> images;
  Evaluation eval;
  double sum = 0;
  for (const auto& face : test::read_imglab_faces(xml)) {
    if (face.part_count != kLandmarkCount) continue;
    cv::Mat& image = images[face.image];
    if (image.empty()) image = cv::imread((xml.parent_path() / face.image).string(), cv::IMREAD_COLOR);
    const Landmarks lm = net.predict(image, face.box);
    const double inter_ocular = distance(face.landmarks[36], face.landmarks[45]);
    double err = 0;
    for (int i = 0; i < kLandmarkCount; ++i) err += distance(lm[i], face.landmarks[i]);
    sum += err / kLandmarkCount / inter_ocular;
    ++eval.faces;
  }
  eval.mean_normalised_error = eval.faces ? sum / eval.faces : 0;
  return eval;
}

TEST(LandmarkNetTest, DlibExampleFacesError) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kDlibFaces);
  const auto full = make_landmark_net(test::models_dir(), LandmarkKind::kFull);
  const auto tiny = make_landmark_net(test::models_dir(), LandmarkKind::kTiny);
  const Evaluation full_eval = evaluate_on_dlib_faces(*full);
  const Evaluation tiny_eval = evaluate_on_dlib_faces(*tiny);
  std::printf("dlib example faces: %d faces, mean normalised error full %.4f tiny %.4f\n", full_eval.faces,
              full_eval.mean_normalised_error, tiny_eval.mean_normalised_error);
  ASSERT_EQ(full_eval.faces, 18);
  // Measured: full 0.0942, tiny 0.0995 on these 18 small (~40 px) VOC faces with dlib's
  // tight HOG boxes (enlarging the box 1.2x gives 0.079 / 0.085). Limits: measured + ~15%.
  EXPECT_LT(full_eval.mean_normalised_error, 0.11);
  EXPECT_LT(tiny_eval.mean_normalised_error, 0.115);
}

TEST(LandmarkNetTest, ConcurrentCallsGiveIdenticalResults) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kObama);
  const cv::Mat image = cv::imread((test::testdata_dir() / kObama).string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  for (const LandmarkKind kind : {LandmarkKind::kFull, LandmarkKind::kTiny}) {
    const auto net = make_landmark_net(test::models_dir(), kind);
    const Landmarks expected = net->predict(image, kObamaBox);
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) {
          const Box box = i % 2 ? kObamaBox : Box{300, 100, 360, 360};  // interleave two inputs
          const Landmarks got = net->predict(image, box);
          if (i % 2 == 0) continue;
          for (int p = 0; p < kLandmarkCount; ++p) {
            if (got[p].x != expected[p].x || got[p].y != expected[p].y) ++mismatches[t];
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << name_of(kind) << " thread " << t;
  }
}

// predict_all runs the regions in batches of 8, 4, 2, 1: eleven regions cross every batch edge.
// Each answer must be the one predict() gives for its own region (to oneDNN's batch rounding), in
// the caller's order, from different images too (the engine mixes a photo with mirrored crops).
TEST(LandmarkNetTest, PredictAllMatchesOneCallPerRegionInOrder) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kObama);
  const cv::Mat image = cv::imread((test::testdata_dir() / kObama).string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  cv::Mat mirrored;
  cv::flip(image, mirrored, 1);
  std::vector<LandmarkRegion> regions;
  for (int i = 0; i < 11; ++i) {
    const float shift = 8.0F * static_cast<float>(i);
    const Box box{kObamaBox.left + shift, kObamaBox.top - shift / 2, kObamaBox.width - shift, kObamaBox.height};
    regions.push_back({i % 3 == 2 ? mirrored : image, box});
  }
  for (const LandmarkKind kind : {LandmarkKind::kFull, LandmarkKind::kTiny}) {
    const auto net = make_landmark_net(test::models_dir(), kind);
    const std::vector<Landmarks> all = net->predict_all(regions);
    ASSERT_EQ(all.size(), regions.size());
    float spread = 0;  // how far apart two neighbouring regions' answers are: order must matter
    for (std::size_t r = 0; r < regions.size(); ++r) {
      const Landmarks one = net->predict(regions[r].bgr, regions[r].box);
      for (int p = 0; p < kLandmarkCount; ++p) {
        EXPECT_NEAR(all[r][p].x, one[p].x, 0.01F) << name_of(kind) << " region " << r << " point " << p;
        EXPECT_NEAR(all[r][p].y, one[p].y, 0.01F) << name_of(kind) << " region " << r << " point " << p;
        if (r > 0) spread = std::max(spread, std::abs(all[r][p].x - all[r - 1][p].x));
      }
    }
    EXPECT_GT(spread, 1.0F) << name_of(kind);
  }
  const auto net = make_landmark_net(test::models_dir(), LandmarkKind::kFull);
  EXPECT_TRUE(net->predict_all({}).empty());
  EXPECT_THROW(net->predict_all({{image, kObamaBox}, {image, Box{5000, 5000, 10, 10}}}), Error);
}

TEST(LandmarkNetTest, PredictInputAndPredictAgreeOnA112Crop) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kObama);
  const cv::Mat image = cv::imread((test::testdata_dir() / kObama).string(), cv::IMREAD_COLOR);
  const auto net = make_landmark_net(test::models_dir(), LandmarkKind::kFull);
  const cv::Rect crop(400, 200, kLandmarkInputSize, kLandmarkInputSize);
  const Landmarks in_frame = landmarks_in_input_frame(net->predict_input(image(crop)));
  const Landmarks in_image = net->predict(image, Box{400, 200, 112, 112});
  for (int i = 0; i < kLandmarkCount; ++i) {
    EXPECT_NEAR(in_frame[i].x + crop.x, in_image[i].x, 1e-3);
    EXPECT_NEAR(in_frame[i].y + crop.y, in_image[i].y, 1e-3);
  }
  EXPECT_THROW(net->predict_input(image(cv::Rect(0, 0, 100, 112))), std::exception);
  EXPECT_THROW(net->predict(image, Box{5000, 5000, 10, 10}), std::exception);
}

TEST(LandmarkNetTest, SingleThreadTiming) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA(kObama);
  const cv::Mat image = cv::imread((test::testdata_dir() / kObama).string(), cv::IMREAD_COLOR);
  for (const LandmarkKind kind : {LandmarkKind::kFull, LandmarkKind::kTiny}) {
    const auto net = make_landmark_net(test::models_dir(), kind);
    net->predict(image, kObamaBox);  // warm-up
    constexpr int kRuns = 20;
    const auto start = std::chrono::steady_clock::now();
    Landmarks lm{};
    for (int i = 0; i < kRuns; ++i) lm = net->predict(image, kObamaBox);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %.2f ms/face\n", name_of(kind), ms / kRuns);
    EXPECT_GT(lm[8].y, lm[30].y);  // chin below the nose tip
  }
}

}  // namespace
}  // namespace siamface
