// Replication conformance for a group of nodes (CAIRN_CAP_MULTI_NODE): the
// suite's own cluster harness, which starts nodes through the plugin's
// declared options (docs/plugins.md, "Cluster conformance"), and the cases
// that run against any harness. Every node runs in this process over the
// built-in memory storage ("commit" = "host", as a host opens storage for a
// multi-node plugin); the suite plays each node's host.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cairn/status.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "replication_suite.h"
#include "storage_suite.h"

// The memory storage plugin, linked in as a built-in.
extern "C" cairn_status cairn_builtin_storage_memory(
    const cairn_host_offer*, const cairn_plugin_descriptor**, cairn_error*);

namespace cairn::conformance {

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

namespace {

std::mutex& HarnessMu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, ClusterHarnessFactory>& Harnesses() {
  static std::map<std::string, ClusterHarnessFactory> harnesses;
  return harnesses;
}

// The options the suite's harness sets on every node (docs/plugins.md,
// "Cluster conformance"): its id, the loopback address it listens on, the
// whole group, and the role it starts in.
constexpr char kNodeIdOption[] = "node-id";
constexpr char kListenOption[] = "listen";
constexpr char kPeersOption[] = "peers";
constexpr char kRoleOption[] = "role";

// What the plugin lacks for the suite's harness ("" if nothing).
std::string MissingClusterOptions(const Target& target) {
  std::string missing;
  bool role_ok = false;
  std::vector<OptionInfo> described = target.plugin->options();
  for (const char* key : {kNodeIdOption, kListenOption, kPeersOption}) {
    if (std::none_of(described.begin(), described.end(),
                     [&](const OptionInfo& o) { return o.key == key; })) {
      absl::StrAppend(&missing, missing.empty() ? "" : ", ", "'", key, "'");
    }
  }
  for (const OptionInfo& o : described) {
    if (o.key != kRoleOption) continue;
    role_ok = o.type == CAIRN_OPT_ENUM &&
              std::count(o.allowed.begin(), o.allowed.end(), "primary") &&
              std::count(o.allowed.begin(), o.allowed.end(), "replica");
  }
  if (!role_ok) {
    absl::StrAppend(&missing, missing.empty() ? "" : ", ",
                    "'role' (enum with primary and replica)");
  }
  return missing;
}

// A loopback port nobody listens on now: picked at random below the
// kernel's ephemeral range (a port bound to 0 comes from that range, and an
// outgoing connection could be given it before the node binds it), checked
// by a bind, released.
absl::StatusOr<uint16_t> FreeLoopbackPort() {
  int ephemeral_start = 32768;
  if (std::FILE* f =
          std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%d", &ephemeral_start) != 1) ephemeral_start = 32768;
    std::fclose(f);
  }
  const int low = std::max(1024, ephemeral_start - 12000);
  const int high = std::max(low, ephemeral_start - 1);
  static std::mutex mu;
  static std::mt19937 random(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    uint16_t port = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      port = static_cast<uint16_t>(
          std::uniform_int_distribution<int>(low, high)(random));
    }
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return absl::InternalError("socket(): cannot create one");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    const bool bound =
        ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    ::close(fd);
    if (bound) return port;
  }
  return absl::InternalError(absl::StrCat("no free loopback port in ", low,
                                          "..", high, " after 200 tries"));
}

// The suite's harness: each node opened with the target's options plus the
// cluster options, a fresh folder for every path option the user left
// unset, over its own memory storage.
class OptionClusterHarness : public ClusterHarness {
 public:
  explicit OptionClusterHarness(const Target& target) : target_(target) {}
  ~OptionClusterHarness() override { Stop(); }

