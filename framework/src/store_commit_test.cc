// The Store's side of the committed watermark (issue #14): with a
// CAIRN_CAP_MULTI_NODE replication plugin storage is opened with "commit" =
// "host" and committed advances only over the contiguous prefix of
// positions replication acknowledged. The replication plugin is the
// in-process test-multi-node fixture (its ReplicationGate decides when and
// how each replicate() returns); storage is the test-host-commit fixture,
// and, once it declares CAIRN_CAP_HOST_COMMIT, the memory plugin too.
#include <cairn/builtins.h>
#include <cairn/status.h>
#include <cairn/store.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_replication.h"

extern "C" cairn_status cairn_test_cipher_entry(const cairn_host_offer*,
                                                const cairn_plugin_descriptor**,
                                                cairn_error*);
extern "C" cairn_status cairn_test_commit_storage_entry(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);
extern "C" cairn_status cairn_test_plain_commit_storage_entry(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);

namespace cairn {
namespace {

using ::testing::HasSubstr;
using testing::ReplicationGate;

EventData Event(std::string data) {
  EventData e;
  e.type = "T";
  e.data = std::move(data);
  return e;
}

class StoreCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok());
    ASSERT_TRUE(registry_.RegisterBuiltin(&cairn_test_cipher_entry).ok());
    ASSERT_TRUE(
        registry_.RegisterBuiltin(&cairn_test_commit_storage_entry).ok());
    ASSERT_TRUE(
        registry_.RegisterBuiltin(&cairn_test_plain_commit_storage_entry).ok());
    ASSERT_TRUE(registry_.RegisterBuiltin(&cairn_test_replication_entry).ok());
    config_.storage.plugin = "test-host-commit";
    config_.replication.plugin = "test-multi-node";
  }

  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(config_, registry_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  static double Stat(Store& store, const std::string& key) {
    absl::StatusOr<std::map<std::string, double>> stats = store.Stats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() && stats->count(key) != 0 ? stats->at(key) : -1;
  }

  // Waits (at most 60 s) until a Store stat reaches `value`.
  static bool WaitForStat(Store& store, const std::string& key, double value) {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up) {
      if (Stat(store, key) == value) return true;
      std::this_thread::yield();
    }
    return false;
  }

  static LogState State(Store& store) {
    absl::StatusOr<LogState> state = store.GetLogState();
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : LogState{};
  }

  static size_t CountAll(Store& store) {
    size_t count = 0;
    EXPECT_TRUE(store
                    .ReadAll(0, kMaxPosition,
                             [&](const RecordedEvent&) {
                               ++count;
                               return true;
                             })
                    .ok());
    return count;
  }

  static std::future<absl::StatusOr<AppendResult>> AppendLater(
      Store& store, std::string stream) {
    return std::async(std::launch::async, [&store, stream] {
      return store.Append(stream, ExpectedRevision::Any(), {Event("x")});
    });
  }

  // Starts one append per stream, in order, each once the previous one is
  // held in replicate(): append i gets position i + 1.
  static std::vector<std::future<absl::StatusOr<AppendResult>>> AppendHeld(
      Store& store, ReplicationGate& gate,
      const std::vector<std::string>& streams) {
    std::vector<std::future<absl::StatusOr<AppendResult>>> appends;
    for (const std::string& stream : streams) {
      appends.push_back(AppendLater(store, stream));
      EXPECT_TRUE(gate.WaitForHeld(appends.size()));
    }
    return appends;
  }

  PluginRegistry registry_;
  SiteConfig config_;
};

// The storage plugins the acknowledgement tests run over: the fixture
// always, memory once it implements host commit (helper logmem's work).
class StoreCommitStorageTest
    : public StoreCommitTest,
      public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    StoreCommitTest::SetUp();
    config_.storage.plugin = GetParam();
    absl::StatusOr<PluginPtr> plugin =
        registry_.Find(CAIRN_KIND_STORAGE, GetParam());
    ASSERT_TRUE(plugin.ok()) << plugin.status();
    if (!(*plugin)->Has(CAIRN_CAP_HOST_COMMIT)) {
      GTEST_SKIP() << GetParam()
                   << " does not declare CAIRN_CAP_HOST_COMMIT yet";
    }
  }
};

INSTANTIATE_TEST_SUITE_P(Storage, StoreCommitStorageTest,
                         ::testing::Values("test-host-commit", "memory"));

