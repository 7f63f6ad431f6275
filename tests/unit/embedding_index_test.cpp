#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "index/distance_kernels.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"

namespace siamface {
namespace {

constexpr std::size_t kDims = kDlibEmbeddingSize;

Embedding random_embedding(std::mt19937& rng, float scale = 0.1F, std::size_t dims = kDims) {
  std::normal_distribution<float> dist(0.0F, scale);
  Embedding e(dims);
  for (float& v : e) v = dist(rng);
  return e;
}

struct Row {
  std::string id;
  std::string person;
  Embedding e;
};

// The obvious implementation, for comparison.
std::vector<IdentityMatch> naive_search(const std::vector<Row>& rows, const Embedding& q,
                                        std::size_t k, IdentityDistance mode) {
  std::map<std::string, IdentityMatch> best;
  std::map<std::string, std::pair<std::vector<double>, int>> sums;
  for (const Row& r : rows) {
    if (mode == IdentityDistance::kMin) {
      const float d = euclidean_distance(q, r.e);
      auto it = best.find(r.person);
      if (it == best.end() || d < it->second.distance) best[r.person] = {r.person, d, r.id};
    } else {
      auto& [sum, n] = sums[r.person];
      sum.resize(r.e.size(), 0.0);
      for (std::size_t i = 0; i < r.e.size(); ++i) sum[i] += r.e[i];
      ++n;
    }
  }
  for (const auto& [person, sn] : sums) {
    Embedding c(sn.first.size());
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(sn.first[i] / sn.second);
    best[person] = {person, euclidean_distance(q, c), ""};
  }
  std::vector<IdentityMatch> out;
  for (auto& [p, m] : best) out.push_back(m);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.person < b.person;
  });
  if (k != 0 && out.size() > k) out.resize(k);
  return out;
}

void expect_same(const std::vector<IdentityMatch>& got, const std::vector<IdentityMatch>& want,
                 IdentityDistance mode) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].distance, want[i].distance, 1e-4F) << "rank " << i;
    // Near-ties may legitimately swap; only compare names when the gap is clear.
    const bool clear = (i + 1 >= want.size() || want[i + 1].distance - want[i].distance > 1e-4F) &&
                       (i == 0 || want[i].distance - want[i - 1].distance > 1e-4F);
    if (clear) {
      EXPECT_EQ(got[i].person, want[i].person) << "rank " << i;
      if (mode == IdentityDistance::kMin) {
        EXPECT_EQ(got[i].face_id, want[i].face_id);
      }
    }
  }
}

TEST(DistanceKernels, SimdMatchesScalar) {
  if (!index::avx2_supported()) GTEST_SKIP() << "CPU has no AVX2+FMA; scalar path only";
  std::mt19937 rng(1);
  for (std::size_t dims : {128U, 512U, 640U}) {  // dlib, MobileFaceNet, fused
    for (std::size_t n : {1U, 3U, 17U, 513U, 1000U}) {
      SCOPED_TRACE("dims " + std::to_string(dims) + " n " + std::to_string(n));
      std::vector<float> rows(n * dims);
      std::normal_distribution<float> dist(0.0F, 1.0F);
      for (float& v : rows) v = dist(rng);
      std::vector<float> queries(index::kMaxQueryGroup * dims);
      for (float& v : queries) v = dist(rng);
      std::vector<float> a(n), b(n);
      index::squared_distances_scalar(queries.data(), rows.data(), n, dims, a.data());
      index::squared_distances_avx2(queries.data(), rows.data(), n, dims, b.data());
      for (std::size_t r = 0; r < n; ++r) EXPECT_NEAR(a[r], b[r], 1e-4F * a[r]) << r;
      for (std::size_t nq = 1; nq <= index::kMaxQueryGroup; ++nq) {
        std::vector<float> ga(nq * n), gb(nq * n);
        index::squared_distances_group_scalar(queries.data(), nq, rows.data(), n, dims, ga.data());
        index::squared_distances_group_avx2(queries.data(), nq, rows.data(), n, dims, gb.data());
        for (std::size_t i = 0; i < nq * n; ++i) {
          EXPECT_NEAR(ga[i], gb[i], 1e-4F * ga[i]) << "nq " << nq << " i " << i;
        }
      }
    }
  }
}

TEST(DistanceKernels, ScalarIsExactSquaredDistance) {
  Embedding a(kDims, 0.0F), b(kDims, 0.0F);
  a[0] = 3.0F;
  b[1] = 4.0F;
  float out = -1.0F;
  index::squared_distances_scalar(a.data(), b.data(), 1, kDims, &out);
  EXPECT_FLOAT_EQ(out, 25.0F);
  index::squared_distances_avx2(a.data(), b.data(), 1, kDims, &out);  // falls back without AVX2
  EXPECT_FLOAT_EQ(out, 25.0F);
}

