// EtcdCoordinator against a real 3-member etcd cluster on loopback (one per
// test, so a test may kill members). Without etcd installed these tests
// skip, and fail under CI=true.
#include "etcd_coordinator.h"

#include <barrier>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "etcd_test_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn::logship::etcd {
namespace {

using ::testing::AnyOf;
using testing::EtcdTestCluster;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

class EtcdCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CAIRN_REQUIRE_ETCD();
    auto cluster = EtcdTestCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }

  // A coordinator of group "g" over every member, starting with member
  // `first` (so racing coordinators talk to different members).
  std::unique_ptr<EtcdCoordinator> Coordinator(
      size_t first = 0, std::function<void()> on_lost = nullptr,
      std::chrono::milliseconds call_timeout = std::chrono::milliseconds(2000),
      std::string ack = "") {
    std::vector<std::string> endpoints;
    for (size_t i = 0; i < cluster_->endpoints().size(); ++i) {
      endpoints.push_back(
          cluster_->endpoints()[(first + i) % cluster_->endpoints().size()]);
    }
    auto coordinator = EtcdCoordinator::Create(EtcdCoordinatorOptions{
        .gateway = {.endpoints = endpoints, .call_timeout = call_timeout},
        .group = "g",
        .watch_window = std::chrono::milliseconds(500),
        .on_leadership_lost = std::move(on_lost),
        .ack = std::move(ack)});
    EXPECT_TRUE(coordinator.ok()) << coordinator.status();
    return coordinator.ok() ? *std::move(coordinator) : nullptr;
  }

  EtcdGateway Gateway() {
    auto gateway =
        EtcdGateway::Create(GatewayOptions{.endpoints = cluster_->endpoints()});
    EXPECT_TRUE(gateway.ok());
    return *std::move(gateway);
  }

  // Polls `condition` every 50 ms for at most `within` (etcd has no event
  // to wait on from here).
  static bool Eventually(
      const std::function<bool()>& condition,
      std::chrono::milliseconds within = std::chrono::seconds(15)) {
    const Clock::time_point deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return condition();
  }

  std::unique_ptr<EtcdTestCluster> cluster_;
};

// Collects what a watcher delivers, and lets a test wait for an epoch.
class SeenStates {
 public:
  void Add(const GroupState& state) {
    std::lock_guard lock(mu_);
    states_.push_back(state);
    changed_.notify_all();
  }
  bool WaitForEpoch(int64_t epoch,
                    std::chrono::seconds within = std::chrono::seconds(15)) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, within, [&] {
      return !states_.empty() && states_.back().epoch >= epoch;
    });
  }
  std::vector<GroupState> states() {
    std::lock_guard lock(mu_);
    return states_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<GroupState> states_;
};

GroupState State(std::string primary, std::string ack = "quorum") {
  return GroupState{.primary = std::move(primary), .ack = std::move(ack)};
}

