// The primary's view of which replica holds what durably, and the ack rule
// over it: replicate() waits here (docs/replication.md, "Ack rules").
#ifndef CAIRN_LOGSHIP_ACK_TRACKER_H_
#define CAIRN_LOGSHIP_ACK_TRACKER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "options.h"

namespace cairn::logship {

class AckTracker {
 public:
  // `replicas`: every other member of the group; `sync_set` (ack = sync) a
  // subset of them. The primary itself always holds what it asks about
  // (replicate runs after storage made the records durable).
  AckTracker(AckRule rule, std::vector<std::string> replicas,
             std::vector<std::string> sync_set);

  // A replica reported `durable`. `counts` is false for a replica whose
  // storage never syncs: it is tracked (lag) but never acknowledges.
  // `durable` may go down (a replica that truncated on rejoining).
  void Update(const std::string& replica, uint64_t durable, bool counts);

  // Whether the rule holds for every position up to `position`.
  bool Holds(uint64_t position) const;

  // Waits until Holds(position), `timeout` passes (0: no limit) or Close.
  // DeadlineExceeded naming the replicas still missing; Cancelled after
  // Close.
  absl::Status WaitFor(uint64_t position, std::chrono::milliseconds timeout);

  // Wakes every waiter with Cancelled; later waits fail at once.
  void Close();

  // The replicas (of those that count for the rule) that do not hold
  // `position` durably, e.g. "b (durable 17), c (never syncs)".
  std::string Missing(uint64_t position) const;

  // The lowest durable position among all replicas (0 if any has none).
  uint64_t MinDurable() const;
  uint64_t Durable(const std::string& replica) const;
  // Durable(replica) if it counts (its storage syncs), none otherwise.
  std::optional<uint64_t> CountingDurable(const std::string& replica) const;

  // ack = sync: replaces the members that must hold a position (the
  // primary left out). Waiters re-check at once: taking a member out
  // releases those that waited only for it.
  void SetSyncSet(std::vector<std::string> sync_set);
  std::vector<std::string> sync_set() const;

  // Whether a session with `replica` is up now; the tracker remembers
  // since when it has been down.
  void SetConnected(const std::string& replica, bool connected);
  // Without a session, known to have been unreachable since `since`
  // (earlier than the tracker).
  void SetDownSince(const std::string& replica,
                    std::chrono::steady_clock::time_point since);
  // How long `replica` has been without a session: since the tracker was
  // made if it never had one, zero while it has one.
  std::chrono::steady_clock::duration DownFor(const std::string& replica) const;

  // How long `replica` has been holding an append back: the longest any
  // WaitFor still waiting has waited for a position it does not hold
  // durably (or at all, if its durable position does not count). Zero
  // while no waiter needs it. For any rule; ack = sync under etcd uses it
  // to take a connected but slow member out of the sync set.
  std::chrono::steady_clock::duration HoldingBackFor(
      const std::string& replica) const;

 private:
  struct Replica {
    uint64_t durable = 0;
    bool counts = false;
    bool heard = false;  // has reported at least once
    bool connected = false;
    std::chrono::steady_clock::time_point down_since;
  };
  bool HoldsLocked(uint64_t position) const;

  const AckRule rule_;
  std::vector<std::string> sync_set_;  // guarded by mutex_
  size_t needed_ = 0;  // quorum: replicas needed besides the primary
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Replica> replicas_;
  // Every WaitFor now waiting: its position and when it began.
  std::multimap<uint64_t, std::chrono::steady_clock::time_point> waiting_;
  bool closed_ = false;
};

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_ACK_TRACKER_H_
