// The Store's side of replication roles (issue #15): the host callbacks a
// replication plugin drives (pause_writes, role_changed, resume_writes),
// NOT_LEADER on a replica and for writes in flight when a primary is
// deposed, the tail a new primary commits, Leader() and Promote(). The
// replication plugin is the in-process test-multi-node fixture, whose role
// the test flips through its ReplicationGate (as a real plugin would, from
// its own thread); storage is the test-host-commit fixture.
#include <cairn/builtins.h>
#include <cairn/status.h>
#include <cairn/store.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_replication.h"

extern "C" cairn_status cairn_test_commit_storage_entry(
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

class StoreReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok());
    ASSERT_TRUE(
        registry_.RegisterBuiltin(&cairn_test_commit_storage_entry).ok());
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

  static LogState State(Store& store) {
    absl::StatusOr<LogState> state = store.GetLogState();
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : LogState{};
  }

  // Waits (at most 60 s) until committed reaches `position` (the tail
  // commits on the Store's own thread).
  static bool WaitCommitted(Store& store, uint64_t position) {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up) {
      if (State(store).committed >= position) return true;
      std::this_thread::yield();
    }
    return false;
  }

  // Starts an append of `events` to stream "s" and waits until its
  // replicate call is held at the gate.
  static std::future<absl::StatusOr<AppendResult>> AppendHeld(
      Store& store, ReplicationGate& gate, std::vector<EventData> events) {
    auto append = std::async(std::launch::async, [&store, events] {
      return store.Append("s", ExpectedRevision::Any(), events);
    });
    EXPECT_TRUE(gate.WaitForHeld(1));
    return append;
  }

  PluginRegistry registry_;
  SiteConfig config_;
};

TEST_F(StoreReplicationTest, AReplicaRefusesWritesNamingTheLeader) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("a")}).ok());
  const uint64_t written = State(*store).written;

  ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_REPLICA, 2, "b", "10.0.0.2:7700").ok());
  EXPECT_EQ(store->role(), CAIRN_ROLE_REPLICA);
  EXPECT_EQ(store->role_changes(), 1u);

  absl::StatusOr<AppendResult> append =
      store->Append("s", ExpectedRevision::Any(), {Event("b")});
  ASSERT_FALSE(append.ok());
  EXPECT_TRUE(IsNotLeader(append.status())) << append.status();
  EXPECT_THAT(append.status().message(),
              HasSubstr("node 'b' at 10.0.0.2:7700"));
  EXPECT_THAT(append.status().message(), HasSubstr("epoch 2"));
  std::optional<LeaderInfo> leader = NotLeaderOf(append.status());
  ASSERT_TRUE(leader.has_value());
  EXPECT_TRUE(leader->known);
  EXPECT_EQ(leader->node, "b");
  EXPECT_EQ(leader->address, "10.0.0.2:7700");
  EXPECT_EQ(leader->epoch, 2u);
  EXPECT_EQ(leader->role, CAIRN_ROLE_REPLICA);

  absl::Status deleted = store->DeleteTo("s", 1);
  EXPECT_TRUE(IsNotLeader(deleted)) << deleted;
  absl::Status saved = store->SaveSnapshot(Snapshot{"s", 1, 0, "x"});
  EXPECT_TRUE(IsNotLeader(saved)) << saved;
  EXPECT_EQ(State(*store).written, written) << "a refused write wrote";
  // Reads go on.
  absl::StatusOr<std::vector<RecordedEvent>> read =
      store->ReadStream("s", 1, 10, 10);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 1u);
}

TEST_F(StoreReplicationTest, NoKnownLeaderSaysSo) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_REPLICA, 4, "", "").ok());
  absl::StatusOr<AppendResult> append =
      store->Append("s", ExpectedRevision::Any(), {Event("b")});
  ASSERT_TRUE(IsNotLeader(append.status())) << append.status();
  EXPECT_THAT(append.status().message(), HasSubstr("no leader is known"));
  EXPECT_FALSE(NotLeaderOf(append.status())->known);
  LeaderInfo info = store->Leader();
  EXPECT_FALSE(info.known);
  EXPECT_EQ(info.epoch, 4u);
}

// A primary deposed while an append waits for its acknowledgement: the
// append fails with NOT_LEADER, its position is never committed here, and
// the pause that changes the role waited for it to return.
TEST_F(StoreReplicationTest, AnAppendInFlightWhenDeposedFailsWithNotLeader) {
  ReplicationGate gate;
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  auto append = AppendHeld(*store, gate, {Event("a")});
  ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_REPLICA, 2, "b", "").ok());
  absl::StatusOr<AppendResult> result = append.get();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(IsNotLeader(result.status())) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("node 'b'"));
  EXPECT_EQ(gate.held_at_pause(), 0u);
  LogState state = State(*store);
  EXPECT_EQ(state.written, 1u);
  EXPECT_EQ(state.committed, 0u) << "an unacknowledged position was committed";
}

// pause_writes returns only once the writes inside replicate have returned.
TEST_F(StoreReplicationTest, PauseWaitsForWritesInsideReplicate) {
  ReplicationGate gate;
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  auto append = AppendHeld(*store, gate, {Event("a")});
  // Still primary (a new epoch): the held call is not failed by the change.
  auto flip = std::async(std::launch::async, [&] {
    return gate.SetRole(CAIRN_ROLE_PRIMARY, 2, "self", "");
  });
  ASSERT_TRUE(gate.WaitForPausing());
  ASSERT_TRUE(gate.Release(1));
  ASSERT_TRUE(flip.get().ok());
  EXPECT_EQ(gate.held_at_pause(), 0u)
      << "pause_writes returned while an append was inside replicate";
  absl::StatusOr<AppendResult> result = append.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(State(*store).committed, 1u);
}

