// Engine-level detection policies on real photos: the border pass for tight crops, the
// tiny-detector fallback and upsampling for small faces in large frames.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "common/imglab_xml.hpp"
#include "common/test_env.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;


// One of the 19 View 2 images where SSD finds no face, even with the border retry, and the
// tiny detector does (measured: 14 of the 19).
TEST(EngineDetectTest, TinyFallbackFindsAFaceSsdMisses) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw/lfw-deepfunneled/Mohammad_Fares/Mohammad_Fares_0001.jpg");
  const Image image = load_image(test::testdata_dir() / "lfw/lfw-deepfunneled/Mohammad_Fares/Mohammad_Fares_0001.jpg");
  const Engine engine = Engine::open(ModelOptions{.detector = DetectorKind::kSsd});
  DetectOptions without_fallback;
  without_fallback.tiny_fallback = false;
  EXPECT_TRUE(engine.detect(image, without_fallback).empty());
  const std::vector<Face> faces = engine.detect(image);
  ASSERT_EQ(faces.size(), 1U);
  // The face sits in the middle of a deep-funneled LFW image.
  EXPECT_NEAR(faces[0].box.center().x, image.width / 2.0F, image.width / 8.0F);
  EXPECT_NEAR(faces[0].box.center().y, image.height / 2.0F, image.height / 8.0F);
}

// A View 2 image where SSD finds only a small bystander and misses the face filling the
// crop; the border pass finds it and keeps the bystander.
TEST(EngineDetectTest, BorderPassFindsTheFaceFillingACropBesideABystander) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw/lfw-deepfunneled/Tim_Allen/Tim_Allen_0003.jpg");
  const Image image = load_image(test::testdata_dir() / "lfw/lfw-deepfunneled/Tim_Allen/Tim_Allen_0003.jpg");
  const Engine engine = Engine::open(ModelOptions{.detector = DetectorKind::kSsd});
  const auto central = [&](const std::vector<Face>& faces) {
    return std::count_if(faces.begin(), faces.end(), [&](const Face& f) {
      return std::abs(f.box.center().x - image.width / 2.0F) < image.width / 8.0F &&
             std::abs(f.box.center().y - image.height / 2.0F) < image.height / 8.0F;
    });
  };
  DetectOptions when_empty;
  when_empty.border_pass = BorderPass::kWhenEmpty;
  const std::vector<Face> first = engine.detect(image, when_empty);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(central(first), 0);
  DetectOptions always;
  always.border_pass = BorderPass::kAlways;
  const std::vector<Face> both = engine.detect(image, always);
  EXPECT_EQ(central(both), 1);
  EXPECT_EQ(central(engine.detect(image)), 1) << "the default (needed) runs both passes on an image up to 512 px";
  for (const Face& bystander : first) {
    float best = 0;
    for (const Face& f : both) best = std::max(best, intersection_over_union(bystander.box, f.box));
    EXPECT_GT(best, 0.4F) << "the first pass's face is kept";
  }
}

TEST(EngineDetectTest, TinyFallbackStaysSilentOnAnimalPhotos) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/non_face");
  const Engine engine = Engine::open();
  // dogs.jpg is the known hard negative (SSD itself fires on one dog face; see detectors_test).
  for (const char* name : {"dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg"}) {
    const Image image = load_image(test::testdata_dir() / "dlib_examples/non_face" / name);
    EXPECT_TRUE(engine.detect(image).empty()) << name;
  }
}

// The dlib VOC photos (18 boxed faces) pasted in the middle of a frame three times larger:
// the same faces in pixels, but the detector's 512 px input now shows them a third as big.
TEST(EngineDetectTest, UpsamplingFindsSmallFacesInLargeFrames) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/faces/training_with_face_landmarks.xml");
  const fs::path dir = test::testdata_dir() / "dlib_examples/faces";
  std::map<std::string, std::vector<Box>> truth;
  for (const test::ImglabFace& face : test::read_imglab_faces(dir / "training_with_face_landmarks.xml")) truth[face.image].push_back(face.box);
  const Engine engine = Engine::open();
  constexpr int kFrameScale = 3;
  std::map<float, int> found_by_upsample;  // 1 = off, 0 = auto
  int total = 0;
  for (const auto& [file, boxes] : truth) {
    const Image image = load_image(dir / file);
    const cv::Mat photo = as_mat(image);  // a view: `image` owns the pixels
    cv::Mat frame(photo.rows * kFrameScale, photo.cols * kFrameScale, CV_8UC3, cv::Scalar(127, 127, 127));
    const cv::Point offset(photo.cols, photo.rows);
    photo.copyTo(frame(cv::Rect(offset, photo.size())));
    total += static_cast<int>(boxes.size());
    for (const float upsample : {1.0F, 0.0F}) {
      DetectOptions options;
      options.upsample = upsample;
      options.border_pass = BorderPass::kOff;  // measure the detector pass itself
      const std::vector<Face> faces = engine.detect(from_mat(frame), options);
      for (Box box : boxes) {
        box.left += static_cast<float>(offset.x);
        box.top += static_cast<float>(offset.y);
        float best = 0;
        for (const Face& f : faces) best = std::max(best, intersection_over_union(box, f.box));
        if (best >= 0.5F) ++found_by_upsample[upsample];
      }
    }
  }
  ASSERT_EQ(total, 18);
  std::printf("[report] dlib VOC faces in 3x frames: recall %d/18 without upsampling, %d/18 with --upsample 0 (auto)\n",
              found_by_upsample[1.0F], found_by_upsample[0.0F]);
  EXPECT_GT(found_by_upsample[0.0F], found_by_upsample[1.0F]);
}

