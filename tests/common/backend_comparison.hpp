// The two implementations of an embedding network (OpenCV DNN, the reference, and oneDNN)
// compared on the same chips: all at once (oneDNN's plans of 8, 4, 2 and 1) and one at a time.
#pragma once

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <vector>

#include "siamface/types.hpp"

namespace siamface::test {

// Every chip's embedding from `candidate` within `tolerance` (Euclidean) of `reference`'s, and the
// same whether embedded in one call with the others or alone.
template <typename Net>
void expect_same_embeddings(const Net& reference, const Net& candidate, const std::vector<cv::Mat>& chips,
                            float tolerance) {
  const auto expected = reference.embed(chips);
  const auto batched = candidate.embed(chips);
  ASSERT_EQ(expected.size(), chips.size());
  ASSERT_EQ(batched.size(), chips.size());
  for (std::size_t i = 0; i < chips.size(); ++i) {
    EXPECT_LT(euclidean_distance(batched[i], expected[i]), tolerance) << "chip " << i;
    const auto alone = candidate.embed({chips[i]});
    ASSERT_EQ(alone.size(), 1U);
    EXPECT_LT(euclidean_distance(alone[0], batched[i]), 1e-5F) << "chip " << i << " alone";
  }
}

}  // namespace siamface::test

// For a oneDNN implementation the factory could not make (`net` is null): a failure under CI,
// where setup installs oneDNN, else a skip with the reason.
#define SIAMFACE_REQUIRE_ONEDNN(net)                                                              \
  do {                                                                                            \
    if (!(net)) {                                                                                 \
      const char* reason = "this build has no oneDNN (libdnnl-dev; scripts/setup.sh installs it)"; \
      if (::siamface::test::data_required()) FAIL() << reason;                                    \
      GTEST_SKIP() << reason;                                                                     \
    }                                                                                             \
  } while (0)
