// Coordination of one logship replica group through etcd (ROUND4 decision
// 6: the operations of logship's Coordinator — Current, CompareAndSet,
// Watch, Campaign, Resign — plus member registration).
//
// Keys, under the prefix /cairn/<group>/:
//   state          JSON {"primary": id, "ack": rule}.
//                  Its etcd mod_revision is the group's epoch: every change
//                  is a compare-and-swap on it, so epochs only grow and two
//                  writers from the same epoch cannot both succeed.
//   sync           JSON {"members": [id...], "by": id}: the sync set of
//                  ack = sync, and the node that wrote it. A key of its
//                  own, so that a member leaving or rejoining does not
//                  change the epoch. Written only by a primary, comparing
//                  the state key's mod_revision with the epoch it leads,
//                  or created by the campaign that names the first primary.
//   leader         the campaigning node's id, attached to its lease; put
//                  only if absent (create_revision == 0).
//   members/<id>   JSON {"address", "position", "epoch"}, attached to the
//                  member's own lease.
// The lease only detects failure: a node that lost its lease is deposed by
// the next CompareAndSet (a newer epoch), never by a clock.
#ifndef CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_COORDINATOR_H_
#define CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_COORDINATOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "etcd_gateway.h"

namespace cairn::logship::etcd {

// The group's coordination record. `epoch` is the etcd mod_revision of the
// state key (0: no state written yet); it is not stored in the value.
struct GroupState {
  int64_t epoch = 0;
  std::string primary = {};
  std::string ack = {};  // "async" | "sync" | "quorum"

  bool operator==(const GroupState&) const = default;
};

// The sync set of ack = sync (key `sync`). Every record the primary
// acknowledges is durable on every member, so only a member may lead next.
struct SyncSet {
  int64_t revision = 0;  // the key's mod_revision; 0: no sync key yet
  std::string by = {};   // the node that wrote it
  std::vector<std::string> members = {};

  bool operator==(const SyncSet&) const = default;
};

// Campaign's part under ack = sync.
struct SyncCampaign {
  // The set to create, with this node primary, if no sync key exists (the
  // site's option); the node must be in it.
  std::vector<std::string> initial = {};
  // Set by a campaign that succeeded: the sync set it led with.
  SyncSet result = {};
};

// What a member registers about itself.
struct MemberInfo {
  std::string address = {};  // where its logship listener is reached
  uint64_t position = 0;
  int64_t epoch = 0;
};

struct Member {
  std::string id = {};
  MemberInfo info;
};

struct EtcdCoordinatorOptions {
  GatewayOptions gateway;
  std::string group = {};  // [A-Za-z0-9._-]+
  // How long one watch long-poll waits for a change before reconnecting;
  // also the longest StopWatch() / the destructor waits for the watcher.
  std::chrono::milliseconds watch_window{2000};
  // Called on the renewal thread when the leader lease is found expired (or
  // could not be renewed for a whole TTL): this node must stop acting as
  // primary. Must not call back into the coordinator's Resign/destructor.
  std::function<void()> on_leadership_lost = {};
  // This node's ack rule ("async" | "sync" | "quorum"). Campaign writes it
  // into a state that names none and refuses a state that names another:
  // every node of a group must acknowledge by one rule. Empty: neither.
  std::string ack = {};
};

class EtcdCoordinator {
 public:
  // Fails with kInvalidArgument on a bad group name or endpoint. Does not
  // contact etcd.
  static absl::StatusOr<std::unique_ptr<EtcdCoordinator>> Create(
      EtcdCoordinatorOptions options);
  // Stops the watcher and the lease renewal. Does NOT revoke leases: a
  // node that goes away without Resign() is seen as failed once its lease
  // expires (call Resign()/Deregister() first for a clean hand-over).
  ~EtcdCoordinator();

  EtcdCoordinator(const EtcdCoordinator&) = delete;
  EtcdCoordinator& operator=(const EtcdCoordinator&) = delete;

  // The group's state now (epoch 0 and empty if never written).
  absl::StatusOr<GroupState> Current();

  // Writes `next` if the group is still at `expected_epoch` (0: only if no
  // state exists). Returns the written state with its new epoch. Fails with
  // kFailedPrecondition, naming the current epoch and primary, if another
  // write came first. When an answer is lost (a member died, etcd is
  // electing), it re-reads and retries from the same epoch (at most one of
  // the tries can pass the comparison; 3 tries), and takes a state equal to
  // `next` found after a lost answer as its own write. kUnavailable if etcd
  // cannot be reached or the outcome stays unknown (IsOutcomeUnknown).
  absl::StatusOr<GroupState> CompareAndSet(int64_t expected_epoch,
                                           const GroupState& next);