TEST_F(StoreCommitTest, AMultiNodeReplicationOpensStorageWithCommitHost) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->host_commit());
  EXPECT_EQ(Stat(*store, "storage.commit_host"), 1);
}

TEST_F(StoreCommitTest, NoneReplicationPassesDurableAndNeverCallsSetCommitted) {
  config_.replication.plugin = "none";
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->host_commit());
  EXPECT_EQ(Stat(*store, "storage.commit_host"), 0);
  ASSERT_TRUE(
      store->Append("s", ExpectedRevision::NoStream(), {Event("1"), Event("2")})
          .ok());
  ASSERT_TRUE(store->DeleteTo("s", 1).ok());
  ASSERT_TRUE(store->SaveSnapshot(Snapshot{"s", 2, 5, "state"}).ok());
  EXPECT_EQ(CountAll(*store), 1u);
  LogState state = State(*store);
  EXPECT_EQ(state.written, 4u);
  EXPECT_EQ(state.committed, 4u);
  EXPECT_EQ(Stat(*store, "storage.set_committed_calls"), 0);
  EXPECT_EQ(Stat(*store, "store.acknowledged"), -1);  // no Store commit stats
}

TEST_F(StoreCommitTest,
       MultiNodeOverAStorageWithoutHostCommitIsRefusedNamingBoth) {
  config_.storage.plugin = "test-plain-commit";
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(config_, registry_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(CodeOf(store.status()), CAIRN_E_FAILED_PRECONDITION);
  EXPECT_THAT(store.status().message(),
              HasSubstr("replication plugin 'test-multi-node' declares "
                        "CAIRN_CAP_MULTI_NODE"));
  EXPECT_THAT(store.status().message(),
              HasSubstr("storage plugin 'test-plain-commit' does not declare "
                        "CAIRN_CAP_HOST_COMMIT"));
}

TEST_F(StoreCommitTest, ASiteCommitDurableUnderAMultiNodeReplicationIsRefused) {
  config_.storage.options.emplace_back("commit", "durable");
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(config_, registry_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(
      store.status().message(),
      HasSubstr(
          "[storage] commit = durable: replication plugin 'test-multi-node' "
          "declares CAIRN_CAP_MULTI_NODE, which needs commit = host"));
}

TEST_P(StoreCommitStorageTest,
       ReadersNeverSeeAnAppendBeforeItsReplicateReturned) {
  ReplicationGate gate;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto append = AppendLater(*store, "s");
  ASSERT_TRUE(gate.WaitForHeld(1));
  EXPECT_EQ(State(*store).written, 1u);
  EXPECT_EQ(State(*store).committed, 0u);
  EXPECT_EQ(*store->HeadPosition(), 0u);
  EXPECT_EQ(*store->HeadRevision("s"), 0u);
  EXPECT_EQ(CountAll(*store), 0u);
  EXPECT_TRUE(store->ReadStream("s")->empty());

  ASSERT_TRUE(gate.Release(1));
  absl::StatusOr<AppendResult> result = append.get();
  ASSERT_TRUE(result.ok()) << result.status();
  // Append returned: its event is committed, so this thread reads it.
  EXPECT_EQ(*store->HeadPosition(), 1u);
  EXPECT_EQ(store->ReadStream("s")->size(), 1u);
}

TEST_P(StoreCommitStorageTest,
       AnAcknowledgementOutOfOrderWaitsForTheEarlierRange) {
  ReplicationGate gate;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto appends = AppendHeld(*store, gate, {"a", "b"});
  auto& first = appends[0];
  auto& second = appends[1];

  ASSERT_TRUE(gate.Release(2));
  // The Store has recorded position 2's acknowledgement beyond the prefix.
  ASSERT_TRUE(WaitForStat(*store, "store.acks_out_of_order", 1));
  EXPECT_EQ(State(*store).committed, 0u);
  EXPECT_EQ(CountAll(*store), 0u);
  EXPECT_EQ(second.wait_for(std::chrono::seconds(0)),
            std::future_status::timeout);

  ASSERT_TRUE(gate.Release(1));
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(second.get().ok());
  EXPECT_EQ(State(*store).committed, 2u);
  EXPECT_EQ(CountAll(*store), 2u);
}

// 8 appenders in lockstep rounds; each round the held calls are released
// in a shuffled order. All complete; after every release committed is at
// most the contiguous prefix of what the gate acknowledged.
TEST_P(StoreCommitStorageTest,
       ConcurrentAppendersWithShuffledAcksAllCompleteInOrder) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  ReplicationGate gate;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> appenders;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        absl::StatusOr<AppendResult> r =
            store->Append(absl::StrCat("s-", t), ExpectedRevision::Any(),
                          {Event("a"), Event("b")});
        if (!r.ok()) failures++;
      }
    });
  }
  std::mt19937 random(14);
  int ahead_of_prefix = 0;
  double released = 0;
  bool held_all = true;
  for (int round = 0; round < kRounds && held_all; ++round) {
    held_all = gate.WaitForHeld(kThreads);
    std::vector<ReplicationGate::Range> held = gate.Held();
    std::shuffle(held.begin(), held.end(), random);
    for (const ReplicationGate::Range& range : held) {
      gate.Release(range.first);
      // Once the Store has handled this answer, committed is at most the
      // prefix of what was acknowledged.
      released++;
      EXPECT_TRUE(WaitForStat(*store, "store.acknowledgements", released));
      if (State(*store).committed > gate.AcknowledgedPrefix())
        ahead_of_prefix++;
    }
  }
  if (!held_all) gate.set_auto_ack(true);
  for (auto& held : gate.Held()) gate.Release(held.first);
  for (std::thread& t : appenders) t.join();
  ASSERT_TRUE(held_all) << "the appenders stopped calling replicate";
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ahead_of_prefix, 0);
  LogState state = State(*store);
  EXPECT_EQ(state.written, 2u * kThreads * kRounds);
  EXPECT_EQ(state.committed, state.written);
  EXPECT_EQ(CountAll(*store), 2u * kThreads * kRounds);
}

