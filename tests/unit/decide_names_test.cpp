#include <gtest/gtest.h>

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

TEST(DecideNames, MismatchedQualityCountIsAnError) {
  EXPECT_THROW(decide_names({{{"ann", 0.1F}}}, {}, {}), std::exception);
}

}  // namespace
}  // namespace siamface
