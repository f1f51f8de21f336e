#include "replication_suite.h"

#include <cairn/status.h>

#include <chrono>
#include <cstddef>
#include <cstring>

#include <gtest/gtest.h>

#include "storage_suite.h"

namespace cairn::conformance {
namespace {

class ReplicationConformance : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    api_ = GetParam().plugin->replication();
    ASSERT_NE(api_, nullptr);
    storage_api_ = MemoryStorageApi();
    ASSERT_NE(storage_api_, nullptr) << "the built-in memory storage is missing";
    cairn_options none{nullptr, 0};
    ASSERT_EQ(storage_api_->open(&none, &storage_, error_.get()), CAIRN_OK)
        << error_.message;
    options_ = std::make_unique<OpenOptions>(GetParam());
    cairn_status st = api_->open(options_->get(), storage_api_, storage_,
                                 &host_, &replication_, error_.get());
    ASSERT_EQ(st, CAIRN_OK) << "open failed: " << Describe(st, error_.message);
  }
  void TearDown() override {
    if (replication_ != nullptr) api_->close(replication_);
    if (storage_ != nullptr) storage_api_->close(storage_);
  }

  // The host side the suite plays: it writes only from the test thread, so
  // a pause has nothing in flight to wait for. Counts what the plugin does.
  struct HostCalls {
    int pauses = 0;
    int resumes = 0;
    int role_changes = 0;
  };
  static cairn_status Pause(void* context, cairn_error*) {
    ++static_cast<HostCalls*>(context)->pauses;
    return CAIRN_OK;
  }
  static void Resume(void* context) {
    ++static_cast<HostCalls*>(context)->resumes;
  }
  static void RoleChanged(void* context, uint32_t, uint64_t) {
    ++static_cast<HostCalls*>(context)->role_changes;
  }
  HostCalls host_calls_;
  cairn_replication_host host_{sizeof(cairn_replication_host), &host_calls_,
                               &Pause, &Resume, &RoleChanged};
  const cairn_replication_api* api_ = nullptr;
  cairn_replication* replication_ = nullptr;
  const cairn_storage_api* storage_api_ = nullptr;
  cairn_storage* storage_ = nullptr;
  std::unique_ptr<OpenOptions> options_;
  ErrorBuffer error_;
};

CAIRN_TEST_P(ReplicationConformance, ReportsAKnownRole, kRuleKnownRole) {
  uint32_t role = api_->role(replication_);
  EXPECT_TRUE(role == CAIRN_ROLE_PRIMARY || role == CAIRN_ROLE_REPLICA ||
              role == CAIRN_ROLE_STANDALONE)
      << "role() returned " << role
      << ", which is not primary (1), replica (2) or standalone (3)";
}

CAIRN_TEST_P(ReplicationConformance, AcknowledgesCommittedPositions,
             kRuleReplicateRanges) {
  if (api_->role(replication_) == CAIRN_ROLE_REPLICA) {
    GTEST_SKIP() << "the node opened as a replica; it acknowledges nothing";
  }
  AppendOutcome out =
      AppendTo(storage_api_, storage_, "replicated", Any(), Events(3));
  ASSERT_EQ(out.code, CAIRN_OK) << out.message;
  auto start = std::chrono::steady_clock::now();
  cairn_status st = api_->replicate(replication_, out.result.first_position,
                                    out.result.last_position, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10))
      << "a single node must acknowledge without waiting for peers";
  out = AppendTo(storage_api_, storage_, "replicated", Any(), Events(1));
  ASSERT_EQ(out.code, CAIRN_OK) << out.message;
  st = api_->replicate(replication_, out.result.first_position,
                       out.result.last_position, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
}

