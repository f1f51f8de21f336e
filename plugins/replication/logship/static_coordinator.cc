#include "static_coordinator.h"

#include "absl/strings/str_cat.h"

namespace cairn::logship {

absl::StatusOr<std::unique_ptr<StaticCoordinator>> StaticCoordinator::Open(
    const LogshipOptions& options) {
  absl::StatusOr<EpochRecord> saved = LoadEpoch(options.state_dir);
  if (!saved.ok()) return saved.status();
  GroupState state;
  state.ack = options.ack;
  state.sync_set = options.sync_set;
  if (saved->epoch > 0) {
    state.epoch = saved->epoch;
    state.primary = saved->primary;
  } else if (options.role == StaticRole::kPrimary) {
    state.primary = options.node_id;
  }
  return std::unique_ptr<StaticCoordinator>(
      new StaticCoordinator(options, std::move(state)));
}

StaticCoordinator::StaticCoordinator(const LogshipOptions& options,
                                     GroupState state)
    : node_id_(options.node_id),
      state_dir_(options.state_dir),
      state_(std::move(state)) {}

GroupState StaticCoordinator::Current() {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

absl::Status StaticCoordinator::SetLocked(const GroupState& next) {
  absl::Status saved =
      SaveEpoch(state_dir_, EpochRecord{next.epoch, next.primary});
  if (!saved.ok()) return saved;
  state_ = next;
  return absl::OkStatus();
}

absl::Status StaticCoordinator::CompareAndSet(uint64_t expected_epoch,
                                              const GroupState& next) {
  std::vector<std::function<void(const GroupState&)>> watchers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_.epoch != expected_epoch || next.epoch <= expected_epoch) {
      return absl::FailedPreconditionError(
          absl::StrCat("group state changed: expected epoch ", expected_epoch,
                       ", current ", state_.epoch, ", proposed ", next.epoch));
    }
    absl::Status s = SetLocked(next);
    if (!s.ok()) return s;
    watchers = watchers_;
  }
  for (auto& watcher : watchers) watcher(next);
  return absl::OkStatus();
}

absl::StatusOr<bool> StaticCoordinator::Learn(uint64_t epoch,
                                              const std::string& primary) {
  GroupState next;
  std::vector<std::function<void(const GroupState&)>> watchers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (epoch < state_.epoch ||
        (epoch == state_.epoch && primary == state_.primary)) {
      return false;
    }
    if (epoch == state_.epoch && !state_.primary.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("epoch ", epoch, " has primary '", state_.primary,
                       "', not '", primary, "'"));
    }
    next = state_;
    next.epoch = epoch;
    next.primary = primary;
    absl::Status s = SetLocked(next);
    if (!s.ok()) return s;
    watchers = watchers_;
  }
  for (auto& watcher : watchers) watcher(next);
  return true;
}

void StaticCoordinator::Watch(
    std::function<void(const GroupState&)> on_change) {
  std::lock_guard<std::mutex> lock(mutex_);
  watchers_.push_back(std::move(on_change));
}

absl::Status StaticCoordinator::Campaign() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.primary == node_id_) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "coordinator = static: node '", node_id_,
      "' is not the primary of epoch ", state_.epoch, " ('", state_.primary,
      "' is); promote it explicitly (cairn promote ", node_id_, ")"));
}

}  // namespace cairn::logship
