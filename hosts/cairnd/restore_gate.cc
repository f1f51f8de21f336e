#include "restore_gate.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/log_record.h"
#include "cairn/names.h"
#include "cairn/status.h"
#include "log.h"

namespace cairn::cairnd {
namespace {

absl::Status Refused(const std::string& why) {
  return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                    absl::StrCat("restore through the server refused: ", why));
}

std::string CallMessage(const char* message, cairn_status status) {
  return message[0] != '\0' ? std::string(message)
                            : std::string(CodeName(status));
}

}  // namespace

absl::Status RestoreGate::Admit(const std::function<void()>& request) const {
  if (beginning_.load(std::memory_order_acquire)) {
    return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                      "a restore through the server is starting; the "
                      "server takes requests again if it is refused or when "
                      "it ends");
  }
  std::shared_lock lock(mutex_);
  if (session_ != nullptr) {
    return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                      "a restore through the server is under way; the "
                      "server takes requests again when it ends");
  }
  request();
  return absl::OkStatus();
}

bool RestoreGate::Active() const {
  std::shared_lock lock(mutex_);
  return session_ != nullptr;
}

absl::Status RestoreGate::Begin(const void* session, uint64_t last_position,
                                int64_t open_subscriptions) {
  // No new request is admitted from here on (see beginning_), then
  // exclusive: waits for every request running.
  bool idle = false;
  if (!beginning_.compare_exchange_strong(idle, true,
                                          std::memory_order_acq_rel)) {
    return Refused("another restore is being started");
  }
  struct EndBeginning {
    std::atomic<bool>* flag;
    ~EndBeginning() { flag->store(false, std::memory_order_release); }
  } end_beginning{&beginning_};
  std::unique_lock lock(mutex_);
  if (session_ != nullptr) return Refused("another restore is under way");
  if (last_position == 0) return Refused("the backup holds no record");
  const PluginPtr& storage = store_->storage_plugin();
  if (!storage->Has(CAIRN_CAP_ORDERED_LOG) || !storage->Has(CAIRN_CAP_APPLY) ||
      !storage->Has(CAIRN_CAP_TRUNCATE)) {
    return Refused(absl::StrCat(
        "storage plugin '", storage->name(),
        "' lacks ORDERED_LOG, APPLY or TRUNCATE (a cut restore is taken "
        "back with truncate_after)"));
  }
  if (store_->host_commit() || store_->role() != CAIRN_ROLE_STANDALONE) {
    return Refused(
        "this node runs multi-node replication; records applied under it "
        "would bypass replication. Restore the primary's store with --data");
  }
  if (open_subscriptions > 0) {
    return Refused(absl::StrCat(
        open_subscriptions,
        " subscription(s) are open; they would see a half-restored store"));
  }
  absl::StatusOr<LogState> state = store_->GetLogState();
  if (!state.ok()) return state.status();
  if (state->written != 0) {
    return Refused(absl::StrCat(
        "the store is not empty (records up to position ", state->written,
        "); restore only into an empty store (there is no --force through "
        "the server)"));
  }
  SetSessionLocked(session);
  last_position_ = last_position;
  applied_ = 0;
  Log(spdlog::level::info, "restore began",
      {{"last_position", std::to_string(last_position)}});
  return absl::OkStatus();
}