  absl::Status Start(int count) override {
    storage_api_ = MemoryStorageApi();
    api_ = target_.plugin->replication();
    if (storage_api_ == nullptr || api_ == nullptr) {
      return absl::InternalError(
          "the memory storage or the plugin's "
          "replication table is missing");
    }
    nodes_ = std::vector<Member>(count);
    std::string peers;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<uint16_t> port = FreeLoopbackPort();
      if (!port.ok()) return port.status();
      nodes_[i].id = absl::StrCat("n", i);
      nodes_[i].listen = absl::StrCat("127.0.0.1:", *port);
      absl::StrAppend(&peers, i == 0 ? "" : ",", nodes_[i].id, "=",
                      nodes_[i].listen);
    }
    for (int i = 0; i < count; ++i) {
      Member& node = nodes_[i];
      for (const auto& kv : target_.options) {
        if (kv.first != kNodeIdOption && kv.first != kListenOption &&
            kv.first != kPeersOption && kv.first != kRoleOption) {
          node.options.push_back(kv);
        }
      }
      // Nodes never share a folder: each path option the plugin requires
      // or names by default (state a node keeps) is a fresh folder per
      // node, inside the folder given with --option if there is one. A
      // path option with neither is an input (a certificate, say): it goes
      // to every node as given, or not at all.
      for (const OptionInfo& o : target_.plugin->options()) {
        if (o.type != CAIRN_OPT_PATH) continue;
        if ((o.flags & CAIRN_OPT_REQUIRED) == 0 && !o.has_default) continue;
        std::string parent;
        for (auto it = node.options.begin(); it != node.options.end();) {
          if (it->first == o.key) {
            parent = it->second;
            it = node.options.erase(it);
          } else {
            ++it;
          }
        }
        node.folders.push_back(std::make_unique<TempDir>(parent));
        node.options.emplace_back(o.key, node.folders.back()->path());
      }
      node.options.emplace_back(kNodeIdOption, node.id);
      node.options.emplace_back(kListenOption, node.listen);
      node.options.emplace_back(kPeersOption, peers);
      cairn_option commit{"commit", "host"};
      cairn_options storage_options{&commit, 1};
      ErrorBuffer error;
      cairn_status st =
          storage_api_->open(&storage_options, &node.storage, error.get());
      if (st != CAIRN_OK) {
        return absl::InternalError(
            absl::StrCat("memory storage open: ", Describe(st, error.message)));
      }
    }
    // Replicas first, so the primary finds them listening.
    for (int i = count - 1; i >= 0; --i) {
      absl::Status s = OpenReplication(i, i == 0);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  ClusterNode Node(int index) override {
    return ClusterNode{storage_api_, nodes_[index].storage, api_,
                       nodes_[index].replication};
  }

  absl::Status Kill(int index) override {
    Member& node = nodes_[index];
    if (node.replication != nullptr) api_->close(node.replication);
    node.replication = nullptr;
    return absl::OkStatus();
  }

  absl::Status Reopen(int index, bool as_primary) override {
    if (nodes_[index].replication != nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("node ", nodes_[index].id, " is running"));
    }
    return OpenReplication(index, as_primary);
  }

  std::string NodeId(int index) override { return nodes_[index].id; }

  bool WaitUntilRoleIsNot(int index, uint32_t role,
                          std::chrono::milliseconds limit) override {
    Member& node = nodes_[index];
    std::unique_lock<std::mutex> lock(node.host.mu);
    return node.host.changed.wait_for(lock, limit, [&] {
      return node.replication != nullptr &&
             api_->role(node.replication) != role;
    });
  }

  void Stop() override {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      (void)Kill(static_cast<int>(i));
    }
    for (Member& node : nodes_) {
      if (node.storage != nullptr) storage_api_->close(node.storage);
      node.storage = nullptr;
    }
  }

