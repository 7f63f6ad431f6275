// Face analysis without models: attribute parsing, the liveness decision and track vote, head
// pose from landmarks, the crops the attribute nets take, and the JSON-free parts of
// analyze_faces that fail before any model is needed.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/core.hpp>

#include "attributes/attribute_nets.hpp"
#include "pipeline/head_pose.hpp"
#include "siamface/analysis.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

ErrorCode code_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no Error thrown";
  return ErrorCode::kInternal;
}

// ---- AttributeSet --------------------------------------------------------------------------

TEST(AttributeSet, ParsesACommaSeparatedListWithSpaces) {
  const AttributeSet set = AttributeSet::parse("age, liveness");
  EXPECT_TRUE(set.age);
  EXPECT_TRUE(set.liveness);
  EXPECT_FALSE(set.gender);
  EXPECT_FALSE(set.expression);
  EXPECT_FALSE(set.pose);
  EXPECT_TRUE(set.contains(Attribute::kAge));
  EXPECT_FALSE(set.contains(Attribute::kPose));
}

TEST(AttributeSet, AllHoldsEveryNamedAttribute) {
  const AttributeSet all = AttributeSet::all();
  for (const auto& entry : kAttributeNames) EXPECT_TRUE(all.contains(entry.value)) << entry.name;
  std::string every;
  for (const auto& entry : kAttributeNames) every += std::string(every.empty() ? "" : ",") + entry.name;
  const AttributeSet parsed = AttributeSet::parse(every);
  for (const auto& entry : kAttributeNames) EXPECT_TRUE(parsed.contains(entry.value)) << entry.name;
}

TEST(AttributeSet, EmptyTextIsNoAttribute) {
  EXPECT_TRUE(AttributeSet::parse("").empty());
  EXPECT_FALSE(AttributeSet::parse("pose").empty());
}

