#include "commit_tracker.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;

TEST(CommitTracker, InOrderAcknowledgementsExtendThePrefix) {
  CommitTracker tracker;
  EXPECT_EQ(tracker.Acknowledge(1, 3), 3u);
  EXPECT_EQ(tracker.Acknowledge(4, 4), 4u);
  EXPECT_EQ(tracker.acknowledged(), 4u);
  EXPECT_EQ(tracker.out_of_order(), 0u);
}

TEST(CommitTracker, ALaterRangeWaitsForTheGapBeforeIt) {
  CommitTracker tracker(2);
  EXPECT_EQ(tracker.Acknowledge(6, 8), 2u);
  EXPECT_EQ(tracker.Acknowledge(4, 5), 2u);
  EXPECT_EQ(tracker.out_of_order(), 1u);  // 4..8 merged, still beyond 3
  EXPECT_EQ(tracker.Acknowledge(3, 3), 8u);
  EXPECT_EQ(tracker.out_of_order(), 0u);
}

TEST(CommitTracker, OverlappingAndRepeatedRangesCountOnce) {
  CommitTracker tracker;
  EXPECT_EQ(tracker.Acknowledge(3, 6), 0u);
  EXPECT_EQ(tracker.Acknowledge(5, 9), 0u);
  EXPECT_EQ(tracker.Acknowledge(3, 6), 0u);
  EXPECT_EQ(tracker.out_of_order(), 1u);
  EXPECT_EQ(tracker.Acknowledge(1, 4), 9u);
  EXPECT_EQ(tracker.Acknowledge(2, 2), 9u);
}

TEST(CommitTracker, ThePrefixNeverPassesAFailedRange) {
  CommitTracker tracker;
  tracker.Fail(3, 4, absl::UnavailableError("peer gone"));
  EXPECT_EQ(tracker.Acknowledge(5, 6), 0u);
  EXPECT_EQ(tracker.Acknowledge(1, 2), 2u);
  // Even an acknowledgement covering the failed range stops before it.
  EXPECT_EQ(tracker.Acknowledge(3, 10), 2u);
  EXPECT_EQ(tracker.failed_first(), 3u);
  EXPECT_EQ(tracker.failed_last(), 4u);
  EXPECT_THAT(tracker.failure().message(), HasSubstr("peer gone"));
}

TEST(CommitTracker, OnlyTheLowestFailureIsKept) {
  CommitTracker tracker;
  tracker.Fail(5, 5, absl::UnavailableError("first"));
  tracker.Fail(7, 8, absl::UnavailableError("higher"));
  EXPECT_EQ(tracker.failed_first(), 5u);
  EXPECT_EQ(tracker.failure().message(), "first");
  tracker.Fail(2, 2, absl::UnavailableError("lower"));
  EXPECT_EQ(tracker.failed_first(), 2u);
  EXPECT_EQ(tracker.failed_last(), 2u);
  EXPECT_EQ(tracker.failure().message(), "lower");
}

// Appenders' replicate calls fail in any order: a waiter at 4, beyond a
// lower failure at 3 that arrives after one at 5, must return (this hung
// StoreReplicationTest.ConcurrentAppendsDuringRoleFlips when only the
// first failure was kept).
TEST(CommitTracker, ALowerFailureAfterAHigherOneWakesTheWaitersBetween) {
  CommitTracker tracker;
  tracker.Acknowledge(1, 2);
  tracker.Publish(2);
  tracker.Fail(5, 5, absl::UnavailableError("five"));
  tracker.Acknowledge(4, 4);
  std::thread waiter([&] {
    absl::Status s = tracker.Wait(4);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.message(), "three");
  });
  tracker.Fail(3, 3, absl::UnavailableError("three"));
  waiter.join();
  EXPECT_EQ(tracker.Acknowledge(3, 3), 2u);  // never passes the failure
}

TEST(CommitTracker, AFailureOfAcknowledgedPositionsIsIgnored) {
  CommitTracker tracker;
  EXPECT_EQ(tracker.Acknowledge(1, 4), 4u);
  tracker.Fail(2, 3, absl::UnavailableError("overlap"));
  EXPECT_EQ(tracker.failed_first(), 0u);
  tracker.Fail(3, 6, absl::UnavailableError("partly"));
  EXPECT_EQ(tracker.failed_first(), 5u);
  EXPECT_EQ(tracker.failed_last(), 6u);
}

TEST(CommitTracker, WaitReturnsOncePublishedCoversThePosition) {
  CommitTracker tracker;
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    EXPECT_TRUE(tracker.Wait(3).ok());
    done = true;
  });
  tracker.Publish(2);
  EXPECT_FALSE(done.load());  // 2 does not cover 3 (may not have waited yet)
  tracker.Publish(3);
  waiter.join();
  EXPECT_TRUE(done.load());
  tracker.Publish(1);  // lower: kept at 3
  EXPECT_EQ(tracker.published(), 3u);
}

TEST(CommitTracker, WaitPastAFailureReturnsItsErrorAndBeforeItSucceeds) {
  CommitTracker tracker;
  std::thread after([&] {
    absl::Status s = tracker.Wait(7);
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.message(), HasSubstr("no quorum"));
  });
  tracker.Fail(5, 6, absl::UnavailableError("no quorum"));
  after.join();
  std::thread before([&] { EXPECT_TRUE(tracker.Wait(4).ok()); });
  tracker.Acknowledge(1, 4);
  tracker.Publish(4);
  before.join();
  EXPECT_FALSE(tracker.Wait(5).ok());  // at once: 5 is failed
}

// Many threads acknowledge their own ranges in a shuffled order while
// publishing what the prefix reached; every waiter returns and the final
// prefix is the whole log. Run under TSan in the tsan preset.
TEST(CommitTracker, ConcurrentOutOfOrderAcknowledgementsAllComplete) {
  constexpr int kThreads = 8;
  constexpr uint64_t kRangesPerThread = 200;
  constexpr uint64_t kRangeSize = 3;
  const uint64_t total = kThreads * kRangesPerThread;
  // Range r covers r*3+1 .. r*3+3; each thread gets a shuffled share.
  std::vector<uint64_t> ranges(total);
  for (uint64_t r = 0; r < total; ++r) ranges[r] = r;
  std::mt19937 random(14);
  std::shuffle(ranges.begin(), ranges.end(), random);
  CommitTracker tracker;
  std::atomic<uint64_t> violations{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = t; i < total; i += kThreads) {
        const uint64_t first = ranges[i] * kRangeSize + 1;
        const uint64_t last = first + kRangeSize - 1;
        uint64_t prefix = tracker.Acknowledge(first, last);
        if (prefix < last && prefix >= first) violations++;
        tracker.Publish(prefix);
      }
    });
  }
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t r = t; r < total; r += kThreads) {
        if (!tracker.Wait((r + 1) * kRangeSize).ok()) violations++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(violations.load(), 0u);
  EXPECT_EQ(tracker.acknowledged(), total * kRangeSize);
  EXPECT_EQ(tracker.published(), total * kRangeSize);
  EXPECT_EQ(tracker.out_of_order(), 0u);
}

}  // namespace
}  // namespace cairn
