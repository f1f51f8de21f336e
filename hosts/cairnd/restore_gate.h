// A restore into the store a running cairnd serves (restore_begin,
// apply_log, restore_end; docs/server.md, "Restore through the server").
// While one runs, every other request is refused, so nothing reads a
// half-restored store or writes beside apply_log; a restore whose
// connection ends before restore_end is taken back (truncate_after 0).
// Thread-safe.
#ifndef CAIRN_HOSTS_CAIRND_RESTORE_GATE_H_
#define CAIRN_HOSTS_CAIRND_RESTORE_GATE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/store.h"
#include "cairn/v1/client.pb.h"

namespace cairn::cairnd {

class RestoreGate {
 public:
  explicit RestoreGate(Store* store) : store_(store) {}

  // Runs `request` (any other request) unless a restore is under way or
  // beginning: FailedPrecondition then. Requests run beside each other; a
  // restore begins only once none is running, and from the moment Begin is
  // called no new one is admitted, so a steady stream of overlapping
  // requests cannot hold a restore off for ever.
  absl::Status Admit(const std::function<void()>& request) const;
  // Whether a restore is under way (a subscription must not open).
  bool Active() const;

  // restore_begin from `session` (a connection). `open_subscriptions`:
  // subscriptions open on the server (a restore needs none).
  absl::Status Begin(const void* session, uint64_t last_position,
                     int64_t open_subscriptions);
  absl::Status Apply(const void* session, const v1::ApplyLogRequest& request);
  // restore_end: the head position, or why the restore failed (and was
  // taken back).
  absl::StatusOr<uint64_t> End(const void* session);
  // The connection `session` ended: takes back its restore, if any.
  void Abandon(const void* session);

 private:
  // Removes every record applied; caller holds mutex_ exclusively.
  absl::Status TakeBackLocked();

  Store* const store_;
  mutable std::shared_mutex mutex_;
  // Set while Begin waits for the requests running to end (and checks):
  // Admit refuses new ones meanwhile, since a shared_mutex may let readers
  // that keep overlapping starve the exclusive lock.
  std::atomic<bool> beginning_{false};
  // Under mutex_.
  const void* session_ = nullptr;  // the restoring connection; null: none
  // session_ as last set (under mutex_ held exclusively), read without it:
  // Abandon runs for every connection that ends, on an I/O thread, and must
  // not wait for the shared lock every running request holds (a verify
  // holds it for as long as it reads the store) unless the connection is
  // the restoring one.
  std::atomic<const void*> owner_{nullptr};
  void SetSessionLocked(const void* session) {
    session_ = session;
    owner_.store(session, std::memory_order_release);
  }
  uint64_t last_position_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_RESTORE_GATE_H_
