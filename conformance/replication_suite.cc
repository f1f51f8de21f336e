#include "replication_suite.h"

#include <cairn/status.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "storage_suite.h"

// The memory storage plugin, linked in as a built-in: the storage the
// single-node replication tests run over.
extern "C" cairn_status cairn_builtin_storage_memory(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);

namespace cairn::conformance {
namespace {

std::mutex& HarnessMu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, ClusterHarnessFactory>& Harnesses() {
  static std::map<std::string, ClusterHarnessFactory> harnesses;
  return harnesses;
}

const cairn_storage_api* MemoryStorageApi() {
  cairn_host_offer offer{};
  offer.size = sizeof(offer);
  offer.abi_major_min = CAIRN_ABI_MAJOR;
  offer.abi_major_max = CAIRN_ABI_MAJOR;
  offer.abi_minor = CAIRN_ABI_MINOR;
  const cairn_plugin_descriptor* d = nullptr;
  ErrorBuffer error;
  if (cairn_builtin_storage_memory(&offer, &d, error.get()) != CAIRN_OK) {
    return nullptr;
  }
  return static_cast<const cairn_storage_api*>(d->table);
}

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

TEST_P(ReplicationConformance, ReportsAKnownRole) {
  uint32_t role = api_->role(replication_);
  EXPECT_TRUE(role == CAIRN_ROLE_PRIMARY || role == CAIRN_ROLE_REPLICA ||
              role == CAIRN_ROLE_STANDALONE)
      << "role() returned " << role
      << ", which is not primary (1), replica (2) or standalone (3)";
}

TEST_P(ReplicationConformance, AcknowledgesCommittedPositions) {
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

TEST_P(ReplicationConformance, RejectsAnInvertedRange) {
  AppendOutcome out = AppendTo(storage_api_, storage_, "r", Any(), Events(3));
  ASSERT_EQ(out.code, CAIRN_OK) << out.message;
  cairn_status st = api_->replicate(replication_, 3, 1, error_.get());
  EXPECT_EQ(st, CAIRN_E_INVALID_ARGUMENT)
      << "replicate(3, 1): first > last; got " << Describe(st, error_.message);
  EXPECT_STRNE(error_.message, "") << "the error must say what is wrong";
}

TEST_P(ReplicationConformance, StatsSucceed) {
  if (api_->stats == nullptr) GTEST_SKIP() << "the plugin has no stats";
  int count = 0;
  cairn_stat_fn collect = [](void* c, const char*, double) {
    ++*static_cast<int*>(c);
  };
  cairn_status st = api_->stats(replication_, collect, &count, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
}

// Multi-node: the primary's log reaches every replica after replicate().
TEST_P(ReplicationConformance, ReplicasHoldWhatThePrimaryAcknowledged) {
  if (!GetParam().Has(CAIRN_CAP_MULTI_NODE)) {
    GTEST_SKIP() << NoteSkip("CAIRN_CAP_MULTI_NODE", "replication to peers");
  }
  ClusterHarnessFactory factory;
  {
    std::lock_guard<std::mutex> lock(HarnessMu());
    auto it = Harnesses().find(GetParam().plugin->name());
    if (it != Harnesses().end()) factory = it->second;
  }
  if (!factory) {
    GTEST_SKIP() << NoteSkip(
        "a cluster harness (RegisterClusterHarness) for this multi-node plugin",
        "replication to peers");
  }
  std::unique_ptr<ClusterHarness> cluster = factory(GetParam());
  ASSERT_TRUE(cluster->Start(3).ok());
  ClusterNode primary = cluster->Node(0);
  AppendOutcome out = AppendTo(primary.storage_api, primary.storage, "cluster",
                               Any(), Events(5));
  ASSERT_EQ(out.code, CAIRN_OK) << out.message;
  ASSERT_EQ(primary.replication_api->replicate(
                primary.replication, out.result.first_position,
                out.result.last_position, error_.get()),
            CAIRN_OK)
      << error_.message;
  std::vector<ReadEvent> expected;
  std::string message;
  ASSERT_EQ(ReadAllFrom(primary.storage_api, primary.storage, 0,
                        CAIRN_MAX_REVISION, true, &expected, &message),
            CAIRN_OK);
  for (int i = 1; i < 3; ++i) {
    ClusterNode replica = cluster->Node(i);
    // Replicas may trail the acknowledgement rule (a quorum); wait on the
    // replica's commit, not by polling.
    uint64_t watermark = 0;
    cairn_status st = replica.storage_api->wait_commit(
        replica.storage, out.result.last_position - 1, 10000, &watermark,
        error_.get());
    ASSERT_EQ(st, CAIRN_OK) << "replica " << i << " did not receive position "
                            << out.result.last_position << " within 10 s: "
                            << Describe(st, error_.message);
    std::vector<ReadEvent> got;
    ASSERT_EQ(ReadAllFrom(replica.storage_api, replica.storage, 0,
                          CAIRN_MAX_REVISION, true, &got, &message),
              CAIRN_OK);
    EXPECT_EQ(got, expected) << "replica " << i;
  }
  cluster->Stop();
}

}  // namespace

void RegisterClusterHarness(const std::string& plugin_name,
                            ClusterHarnessFactory factory) {
  std::lock_guard<std::mutex> lock(HarnessMu());
  Harnesses()[plugin_name] = std::move(factory);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReplicationConformance);
INSTANTIATE_TEST_SUITE_P(
    Plugin, ReplicationConformance,
    ::testing::ValuesIn(TargetsOfKind(CAIRN_KIND_REPLICATION)), TargetName);

}  // namespace cairn::conformance