 private:
  // The host each node's plugin talks to: nothing is in flight outside the
  // test thread, so a pause returns at once; role changes wake waiters.
  struct Host {
    std::mutex mu;
    std::condition_variable changed;
    cairn_replication_host table{sizeof(cairn_replication_host), this, &Pause,
                                 &Resume, &RoleChanged};
    static cairn_status Pause(void*, cairn_error*) { return CAIRN_OK; }
    static void Resume(void*) {}
    static void RoleChanged(void* context, uint32_t, uint64_t) {
      Host* host = static_cast<Host*>(context);
      std::lock_guard<std::mutex> lock(host->mu);
      host->changed.notify_all();
    }
  };
  struct Member {
    std::string id;
    std::string listen;
    std::vector<std::unique_ptr<TempDir>> folders;  // kept across Reopen
    std::vector<std::pair<std::string, std::string>> options;
    cairn_storage* storage = nullptr;
    cairn_replication* replication = nullptr;
    Host host;
  };

  absl::Status OpenReplication(int index, bool as_primary) {
    Member& node = nodes_[index];
    std::vector<cairn_option> items;
    for (const auto& [key, value] : node.options) {
      items.push_back(cairn_option{key.c_str(), value.c_str()});
    }
    items.push_back(
        cairn_option{kRoleOption, as_primary ? "primary" : "replica"});
    cairn_options options{items.data(), items.size()};
    ErrorBuffer error;
    cairn_replication* replication = nullptr;
    cairn_status st = api_->open(&options, storage_api_, node.storage,
                                 &node.host.table, &replication, error.get());
    if (st != CAIRN_OK) {
      return absl::InternalError(absl::StrCat(
          "node ", node.id, " (", as_primary ? "primary" : "replica",
          ") open failed: ", Describe(st, error.message)));
    }
    std::lock_guard<std::mutex> lock(node.host.mu);
    node.replication = replication;
    return absl::OkStatus();
  }

  const Target& target_;
  const cairn_storage_api* storage_api_ = nullptr;
  const cairn_replication_api* api_ = nullptr;
  std::vector<Member> nodes_;
};

// What the cases wait for at most: well under the runner's bounds.
constexpr auto kWaitLimit = std::chrono::seconds(10);
constexpr int kNodes = 3;