TEST(AttributeSet, AnUnknownNameIsRejectedNamingItAndTheKnownOnes) {
  try {
    AttributeSet::parse("age,mask");
    FAIL() << "mask accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string message = e.what();
    EXPECT_NE(message.find("'mask'"), std::string::npos) << message;
    EXPECT_NE(message.find("liveness"), std::string::npos) << message;
  }
  EXPECT_EQ(code_of([] { AttributeSet::parse("age,,gender"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { AttributeSet::parse("age,"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { AttributeSet::parse("Age"); }), ErrorCode::kInvalidArgument);
}

// ---- Liveness decisions --------------------------------------------------------------------

TEST(DecideLiveness, LiveAtAndAboveTheThresholdSpoofBelow) {
  EXPECT_EQ(decide_liveness(0.7F, 0.7F).verdict, LivenessVerdict::kLive);
  EXPECT_EQ(decide_liveness(0.95F, 0.7F).verdict, LivenessVerdict::kLive);
  EXPECT_EQ(decide_liveness(0.69F, 0.7F).verdict, LivenessVerdict::kSpoof);
  const LivenessEstimate e = decide_liveness(0.3F, 0.6F);
  EXPECT_FLOAT_EQ(e.score, 0.3F);
  EXPECT_FLOAT_EQ(e.threshold, 0.6F);
}

TEST(DecideLiveness, ANanScoreIsNeverLive) {
  EXPECT_EQ(decide_liveness(std::nanf(""), 0.0F).verdict, LivenessVerdict::kSpoof);
}

TEST(DecideLiveness, AThresholdOutsideZeroToOneIsRejected) {
  EXPECT_EQ(code_of([] { decide_liveness(0.5F, 1.5F); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { decide_liveness(0.5F, -0.1F); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { decide_liveness(0.5F, std::nanf("")); }), ErrorCode::kInvalidArgument);
}

TEST(DecideLiveness, TheDefaultThresholdIsAProbability) {
  EXPECT_GT(default_liveness_threshold(), 0.0F);
  EXPECT_LT(default_liveness_threshold(), 1.0F);
}

TEST(LivenessVote, NoVerdictUntilEnoughFrames) {
  LivenessVote vote(0.5F, 3);
  vote.add(0.9F);
  vote.add(0.9F);
  EXPECT_FALSE(vote.verdict().has_value());
  vote.add(0.9F);
  ASSERT_TRUE(vote.verdict().has_value());
  EXPECT_EQ(vote.verdict()->verdict, LivenessVerdict::kLive);
  EXPECT_EQ(vote.frames(), 3);
}

TEST(LivenessVote, OneGoodFrameDoesNotOpenTheDoor) {
  LivenessVote vote(0.5F, 3);
  vote.add(0.99F);  // a lucky frame of a replayed video
  vote.add(0.05F);
  vote.add(0.1F);
  ASSERT_TRUE(vote.verdict().has_value());
  EXPECT_EQ(vote.verdict()->verdict, LivenessVerdict::kSpoof);
  EXPECT_NEAR(vote.verdict()->score, (0.99F + 0.05F + 0.1F) / 3, 1e-6);
}

TEST(LivenessVote, UnjudgedFramesCountAgainstTheTrack) {
  LivenessVote vote(0.5F, 2);
  vote.add(0.8F);
  vote.add(std::nanf(""));
  ASSERT_TRUE(vote.verdict().has_value());
  EXPECT_EQ(vote.verdict()->verdict, LivenessVerdict::kSpoof);  // mean 0.4
}

TEST(LivenessVote, BadSettingsAreRejected) {
  EXPECT_EQ(code_of([] { LivenessVote(0.5F, 0); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] { LivenessVote(2.0F, 3); }), ErrorCode::kInvalidArgument);
}

// ---- Head pose -----------------------------------------------------------------------------

Landmarks landmarks_for(const HeadPose& pose, int width, int height) {
  const std::array<Point, 6> points = project_head_model(pose, width / 2.0F, height / 2.0F, 1500.0F, width, height);
  Landmarks landmarks{};
  for (std::size_t i = 0; i < points.size(); ++i) landmarks[kHeadModelLandmarks[i]] = points[i];
  return landmarks;
}

TEST(HeadPose, RecoversTheAnglesItWasProjectedWith) {
  for (const HeadPose pose : {HeadPose{0, 0, 0}, HeadPose{10, 0, 0}, HeadPose{0, 0, 25}, HeadPose{0, -15, 0},
                              HeadPose{-12, 8, -30}}) {
    const HeadPose found = head_pose_of(landmarks_for(pose, 640, 480), 640, 480).value();
    EXPECT_NEAR(found.pitch, pose.pitch, 0.5) << pose.pitch << " " << pose.roll << " " << pose.yaw;
    EXPECT_NEAR(found.roll, pose.roll, 0.5) << pose.pitch << " " << pose.roll << " " << pose.yaw;
    EXPECT_NEAR(found.yaw, pose.yaw, 0.5) << pose.pitch << " " << pose.roll << " " << pose.yaw;
  }
}

TEST(HeadPose, SignsFollowTheDocumentedConventions) {
  const int w = 640, h = 480;
  // Turned towards the image's right: the nose tip lies right of the eye corners' midpoint.
  const Landmarks right = landmarks_for({0, 0, 30}, w, h);
  EXPECT_GT(right[30].x, (right[36].x + right[45].x) / 2);
  // Looking up: the nose tip rises towards the eyes.
  const Landmarks up = landmarks_for({20, 0, 0}, w, h);
  const Landmarks level = landmarks_for({0, 0, 0}, w, h);
  EXPECT_LT(up[30].y - up[36].y, level[30].y - level[36].y);
  // Clockwise in the image (y down): the image-right eye corner lies below the image-left one.
  const Landmarks clockwise = landmarks_for({0, 15, 0}, w, h);
  EXPECT_GT(clockwise[45].y, clockwise[36].y);
}

TEST(HeadPose, UnsetOrCollapsedLandmarksGiveNoPose) {
  EXPECT_FALSE(head_pose_of(Landmarks{}, 640, 480).has_value());
  Landmarks same{};
  for (auto& p : same) p = {100, 100};
  EXPECT_FALSE(head_pose_of(same, 640, 480).has_value());
  EXPECT_FALSE(head_pose_of(landmarks_for({0, 0, 0}, 640, 480), 0, 0).has_value());
}

// ---- Crops ---------------------------------------------------------------------------------

TEST(LivenessCrop, ScalesTheBoxAboutItsCentre) {
  const cv::Rect r = liveness_crop({400, 300, 100, 100}, 1000, 1000);
  EXPECT_EQ(r, cv::Rect(315, 215, 270, 270));
}

TEST(LivenessCrop, ShiftsIntoTheImageRatherThanCutting) {
  // Near the top-left corner: fr_liveness.js moves the window in, keeping its size.
  const cv::Rect r = liveness_crop({10, 20, 100, 100}, 1000, 1000);
  EXPECT_EQ(r, cv::Rect(0, 0, 270, 270));
  // A box larger than the image allows: the scale drops to what fits (image side less one).
  const cv::Rect whole = liveness_crop({20, 20, 100, 100}, 150, 150);
  EXPECT_LE(whole.x + whole.width, 150);
  EXPECT_LE(whole.y + whole.height, 150);
  EXPECT_EQ(whole.width, 149);
}

TEST(LivenessCrop, AnEmptyBoxGivesAnEmptyCrop) {
  EXPECT_TRUE(liveness_crop({10, 10, 0, 50}, 100, 100).empty());
}

TEST(FaceApiAlignedBox, IsTheLandmarksBoundingBoxPaddedByAFifth) {
  Landmarks landmarks{};
  for (auto& p : landmarks) p = {150, 150};
  landmarks[0] = {100, 120};
  landmarks[16] = {200, 220};
  const Box box = face_api_aligned_box(landmarks);
  EXPECT_FLOAT_EQ(box.left, 90);
  EXPECT_FLOAT_EQ(box.top, 110);
  EXPECT_FLOAT_EQ(box.width, 120);
  EXPECT_FLOAT_EQ(box.height, 120);
}

}  // namespace
}  // namespace siamface
