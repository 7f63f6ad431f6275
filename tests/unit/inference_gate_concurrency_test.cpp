// The server's admission for network work (tools/server/inference_gate.*): places, a bounded
// line served in arrival order, refusals and the Retry-After estimate.
#include "server/inference_gate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace siamface::server {
namespace {

using namespace std::chrono_literals;

// Polls until `ready` holds (the gate's state is only visible through counts()).
template <typename Ready>
void wait_until(Ready ready) {
  for (int i = 0; i < 5000 && !ready(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(ready()) << "the gate never reached the expected state";
}

TEST(InferenceGateTest, FreePlacesAreTakenAtOnceAndGivenBackByTheSlot) {
  InferenceGate gate(2, 0);
  {
    auto first = gate.enter(0ms);
    auto second = gate.enter(0ms);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(gate.counts().running, 2);
    // No line at all (queue 0): a third is refused without waiting.
    EXPECT_FALSE(gate.enter(10s));
    EXPECT_EQ(gate.counts().refused, 1U);
  }
  EXPECT_EQ(gate.counts().running, 0);
  EXPECT_TRUE(gate.enter(0ms));
}

TEST(InferenceGateTest, AFullLineRefusesAtOnceAndAWaiterGetsTheNextFreePlace) {
  InferenceGate gate(1, 1);
  std::optional<InferenceGate::Slot> running = gate.enter(0ms);
  ASSERT_TRUE(running);
  std::atomic<bool> waiter_ran{false};
  std::thread waiter([&] {
    const auto slot = gate.enter(60s);
    waiter_ran = slot.has_value();
  });
  wait_until([&] { return gate.counts().waiting == 1; });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(gate.enter(60s));  // the line (1) is full: refused now, not after 60 s
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  EXPECT_GE(gate.retry_after_seconds(), 1);
  running.reset();
  waiter.join();
  EXPECT_TRUE(waiter_ran);
  EXPECT_EQ(gate.counts().refused, 1U);
  EXPECT_EQ(gate.counts().waiting, 0);
}

TEST(InferenceGateTest, AWaiterGivesUpAfterItsMaximumWaitAndLeavesTheLine) {
  InferenceGate gate(1, 4);
  const auto running = gate.enter(0ms);
  ASSERT_TRUE(running);
  EXPECT_FALSE(gate.enter(20ms));
  EXPECT_EQ(gate.counts().waiting, 0);
  EXPECT_EQ(gate.counts().refused, 1U);
}

TEST(InferenceGateTest, TheLineIsServedInArrivalOrder) {
  InferenceGate gate(1, 8);
  std::optional<InferenceGate::Slot> running = gate.enter(0ms);
  ASSERT_TRUE(running);
  std::mutex order_mutex;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  for (int i = 0; i < 5; ++i) {
    waiters.emplace_back([&, i] {
      const auto slot = gate.enter(60s);
      ASSERT_TRUE(slot);
      const std::lock_guard lock(order_mutex);
      order.push_back(i);
    });
    wait_until([&] { return gate.counts().waiting == i + 1; });  // i is in line before i + 1 comes
  }
  running.reset();
  for (auto& w : waiters) w.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(InferenceGateTest, ManyThreadsNeverRunMoreThanThePlaces) {
  InferenceGate gate(3, 64);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 20; ++k) {
        const auto slot = gate.enter(60s);
        ASSERT_TRUE(slot);
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();
        --inside;
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 32 * 20);
  EXPECT_LE(most.load(), 3);
  EXPECT_EQ(gate.counts().running, 0);
  EXPECT_EQ(gate.counts().refused, 0U);
}

}  // namespace
}  // namespace siamface::server
