#include "eval/verification_protocol.hpp"

#include <gtest/gtest.h>

namespace siamface {
namespace {

std::vector<ScoredPair> separable_pairs(int folds) {
  std::vector<ScoredPair> pairs;
  for (int fold = 0; fold < folds; ++fold) {
    for (int i = 0; i < 10; ++i) {
      pairs.push_back({0.3F + 0.01F * i, true, fold, true});
      pairs.push_back({0.7F + 0.01F * i, false, fold, true});
    }
  }
  return pairs;
}

TEST(VerificationProtocol, SeparableDataGivesPerfectAccuracyAndAThresholdBetweenClasses) {
  const auto pairs = separable_pairs(10);
  const double threshold = best_threshold(pairs);
  EXPECT_GT(threshold, 0.39);
  EXPECT_LT(threshold, 0.7);
  EXPECT_DOUBLE_EQ(accuracy_at(pairs, threshold), 1.0);
  const TenFoldResult result = ten_fold(pairs);
  EXPECT_DOUBLE_EQ(result.mean_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(result.std_accuracy, 0.0);
  ASSERT_EQ(result.fold_accuracy.size(), 10U);
}

TEST(VerificationProtocol, InvalidPairsCountAsWrongUnlessExcluded) {
  auto pairs = separable_pairs(10);
  pairs[0].valid = false;  // fold 0 loses one of its 20 pairs
  const TenFoldResult result = ten_fold(pairs);
  EXPECT_NEAR(result.fold_accuracy[0], 19.0 / 20.0, 1e-12);
  EXPECT_NEAR(result.mean_accuracy, 1.0 - 0.05 / 10, 1e-12);
  EXPECT_DOUBLE_EQ(result.mean_accuracy_valid_only, 1.0);
}

TEST(VerificationProtocol, ThresholdIsPickedOnTheOtherFoldsOnly) {
  auto pairs = separable_pairs(2);
  // Fold 1 is shifted: its genuine pairs sit where fold 0's impostors are.
  for (ScoredPair& p : pairs)
    if (p.fold == 1) p.distance += 0.4F;
  const TenFoldResult result = ten_fold(pairs, 2);
  EXPECT_LT(result.fold_threshold[1], 0.7);  // learned on fold 0
  EXPECT_LT(result.fold_accuracy[1], 0.6);
}

TEST(VerificationProtocol, RocIsMonotonicWithEndpointsAndEqualErrorRate) {
  std::vector<ScoredPair> pairs;
  for (int i = 0; i < 100; ++i) {
    pairs.push_back({0.01F * i, true, 0, true});
    pairs.push_back({0.5F + 0.01F * i, false, 0, true});
  }
  const auto roc = roc_curve(pairs);
  ASSERT_GE(roc.size(), 3U);
  for (std::size_t i = 1; i < roc.size(); ++i) {
    EXPECT_GE(roc[i].false_accept_rate, roc[i - 1].false_accept_rate);
    EXPECT_GE(roc[i].true_accept_rate, roc[i - 1].true_accept_rate);
  }
  EXPECT_DOUBLE_EQ(roc.back().true_accept_rate, 1.0);
  EXPECT_DOUBLE_EQ(roc.back().false_accept_rate, 1.0);
  const auto eer = equal_error_rate(roc);
  EXPECT_NEAR(eer.rate, 0.25, 0.01);  // overlap 0.5..0.99: a quarter of each class is confused
  const double strict = threshold_at_far(roc, 0.01);
  EXPECT_LE(strict, 0.52);
  EXPECT_GE(strict, 0.5);
}


TEST(VerificationProtocol, WilsonIntervalBracketsTheRateAndNarrowsWithTrials) {
  const RateInterval none = wilson_interval(0, 100);
  EXPECT_EQ(none.rate, 0.0);
  EXPECT_EQ(none.low, 0.0);
  EXPECT_NEAR(none.high, 0.037, 0.001);  // z^2 / (n + z^2): not empty at 0 events
  const RateInterval few = wilson_interval(1, 100);
  const RateInterval many = wilson_interval(100, 10000);
  EXPECT_DOUBLE_EQ(few.rate, many.rate);
  EXPECT_LT(few.low, few.rate);
  EXPECT_GT(few.high, few.rate);
  EXPECT_LT(many.high - many.low, (few.high - few.low) / 5);
  EXPECT_NEAR(many.low, 0.0082, 0.0002);
  EXPECT_NEAR(many.high, 0.0122, 0.0002);
  const RateInterval all = wilson_interval(5, 5);
  EXPECT_EQ(all.high, 1.0);
  EXPECT_LT(all.low, 1.0);
  const RateInterval empty = wilson_interval(0, 0);
  EXPECT_EQ(empty.low, 0.0);
  EXPECT_EQ(empty.high, 1.0);
}

}  // namespace
}  // namespace siamface