class ReplicationCluster : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    if (!GetParam().Has(CAIRN_CAP_MULTI_NODE)) {
      GTEST_SKIP() << NoteSkip("CAIRN_CAP_MULTI_NODE", "replication to peers");
    }
    std::string why_not;
    cluster_ = MakeClusterHarness(GetParam(), &why_not);
    if (cluster_ == nullptr) {
      GTEST_SKIP() << NoteSkip(why_not, "the cluster cases");
    }
    absl::Status s = cluster_->Start(kNodes);
    ASSERT_TRUE(s.ok()) << "starting " << kNodes << " nodes: " << s;
  }
  void TearDown() override {
    if (cluster_ != nullptr) cluster_->Stop();
  }

  ClusterNode N(int i) { return cluster_->Node(i); }

  AppendOutcome Write(int i, const std::string& stream, size_t count) {
    ClusterNode node = N(i);
    return AppendTo(node.storage_api, node.storage, stream, Any(),
                    Events(count, stream));
  }

  // replicate(first, last) on node i, then, on OK, set_committed as a host
  // does once the rule holds.
  cairn_status Replicate(int i, const AppendOutcome& out) {
    ClusterNode node = N(i);
    cairn_status st = node.replication_api->replicate(
        node.replication, out.result.first_position, out.result.last_position,
        error_.get());
    if (st != CAIRN_OK) return st;
    ErrorBuffer e;
    cairn_status c = node.storage_api->set_committed(
        node.storage, out.result.last_position, e.get());
    EXPECT_EQ(c, CAIRN_OK) << "set_committed on node " << i << ": "
                           << Describe(c, e.message);
    return st;
  }

  // Writes `count` events to `stream` on node `i` and has replication
  // acknowledge them (Replicate); a fatal failure if either fails, so
  // callers wrap it in ASSERT_NO_FATAL_FAILURE.
  void WriteAcknowledged(int i, const std::string& stream, size_t count,
                         AppendOutcome* out) {
    *out = Write(i, stream, count);
    ASSERT_EQ(out->code, CAIRN_OK) << out->message;
    ASSERT_EQ(Replicate(i, *out), CAIRN_OK)
        << "replicate on node " << cluster_->NodeId(i) << ": "
        << error_.message;
  }

  // Waits (at most kWaitLimit each) until every running replica has
  // committed `out`, so that any of them may be promoted.
  void WaitForReplicas(const AppendOutcome& out) {
    for (int i = 1; i < kNodes; ++i) {
      ClusterNode replica = N(i);
      if (replica.replication == nullptr) continue;
      uint64_t watermark = 0;
      cairn_status st = replica.storage_api->wait_commit(
          replica.storage, out.result.last_position - 1,
          std::chrono::milliseconds(kWaitLimit).count(), &watermark,
          error_.get());
      ASSERT_EQ(st, CAIRN_OK)
          << "replica " << cluster_->NodeId(i) << " did not commit position "
          << out.result.last_position
          << " within 10 s: " << Describe(st, error_.message);
    }
  }

  uint64_t Written(int i) {
    cairn_log_state state{};
    state.size = sizeof(state);
    ClusterNode node = N(i);
    ErrorBuffer e;
    cairn_status st =
        node.storage_api->log_state(node.storage, &state, e.get());
    EXPECT_EQ(st, CAIRN_OK) << Describe(st, e.message);
    return state.written;
  }

  // The events of `stream` node i has written (read_log: committed or not).
  size_t Holds(int i, const std::string& stream) {
    ClusterNode node = N(i);
    std::vector<LogRow> rows;
    std::string message;
    cairn_status st = ReadLogFrom(node.storage_api, node.storage, 0, 1u << 20,
                                  &rows, &message);
    EXPECT_EQ(st, CAIRN_OK) << "read_log on node " << i << ": " << message;
    return std::count_if(rows.begin(), rows.end(), [&](const LogRow& r) {
      return r.event.has_value() && r.event->stream == stream;
    });
  }

  // Promotes the first of `candidates` that accepts (promote refuses a node
  // that lacks records a peer holds); fails the test if none does.
  int PromoteOneOf(std::vector<int> candidates) {
    std::string refusals;
    for (int i : candidates) {
      ClusterNode node = N(i);
      cairn_status st =
          node.replication_api->promote(node.replication, error_.get());
      if (st == CAIRN_OK) return i;
      absl::StrAppend(&refusals, " node ", cluster_->NodeId(i), ": ",
                      Describe(st, error_.message), ";");
    }
    ADD_FAILURE() << "no node accepted promote:" << refusals;
    return -1;
  }

  cairn_leader_info Leader(int i) {
    cairn_leader_info info{};
    info.size = sizeof(info);
    ClusterNode node = N(i);
    cairn_status st =
        node.replication_api->leader(node.replication, &info, error_.get());
    EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
    return info;
  }

  std::unique_ptr<ClusterHarness> cluster_;
  ErrorBuffer error_;
};

// The primary's log reaches every replica after replicate().
CAIRN_TEST_P(ReplicationCluster, ReplicasHoldWhatThePrimaryAcknowledged,
             kRuleAckedIsDurable) {
  AppendOutcome out;
  ASSERT_NO_FATAL_FAILURE(WriteAcknowledged(0, "cluster", 5, &out));
  ClusterNode primary = N(0);
  std::vector<ReadEvent> expected;
  std::string message;
  ASSERT_EQ(ReadAllFrom(primary.storage_api, primary.storage, 0,
                        CAIRN_MAX_REVISION, true, &expected, &message),
            CAIRN_OK);
  for (int i = 1; i < kNodes; ++i) {
    ClusterNode replica = N(i);
    // Replicas may trail the acknowledgement rule (a quorum); wait on the
    // replica's commit, not by polling.
    uint64_t watermark = 0;
    cairn_status st = replica.storage_api->wait_commit(
        replica.storage, out.result.last_position - 1,
        std::chrono::milliseconds(kWaitLimit).count(), &watermark,
        error_.get());
    ASSERT_EQ(st, CAIRN_OK) << "replica " << i << " did not receive position "
                            << out.result.last_position
                            << " within 10 s: " << Describe(st, error_.message);
    std::vector<ReadEvent> got;
    ASSERT_EQ(ReadAllFrom(replica.storage_api, replica.storage, 0,
                          CAIRN_MAX_REVISION, true, &got, &message),
              CAIRN_OK);
    EXPECT_EQ(got, expected) << "replica " << i;
  }
}

