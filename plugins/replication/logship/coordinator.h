// Who leads a replica group, and the change of leader by compare-and-set
// (docs/replication.md, "Coordination"). Two implementations share this
// shape: StaticCoordinator (static_coordinator.h: roles from the site file
// and promote) and the etcd one (logship/etcd/, not built into logship yet).
#ifndef CAIRN_LOGSHIP_COORDINATOR_H_
#define CAIRN_LOGSHIP_COORDINATOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "options.h"

namespace cairn::logship {

// One group's state; every change bumps `epoch`.
struct GroupState {
  uint64_t epoch = 0;
  std::string primary;  // node id; empty: none known
  std::vector<std::string> sync_set;
  AckRule ack = AckRule::kQuorum;
};

// Thread-safe: every function may be called from any thread.
class Coordinator {
 public:
  virtual ~Coordinator() = default;
  // The newest state this node knows.
  virtual GroupState Current() = 0;
  // Replaces the state with `next` if its epoch is still `expected_epoch`
  // (next.epoch must exceed it). FailedPrecondition naming both epochs
  // otherwise, changing nothing. Persisted before it returns.
  virtual absl::Status CompareAndSet(uint64_t expected_epoch,
                                     const GroupState& next) = 0;
  // Calls `on_change` (on the changing thread, no lock held) after every
  // change of the state, from this node or learnt from a peer.
  virtual void Watch(std::function<void(const GroupState&)> on_change) = 0;
  // Asks to lead: Ok once this node holds the leadership (a lease with
  // etcd), FailedPrecondition if it cannot now.
  virtual absl::Status Campaign() = 0;
  // Gives up the leadership (if held).
  virtual void Resign() = 0;
};

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_COORDINATOR_H_