struct Config {
  bool simd;
  int threads;
  std::size_t parallel_min_rows;
};

class IndexVsNaive : public ::testing::TestWithParam<Config> {};

TEST_P(IndexVsNaive, MatchesNaiveSearchThroughEdits) {
  const Config c = GetParam();
  EmbeddingIndex index({c.simd, c.threads, c.parallel_min_rows});
  std::mt19937 rng(42);
  std::vector<Row> rows;
  std::vector<Embedding> centers;
  for (int p = 0; p < 150; ++p) centers.push_back(random_embedding(rng, 0.3F));
  std::uniform_int_distribution<int> pick(0, 149);
  for (int i = 0; i < 3000; ++i) {
    const int p = pick(rng);
    Embedding e = centers[p];
    const Embedding noise = random_embedding(rng, 0.05F);
    for (std::size_t d = 0; d < kDims; ++d) e[d] += noise[d];
    rows.push_back({"f" + std::to_string(i), "p" + std::to_string(p), e});
    index.add(rows.back().id, rows.back().person, e);
  }
  std::vector<Embedding> queries;
  for (int q = 0; q < 11; ++q) {
    Embedding e = centers[pick(rng)];
    const Embedding noise = random_embedding(rng, 0.05F);
    for (std::size_t d = 0; d < kDims; ++d) e[d] += noise[d];
    queries.push_back(e);
  }
  const auto check = [&](const char* stage) {
    SCOPED_TRACE(stage);
    ASSERT_EQ(index.size(), rows.size());
    for (IdentityDistance mode : {IdentityDistance::kMin, IdentityDistance::kMean}) {
      const auto batch = index.search_batch(queries, 5, mode);
      ASSERT_EQ(batch.size(), queries.size());
      for (std::size_t q = 0; q < queries.size(); ++q) {
        const auto want = naive_search(rows, queries[q], 5, mode);
        expect_same(index.search(queries[q], 5, mode), want, mode);
        expect_same(batch[q], want, mode);
      }
    }
  };
  check("after adds");

  // Remove single faces, a whole person, and merge two people.
  for (int i = 0; i < 300; i += 3) {
    EXPECT_TRUE(index.remove(rows[i].id));
  }
  std::vector<Row> kept;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!(i < 300 && i % 3 == 0)) kept.push_back(rows[i]);
  }
  rows = kept;
  EXPECT_FALSE(index.remove("f0"));
  const std::size_t p7 = std::count_if(rows.begin(), rows.end(), [](auto& r) { return r.person == "p7"; });
  EXPECT_EQ(index.remove_person("p7"), p7);
  std::erase_if(rows, [](const Row& r) { return r.person == "p7"; });
  const std::size_t p8 = std::count_if(rows.begin(), rows.end(), [](auto& r) { return r.person == "p8"; });
  EXPECT_EQ(index.rename_person("p8", "p9"), p8);
  for (Row& r : rows) {
    if (r.person == "p8") r.person = "p9";
  }
  check("after removals and a merge");
  EXPECT_EQ(index.search(queries[0], 0).size(), index.person_count());
}

INSTANTIATE_TEST_SUITE_P(Configs, IndexVsNaive,
                         ::testing::Values(Config{false, 1, 1 << 30}, Config{true, 1, 1 << 30},
                                           Config{true, 3, 64}, Config{false, 4, 64},
                                           Config{true, 2, 4000}));

TEST(EmbeddingIndex, RejectsBadInput) {
  EmbeddingIndex index;
  Embedding e(kDims, 0.0F);
  index.add("a", "alice", e);
  EXPECT_THROW(index.add("a", "bob", e), Error);
  EXPECT_THROW(index.add("", "bob", e), Error);
  EXPECT_THROW(index.add("b", "", e), Error);
  e[3] = std::nanf("");
  EXPECT_THROW(index.add("b", "bob", e), Error);
  EXPECT_THROW(index.search(e, 1), Error);
  EXPECT_EQ(index.size(), 1U);
}