// Once replicate answers OK, the records are stored on a replica: losing
// the primary right then loses none, and the promoted node has them. (The
// ABI does not say which rule a plugin is configured with; the suite checks
// the weakest rule that survives losing one node of three.)
CAIRN_TEST_P(ReplicationCluster, AcknowledgedRecordsOutliveThePrimary,
             kRuleAckedIsDurable) {
  AppendOutcome out;
  ASSERT_NO_FATAL_FAILURE(WriteAcknowledged(0, "acked", 5, &out));
  ASSERT_TRUE(cluster_->Kill(0).ok());
  std::string seen;
  int holders = 0;
  for (int i = 1; i < kNodes; ++i) {
    size_t held = Holds(i, "acked");
    absl::StrAppend(&seen, i == 1 ? "" : ", ", cluster_->NodeId(i), " holds ",
                    held);
    if (held == 5) ++holders;
  }
  EXPECT_GE(holders, 1)
      << kRuleAckedIsDurable << ": replicate(" << out.result.first_position
      << ", " << out.result.last_position
      << ") answered OK, but when the primary stopped right after, no "
         "replica held the 5 events ("
      << seen << ")";
}

// promote refuses a node that lacks acknowledged records a running peer
// holds (cairn/plugin.h, promote): promoting it would drop them.
CAIRN_TEST_P(ReplicationCluster,
             PromoteRefusesANodeThatLacksAcknowledgedRecords,
             kRuleAckedIsDurable) {
  ASSERT_TRUE(cluster_->Kill(1).ok());
  AppendOutcome out = Write(0, "acked", 3);
  ASSERT_EQ(out.code, CAIRN_OK) << out.message;
  ASSERT_EQ(Replicate(0, out), CAIRN_OK)
      << "two of three nodes run: " << error_.message;
  WaitForReplicas(out);
  ASSERT_TRUE(cluster_->Kill(0).ok());
  absl::Status s = cluster_->Reopen(1, /*as_primary=*/false);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(Holds(1, "acked"), 0u) << "node n1 was down while they shipped";
  ClusterNode behind = N(1);
  cairn_status st =
      behind.replication_api->promote(behind.replication, error_.get());
  EXPECT_EQ(st, CAIRN_E_FAILED_PRECONDITION)
      << kRuleAckedIsDurable << ": promote on node " << cluster_->NodeId(1)
      << ", which lacks 3 acknowledged events node " << cluster_->NodeId(2)
      << " holds: " << Describe(st, error_.message);
}

