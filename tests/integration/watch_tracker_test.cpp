// FaceTracker in process: stable track ids, detection every N frames, embedding on need, a
// voted identity, and never the same name on two live tracks in one frame.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "common/test_env.hpp"
#include "image/cv_image.hpp"
#include "siamface/identify.hpp"
#include "siamface/tracker.hpp"

namespace fs = std::filesystem;
using namespace siamface;

namespace {

fs::path crop_path(const std::string& person, int n) {
  return test::testdata_dir() / "face-api.js" / "examples" / "images" / person / (person + std::to_string(n) + ".png");
}

// `pictures` side by side on grey, drifting right by `shift` px.
Image frame_with(const std::vector<cv::Mat>& pictures, int shift) {
  cv::Mat frame(240, 480, CV_8UC3, cv::Scalar(128, 128, 128));
  for (std::size_t i = 0; i < pictures.size(); ++i) {
    cv::Mat scaled;
    cv::resize(pictures[i], scaled, cv::Size(110, 110));
    scaled.copyTo(frame(cv::Rect(40 + static_cast<int>(i) * 220 + shift, 60, 110, 110)));
  }
  return from_mat(frame);
}

class TrackerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(test::models_dir() / "face_recognition_model.bin") || !fs::exists(crop_path("sheldon", 2))) return;
    engine_ = std::make_unique<Engine>(Engine::open());
    path_ = fs::temp_directory_path() / ("siamface_tracker_" + std::to_string(::getpid()) + ".db");
    gallery_ = std::make_unique<Gallery>(Gallery::open(path_.string()));
    std::vector<EnrollResult> batch;
    for (int n : {3, 4, 5}) {
      // The crops are tight: give the detector room around the face.
      cv::Mat padded;
      cv::resize(cv::imread(crop_path("sheldon", n).string()), padded, cv::Size(110, 110));
      cv::copyMakeBorder(padded, padded, 65, 65, 65, 65, cv::BORDER_CONSTANT, cv::Scalar(128, 128, 128));
      const fs::path file = fs::temp_directory_path() / ("siamface_tracker_" + std::to_string(::getpid()) + "_" +
                                                         std::to_string(n) + ".png");
      cv::imwrite(file.string(), padded);
      EnrollOptions options;
      options.take_largest = true;
      batch.push_back(prepare_enrollment(*engine_, "sheldon", file.string(), options));
      fs::remove(file);
    }
    commit_enrollments(*gallery_, batch);
    for (const EnrollResult& result : batch) enroll_report_ += result.source_path + ": " + to_string(result.status) + " " + result.reason + "\n";
  }
  static void TearDownTestSuite() {
    gallery_.reset();
    engine_.reset();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix, ec);
  }
  void SetUp() override {
    SIAMFACE_REQUIRE_MODELS();
    SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
    ASSERT_TRUE(engine_ && gallery_);
    ASSERT_GE(gallery_->face_count(), 2) << enroll_report_;
  }

  static std::unique_ptr<Engine> engine_;
  static std::unique_ptr<Gallery> gallery_;
  static fs::path path_;
  static std::string enroll_report_;
};
std::string TrackerTest::enroll_report_;

std::unique_ptr<Engine> TrackerTest::engine_;
std::unique_ptr<Gallery> TrackerTest::gallery_;
fs::path TrackerTest::path_;

