// coordinator = static: the primary is the node whose site file says role =
// primary, until a promote (an operator's `cairn promote NODE`) moves it.
// The state lives in <state-dir>/epoch (epoch_file.h); a node learns a newer
// state from a peer's frames (Learn). Nothing elects a primary by itself:
// losing the primary stops acknowledgements until an operator promotes one.
#ifndef CAIRN_LOGSHIP_STATIC_COORDINATOR_H_
#define CAIRN_LOGSHIP_STATIC_COORDINATOR_H_

#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "coordinator.h"
#include "epoch_file.h"

namespace cairn::logship {

class StaticCoordinator : public Coordinator {
 public:
  // The state: the epoch file's if it has one, else epoch 0 with the primary
  // the options name (this node if role = primary, else unknown).
  static absl::StatusOr<std::unique_ptr<StaticCoordinator>> Open(
      const LogshipOptions& options);

  GroupState Current() override;
  absl::Status CompareAndSet(uint64_t expected_epoch,
                             const GroupState& next) override;
  void Watch(std::function<void(const GroupState&)> on_change) override;
  // Ok if this node is the primary of the current state; else
  // FailedPrecondition (a static group changes its primary only by promote).
  absl::Status Campaign() override;
  void Resign() override {}

  // A peer showed a newer epoch (and its primary): adopt and persist it.
  // Returns true if the state changed.
  absl::StatusOr<bool> Learn(uint64_t epoch, const std::string& primary);

 private:
  StaticCoordinator(const LogshipOptions& options, GroupState state);
  absl::Status SetLocked(const GroupState& next);

  const std::string node_id_;
  const std::string state_dir_;
  std::mutex mutex_;
  GroupState state_;
  std::vector<std::function<void(const GroupState&)>> watchers_;
};

}  // namespace cairn::logship

#endif  // CAIRN_LOGSHIP_STATIC_COORDINATOR_H_