CAIRN_TEST_P(ReplicationConformance, RejectsAnInvertedRange,
             kRuleReplicateRanges) {
  AppendOutcome out = AppendTo(storage_api_, storage_, "r", Any(), Events(3));
  ASSERT_EQ(out.code, CAIRN_OK) << out.message;
  cairn_status st = api_->replicate(replication_, 3, 1, error_.get());
  EXPECT_EQ(st, CAIRN_E_INVALID_ARGUMENT)
      << "replicate(3, 1): first > last; got " << Describe(st, error_.message);
  EXPECT_STRNE(error_.message, "") << "the error must say what is wrong";
}

// leader() answers the same role as role(), and a standalone node leads
// itself (cairn_leader_info in plugin.h).
CAIRN_TEST_P(ReplicationConformance, LeaderAgreesWithRole, kRuleKnownRole) {
  cairn_leader_info info{};
  info.size = sizeof(info);
  cairn_status st = api_->leader(replication_, &info, error_.get());
  ASSERT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
  EXPECT_EQ(info.role, api_->role(replication_))
      << "leader() and role() disagree about this node's role";
  EXPECT_NE(std::memchr(info.node, '\0', sizeof(info.node)), nullptr)
      << "leader node id is not NUL-terminated";
  EXPECT_NE(std::memchr(info.address, '\0', sizeof(info.address)), nullptr)
      << "leader address is not NUL-terminated";
  if (info.role == CAIRN_ROLE_STANDALONE) {
    EXPECT_EQ(info.known, 1u) << "a standalone node leads itself";
  }
  // A caller with an older, smaller struct gets nothing past its size.
  struct {
    cairn_leader_info info;
    uint8_t guard[8];
  } small{};
  small.info.size = offsetof(cairn_leader_info, epoch);
  std::memset(small.guard, 0xAB, sizeof(small.guard));
  small.info.epoch = 0xABABABABABABABABull;
  ASSERT_EQ(api_->leader(replication_, &small.info, error_.get()), CAIRN_OK);
  EXPECT_EQ(small.info.epoch, 0xABABABABABABABABull)
      << "leader() wrote epoch past the caller's declared size";
}

// A replica refuses to acknowledge: replicate answers NOT_LEADER at once.
CAIRN_TEST_P(ReplicationConformance, AReplicaAnswersNotLeader, kRuleKnownRole) {
  if (api_->role(replication_) != CAIRN_ROLE_REPLICA) {
    GTEST_SKIP() << "the node opened as " << api_->role(replication_)
                 << ", not a replica";
  }
  cairn_status st = api_->replicate(replication_, 1, 1, error_.get());
  EXPECT_EQ(st, CAIRN_E_NOT_LEADER) << Describe(st, error_.message);
}

// A single-node plugin has nothing to promote and says so.
CAIRN_TEST_P(ReplicationConformance, ASingleNodeRefusesPromoteSayingSo,
             kRuleSingleNodePromote) {
  if (GetParam().Has(CAIRN_CAP_MULTI_NODE)) {
    GTEST_SKIP() << "multi-node: promote is checked by the cluster cases";
  }
  cairn_status st = api_->promote(replication_, error_.get());
  EXPECT_EQ(st, CAIRN_E_UNSUPPORTED) << Describe(st, error_.message);
  EXPECT_STRNE(error_.message, "") << "the refusal must say why";
  EXPECT_EQ(host_calls_.pauses, host_calls_.resumes)
      << "every pause_writes must be matched by one resume_writes";
}

CAIRN_TEST_P(ReplicationConformance, StatsSucceed, kRuleReplicationStats) {
  if (api_->stats == nullptr) GTEST_SKIP() << "the plugin has no stats";
  int count = 0;
  cairn_stat_fn collect = [](void* c, const char*, double) {
    ++*static_cast<int*>(c);
  };
  cairn_status st = api_->stats(replication_, collect, &count, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
}

}  // namespace

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReplicationConformance);
INSTANTIATE_TEST_SUITE_P(
    Plugin, ReplicationConformance,
    ::testing::ValuesIn(TargetsOfKind(CAIRN_KIND_REPLICATION)), TargetName);

}  // namespace cairn::conformance