TEST_F(EtcdCoordinatorTest, CompareAndSetSucceedsOnlyFromTheCurrentEpoch) {
  auto coordinator = Coordinator();
  auto empty = coordinator->Current();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->epoch, 0);

  auto first = coordinator->CompareAndSet(0, State("n1"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->epoch, 0);

  auto again_from_zero = coordinator->CompareAndSet(0, State("n2"));
  EXPECT_EQ(again_from_zero.status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      again_from_zero.status().message(),
      HasSubstr(absl::StrCat("epoch ", first->epoch, " with primary 'n1'")));

  auto second = coordinator->CompareAndSet(first->epoch, State("n2", "sync"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(second->epoch, first->epoch);

  auto stale = coordinator->CompareAndSet(first->epoch, State("n3"));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);

  auto now = coordinator->Current();
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(*now, *second);
}

TEST_F(EtcdCoordinatorTest,
       RacingCompareAndSetsFromOneEpochHaveExactlyOneWinner) {
  auto a = Coordinator(0);
  auto b = Coordinator(1);
  auto start = a->CompareAndSet(0, State("n0"));
  ASSERT_TRUE(start.ok()) << start.status();
  int64_t epoch = start->epoch;
  for (int round = 0; round < 10; ++round) {
    std::barrier together(2);
    absl::StatusOr<GroupState> result_a, result_b;
    std::thread ta([&] {
      together.arrive_and_wait();
      result_a = a->CompareAndSet(epoch, State("a"));
    });
    std::thread tb([&] {
      together.arrive_and_wait();
      result_b = b->CompareAndSet(epoch, State("b"));
    });
    ta.join();
    tb.join();
    ASSERT_NE(result_a.ok(), result_b.ok())
        << "round " << round << ": " << result_a.status() << " / "
        << result_b.status();
    const absl::StatusOr<GroupState>& winner =
        result_a.ok() ? result_a : result_b;
    const absl::StatusOr<GroupState>& loser =
        result_a.ok() ? result_b : result_a;
    EXPECT_EQ(loser.status().code(), absl::StatusCode::kFailedPrecondition);
    auto now = a->Current();
    ASSERT_TRUE(now.ok()) << now.status();
    EXPECT_EQ(*now, *winner);
    epoch = winner->epoch;
  }
}

TEST_F(EtcdCoordinatorTest, RacingCampaignersExactlyOneWins) {
  for (int round = 0; round < 5; ++round) {
    auto a = Coordinator(0);
    auto b = Coordinator(2);
    std::barrier together(2);
    absl::StatusOr<GroupState> result_a, result_b;
    std::thread ta([&] {
      together.arrive_and_wait();
      result_a = a->Campaign("a", std::chrono::seconds(5));
    });
    std::thread tb([&] {
      together.arrive_and_wait();
      result_b = b->Campaign("b", std::chrono::seconds(5));
    });
    ta.join();
    tb.join();
    ASSERT_NE(result_a.ok(), result_b.ok())
        << "round " << round << ": " << result_a.status() << " / "
        << result_b.status();
    EtcdCoordinator& winner = result_a.ok() ? *a : *b;
    const std::string winner_id = result_a.ok() ? "a" : "b";
    const absl::Status& lost =
        result_a.ok() ? result_b.status() : result_a.status();
    EXPECT_EQ(lost.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(lost.message(),
                HasSubstr(absl::StrCat("held by '", winner_id, "'")));
    auto now = winner.Current();
    ASSERT_TRUE(now.ok()) << now.status();
    EXPECT_EQ(now->primary, winner_id);
    EXPECT_TRUE(winner.IsLeader());
    ASSERT_TRUE(winner.Resign().ok());
    auto leader = Gateway().Range(winner.leader_key());
    ASSERT_TRUE(leader.ok()) << leader.status();
    EXPECT_TRUE(leader->kvs.empty()) << "Resign left the leader key";
  }
}

TEST_F(EtcdCoordinatorTest,
       LeaseThatIsNoLongerRenewedExpiresAndTheLeaderKeyGoes) {
  std::atomic<bool> lost{false};
  auto a = Coordinator(0, [&] { lost = true; });
  auto won = a->Campaign("a", std::chrono::seconds(2));
  ASSERT_TRUE(won.ok()) << won.status();
  // Renewed past its TTL (a renewal every ~0.67 s), the key stays.
  ASSERT_TRUE(Eventually([&] { return a->renewals() >= 4; })) << a->renewals();
  EtcdGateway gateway = Gateway();
  auto held = gateway.Range(a->leader_key());
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->kvs.size(), 1u);
  EXPECT_EQ(held->kvs[0].value, "a");
  EXPECT_FALSE(lost);

  // Gone without Resign(): nothing renews the lease any more.
  a.reset();
  EXPECT_TRUE(Eventually([&] {
    auto leader = gateway.Range("/cairn/g/leader");
    return leader.ok() && leader->kvs.empty();
  })) << "the leader key outlived its lease";

  auto b = Coordinator(1);
  auto next = b->Campaign("b", std::chrono::seconds(2));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(next->epoch, won->epoch);
  EXPECT_EQ(next->primary, "b");
}

// The group's ack rule is written by the first campaign and binds every
// later one: a node under another rule may not lead.
TEST_F(EtcdCoordinatorTest, CampaignWritesTheAckRuleAndRefusesAnother) {
  const auto two_seconds = std::chrono::milliseconds(2000);
  auto quorum = Coordinator(0, nullptr, two_seconds, "quorum");
  auto first = quorum->Campaign("a", std::chrono::seconds(2));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->ack, "quorum");
  auto stored = quorum->Current();
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->ack, "quorum");
  ASSERT_TRUE(quorum->Resign().ok());

  auto sync = Coordinator(1, nullptr, two_seconds, "sync");
  auto refused = sync->Campaign("b", std::chrono::seconds(2));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("group 'g' acknowledges by ack = quorum "
                                     "(etcd state at epoch ",
                                     first->epoch,
                                     ") but node 'b' has ack = "
                                     "sync")));
  auto leader = sync->LeaderNode();
  ASSERT_TRUE(leader.ok()) << leader.status();
  EXPECT_EQ(*leader, "") << "a refused campaign took the leader key";

  auto again = Coordinator(2, nullptr, two_seconds, "quorum");
  auto second = again->Campaign("c", std::chrono::seconds(2));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->ack, "quorum");
}

