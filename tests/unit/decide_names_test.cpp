#include <gtest/gtest.h>

#include "siamface/decision.hpp"
#include "siamface/identify.hpp"

namespace siamface {
namespace {

std::vector<FaceQuality> qualities(std::size_t n) { return std::vector<FaceQuality>(n); }

TEST(DecideNames, NearestUnderThresholdIsNamedOtherwiseUnknown) {
  const auto decisions = decide_names({{{"ann", 0.4F}, {"bob", 0.7F}}, {{"bob", 0.65F}}}, qualities(2), {});
  ASSERT_EQ(decisions.size(), 2U);
  EXPECT_EQ(decisions[0].person, "ann");
  EXPECT_TRUE(decisions[0].known);
  EXPECT_FLOAT_EQ(decisions[0].distance, 0.4F);
  EXPECT_EQ(decisions[1].person, kUnknownPerson);
  EXPECT_FALSE(decisions[1].known);
  EXPECT_FLOAT_EQ(decisions[1].distance, 0.65F);
}

TEST(DecideNames, TwoFacesNeverShareANameAndTheLoserTakesItsNextMatch) {
  const auto decisions = decide_names({{{"ann", 0.45F}, {"bob", 0.5F}}, {{"ann", 0.3F}, {"cid", 0.7F}}},
                                      qualities(2), {});
  EXPECT_EQ(decisions[1].person, "ann");  // the nearer face wins ann
  EXPECT_EQ(decisions[0].person, "bob");  // the loser falls back to its next acceptable match
  EXPECT_FLOAT_EQ(decisions[0].distance, 0.5F);
}

TEST(DecideNames, LoserWithNoOtherAcceptableMatchIsUnknown) {
  const auto decisions = decide_names({{{"ann", 0.5F}, {"bob", 0.9F}}, {{"ann", 0.2F}}}, qualities(2), {});
  EXPECT_EQ(decisions[1].person, "ann");
  EXPECT_EQ(decisions[0].person, kUnknownPerson);
}

TEST(DecideNames, MarginRuleRejectsAmbiguousMatches) {
  DecisionRule rule;
  rule.margin = 0.1F;
  const auto decisions = decide_names({{{"ann", 0.40F}, {"bob", 0.45F}}, {{"cid", 0.40F}, {"dan", 0.55F}}},
                                      qualities(2), rule);
  EXPECT_EQ(decisions[0].person, kUnknownPerson);  // bob is only 0.05 further
  EXPECT_EQ(decisions[1].person, "cid");           // dan is 0.15 further
}

TEST(DecideNames, QualityAdaptiveThresholdIsStricterForSmallGreyFaces) {
  DecisionRule rule;
  rule.quality_adaptive = true;
  FaceQuality good;
  good.face_size_px = 200;
  FaceQuality poor;
  poor.face_size_px = 40;
  poor.grayscale = true;
  EXPECT_FLOAT_EQ(effective_threshold(rule, good), rule.threshold);
  EXPECT_LT(effective_threshold(rule, poor), rule.threshold);
  const auto decisions = decide_names({{{"ann", 0.55F}}, {{"bob", 0.55F}}}, {good, poor}, rule);
  EXPECT_EQ(decisions[0].person, "ann");
  EXPECT_EQ(decisions[1].person, kUnknownPerson);
}

Candidate fused(const std::string& person, float distance, float second_network_distance) {
  Candidate c{person, distance};
  c.second_network_distance = second_network_distance;
  return c;
}

FaceQuality sharp() {
  FaceQuality q;
  q.face_size_px = 120;
  q.sharpness = 200;
  q.brightness = 120;
  return q;
}

TEST(DecideNames, BothNetworksMustAgreeUnderTheDefaultRule) {
  const DecisionRule rule = IdentifyOptions::default_decision_rule();
  const float cap = rule.threshold * rule.agreement;
  ASSERT_GT(rule.agreement, 0.0F);
  // The fused distance alone would name both; the MobileFaceNet finds the second too far.
  const auto decisions = decide_names({{fused("ann", 0.45F, cap - 0.01F)}, {fused("bob", 0.45F, cap + 0.01F)}},
                                      {sharp(), sharp()}, rule);
  EXPECT_EQ(decisions[0].person, "ann");
  EXPECT_EQ(decisions[0].reason, UnknownReason::kNone);
  EXPECT_EQ(decisions[1].person, kUnknownPerson);
  EXPECT_EQ(decisions[1].reason, UnknownReason::kNetworksDisagree);
  // Without a second network's distance (dlib or MobileFaceNet alone) there is nothing to check.
  EXPECT_EQ(decide_names({{{"bob", 0.45F}}}, {sharp()}, rule)[0].person, "bob");
  // The cap follows the threshold: a stricter gallery threshold makes it stricter too.
  DecisionRule strict = rule;
  strict.threshold = 0.5F;
  EXPECT_EQ(decide_names({{fused("ann", 0.45F, cap - 0.01F)}}, {sharp()}, strict)[0].reason,
            UnknownReason::kNetworksDisagree);
}

TEST(DecideNames, PoorFacesNeedTheWiderMargin) {
  const DecisionRule rule = IdentifyOptions::default_decision_rule();
  ASSERT_GT(rule.poor_quality_margin, rule.margin);
  FaceQuality blurred = sharp();
  blurred.sharpness = kPoorSharpness - 1;
  FaceQuality dark = sharp();
  dark.brightness = kPoorBrightness - 1;
  EXPECT_FALSE(is_poor_quality(sharp()));
  EXPECT_TRUE(is_poor_quality(blurred));
  EXPECT_TRUE(is_poor_quality(dark));
  EXPECT_FALSE(is_poor_quality(FaceQuality{})) << "unmeasured quality is not poor quality";
  // The runner-up lies between the two margins: a sharp face is named, a blurred or dark one not.
  const float gap = (rule.margin + rule.poor_quality_margin) / 2;
  const std::vector<std::vector<Candidate>> candidates(3, {{"ann", 0.40F}, {"bob", 0.40F + gap}});
  const auto decisions = decide_names(candidates, {sharp(), blurred, dark}, rule);
  EXPECT_EQ(decisions[0].person, "ann");
  for (int i : {1, 2}) {
    EXPECT_EQ(decisions[i].person, kUnknownPerson);
    EXPECT_EQ(decisions[i].reason, UnknownReason::kAmbiguous);
    EXPECT_EQ(decisions[i].runner_up, "bob");
  }
}

TEST(DecideNames, EveryUnknownFaceSaysWhy) {
  DecisionRule rule = IdentifyOptions::default_decision_rule();
  Candidate marked{"cid", 0.30F};
  marked.negative_distance = 0.10F;
  const auto decisions = decide_names({{}, {{"ann", 0.70F}}, {marked}, {{"dan", 0.20F}}, {{"dan", 0.25F}}},
                                      std::vector<FaceQuality>(5, sharp()), rule);
  EXPECT_EQ(decisions[0].reason, UnknownReason::kNoCandidate);
  EXPECT_EQ(decisions[1].reason, UnknownReason::kAboveThreshold);
  EXPECT_EQ(decisions[2].reason, UnknownReason::kNegativeExample);
  EXPECT_EQ(decisions[3].person, "dan");
  EXPECT_EQ(decisions[4].reason, UnknownReason::kNameTaken);
  for (const Decision& d : decisions) EXPECT_EQ(d.known, d.reason == UnknownReason::kNone);
  EXPECT_STREQ(to_string(UnknownReason::kAboveThreshold), "above_threshold");
}

TEST(DecideNames, MismatchedQualityCountIsAnError) {
  EXPECT_THROW(decide_names({{{"ann", 0.1F}}}, {}, {}), std::exception);
}

}  // namespace
}  // namespace siamface