// A primary restarted with the epoch it led before a failover cannot write
// to the group: the nodes that saw the newer epoch take nothing from it, so
// its replicate is never acknowledged.
CAIRN_TEST_P(ReplicationCluster, AStalePrimaryCannotWriteToTheNewGroup,
             kRuleOlderEpochRefused) {
  AppendOutcome before;
  ASSERT_NO_FATAL_FAILURE(WriteAcknowledged(0, "before", 2, &before));
  WaitForReplicas(before);
  ASSERT_TRUE(cluster_->Kill(0).ok());
  int promoted = PromoteOneOf({1, 2});
  ASSERT_GE(promoted, 0);
  AppendOutcome fresh;
  ASSERT_NO_FATAL_FAILURE(WriteAcknowledged(promoted, "new-epoch", 1, &fresh));
  const uint64_t epoch = Leader(promoted).epoch;
  absl::Status s = cluster_->Reopen(0, /*as_primary=*/true);
  ASSERT_TRUE(s.ok()) << s;
  ClusterNode old = N(0);
  if (old.replication_api->role(old.replication) == CAIRN_ROLE_PRIMARY) {
    AppendOutcome stale = Write(0, "stale", 1);
    ASSERT_EQ(stale.code, CAIRN_OK) << stale.message;
    cairn_status st = old.replication_api->replicate(
        old.replication, stale.result.first_position,
        stale.result.last_position, error_.get());
    EXPECT_NE(st, CAIRN_OK)
        << kRuleOlderEpochRefused << ": node " << cluster_->NodeId(0)
        << " restarted as primary of the epoch before " << epoch
        << " and replicate of its new record was acknowledged";
  }
  for (int i = 1; i < kNodes; ++i) {
    EXPECT_EQ(Holds(i, "stale"), 0u)
        << kRuleOlderEpochRefused << ": node " << cluster_->NodeId(i)
        << " has seen epoch " << epoch << " yet stored a record from "
        << cluster_->NodeId(0) << ", primary of an older epoch";
  }
  EXPECT_EQ(Holds(promoted, "new-epoch"), 1u)
      << kRuleOlderEpochRefused << ": the new primary "
      << cluster_->NodeId(promoted)
      << " lost its acknowledged record to a primary of an older epoch";
}

// After another node is promoted, the old primary knows it: role() is
// replica, leader() names the new primary and its epoch, and replicate
// answers NOT_LEADER.
CAIRN_TEST_P(ReplicationCluster, ADeposedPrimaryAnswersNotLeader,
             kRuleDeposedNotLeader) {
  AppendOutcome before;
  ASSERT_NO_FATAL_FAILURE(WriteAcknowledged(0, "before", 2, &before));
  WaitForReplicas(before);
  int promoted = PromoteOneOf({1, 2});
  ASSERT_GE(promoted, 0);
  const cairn_leader_info now = Leader(promoted);
  ASSERT_TRUE(cluster_->WaitUntilRoleIsNot(0, CAIRN_ROLE_PRIMARY, kWaitLimit))
      << kRuleDeposedNotLeader << ": node " << cluster_->NodeId(0)
      << " still reports role primary 10 s after node "
      << cluster_->NodeId(promoted) << " was promoted to epoch " << now.epoch;
  ClusterNode old = N(0);
  EXPECT_EQ(old.replication_api->role(old.replication), CAIRN_ROLE_REPLICA)
      << kRuleDeposedNotLeader;
  cairn_leader_info seen = Leader(0);
  EXPECT_EQ(seen.known, 1u)
      << kRuleDeposedNotLeader << ": the deposed node knows no leader";
  EXPECT_EQ(std::string(seen.node), cluster_->NodeId(promoted))
      << kRuleDeposedNotLeader << ": leader() on the deposed node";
  EXPECT_GE(seen.epoch, now.epoch)
      << kRuleDeposedNotLeader << ": leader() on the deposed node";
  cairn_status st = old.replication_api->replicate(
      old.replication, before.result.first_position,
      before.result.last_position, error_.get());
  EXPECT_EQ(st, CAIRN_E_NOT_LEADER)
      << kRuleDeposedNotLeader << ": replicate on node " << cluster_->NodeId(0)
      << " after node " << cluster_->NodeId(promoted)
      << " was promoted: " << Describe(st, error_.message);
}