TEST_P(StoreCommitStorageTest,
       AReplicateFailureFailsItsAppendAndCommittedStopsBeforeIt) {
  ReplicationGate gate;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto appends = AppendHeld(*store, gate, {"a", "b", "c"});
  auto& one = appends[0];
  auto& two = appends[1];
  auto& three = appends[2];

  ASSERT_TRUE(gate.Release(2, "peer node-b unreachable"));
  absl::StatusOr<AppendResult> failed = two.get();
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(
      failed.status().message(),
      HasSubstr("positions 2..2 (append to stream 'b') are stored locally but "
                "replication 'test-multi-node' did not acknowledge them: peer "
                "node-b unreachable"));
  // Acknowledged, but past the failed range: never committed here.
  ASSERT_TRUE(gate.Release(3));
  absl::StatusOr<AppendResult> after = three.get();
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(CodeOf(after.status()), CAIRN_E_FAILED_PRECONDITION);
  EXPECT_THAT(after.status().message(),
              HasSubstr("positions 3..3 (append to stream 'c') are "
                        "stored and acknowledged but cannot be "
                        "committed"));
  EXPECT_THAT(after.status().message(),
              HasSubstr("committed cannot pass position 1"));
  // Before the failed range: committed as usual.
  ASSERT_TRUE(gate.Release(1));
  EXPECT_TRUE(one.get().ok());
  EXPECT_EQ(State(*store).committed, 1u);

  // Later writes fail at once and write nothing; reads go on.
  absl::StatusOr<AppendResult> later =
      store->Append("d", ExpectedRevision::Any(), {Event("x")});
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(CodeOf(later.status()), CAIRN_E_FAILED_PRECONDITION);
  EXPECT_THAT(
      later.status().message(),
      HasSubstr(
          "append to stream 'd' refused, nothing written: positions 2..2"));
  EXPECT_THAT(store->DeleteTo("a", 1).message(),
              HasSubstr("refused, nothing written"));
  EXPECT_EQ(State(*store).written, 3u);
  EXPECT_EQ(CountAll(*store), 1u);
  EXPECT_EQ(Stat(*store, "store.commit_failed_at"), 2);
}

TEST_P(StoreCommitStorageTest, ControlWritesAreVisibleOnlyOnceReplicated) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->Append("s", ExpectedRevision::NoStream(), {Event("1"), Event("2")})
          .ok());
  gate.set_auto_ack(false);
  auto deleted =
      std::async(std::launch::async, [&] { return store->DeleteTo("s", 1); });
  ASSERT_TRUE(gate.WaitForHeld(1));
  EXPECT_EQ(gate.Held().front().first, 3u);  // its own record, after the events
  EXPECT_EQ(store->ReadStream("s")->size(), 2u);
  ASSERT_TRUE(gate.Release(3));
  EXPECT_TRUE(deleted.get().ok());
  EXPECT_EQ(store->ReadStream("s")->size(), 1u);

  gate.set_auto_ack(true);
  ASSERT_TRUE(store->SaveSnapshot(Snapshot{"s", 2, 7, "state"}).ok());
  absl::StatusOr<std::optional<Snapshot>> loaded = store->LoadSnapshot("s");
  ASSERT_TRUE(loaded.ok() && loaded->has_value()) << loaded.status();
  EXPECT_EQ((*loaded)->data, "state");
  LogState state = State(*store);
  EXPECT_EQ(state.written, 4u);
  EXPECT_EQ(state.committed, 4u);
}