TEST_F(EtcdCoordinatorTest, LeaderNodeNamesTheHolderUntilItResigns) {
  auto a = Coordinator(0);
  auto b = Coordinator(1);
  auto none = b->LeaderNode();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, "");
  ASSERT_TRUE(a->Campaign("a", std::chrono::seconds(5)).ok());
  auto held = b->LeaderNode();
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(*held, "a");
  ASSERT_TRUE(a->Resign().ok());
  auto gone = b->LeaderNode();
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(*gone, "");
}

TEST_F(EtcdCoordinatorTest, RevokedLeaseIsReportedAsLostLeadership) {
  std::atomic<bool> lost{false};
  auto a = Coordinator(0, [&] { lost = true; });
  ASSERT_TRUE(a->Campaign("a", std::chrono::seconds(3)).ok());
  auto leader = Gateway().Range(a->leader_key());
  ASSERT_TRUE(leader.ok() && leader->kvs.size() == 1);
  ASSERT_TRUE(Gateway().LeaseRevoke(leader->kvs[0].lease).ok());
  EXPECT_TRUE(Eventually([&] { return lost.load(); }));
  EXPECT_FALSE(a->IsLeader());
}

TEST_F(EtcdCoordinatorTest, WatchDeliversEachNewEpochInOrder) {
  auto writer = Coordinator(0);
  auto watcher = Coordinator(1);
  SeenStates seen;
  ASSERT_TRUE(watcher->Watch([&](const GroupState& s) { seen.Add(s); }).ok());
  EXPECT_EQ(watcher->Watch([](const GroupState&) {}).code(),
            absl::StatusCode::kFailedPrecondition);
  int64_t epoch = 0;
  for (const char* primary : {"n1", "n2", "n3"}) {
    auto written = writer->CompareAndSet(epoch, State(primary));
    ASSERT_TRUE(written.ok()) << written.status();
    epoch = written->epoch;
    ASSERT_TRUE(seen.WaitForEpoch(epoch))
        << "epoch " << epoch << " not delivered";
    EXPECT_EQ(seen.states().back(), *written);
  }
  watcher->StopWatch();
  std::vector<GroupState> states = seen.states();
  for (size_t i = 1; i < states.size(); ++i)
    EXPECT_GT(states[i].epoch, states[i - 1].epoch);
}

