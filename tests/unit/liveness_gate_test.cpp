// The liveness gate's rules (issue 32), without models: identify_faces with each face's verdict
// given (a spoof or an unjudged face is never named and takes no name from a live face), and the
// tracker's per-track gate over LivenessVote (no name before enough live frames).
#include <gtest/gtest.h>

#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "siamface/identify.hpp"
#include "unit/gallery_test_util.hpp"
#include "video/tracker_logic.hpp"

namespace siamface {
namespace {

using test::make_face;
using test::TempDir;
using test::test_model;

LivenessEstimate live() { return decide_liveness(0.9F, 0.5F); }
LivenessEstimate spoof() { return decide_liveness(0.1F, 0.5F); }

class LivenessGate : public ::testing::Test {
 protected:
  void SetUp() override {
    gallery_ = std::make_unique<Gallery>(Gallery::open(dir_.file("g.db")));
    const GalleryFace ann = make_face("ann", 1);
    gallery_->add_face(ann);
    exact_.embedding = ann.embedding;  // distance 0 from ann
    near_.embedding = ann.embedding;
    near_.embedding[0] += 0.2F;  // 0.2 from ann: named under the default threshold
  }

  std::vector<IdentifiedFace> identify(const std::vector<FaceEmbedding>& faces,
                                       const std::vector<std::optional<LivenessEstimate>>& liveness) const {
    return identify_faces(*gallery_, test_model(), faces, liveness, IdentifyOptions{});
  }

  TempDir dir_;
  std::unique_ptr<Gallery> gallery_;
  FaceEmbedding exact_;
  FaceEmbedding near_;
};

TEST_F(LivenessGate, ALiveFaceIsNamedAndCarriesItsVerdict) {
  const IdentifiedFace face = identify({near_}, {live()}).at(0);
  EXPECT_EQ(face.decision.person, "ann");
  EXPECT_TRUE(face.decision.known);
  ASSERT_TRUE(face.liveness.has_value());
  EXPECT_EQ(face.liveness->verdict, LivenessVerdict::kLive);
}

TEST_F(LivenessGate, ASpoofIsNeverNamedEvenAtDistanceZero) {
  const IdentifiedFace face = identify({exact_}, {spoof()}).at(0);
  EXPECT_EQ(face.decision.person, kUnknownPerson);
  EXPECT_FALSE(face.decision.known);
  EXPECT_EQ(face.decision.reason, UnknownReason::kSpoof);
  EXPECT_STREQ(to_string(face.decision.reason), "spoof");
  EXPECT_NEAR(face.decision.distance, 0.0F, 1e-6F);  // whom it resembles is still reported
  ASSERT_FALSE(face.top.empty());
  EXPECT_EQ(face.top.front().person, "ann");
  ASSERT_TRUE(face.liveness.has_value());
  EXPECT_EQ(face.liveness->verdict, LivenessVerdict::kSpoof);
}

TEST_F(LivenessGate, ASpoofTakesNoNameFromALiveFaceOfThePhoto) {
  // Without the gate, the nearer face (the photo held up) gets "ann" and the live one loses it.
  const auto ungated = identify_faces(*gallery_, test_model(), {exact_, near_}, IdentifyOptions{});
  EXPECT_EQ(ungated.at(0).decision.person, "ann");
  EXPECT_EQ(ungated.at(1).decision.reason, UnknownReason::kNameTaken);

  const auto gated = identify({exact_, near_}, {spoof(), live()});
  EXPECT_EQ(gated.at(0).decision.reason, UnknownReason::kSpoof);
  EXPECT_EQ(gated.at(1).decision.person, "ann");
  EXPECT_TRUE(gated.at(1).decision.known);
}

TEST_F(LivenessGate, AFaceThatCouldNotBeJudgedIsNotNamed) {
  const IdentifiedFace face = identify({near_}, {std::nullopt}).at(0);
  EXPECT_FALSE(face.decision.known);
  EXPECT_EQ(face.decision.reason, UnknownReason::kLivenessUnchecked);
  EXPECT_STREQ(to_string(face.decision.reason), "liveness_unchecked");
  EXPECT_FALSE(face.liveness.has_value());
}

TEST_F(LivenessGate, OneVerdictPerFace) {
  EXPECT_THROW(identify({exact_, near_}, {live()}), Error);
  EXPECT_THROW(identify({exact_}, {}), Error);
}

TEST_F(LivenessGate, TheOverloadWithoutVerdictsHasNoGate) {
  IdentifyOptions options;
  options.liveness.enabled = true;  // the tracker's options: it judges tracks itself
  const IdentifiedFace face = identify_faces(*gallery_, test_model(), {near_}, options).at(0);
  EXPECT_EQ(face.decision.person, "ann");
  EXPECT_FALSE(face.liveness.has_value());
}

TEST(TrackLivenessGate, OffIsAlwaysOpen) {
  EXPECT_EQ(tracking::liveness_gate(false, std::nullopt), tracking::LivenessGate::kOpen);
  EXPECT_EQ(tracking::liveness_gate(false, spoof()), tracking::LivenessGate::kOpen);
}

TEST(TrackLivenessGate, OnlyAVoteOfLiveFramesOpensIt) {
  LivenessVote vote(0.5F, 3);
  vote.add(0.95F);  // one good frame does not open a door
  EXPECT_EQ(tracking::liveness_gate(true, vote.verdict()), tracking::LivenessGate::kPending);
  vote.add(0.9F);
  EXPECT_EQ(tracking::liveness_gate(true, vote.verdict()), tracking::LivenessGate::kPending);
  vote.add(0.8F);
  EXPECT_EQ(tracking::liveness_gate(true, vote.verdict()), tracking::LivenessGate::kOpen);

  LivenessVote photo(0.5F, 3);
  for (float score : {0.9F, 0.1F, 0.2F}) photo.add(score);  // mean 0.4: a photo with one lucky frame
  EXPECT_EQ(tracking::liveness_gate(true, photo.verdict()), tracking::LivenessGate::kSpoof);
}

}  // namespace
}  // namespace siamface