TEST_F(TrackerTest, FollowsFacesAndNamesThemByVote) {
  const cv::Mat sheldon = cv::imread(crop_path("sheldon", 2).string());
  const cv::Mat raj = cv::imread(crop_path("raj", 1).string());
  TrackerOptions options;
  options.detect_every = 5;
  FaceTracker tracker(*engine_, gallery_.get(), options);
  std::vector<TrackEvent> events;
  std::set<int> ids;
  constexpr int kFrames = 30;
  for (int f = 0; f < kFrames; ++f) {
    const auto faces = tracker.process(frame_with({sheldon, raj}, f), f, f / 25.0, events);
    ASSERT_EQ(faces.size(), 2U) << "frame " << f;
    for (const auto& face : faces) ids.insert(face.track_id);
    if (f >= 10) {  // after a few votes
      const auto& left = faces[0].box.left < faces[1].box.left ? faces[0] : faces[1];
      const auto& right = faces[0].box.left < faces[1].box.left ? faces[1] : faces[0];
      EXPECT_EQ(left.name, "sheldon") << "frame " << f;
      EXPECT_TRUE(left.known);
      EXPECT_LT(left.distance, 0.6F);
      EXPECT_EQ(right.name, kUnknownPerson) << "frame " << f;
    }
  }
  EXPECT_EQ(ids.size(), 2U) << "the same two faces keep their track ids";
  const TrackerStats& stats = tracker.stats();
  EXPECT_EQ(stats.frames, kFrames);
  EXPECT_EQ(stats.detect_frames, kFrames / 5);
  EXPECT_LT(stats.embeddings, 2 * stats.detect_frames) << "embeds only when needed";
  EXPECT_GE(stats.embeddings, 2 * 3) << "at least min_votes per track";

  tracker.finish(events);
  int appeared = 0, identified = 0, ended = 0;
  for (const TrackEvent& event : events) {
    appeared += event.kind == TrackEventKind::kAppeared;
    identified += event.kind == TrackEventKind::kIdentified;
    if (event.kind == TrackEventKind::kEnded) {
      ++ended;
      EXPECT_EQ(event.frame_count, kFrames);
      EXPECT_DOUBLE_EQ(event.first_timestamp_s, 0.0);
      EXPECT_NEAR(event.last_timestamp_s, (kFrames - 1) / 25.0, 1e-9);
      EXPECT_GE(event.best_distance, 0.0F);
    }
  }
  EXPECT_EQ(appeared, 2);
  EXPECT_EQ(identified, 2);
  EXPECT_EQ(ended, 2);
}

TEST_F(TrackerTest, TwoLiveTracksNeverCarryTheSameName) {
  const cv::Mat sheldon = cv::imread(crop_path("sheldon", 2).string());
  cv::Mat flipped;
  cv::flip(sheldon, flipped, 1);  // the same person twice in one frame
  TrackerOptions options;
  options.detect_every = 2;
  FaceTracker tracker(*engine_, gallery_.get(), options);
  std::vector<TrackEvent> events;
  int frames_with_sheldon = 0;
  for (int f = 0; f < 20; ++f) {
    const auto faces = tracker.process(frame_with({sheldon, flipped}, f), f, f / 25.0, events);
    int named = 0;
    for (const auto& face : faces) named += face.name == "sheldon";
    EXPECT_LE(named, 1) << "frame " << f;
    frames_with_sheldon += named == 1;
  }
  EXPECT_GE(frames_with_sheldon, 15);
}

TEST_F(TrackerTest, AFaceThatLeavesEndsItsTrack) {
  const cv::Mat sheldon = cv::imread(crop_path("sheldon", 2).string());
  TrackerOptions options;
  options.detect_every = 3;
  options.max_missed = 2;
  FaceTracker tracker(*engine_, gallery_.get(), options);
  std::vector<TrackEvent> events;
  for (int f = 0; f < 9; ++f) tracker.process(frame_with({sheldon}, 0), f, f / 25.0, events);
  int gone_at = -1;
  for (int f = 9; f < 20; ++f) {
    const auto faces = tracker.process(frame_with({}, 0), f, f / 25.0, events);
    if (faces.empty() && gone_at < 0) gone_at = f;
  }
  EXPECT_EQ(gone_at, 9) << "a missed face disappears at the next detection (frame 9)";
  int ended = 0;
  for (const TrackEvent& event : events)
    if (event.kind == TrackEventKind::kEnded) {
      ++ended;
      EXPECT_EQ(event.name, "sheldon");
      EXPECT_EQ(event.frame_count, 9);
    }
  EXPECT_EQ(ended, 1) << "ended once the face stayed away for max_missed detection rounds";
}

}  // namespace
