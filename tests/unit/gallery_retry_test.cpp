// The tools' one retry rule for an unreachable gallery (tools/common/gallery_retry.hpp).
#include <gtest/gtest.h>

#include <chrono>

#include "common/gallery_retry.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const tools::RetryPolicy kQuick{.first_delay = milliseconds(10), .max_delay = milliseconds(40), .budget = milliseconds(300)};

TEST(GalleryRetry, RetriesALostConnectionWithGrowingDelaysUntilItWorks) {
  int calls = 0;
  std::vector<Clock::time_point> at;
  const int result = tools::retry_while_unavailable(
      "test",
      [&] {
        at.push_back(Clock::now());
        if (++calls < 4) throw Error(ErrorCode::kGalleryUnavailable, "lost the connection");
        return 42;
      },
      kQuick);
  EXPECT_EQ(result, 42);
  ASSERT_EQ(calls, 4);
  EXPECT_GE(at[1] - at[0], milliseconds(10));
  EXPECT_GE(at[2] - at[1], milliseconds(20));  // doubled
  EXPECT_GE(at[3] - at[2], milliseconds(40));  // doubled, then capped at max_delay
}

TEST(GalleryRetry, GivesUpAfterTheBudgetWithTheLastError) {
  int calls = 0;
  const auto start = Clock::now();
  try {
    tools::retry_while_unavailable(
        "test", [&]() -> int { throw Error(ErrorCode::kGalleryUnavailable, "down #" + std::to_string(++calls)); }, kQuick);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kGalleryUnavailable);
    EXPECT_EQ(std::string(e.what()), "down #" + std::to_string(calls));
  }
  EXPECT_GE(calls, 5);
  EXPECT_LE(Clock::now() - start, milliseconds(300 + 200));
}

TEST(GalleryRetry, OtherErrorsAndAStopPassThroughAtOnce) {
  int calls = 0;
  EXPECT_THROW(tools::retry_while_unavailable(
                   "test", [&]() -> int { ++calls; throw Error(ErrorCode::kGalleryBusy, "locked"); }, kQuick),
               Error);
  EXPECT_EQ(calls, 1);
  tools::RetryPolicy stopped = kQuick;
  stopped.stop = [] { return true; };
  calls = 0;
  EXPECT_THROW(tools::retry_while_unavailable(
                   "test", [&]() -> int { ++calls; throw Error(ErrorCode::kGalleryUnavailable, "down"); }, stopped),
               Error);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace siamface
