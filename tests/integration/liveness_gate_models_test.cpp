// The liveness gate with the models (issue 32): identify_image judges each face with the liveness
// net, and FaceTracker names a track only after LivenessVote has enough frames. Thresholds 0 and
// 1 force "live" and "spoof" whatever the net's calibration (docs/analysis.md measures that), so
// these check the wiring and the rules, not the net.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/test_env.hpp"
#include "siamface/enroll.hpp"
#include "siamface/identify.hpp"
#include "siamface/tracker.hpp"

namespace fs = std::filesystem;

namespace siamface {
namespace {

fs::path photo(const std::string& name) {
  return test::testdata_dir() / "face_recognition_ageitgey/tests/test_images" / name;
}

class LivenessGateModels : public ::testing::Test {
 protected:
  void SetUp() override {
    SIAMFACE_REQUIRE_MODELS();
    SIAMFACE_REQUIRE_PATH(test::models_dir() / "faceplugin_fr_liveness.onnx", "the liveness model");
    SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
    engine_ = std::make_unique<Engine>(Engine::open());
    path_ = fs::temp_directory_path() / ("siamface_liveness_" + std::to_string(::getpid()) + ".db");
    gallery_ = std::make_unique<Gallery>(Gallery::open(path_.string()));
    EnrollOptions options;
    options.take_largest = true;
    std::vector<EnrollResult> batch{prepare_enrollment(*engine_, "obama", photo("obama.jpg").string(), options)};
    commit_enrollments(*gallery_, batch);
    ASSERT_EQ(gallery_->face_count(), 1U);
    probe_ = load_image(photo("obama3.jpg").string());
  }
  void TearDown() override {
    gallery_.reset();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix, ec);
  }

  IdentifiedFace identify(std::optional<float> liveness_threshold) const {
    IdentifyOptions options;
    options.liveness.enabled = liveness_threshold.has_value();
    options.liveness.threshold = liveness_threshold;
    const auto faces = identify_image(*engine_, *gallery_, probe_, options);
    EXPECT_EQ(faces.size(), 1U);
    return faces.at(0);
  }

  std::vector<TrackEvent> track(float liveness_threshold, int frames) const {
    TrackerOptions options;
    options.detect_every = 5;
    options.liveness_frames = 3;
    options.identify.liveness.enabled = true;
    options.identify.liveness.threshold = liveness_threshold;
    FaceTracker tracker(*engine_, gallery_.get(), options);
    std::vector<TrackEvent> events;
    for (int i = 0; i < frames; ++i) {
      for (const TrackedFace& face : tracker.process(probe_, i, i / 10.0, events)) {
        if (face.known) EXPECT_TRUE(face.liveness && face.liveness->verdict == LivenessVerdict::kLive);
      }
    }
    tracker.finish(events);
    EXPECT_GT(tracker.stats().liveness_ms, 0.0);
    return events;
  }

  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Gallery> gallery_;
  fs::path path_;
  Image probe_;
};

TEST_F(LivenessGateModels, IdentifyJudgesEveryFaceWhenAsked) {
  const IdentifiedFace off = identify(std::nullopt);
  EXPECT_EQ(off.decision.person, "obama");
  EXPECT_FALSE(off.liveness.has_value());  // no cost, no verdict when not asked

  const IdentifiedFace live = identify(0.0F);
  EXPECT_EQ(live.decision.person, "obama");
  ASSERT_TRUE(live.liveness.has_value());
  EXPECT_GE(live.liveness->score, 0.0F);
  EXPECT_LE(live.liveness->score, 1.0F);

  const IdentifiedFace spoof = identify(1.0F);
  EXPECT_EQ(spoof.decision.person, kUnknownPerson);
  EXPECT_EQ(spoof.decision.reason, UnknownReason::kSpoof);
  EXPECT_FLOAT_EQ(spoof.liveness->score, live.liveness->score);  // the same net, the same face
}

TEST_F(LivenessGateModels, ATrackIsNamedOnlyAfterEnoughLiveFrames) {
  const std::vector<TrackEvent> events = track(0.0F, 15);
  bool named = false;
  for (const TrackEvent& event : events) {
    if (event.kind != TrackEventKind::kIdentified) continue;
    named = true;
    EXPECT_EQ(event.name, "obama");
    // Detection rounds at frames 0, 5, 10: the third judged frame opens the gate.
    EXPECT_EQ(event.frame, 10);
    ASSERT_TRUE(event.liveness.has_value());
    EXPECT_EQ(event.liveness->verdict, LivenessVerdict::kLive);
  }
  EXPECT_TRUE(named);
}

TEST_F(LivenessGateModels, ASpoofTrackIsNeverNamed) {
  bool judged = false;
  for (const TrackEvent& event : track(1.0F, 15)) {
    EXPECT_NE(event.name, "obama") << to_string(event.kind) << " at frame " << event.frame;
    if (event.kind == TrackEventKind::kIdentified) {
      judged = true;
      EXPECT_EQ(event.name, kUnknownPerson);
      ASSERT_TRUE(event.liveness.has_value());
      EXPECT_EQ(event.liveness->verdict, LivenessVerdict::kSpoof);
    }
  }
  EXPECT_TRUE(judged);
}

}  // namespace
}  // namespace siamface