TEST(EmbeddingIndex, RowsOfAnotherSizeAreRefused) {
  EmbeddingIndex index;
  EXPECT_EQ(index.dimensions(), 0U);
  std::mt19937 rng(5);
  index.add("a", "alice", random_embedding(rng, 0.1F, 640));
  EXPECT_EQ(index.dimensions(), 640U);
  EXPECT_THROW(index.add("b", "bob", random_embedding(rng, 0.1F, 128)), Error);
  EXPECT_THROW(index.add("c", "carol", Embedding{}), Error);
  EXPECT_THROW(index.search(random_embedding(rng, 0.1F, 512), 1), Error);
  const Embedding q = random_embedding(rng, 0.1F, 640);
  const auto top = index.search(q, 1);
  ASSERT_EQ(top.size(), 1U);
  EXPECT_EQ(top[0].person, "alice");
  index.clear();
  EXPECT_EQ(index.dimensions(), 0U);
  index.add("b", "bob", random_embedding(rng, 0.1F, 128));  // a cleared index takes any size
  EXPECT_EQ(index.dimensions(), 128U);
}

TEST(EmbeddingIndex, EmptyAndExactMatch) {
  EmbeddingIndex index;
  Embedding q(kDims, 0.0F);
  EXPECT_TRUE(index.search(q, 3).empty());
  std::mt19937 rng(3);
  const Embedding a = random_embedding(rng);
  const Embedding b = random_embedding(rng);
  index.add("1", "alice", a);
  index.add("2", "bob", b);
  index.add("3", "alice", b);
  const auto top = index.search(a, 1);
  ASSERT_EQ(top.size(), 1U);
  EXPECT_EQ(top[0].person, "alice");
  EXPECT_EQ(top[0].face_id, "1");
  EXPECT_FLOAT_EQ(top[0].distance, 0.0F);
  // Mean: alice's centroid is halfway between a and b; bob sits on b.
  const auto mean = index.search(b, 2, IdentityDistance::kMean);
  ASSERT_EQ(mean.size(), 2U);
  EXPECT_EQ(mean[0].person, "bob");
  EXPECT_NEAR(mean[1].distance, euclidean_distance(a, b) / 2, 1e-5F);
  EXPECT_TRUE(mean[1].face_id.empty());
  // What each match was measured against: the face's row (kMin), the person's mean (kMean).
  EXPECT_EQ(index.matched_embedding(top[0]), a);
  const Embedding alice_mean = index.matched_embedding(mean[1]);
  ASSERT_EQ(alice_mean.size(), kDims);
  EXPECT_NEAR(euclidean_distance(alice_mean, b), mean[1].distance, 1e-5F);
  EXPECT_TRUE(index.matched_embedding({"carol", 0.0F, ""}).empty());
  EXPECT_TRUE(index.matched_embedding({"alice", 0.0F, "9"}).empty());
  EXPECT_EQ(index.person_count(), 2U);
  EXPECT_GE(index.memory_bytes(), 3 * sizeof(Embedding));
  index.clear();
  EXPECT_EQ(index.size(), 0U);
  EXPECT_EQ(index.person_count(), 0U);
}

TEST(EmbeddingIndex, ParseIdentityDistance) {
  EXPECT_EQ(parse_identity_distance("min"), IdentityDistance::kMin);
  EXPECT_EQ(parse_identity_distance("mean"), IdentityDistance::kMean);
  EXPECT_THROW(parse_identity_distance("avg"), Error);
}

TEST(EmbeddingIndexRevision, EveryChangeOfTheRowsAndOnlyThatGivesANewRevision) {
  std::mt19937 rng(7);
  EmbeddingIndex index;
  std::vector<std::uint64_t> seen{index.revision()};
  const auto expect_new = [&](const char* step) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), index.revision()), 0) << step;
    seen.push_back(index.revision());
  };
  index.add("a", "ann", random_embedding(rng));
  expect_new("add");
  index.add("b", "bob", random_embedding(rng));
  expect_new("second add");
  const std::uint64_t before_reads = index.revision();
  (void)index.search(random_embedding(rng), 1);
  EXPECT_FALSE(index.remove("absent"));
  EXPECT_EQ(index.rename_person("nobody", "x"), 0U);
  EXPECT_EQ(index.remove_person("nobody"), 0U);
  EXPECT_EQ(index.revision(), before_reads) << "reads and no-op edits keep the revision";
  ASSERT_EQ(index.rename_person("bob", "rob"), 1U);
  expect_new("rename");
  ASSERT_TRUE(index.remove("a"));
  expect_new("remove");
  ASSERT_EQ(index.remove_person("rob"), 1U);
  expect_new("remove_person");
  index.add("c", "cy", random_embedding(rng));
  expect_new("add after removals");
  index.clear();
  expect_new("clear");
  // Another index built to the same rows still never shares a revision with this one.
  EmbeddingIndex other;
  other.add("c", "cy", random_embedding(rng));
  index = std::move(other);
  expect_new("move-assigned");
}

}  // namespace
}  // namespace siamface