TEST_F(EtcdCoordinatorTest, MembersRegisterWithLeases) {
  auto n1 = Coordinator(0);
  auto n2 = Coordinator(1);
  ASSERT_TRUE(
      n1->Register("n1", {"127.0.0.1:7001", 10, 3}, std::chrono::seconds(5))
          .ok());
  ASSERT_TRUE(
      n2->Register("n2", {"127.0.0.1:7002", 8, 3}, std::chrono::seconds(5))
          .ok());
  ASSERT_TRUE(
      n1->Register("n1", {"127.0.0.1:7001", 20, 4}, std::chrono::seconds(5))
          .ok());
  EXPECT_EQ(n1->Register("other", {}, std::chrono::seconds(5)).code(),
            absl::StatusCode::kFailedPrecondition);
  auto members = n2->Members();
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].id, "n1");
  EXPECT_EQ((*members)[0].info.position, 20u);
  EXPECT_EQ((*members)[0].info.epoch, 4);
  EXPECT_EQ((*members)[1].info.address, "127.0.0.1:7002");

  ASSERT_TRUE(n2->Deregister().ok());
  members = n1->Members();
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ((*members)[0].id, "n1");
}

TEST_F(EtcdCoordinatorTest, CampaignRefusesANodeOutsideTheSyncSet) {
  auto coordinator = Coordinator();
  // No sync key yet: the site's set decides, and the first campaign
  // creates the key with it.
  SyncCampaign sync{.initial = {"n1", "n2"}};
  auto refused = coordinator->Campaign("n3", std::chrono::seconds(2), &sync);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("not in the sync set [n1, n2] (the site's sync-set"));
  auto first = coordinator->Campaign("n1", std::chrono::seconds(2), &sync);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(sync.result.members, (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(sync.result.revision, first->epoch) << "one transaction";
  auto stored = coordinator->CurrentSyncSet();
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, sync.result);

  // The primary takes n2 out; n2 may no longer lead, whatever its site says.
  auto shrunk =
      coordinator->SetSyncSet("n1", first->epoch, sync.result.revision, {"n1"});
  ASSERT_TRUE(shrunk.ok()) << shrunk.status();
  ASSERT_TRUE(coordinator->Resign().ok());
  auto other = Coordinator();
  refused = other->Campaign("n2", std::chrono::seconds(2), &sync);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("not in the sync set [n1] (etcd revision"));
  auto again = other->Campaign("n1", std::chrono::seconds(2), &sync);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(sync.result, *shrunk);
}

// The race the sync key exists for: a primary taking a member out while
// that member campaigns. Whichever transaction etcd orders first wins and
// the other fails, so a member left out never leads, and a primary never
// acknowledges without a member that has since led.
TEST_F(EtcdCoordinatorTest, SyncSetWriteAndCampaignCannotBothSucceed) {
  auto primary = Coordinator();
  SyncCampaign sync{.initial = {"n1", "n2"}};
  auto led = primary->Campaign("n1", std::chrono::seconds(2), &sync);
  ASSERT_TRUE(led.ok()) << led.status();
  const SyncSet before = sync.result;

  // The primary's write loses to a newer epoch ...
  ASSERT_TRUE(primary->Resign().ok());
  auto candidate = Coordinator();
  SyncCampaign theirs{.initial = {"n1", "n2"}};
  auto won = candidate->Campaign("n2", std::chrono::seconds(2), &theirs);
  ASSERT_TRUE(won.ok()) << won.status();
  auto late = primary->SetSyncSet("n1", led->epoch, before.revision, {"n1"});
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.status().message(),
              HasSubstr(absl::StrCat("the group is at epoch ", won->epoch)));

  // ... and a campaign loses to a sync-set write that came first: n2 read
  // the set holding it, then the primary (n2 itself now) took n1 out.
  ASSERT_TRUE(candidate->Resign().ok());
  auto removed =
      candidate->SetSyncSet("n2", won->epoch, theirs.result.revision, {"n2"});
  ASSERT_TRUE(removed.ok()) << removed.status();
  auto refused = primary->Campaign("n1", std::chrono::seconds(2), &sync);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  // The refused campaign gave the leader key back.
  auto leader = primary->LeaderNode();
  ASSERT_TRUE(leader.ok()) << leader.status();
  EXPECT_EQ(*leader, "");
  auto state = primary->Current();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->primary, "n2");
  EXPECT_EQ(state->epoch, won->epoch);
}