// With a cipher, the first seal under a key records it in the seal registry:
// a snapshot record inside the append that no append range reports. The
// Store replicates and commits it too, so the append does not wait forever.
TEST_P(StoreCommitStorageTest, TheSealRegistryRecordOfAFirstSealIsCommitted) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  config_.cipher.plugin = "test-cipher";
  auto store = Open();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<AppendResult> r =
      store->Append("s", ExpectedRevision::Any(), {Event("x")});
  ASSERT_TRUE(r.ok()) << r.status();
  LogState state = State(*store);
  EXPECT_EQ(state.written, 2u);
  EXPECT_EQ(state.committed, 2u);
  EXPECT_EQ(store->ReadStream("s")->front().data, "x");
}

TEST_F(StoreCommitTest, OpenOffersTheUncommittedTailToReplicationAgain) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  config_.storage.options.emplace_back("seed-uncommitted", "3");
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(gate.calls().size(), 1u);
  EXPECT_EQ(gate.calls()[0].first, 1u);
  EXPECT_EQ(gate.calls()[0].last, 3u);
  EXPECT_EQ(State(*store).committed, 3u);
  EXPECT_EQ(*store->HeadRevision("seeded"), 3u);  // committed: visible
  absl::StatusOr<AppendResult> r =
      store->Append("s", ExpectedRevision::Any(), {Event("x")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_position, 4u);
  EXPECT_EQ(State(*store).committed, 4u);
}

// logship's shippers start inside its open; a restarted primary whose
// first replica has seen a newer epoch is deposed (pause_writes,
// role_changed, resume_writes on the shipper's thread) before the Store's
// open has finished. The Store must take that role change (it crashed on
// its commit tracker, not made yet) and open as a replica.
TEST_F(StoreCommitTest, ARoleChangeDuringReplicationsOpenIsTaken) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  gate.set_depose_at_open(2, "other");
  config_.storage.options.emplace_back("seed-uncommitted", "2");
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(gate.pauses(), 1);
  EXPECT_EQ(store->Leader().role, CAIRN_ROLE_REPLICA);
  EXPECT_EQ(State(*store).committed, 0u);  // the tail is not offered
  absl::StatusOr<AppendResult> r =
      store->Append("s", ExpectedRevision::Any(), {Event("x")});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsNotLeader(r.status())) << r.status();
  EXPECT_EQ(State(*store).written, 2u);
}

TEST_F(StoreCommitTest,
       ATailStillUnacknowledgedAtOpenLeavesReadsAndRefusesWrites) {
  ReplicationGate gate;
  config_.storage.options.emplace_back("seed-uncommitted", "2");
  auto opening = std::async(std::launch::async,
                            [&] { return Store::Open(config_, registry_); });
  ASSERT_TRUE(gate.WaitForHeld(1));
  ASSERT_TRUE(gate.Release(1, "no quorum"));
  absl::StatusOr<std::unique_ptr<Store>> store = opening.get();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(State(**store).committed, 0u);
  EXPECT_EQ(*(*store)->HeadPosition(), 0u);
  absl::StatusOr<AppendResult> r =
      (*store)->Append("s", ExpectedRevision::Any(), {Event("x")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(
      r.status().message(),
      HasSubstr(
          "refused, nothing written: positions 1..2 (written before this open) "
          "are stored locally but replication 'test-multi-node' did not "
          "acknowledge them: no quorum"));
  EXPECT_EQ(State(**store).written, 2u);
}

TEST_F(StoreCommitTest,
       BeginEpochCommitsTheEpochRecordAndEpochEndFindsTheBoundary) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->Append("s", ExpectedRevision::Any(), {Event("1"), Event("2")})
          .ok());
  absl::StatusOr<uint64_t> position = store->BeginEpoch(1, "node-a");
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, 3u);
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("3")}).ok());
  EXPECT_EQ(*store->EpochEnd(0), 2u);
  EXPECT_EQ(*store->EpochEnd(1), 4u);
  LogState state = State(*store);
  EXPECT_EQ(state.epoch, 1u);
  EXPECT_EQ(state.committed, 4u);
  EXPECT_FALSE(store->BeginEpoch(1, "node-a").ok());
}