// A former replica that becomes primary holds records nobody committed
// (here: the append that failed when it was deposed). After the role
// change the Store replicates and commits that tail on its own thread.
TEST_F(StoreReplicationTest, ANewPrimaryCommitsItsTail) {
  ReplicationGate gate;
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  auto append = AppendHeld(*store, gate, {Event("a"), Event("b")});
  ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_REPLICA, 2, "b", "").ok());
  ASSERT_TRUE(IsNotLeader(append.get().status()));
  ASSERT_EQ(State(*store).committed, 0u);

  gate.set_auto_ack(true);
  ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_PRIMARY, 3, "self", "").ok());
  ASSERT_TRUE(WaitCommitted(*store, 2));
  std::vector<ReplicationGate::Range> calls = gate.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().first, 1u);
  EXPECT_EQ(calls.back().last, 2u);
  absl::StatusOr<AppendResult> next =
      store->Append("s", ExpectedRevision::Exact(2), {Event("c")});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(State(*store).committed, 3u);
}

// Writers wait at the gate during a pause, then see the new role.
TEST_F(StoreReplicationTest, WritesAdmittedAfterAChangeSeeTheNewRole) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_REPLICA, 2, "b", "").ok());
  ASSERT_TRUE(IsNotLeader(
      store->Append("s", ExpectedRevision::Any(), {Event("a")}).status()));
  ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_PRIMARY, 3, "self", "").ok());
  absl::StatusOr<AppendResult> ok =
      store->Append("s", ExpectedRevision::Any(), {Event("b")});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(store->role_changes(), 2u);
  EXPECT_EQ(gate.pauses(), 2);
}

TEST_F(StoreReplicationTest, PromoteMakesAReplicaPrimary) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_REPLICA, 5, "b", "").ok());
  gate.set_promote_refusal("node 'b' holds position 9, this node only 3");
  absl::Status refused = store->Promote();
  EXPECT_EQ(CodeOf(refused), CAIRN_E_FAILED_PRECONDITION) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("node 'b' holds position 9"));
  EXPECT_EQ(store->role(), CAIRN_ROLE_REPLICA);

  gate.set_promote_refusal("");
  ASSERT_TRUE(store->Promote().ok());
  LeaderInfo info = store->Leader();
  EXPECT_EQ(info.role, CAIRN_ROLE_PRIMARY);
  EXPECT_EQ(info.epoch, 6u);
  EXPECT_EQ(info.node, "self");
  EXPECT_TRUE(store->Append("s", ExpectedRevision::Any(), {Event("a")}).ok());
}

TEST_F(StoreReplicationTest, ASingleNodePluginCannotPromote) {
  config_.storage.plugin = "memory";
  config_.replication.plugin = "none";
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  absl::Status s = store->Promote();
  EXPECT_EQ(CodeOf(s), CAIRN_E_UNSUPPORTED) << s;
  EXPECT_THAT(s.message(), HasSubstr("single-node"));
  LeaderInfo info = store->Leader();
  EXPECT_EQ(info.role, CAIRN_ROLE_STANDALONE);
  EXPECT_TRUE(info.known);
}

// Appends on 4 threads while the role flips between replica and primary
// (run under the tsan preset too). Every append either succeeds or fails
// with NOT_LEADER; once primary again, everything written commits and every
// successful append reads back at its position.
TEST_F(StoreReplicationTest, ConcurrentAppendsDuringRoleFlips) {
  ReplicationGate gate;
  gate.set_auto_ack(true);
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kMaxAppends = 5000;  // per thread; they stop once flips end
  constexpr int kFlips = 6;
  std::atomic<bool> flipping{true};
  std::atomic<int> unexpected{0};
  std::vector<std::map<uint64_t, std::string>> acknowledged(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kMaxAppends && flipping.load(); ++i) {
        std::string data = absl::StrCat(t, "-", i);
        absl::StatusOr<AppendResult> r = store->Append(
            absl::StrCat("s", t), ExpectedRevision::Any(), {Event(data)});
        if (r.ok()) {
          acknowledged[t][r->first_position] = data;
        } else if (!IsNotLeader(r.status())) {
          ADD_FAILURE() << r.status();
          unexpected.fetch_add(1);
        }
      }
    });
  }
  uint64_t epoch = 1;
  for (int f = 0; f < kFlips; ++f) {
    ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_REPLICA, ++epoch, "b", "").ok());
    ASSERT_TRUE(gate.SetRole(CAIRN_ROLE_PRIMARY, ++epoch, "self", "").ok());
  }
  flipping.store(false);
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(unexpected.load(), 0);
  const uint64_t written = State(*store).written;
  ASSERT_TRUE(WaitCommitted(*store, written));
  std::map<uint64_t, std::string> stored;
  ASSERT_TRUE(store
                  ->ReadAll(0, kMaxPosition,
                            [&](const RecordedEvent& e) {
                              stored[e.position] = e.data;
                              return true;
                            })
                  .ok());
  EXPECT_EQ(stored.size(), written);
  for (const auto& per_thread : acknowledged) {
    for (const auto& [position, data] : per_thread) {
      ASSERT_EQ(stored.count(position), 1u) << position;
      EXPECT_EQ(stored[position], data) << position;
    }
  }
}

}  // namespace
}  // namespace cairn