TEST_F(EtcdCoordinatorTest, MalformedSyncSetIsAnErrorNamingTheKey) {
  auto coordinator = Coordinator();
  ASSERT_TRUE(
      Gateway().Put(coordinator->sync_key(), R"({"members": "n1"})").ok());
  auto set = coordinator->CurrentSyncSet();
  EXPECT_EQ(set.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(set.status().message(), HasSubstr("/cairn/g/sync"));
  EXPECT_THAT(set.status().message(), HasSubstr("'members'"));
  SyncCampaign sync{.initial = {"n1"}};
  EXPECT_EQ(coordinator->Campaign("n1", std::chrono::seconds(2), &sync)
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(EtcdCoordinatorTest, MalformedStateIsAnErrorNamingTheKey) {
  auto coordinator = Coordinator();
  ASSERT_TRUE(Gateway().Put(coordinator->state_key(), "{\"primary\": 5}").ok());
  auto state = coordinator->Current();
  EXPECT_EQ(state.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(state.status().message(), HasSubstr("/cairn/g/state"));
  EXPECT_THAT(state.status().message(), HasSubstr("'primary'"));
}

TEST_F(EtcdCoordinatorTest, KillOfOneMemberKeepsEverythingWorking) {
  auto a = Coordinator(0);  // tries member 0 first: the one killed
  auto b = Coordinator(0);
  SeenStates seen;
  ASSERT_TRUE(b->Watch([&](const GroupState& s) { seen.Add(s); }).ok());
  auto won = a->Campaign("a", std::chrono::seconds(2));
  ASSERT_TRUE(won.ok()) << won.status();
  ASSERT_TRUE(a->Register("a", {"127.0.0.1:7001", 1, won->epoch},
                          std::chrono::seconds(2))
                  .ok());
  ASSERT_TRUE(seen.WaitForEpoch(won->epoch));

  cluster_->Kill(0);

  // Writes, reads, watch, lease renewal and the leader key all still work.
  auto next = a->CompareAndSet(won->epoch, State("a", "sync"));
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(seen.WaitForEpoch(next->epoch)) << "watch stopped after the kill";
  EXPECT_EQ(seen.states().back(), *next);
  const uint64_t renewed = a->renewals();
  EXPECT_TRUE(Eventually([&] { return a->renewals() >= renewed + 4; }));
  EXPECT_TRUE(a->IsLeader());
  auto refused = b->Campaign("b", std::chrono::seconds(2));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  auto members = b->Members();
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_EQ(members->size(), 1u);
}

TEST_F(EtcdCoordinatorTest,
       WithTwoOfThreeMembersKilledWritesFailClearlyInsteadOfHanging) {
  auto a = Coordinator(0, nullptr, std::chrono::milliseconds(1000));
  auto written = a->CompareAndSet(0, State("a"));
  ASSERT_TRUE(written.ok()) << written.status();

  cluster_->Kill(1);
  cluster_->Kill(2);

  const Clock::time_point begin = Clock::now();
  auto lost = a->CompareAndSet(written->epoch, State("b"));
  const auto took = Clock::now() - begin;
  ASSERT_FALSE(lost.ok());
  RecordProperty("write_error", std::string(lost.status().message()));
  EXPECT_THAT(lost.status().code(), AnyOf(absl::StatusCode::kUnavailable,
                                          absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(lost.status().message(), HasSubstr(cluster_->endpoints()[0]));
  // Bounded by the call timeout per endpoint (3 x 1 s), not etcd's own
  // request timeout or forever; generous for a loaded machine.
  EXPECT_LT(took, std::chrono::seconds(10));

  auto read = a->Current();  // linearizable: needs a quorum too
  ASSERT_FALSE(read.ok());
  RecordProperty("read_error", std::string(read.status().message()));
  EXPECT_THAT(read.status().message(), HasSubstr("no endpoint answered"));
}

}  // namespace
}  // namespace cairn::logship::etcd
