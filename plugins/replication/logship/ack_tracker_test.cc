#include "ack_tracker.h"

#include <future>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn::logship {
namespace {

using ::testing::HasSubstr;

// Polls until `replica` has held a waiter back for at least `at_least`
// (bounded: 5 s).
bool WaitedFor(const AckTracker& t, const std::string& replica,
               std::chrono::milliseconds at_least) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (t.HoldingBackFor(replica) < at_least) {
    if (std::chrono::steady_clock::now() > limit) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(AckTracker, AsyncHoldsAtOnce) {
  AckTracker t(AckRule::kAsync, {"b", "c"}, {});
  EXPECT_TRUE(t.Holds(100));
}

TEST(AckTracker, SyncNeedsEverySyncSetMemberDurable) {
  AckTracker t(AckRule::kSync, {"b", "c"}, {"b", "c"});
  t.Update("b", 10, true);
  EXPECT_FALSE(t.Holds(5));
  t.Update("c", 7, true);
  EXPECT_TRUE(t.Holds(7));
  EXPECT_FALSE(t.Holds(8));
  EXPECT_THAT(t.Missing(8), HasSubstr("c (durable 7)"));
}

TEST(AckTracker, QuorumOfThreeNeedsOneReplica) {
  AckTracker t(AckRule::kQuorum, {"b", "c"}, {});
  EXPECT_FALSE(t.Holds(1));
  t.Update("c", 3, true);
  EXPECT_TRUE(t.Holds(3));
  EXPECT_FALSE(t.Holds(4));
}

TEST(AckTracker, QuorumOfFiveNeedsTwoReplicas) {
  AckTracker t(AckRule::kQuorum, {"b", "c", "d", "e"}, {});
  t.Update("b", 9, true);
  EXPECT_FALSE(t.Holds(9));
  t.Update("e", 9, true);
  EXPECT_TRUE(t.Holds(9));
}

TEST(AckTracker, ReplicaThatNeverSyncsNeverCounts) {
  AckTracker quorum(AckRule::kQuorum, {"b", "c"}, {});
  quorum.Update("b", 100, false);
  EXPECT_FALSE(quorum.Holds(1));
  AckTracker sync(AckRule::kSync, {"b"}, {"b"});
  sync.Update("b", 100, false);
  EXPECT_FALSE(sync.Holds(1));
  EXPECT_THAT(sync.Missing(1), HasSubstr("never syncs"));
}

TEST(AckTracker, WaitEndsWhenTheRuleHolds) {
  AckTracker t(AckRule::kSync, {"b"}, {"b"});
  auto waiter = std::async(std::launch::async, [&] {
    return t.WaitFor(5, std::chrono::milliseconds(0));
  });
  t.Update("b", 4, true);
  t.Update("b", 5, true);
  EXPECT_TRUE(waiter.get().ok());
}

TEST(AckTracker, WaitTimesOutNamingTheMissingReplica) {
  AckTracker t(AckRule::kSync, {"b", "c"}, {"b", "c"});
  t.Update("b", 2, true);
  absl::Status s = t.WaitFor(5, std::chrono::milliseconds(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("b (durable 2)"));
  EXPECT_THAT(s.message(), HasSubstr("c (never connected)"));
}

TEST(AckTracker, CloseCancelsWaiters) {
  AckTracker t(AckRule::kQuorum, {"b", "c"}, {});
  auto waiter = std::async(std::launch::async, [&] {
    return t.WaitFor(5, std::chrono::milliseconds(0));
  });
  t.Close();
  EXPECT_EQ(waiter.get().code(), absl::StatusCode::kCancelled);
}

// A member taken out of the sync set (in etcd first) releases the appends
// that waited only for it; one brought back is waited for at once.
TEST(AckTracker, ChangingTheSyncSetReleasesOrHoldsWaiters) {
  AckTracker t(AckRule::kSync, {"b", "c"}, {"b", "c"});
  t.Update("b", 5, true);
  auto waiter = std::async(std::launch::async, [&] {
    return t.WaitFor(5, std::chrono::milliseconds(0));
  });
  EXPECT_EQ(waiter.wait_for(std::chrono::milliseconds(50)),
            std::future_status::timeout);
  t.SetSyncSet({"b"});
  EXPECT_TRUE(waiter.get().ok());
  EXPECT_EQ(t.sync_set(), (std::vector<std::string>{"b"}));
  t.SetSyncSet({"b", "c"});
  EXPECT_FALSE(t.Holds(5));
  EXPECT_THAT(t.Missing(5), HasSubstr("c (never connected)"));
}

TEST(AckTracker, DownForCountsFromTheEndOfTheLastSession) {
  AckTracker t(AckRule::kSync, {"b"}, {"b"});
  EXPECT_GT(t.DownFor("b"), std::chrono::steady_clock::duration::zero());
  EXPECT_EQ(t.DownFor("unknown"), std::chrono::steady_clock::duration::max());
  t.SetConnected("b", true);
  EXPECT_EQ(t.DownFor("b"), std::chrono::steady_clock::duration::zero());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  t.SetConnected("b", false);
  EXPECT_LT(t.DownFor("b"), std::chrono::milliseconds(5));
  t.SetDownSince("b", std::chrono::steady_clock::now() - std::chrono::hours(1));
  EXPECT_GE(t.DownFor("b"), std::chrono::hours(1));
  EXPECT_FALSE(t.CountingDurable("b").has_value()) << "never reported";
  t.Update("b", 7, false);
  EXPECT_FALSE(t.CountingDurable("b").has_value()) << "never syncs";
  t.Update("b", 7, true);
  EXPECT_EQ(t.CountingDurable("b"), 7u);
}

TEST(AckTracker, HoldingBackForCountsFromTheOldestWaiterItLacks) {
  using std::chrono::milliseconds;
  const auto zero = std::chrono::steady_clock::duration::zero();
  AckTracker t(AckRule::kSync, {"b", "c"}, {"b", "c"});
  t.Update("b", 5, true);
  t.Update("c", 10, true);
  EXPECT_EQ(t.HoldingBackFor("b"), zero) << "no one waits";
  auto waiter = std::async(std::launch::async,
                           [&] { return t.WaitFor(8, milliseconds(0)); });
  ASSERT_TRUE(WaitedFor(t, "b", milliseconds(30)));
  EXPECT_EQ(t.HoldingBackFor("c"), zero) << "c holds position 8";
  EXPECT_GT(t.HoldingBackFor("unknown"), zero) << "it holds nothing";
  // A later waiter for a higher position does not reset the count.
  auto later = std::async(std::launch::async,
                          [&] { return t.WaitFor(9, milliseconds(0)); });
  std::this_thread::sleep_for(milliseconds(5));
  EXPECT_GE(t.HoldingBackFor("b"), milliseconds(30));
  t.Update("b", 8, true);
  EXPECT_TRUE(waiter.get().ok());
  // Only the waiter for 9 is left, and b lacks it: counted from its start.
  EXPECT_GT(t.HoldingBackFor("b"), zero);
  t.Update("c", 10, false);  // c's storage stops syncing: lacks everything
  EXPECT_GT(t.HoldingBackFor("c"), zero);
  t.Update("b", 9, true);
  t.Update("c", 10, true);
  EXPECT_TRUE(later.get().ok());
  EXPECT_EQ(t.HoldingBackFor("b"), zero);
  EXPECT_EQ(t.HoldingBackFor("c"), zero);
}

}  // namespace
}  // namespace cairn::logship