// Engine::face_at: landmarks for a box found elsewhere are the ones detect() gives for that box;
// a box beside a detection's moves them only a little; an empty or outside box is refused.
TEST(EngineDetectTest, FaceAtGivesTheLandmarksDetectGivesForTheSameBox) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const Image image = load_image(test::testdata_dir() / "face_recognition_ageitgey/tests/test_images/obama.jpg");
  const Engine engine = Engine::open();
  const std::vector<Face> faces = engine.detect(image);
  ASSERT_EQ(faces.size(), 1U);
  const Face same = engine.face_at(image, faces[0].box);
  EXPECT_EQ(same.score, 0.0F);
  for (int i = 0; i < kLandmarkCount; ++i) {
    EXPECT_NEAR(same.landmarks[i].x, faces[0].landmarks[i].x, 1e-3F) << i;
    EXPECT_NEAR(same.landmarks[i].y, faces[0].landmarks[i].y, 1e-3F) << i;
  }
  EXPECT_NEAR(same.quality.sharpness, faces[0].quality.sharpness, 1e-3F);
  Box shifted = faces[0].box;
  shifted.left += 0.05F * shifted.width;
  shifted.top -= 0.05F * shifted.height;
  const Face moved = engine.face_at(image, shifted);
  float mean_shift = 0;
  for (int i = 0; i < kLandmarkCount; ++i) {
    mean_shift += std::hypot(moved.landmarks[i].x - faces[0].landmarks[i].x,
                             moved.landmarks[i].y - faces[0].landmarks[i].y) / kLandmarkCount;
  }
  EXPECT_LT(mean_shift, 0.05F * faces[0].box.width);
  for (const Box bad : {Box{10, 10, 0, 50}, Box{10, 10, 50, -5}, Box{static_cast<float>(image.width), 0, 50, 50},
                        Box{-100, -100, 50, 50}}) {
    try {
      engine.face_at(image, bad);
      ADD_FAILURE() << "accepted box " << bad.left << "," << bad.top << "," << bad.width << "," << bad.height;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
}

// Engine::choose_subject: RFB also finds a bystander's face half hidden by an arm, larger than
// the subject's, which the SSD passes over. A one-face call (enroll, verify) takes the face both
// detectors find; identify still reports both; with the SSD alone there is no second opinion.
TEST(EngineDetectTest, OneFaceCallsTakeTheFaceBothDetectorsFind) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled/Mark_Gottfried/Mark_Gottfried_0003.jpg");
  const Image image = load_image(test::testdata_dir() / "lfw_dev/lfw-deepfunneled/Mark_Gottfried/Mark_Gottfried_0003.jpg");
  const Engine rfb = Engine::open(ModelOptions{.detector = DetectorKind::kRfb});
  const Engine ssd = Engine::open(ModelOptions{.detector = DetectorKind::kSsd});
  const std::vector<Face> rfb_faces = rfb.detect(image);
  const std::vector<Face> ssd_faces = ssd.detect(image);
  ASSERT_EQ(ssd_faces.size(), 1U);
  ASSERT_GE(rfb_faces.size(), 2U);
  const int largest = choose_face(rfb_faces, image.width, image.height, FaceChoice::kLargest);
  EXPECT_LT(intersection_over_union(rfb_faces[largest].box, ssd_faces[0].box), kSubjectConfirmationIou)
      << "the size rule alone takes the bystander";
  const std::vector<int> candidates = rfb.subject_candidates(image, rfb_faces);
  ASSERT_EQ(candidates.size(), 1U);
  const int subject = rfb.choose_subject(image, rfb_faces, FaceChoice::kLargest);
  EXPECT_EQ(subject, candidates[0]);
  EXPECT_GE(intersection_over_union(rfb_faces[subject].box, ssd_faces[0].box), 0.5F);
  // The subject sits in the middle of the crop.
  EXPECT_NEAR(rfb_faces[subject].box.center().x, image.width / 2.0F, image.width / 8.0F);
  EXPECT_EQ(ssd.subject_candidates(image, ssd_faces).size(), 1U);
  EXPECT_EQ(rfb.choose_subject(image, {}, FaceChoice::kLargest), -1);
}

}  // namespace
}  // namespace siamface