// A primary that stopped with records no replica acknowledged (its
// uncommitted tail) drops them when it rejoins as a replica of the new
// primary: its log becomes the new primary's.
CAIRN_TEST_P(ReplicationCluster, ADeposedPrimarysTailIsDroppedWhenItRejoins,
             kRuleDeposedNotLeader) {
  AppendOutcome before;
  ASSERT_NO_FATAL_FAILURE(WriteAcknowledged(0, "before", 2, &before));
  WaitForReplicas(before);
  ASSERT_TRUE(cluster_->Kill(0).ok());
  // What a primary that crashed between storing and shipping leaves.
  AppendOutcome tail = Write(0, "unacknowledged-tail", 3);
  ASSERT_EQ(tail.code, CAIRN_OK) << tail.message;
  const uint64_t old_end = Written(0);
  int promoted = PromoteOneOf({1, 2});
  ASSERT_GE(promoted, 0);
  AppendOutcome fresh;
  ASSERT_NO_FATAL_FAILURE(WriteAcknowledged(promoted, "new-epoch", 1, &fresh));
  absl::Status s = cluster_->Reopen(0, /*as_primary=*/false);
  ASSERT_TRUE(s.ok()) << s;
  // Past the end of n0's own log, so that n0 committing it shows it
  // follows the new primary (its old watermark cannot pass for it).
  const uint64_t new_end = Written(promoted);
  AppendOutcome after = Write(promoted, "after-rejoin",
                              old_end >= new_end ? old_end - new_end + 1 : 1);
  ASSERT_EQ(after.code, CAIRN_OK) << after.message;
  ASSERT_EQ(Replicate(promoted, after), CAIRN_OK) << error_.message;
  ClusterNode old = N(0);
  uint64_t watermark = 0;
  cairn_status st = old.storage_api->wait_commit(
      old.storage, after.result.last_position - 1,
      std::chrono::milliseconds(kWaitLimit).count(), &watermark, error_.get());
  ASSERT_EQ(st, CAIRN_OK)
      << kRuleDeposedNotLeader << ": node " << cluster_->NodeId(0)
      << " rejoined as a replica but did not commit position "
      << after.result.last_position
      << " of the new primary within 10 s: " << Describe(st, error_.message);
  EXPECT_EQ(Holds(0, "unacknowledged-tail"), 0u)
      << kRuleDeposedNotLeader << ": node " << cluster_->NodeId(0)
      << " kept its unacknowledged tail after rejoining";
  std::vector<LogRow> mine, theirs;
  std::string message;
  ClusterNode leader = N(promoted);
  ASSERT_EQ(ReadLogFrom(old.storage_api, old.storage, 0,
                        after.result.last_position, &mine, &message),
            CAIRN_OK)
      << message;
  ASSERT_EQ(ReadLogFrom(leader.storage_api, leader.storage, 0,
                        after.result.last_position, &theirs, &message),
            CAIRN_OK)
      << message;
  EXPECT_TRUE(mine == theirs)
      << kRuleDeposedNotLeader << ": after rejoining, node "
      << cluster_->NodeId(0) << "'s log (" << mine.size()
      << " records) differs from the new primary's (" << theirs.size() << ")";
}

}  // namespace

void RegisterClusterHarness(const std::string& plugin_name,
                            ClusterHarnessFactory factory) {
  std::lock_guard<std::mutex> lock(HarnessMu());
  Harnesses()[plugin_name] = std::move(factory);
}

std::unique_ptr<ClusterHarness> MakeClusterHarness(const Target& target,
                                                   std::string* why_not) {
  {
    std::lock_guard<std::mutex> lock(HarnessMu());
    auto it = Harnesses().find(target.plugin->name());
    if (it != Harnesses().end()) return it->second(target);
  }
  std::string missing = MissingClusterOptions(target);
  if (!missing.empty()) {
    *why_not = absl::StrCat("the cluster options of docs/plugins.md (missing ",
                            missing, ") or a registered ClusterHarness");
    return nullptr;
  }
  return std::make_unique<OptionClusterHarness>(target);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReplicationCluster);
INSTANTIATE_TEST_SUITE_P(
    Plugin, ReplicationCluster,
    ::testing::ValuesIn(TargetsOfKind(CAIRN_KIND_REPLICATION)), TargetName);

}  // namespace cairn::conformance