TEST_F(StoreCommitTest, EpochsOnAStorageWithoutThemAreUnsupported) {
  config_.replication.plugin = "none";
  config_.storage.plugin = "memory";
  auto store = Open();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<uint64_t> r = store->EpochEnd(1);
  if (store->storage_plugin()->Has(CAIRN_CAP_EPOCHS))
    GTEST_SKIP() << "memory has epochs now";
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(CodeOf(r.status()), CAIRN_E_UNSUPPORTED);
  EXPECT_THAT(r.status().message(),
              HasSubstr("storage plugin 'memory' does not support epochs"));
}

// Store::TruncateAfter: appends are paused (write order) while storage
// cuts; an append still in replicate() for a cut position fails (its late
// acknowledgement is ignored, so committed never covers what replaced it),
// and a store stalled by a failed replicate takes writes again.
TEST_F(StoreCommitTest,
       TruncateAfterCutsTheUncommittedTailAndResetsTheTracker) {
  config_.storage.plugin = "memory";
  ReplicationGate gate;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  if (!store->storage_plugin()->Has(CAIRN_CAP_TRUNCATE)) {
    GTEST_SKIP() << "memory does not truncate";
  }
  gate.set_auto_ack(true);
  ASSERT_TRUE(
      store->Append("s", ExpectedRevision::Any(), {Event("1"), Event("2")})
          .ok());
  gate.set_auto_ack(false);
  auto held = AppendLater(*store, "t");  // position 3, held in replicate()
  ASSERT_TRUE(gate.WaitForHeld(1));
  EXPECT_EQ(State(*store).written, 3u);
  absl::Status below = store->TruncateAfter(1);
  EXPECT_EQ(CodeOf(below), CAIRN_E_FAILED_PRECONDITION) << below;
  ASSERT_TRUE(store->TruncateAfter(2).ok());
  LogState state = State(*store);
  EXPECT_EQ(state.written, 2u);
  EXPECT_EQ(state.committed, 2u);
  // The cut append's replicate() now answers: too late.
  ASSERT_TRUE(gate.Release(3));
  absl::StatusOr<AppendResult> cut = held.get();
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.status().message(),
              HasSubstr("was cut by a truncation (truncate_after 2)"));
  // Position 3 again, for another record, committed once acknowledged.
  auto again = AppendLater(*store, "u");
  ASSERT_TRUE(gate.WaitForHeld(1));
  EXPECT_EQ(State(*store).committed, 2u)
      << "the stale acknowledgement of position 3 committed its new record";
  ASSERT_TRUE(gate.Release(3));
  ASSERT_TRUE(again.get().ok());
  EXPECT_EQ(State(*store).committed, 3u);
  EXPECT_EQ(*store->HeadRevision("t"), 0u);
  EXPECT_EQ(*store->HeadRevision("u"), 1u);

  // A failed replicate stalls the store; cutting the unacknowledged tail
  // lets writes go on.
  auto failed = AppendLater(*store, "v");  // 4
  ASSERT_TRUE(gate.WaitForHeld(1));
  ASSERT_TRUE(gate.Release(4, "no quorum"));
  EXPECT_FALSE(failed.get().ok());
  absl::StatusOr<AppendResult> refused =
      store->Append("w", ExpectedRevision::Any(), {Event("x")});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              HasSubstr("refused, nothing written"));
  ASSERT_TRUE(store->TruncateAfter(3).ok());
  gate.set_auto_ack(true);
  absl::StatusOr<AppendResult> after =
      store->Append("w", ExpectedRevision::Any(), {Event("x")});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->first_position, 4u);
  EXPECT_EQ(State(*store).committed, 4u);
  EXPECT_EQ(CountAll(*store), 4u);
}

TEST_F(StoreCommitTest, TruncateAfterWithoutHostCommitIsRefused) {
  config_.storage.plugin = "memory";
  config_.replication.plugin = "none";
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("1")}).ok());
  absl::Status s = store->TruncateAfter(0, /*allow_committed=*/true);
  EXPECT_EQ(CodeOf(s), CAIRN_E_FAILED_PRECONDITION) << s;
  EXPECT_THAT(s.message(), HasSubstr("needs commit = host"));
  EXPECT_EQ(CountAll(*store), 1u);
}

}  // namespace
}  // namespace cairn
