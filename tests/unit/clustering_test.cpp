// The pure parts of issue 20: average-linkage clustering, persistent cluster ids, and the
// negative-example decision rule.
#include <gtest/gtest.h>

#include <random>

#include "siamface/clustering.hpp"
#include "siamface/errors.hpp"
#include "siamface/decision.hpp"

namespace siamface {
namespace {

// `groups` tight blobs of `per_group` points each, `spread` around centres 1.0 apart.
std::vector<Embedding> blobs(int groups, int per_group, float spread, std::vector<std::size_t>* truth, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0F, spread);
  std::vector<Embedding> out;
  for (int i = 0; i < per_group; ++i) {
    for (int g = 0; g < groups; ++g) {  // interleaved, so order is not a hint
      Embedding e(16, 0.0F);
      e[static_cast<std::size_t>(g)] = 0.71F;  // centres sqrt(2)*0.71 = 1.0 apart
      for (float& v : e) v += noise(rng);
      out.push_back(e);
      if (truth) truth->push_back(static_cast<std::size_t>(g));
    }
  }
  return out;
}

TEST(Clustering, AverageLinkageFindsSeparatedGroupsExactly) {
  std::vector<std::size_t> truth;
  const auto points = blobs(5, 8, 0.03F, &truth);
  const auto labels = cluster_average_linkage(points, 0.5F);
  ASSERT_EQ(labels.size(), points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    for (std::size_t j = 0; j < points.size(); ++j) {
      EXPECT_EQ(labels[i] == labels[j], truth[i] == truth[j]) << i << " " << j;
    }
  }
  // Labels are numbered by first member: face 0 is label 0, face 1 (another group) label 1.
  EXPECT_EQ(labels[0], 0U);
  EXPECT_EQ(labels[1], 1U);
}

TEST(Clustering, ThresholdBoundsTheMerges) {
  std::vector<std::size_t> truth;
  const auto points = blobs(3, 4, 0.03F, &truth);
  // Below every within-group distance: all singletons. Above the between-group distance: one.
  auto labels = cluster_average_linkage(points, 0.01F);
  EXPECT_EQ(*std::max_element(labels.begin(), labels.end()) + 1, points.size());
  labels = cluster_average_linkage(points, 2.0F);
  EXPECT_EQ(*std::max_element(labels.begin(), labels.end()), 0U);
}

TEST(Clustering, AverageLinkageIsNotSingleLinkage) {
  // A chain of points 0.3 apart: single linkage at 0.35 would join all; average linkage keeps
  // the ends apart (their mean distance grows past the limit).
  std::vector<Embedding> chain;
  for (int i = 0; i < 8; ++i) chain.push_back({0.3F * static_cast<float>(i), 0.0F});
  const auto labels = cluster_average_linkage(chain, 0.35F);
  EXPECT_NE(labels.front(), labels.back());
  EXPECT_GT(*std::max_element(labels.begin(), labels.end()), 0U);
}

TEST(Clustering, DeterministicAndRejectsMixedSizes) {
  const auto points = blobs(4, 6, 0.15F, nullptr);
  EXPECT_EQ(cluster_average_linkage(points, 0.6F), cluster_average_linkage(points, 0.6F));
  EXPECT_TRUE(cluster_average_linkage({}, 0.5F).empty());
  std::vector<Embedding> mixed = {{0.0F, 1.0F}, {0.0F}};
  EXPECT_THROW(cluster_average_linkage(mixed, 0.5F), Error);
}

TEST(Clustering, CentroidsAreMeans) {
  const std::vector<Embedding> points = {{0.0F, 0.0F}, {2.0F, 0.0F}, {5.0F, 5.0F}};
  const std::vector<std::size_t> labels = {0, 0, 1};
  const auto centroids = cluster_centroids(points, labels);
  ASSERT_EQ(centroids.size(), 2U);
  EXPECT_EQ(centroids[0], (Embedding{1.0F, 0.0F}));
  EXPECT_EQ(centroids[1], (Embedding{5.0F, 5.0F}));
}

TEST(ClusterIds, NewClustersKeepTheIdOfTheOldClusterTheyOverlapMost) {
  // Faces 0-3 were #17, 4-5 were #4, 6 is new. Now: {0,1,2}, {3,4,5}, {6}.
  const std::vector<std::size_t> labels = {0, 0, 0, 1, 1, 1, 2};
  const std::vector<std::optional<std::int64_t>> previous = {17, 17, 17, 17, 4, 4, std::nullopt};
  std::int64_t next = 30;
  const auto ids = carry_cluster_ids(labels, previous, next);
  ASSERT_EQ(ids.size(), 3U);
  EXPECT_EQ(ids[0], 17);  // 3 faces of #17
  EXPECT_EQ(ids[1], 4);   // 2 of #4 beat 1 of #17 (already taken)
  EXPECT_EQ(ids[2], 30);  // fresh
  EXPECT_EQ(next, 31);
}

TEST(ClusterIds, AnOldIdGoesToOneClusterOnlyAndSplitsGetFreshIds) {
  // #5 split in two halves: the first (tie broken by label) keeps 5, the other is new.
  const std::vector<std::size_t> labels = {0, 0, 1, 1};
  const std::vector<std::optional<std::int64_t>> previous = {5, 5, 5, 5};
  std::int64_t next = 9;
  const auto ids = carry_cluster_ids(labels, previous, next);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{5, 9}));
  // Re-running on the result changes nothing: ids are stable.
  const std::vector<std::optional<std::int64_t>> again = {5, 5, 9, 9};
  std::int64_t next2 = 10;
  EXPECT_EQ(carry_cluster_ids(labels, again, next2), ids);
  EXPECT_EQ(next2, 10);
}

TEST(NegativeRule, BlocksOnlyNearAndNearerThanThePerson) {
  Candidate c{"ann", 0.45F};
  EXPECT_FALSE(blocked_by_negative(c, 0.6F));  // no negative
  c.negative_distance = 0.3F;
  EXPECT_TRUE(blocked_by_negative(c, 0.6F));
  c.negative_distance = 0.5F;  // nearer to ann's faces than to the negative
  EXPECT_FALSE(blocked_by_negative(c, 0.6F));
  c.distance = 0.7F;
  c.negative_distance = 0.65F;  // nearer to the negative, but not within the threshold
  EXPECT_FALSE(blocked_by_negative(c, 0.6F));
}

TEST(NegativeRule, DecideNamesFallsBackToTheNextCandidateOrUnknown) {
  DecisionRule rule;
  rule.threshold = 0.6F;
  rule.margin = 0.0F;
  Candidate ann{"ann", 0.40F};
  ann.negative_distance = 0.20F;  // "this face is not ann"
  const Candidate bob{"bob", 0.50F};
  auto decisions = decide_names({{ann, bob}}, {FaceQuality{}}, rule);
  EXPECT_EQ(decisions[0].person, "bob");
  EXPECT_TRUE(decisions[0].known);
  decisions = decide_names({{ann}}, {FaceQuality{}}, rule);
  EXPECT_EQ(decisions[0].person, kUnknownPerson);
  EXPECT_FALSE(decisions[0].known);
  // Without the negative the same candidates name ann.
  ann.negative_distance = std::numeric_limits<float>::infinity();
  EXPECT_EQ(decide_names({{ann, bob}}, {FaceQuality{}}, rule)[0].person, "ann");
}

}  // namespace
}  // namespace siamface