absl::Status RestoreGate::Apply(const void* session,
                                const v1::ApplyLogRequest& request) {
  std::unique_lock lock(mutex_);
  if (session_ == nullptr || session_ != session) {
    return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                      "apply_log without a restore_begin on this connection");
  }
  std::vector<OwnedLogRecord> records;
  records.reserve(request.records_size());
  for (const log::v1::LogRecord& proto : request.records()) {
    absl::StatusOr<OwnedLogRecord> record = FromProto(proto);
    if (!record.ok()) {
      return MakeStatus(
          CAIRN_E_INVALID_ARGUMENT,
          absl::StrCat("apply_log: the record at position ", proto.position(),
                       ": ", record.status().message()));
    }
    // A client must not bring in a name appends would refuse.
    if (absl::Status names = ValidateRecordNames(record->View()); !names.ok()) {
      return MakeStatus(CAIRN_E_INVALID_ARGUMENT,
                        absl::StrCat("apply_log: ", names.message()));
    }
    if (record->position != applied_ + 1 + records.size() ||
        record->position > last_position_) {
      return MakeStatus(
          CAIRN_E_FAILED_PRECONDITION,
          absl::StrCat("apply_log: position ", record->position, " where ",
                       applied_ + 1 + records.size(), " (at most ",
                       last_position_, ") was expected"));
    }
    records.push_back(*std::move(record));
  }
  if (records.empty()) return absl::OkStatus();
  std::vector<const cairn_log_record*> views = LogRecordViews(records);
  char message[512] = "";
  cairn_error error{message, sizeof(message)};
  const cairn_status status = store_->storage_plugin()->storage()->apply_log(
      store_->raw_storage(), views.data(), views.size(), &error);
  if (status != CAIRN_OK) {
    return MakeStatus(status, absl::StrCat("apply_log of positions ",
                                           records.front().position, "..",
                                           records.back().position, ": ",
                                           CallMessage(message, status)));
  }
  applied_ = records.back().position;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RestoreGate::End(const void* session) {
  std::unique_lock lock(mutex_);
  if (session_ == nullptr || session_ != session) {
    return MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                      "restore_end without a restore_begin on this connection");
  }
  absl::Status checked;
  uint64_t head = 0;
  if (applied_ != last_position_) {
    checked = MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                         absl::StrCat("restore_end after position ", applied_,
                                      " of ", last_position_));
  }
  if (checked.ok()) checked = store_->Flush();
  if (checked.ok()) {
    absl::StatusOr<uint64_t> position = store_->HeadPosition();
    checked = position.status();
    if (position.ok()) head = *position;
  }
  if (checked.ok() && head != last_position_) {
    checked =
        MakeStatus(CAIRN_E_CORRUPTION,
                   absl::StrCat("after the restore the head position is ", head,
                                ", not the backup's ", last_position_));
  }
  if (!checked.ok()) {
    absl::Status back = TakeBackLocked();
    SetSessionLocked(nullptr);
    if (!back.ok()) {
      return MakeStatus(CodeOf(checked),
                        absl::StrCat(checked.message(),
                                     "; taking the records back failed too: ",
                                     back.message()));
    }
    return MakeStatus(CodeOf(checked),
                      absl::StrCat(checked.message(),
                                   "; the records were taken back (the store "
                                   "is empty)"));
  }
  SetSessionLocked(nullptr);
  Log(spdlog::level::info, "restore ended",
      {{"head_position", std::to_string(head)}});
  return head;
}

void RestoreGate::Abandon(const void* session) {
  // Only the connection that began the restore has anything to take back.
  // Its own requests have all finished when it ends (each holds the
  // connection), so owner_ cannot become `session` after this load.
  if (owner_.load(std::memory_order_acquire) != session) return;
  std::unique_lock lock(mutex_);
  if (session_ == nullptr || session_ != session) return;
  absl::Status back = TakeBackLocked();
  if (back.ok()) {
    Log(spdlog::level::warn,
        "restore cut before restore_end; its records were taken back",
        {{"applied", std::to_string(applied_)}});
    SetSessionLocked(nullptr);
    return;
  }
  // The store holds part of a backup and cannot be emptied: keep refusing
  // every request rather than serve it (no connection matches this).
  SetSessionLocked(this);
  Log(spdlog::level::err,
      "restore cut and its records could not be taken back; the server "
      "refuses every request (stop it, empty the store folder)",
      {{"error", std::string(back.message())}});
}

absl::Status RestoreGate::TakeBackLocked() {
  if (applied_ == 0) return absl::OkStatus();
  char message[512] = "";
  cairn_error error{message, sizeof(message)};
  const cairn_status status =
      store_->storage_plugin()->storage()->truncate_after(
          store_->raw_storage(), 0, CAIRN_TRUNCATE_COMMITTED, &error);
  if (status != CAIRN_OK) {
    return MakeStatus(status, absl::StrCat("truncate_after 0: ",
                                           CallMessage(message, status)));
  }
  applied_ = 0;
  return absl::OkStatus();
}

}  // namespace cairn::cairnd