  // Calls `callback` on a watcher thread with the current state and then
  // every later one, in increasing epoch order, each epoch once (states
  // that follow each other faster than a watch may be merged: only the
  // latest is delivered). A deleted state key is delivered as an empty
  // state whose epoch is the deleting revision. One watcher per
  // coordinator: kFailedPrecondition if one runs.
  absl::Status Watch(std::function<void(const GroupState&)> callback);
  void StopWatch();

  // Becomes the group's primary: puts the leader key attached to a new
  // lease of `lease_ttl` only if no other node holds it, then
  // compare-and-sets the state naming `node` primary (and the options'
  // ack rule, if the state names none; a state naming another is refused,
  // kFailedPrecondition).
  // Refuses (kFailedPrecondition) if another node holds the leader key.
  // With `sync` (ack = sync), refuses a node that is not a member of the
  // sync set (only a member holds every acknowledged record), and the
  // state's compare-and-set also compares the sync key's revision: a
  // primary that took `node` out of the set first makes it fail, and one
  // that tries after it finds the epoch changed. A campaign that fails
  // after taking the leader key gives it up. The lease is then renewed
  // every lease_ttl/3 on this coordinator's renewal thread. Returns the
  // new state.
  absl::StatusOr<GroupState> Campaign(const std::string& node,
                                      std::chrono::seconds lease_ttl,
                                      SyncCampaign* sync = nullptr);

  // The sync set now (revision 0 and no members if never written).
  absl::StatusOr<SyncSet> CurrentSyncSet();
  // Writes `members` as the sync set if the state is still at `epoch` (the
  // writer leads it) and the sync key still at `expected_revision`. Returns
  // the written set. kFailedPrecondition naming what moved if either did;
  // an etcd error as is (the outcome may be unknown: read it back).
  absl::StatusOr<SyncSet> SetSyncSet(const std::string& by, int64_t epoch,
                                     int64_t expected_revision,
                                     std::vector<std::string> members);
  // Gives up the leader key (only if still ours) and revokes the lease.
  // The state key keeps naming this node until the next primary's
  // CompareAndSet. OK if not leader.
  absl::Status Resign();
  // Whether this coordinator holds the leader key as far as it knows (its
  // last renewal succeeded).
  bool IsLeader() const;
  // The node id the leader key names now (a linearizable read); empty if
  // no node holds it (never taken, resigned, or its lease expired).
  absl::StatusOr<std::string> LeaderNode();

  // Registers `member_id` with its own lease of `lease_ttl`, renewed on the
  // renewal thread. Calling it again updates the info (same lease).
  absl::Status Register(const std::string& member_id, const MemberInfo& info,
                        std::chrono::seconds lease_ttl);
  // Revokes the member lease (its key goes with it).
  absl::Status Deregister();
  // Every registered member, by id.
  absl::StatusOr<std::vector<Member>> Members();

  // Successful lease renewals so far (for tests and metrics).
  uint64_t renewals() const { return renewals_.load(); }
  // The group's keys.
  const std::string& state_key() const { return state_key_; }
  const std::string& leader_key() const { return leader_key_; }
  const std::string& sync_key() const { return sync_key_; }
  std::string member_key(const std::string& member_id) const;

 private:
  struct HeldLease {
    int64_t id = 0;
    std::chrono::milliseconds ttl{0};
    std::chrono::steady_clock::time_point last_renewed;
  };
  EtcdCoordinator(EtcdCoordinatorOptions options, EtcdGateway gateway);

  absl::StatusOr<GroupState> Parse(const KeyValue& kv) const;
  absl::StatusOr<SyncSet> ParseSyncSet(const KeyValue& kv) const;
  // Campaign's state write, holding the leader key created at
  // `leader_revision`, from the state and (under sync) the sync set it
  // read before taking the key.
  absl::StatusOr<GroupState> NamePrimary(const std::string& node,
                                         GroupState current, SyncSet sync_now,
                                         int64_t leader_revision,
                                         SyncCampaign* sync);
  void StartRenewer();
  void RenewLoop();
  void WatchLoop(std::function<void(const GroupState&)> callback);

  EtcdCoordinatorOptions options_;
  EtcdGateway gateway_;
  const std::string prefix_;
  const std::string state_key_;
  const std::string leader_key_;
  const std::string sync_key_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                  // guarded by mu_
  std::optional<HeldLease> leader_lease_;  // guarded by mu_
  int64_t leader_create_revision_ = 0;     // guarded by mu_
  std::string leader_node_;                // guarded by mu_
  std::optional<HeldLease> member_lease_;  // guarded by mu_
  std::string member_id_;                  // guarded by mu_
  std::thread renewer_;                    // started on first lease
  std::atomic<uint64_t> renewals_{0};

  std::atomic<bool> watch_stop_{false};
  std::thread watcher_;
};

}  // namespace cairn::logship::etcd

#endif  // CAIRN_PLUGINS_REPLICATION_LOGSHIP_ETCD_ETCD_COORDINATOR_H_
