// Runs one checked request against the store and produces its response
// frame. Called on a worker thread (store calls may block: fsync, group
// commit), never on an I/O thread.
#ifndef CAIRN_HOSTS_CAIRND_REQUEST_EXECUTOR_H_
#define CAIRN_HOSTS_CAIRND_REQUEST_EXECUTOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cairn/store.h"
#include "cairn/v1/client.pb.h"
#include "idempotency_cache.h"
#include "metrics.h"
#include "restore_gate.h"
#include "server_options.h"

namespace cairn::cairnd {

inline constexpr char kServerVersion[] = "0.1.0";
// The cairn.v1 minor version this server speaks (client.proto,
// ProtocolVersion): 1 adds backup_begin and read_log, 2 the append's
// epoch, 3 its `repeated`, 4 verify, rotate_key and server_info's log,
// 5 maintain.
inline constexpr uint32_t kProtocolMinor = 5;

class RequestExecutor {
 public:
  RequestExecutor(Store* store, const Limits& limits, ServerMetrics* metrics)
      : store_(store),
        limits_(limits),
        metrics_(metrics),
        restore_(std::make_shared<RestoreGate>(store)) {}

  // Executes `request` (which passed protocol::CheckRequest and is not
  // hello, subscribe, credit or cancel) and fills `response` (request_id,
  // body or error). `session`: the connection it came on (a restore
  // belongs to one). While a restore runs, every other request fails
  // (RestoreGate). Thread-safe.
  void Execute(const v1::Request& request, v1::Response* response,
               const void* session = nullptr) const;

  // Whether a restore is under way (no subscription may open then).
  bool RestoreUnderWay() const { return restore_->Active(); }
  // The connection `session` ended: a restore it began and did not end is
  // taken back.
  void EndSession(const void* session) const { restore_->Abandon(session); }

  // Fetches up to `max_events` events from `subscription` without waiting
  // and appends them to `frames` as SubscriptionEvents responses with
  // request id `subscription_id`, each kept near `response_budget` bytes.
  // Returns the number of events, or the store's error.
  absl::StatusOr<size_t> PullSubscription(Subscription* subscription,
                                          uint64_t subscription_id,
                                          size_t max_events,
                                          std::string* frames) const;

  // Bytes of events one response carries before it is cut (events are never
  // split: a response holds at least one event).
  size_t response_budget() const { return limits_.max_frame / 2; }

 private:
  void ExecuteAdmitted(const v1::Request& request,
                       v1::Response* response) const;
  void Append(const v1::AppendRequest& request, v1::Response* response) const;
  void ReadStream(const v1::ReadStreamRequest& request,
                  v1::Response* response) const;
  void ReadTag(const v1::ReadTagRequest& request, v1::Response* response) const;
  void ReadAll(const v1::ReadAllRequest& request, v1::Response* response) const;
  // Shared by ReadTag and ReadAll: pages a read by position after
  // `after_position`; `read(ask, on_event)` runs the store call.
  void ReadByPosition(
      uint64_t after_position, int64_t max_count,
      const std::function<absl::Status(uint64_t, const cairn::Store::EventFn&)>& read,
      v1::Response* response) const;
  void ListStreams(const v1::ListStreamsRequest& request,
                   v1::Response* response) const;
  void ServerInfo(v1::Response* response) const;

  void Promote(v1::Response* response) const;
  // A backup through the server: its end, then the log page by page.
  void BackupBegin(const v1::BackupBeginRequest& request,
                   v1::Response* response) const;
  void ReadLog(const v1::ReadLogRequest& request, v1::Response* response) const;
  // Store::Verify while the server serves; one at a time (verifying_).
  void Verify(const v1::VerifyRequest& request, v1::Response* response) const;

  Store* store_;
  Limits limits_;
  ServerMetrics* metrics_;
  // Appends answered by idempotency key (AppendRequest.idempotency_key).
  std::shared_ptr<IdempotencyCache> idempotency_ =
      std::make_shared<IdempotencyCache>();
  std::shared_ptr<RestoreGate> restore_;
  // Set while a verify runs: it holds a worker for as long as it takes.
  std::shared_ptr<std::atomic<bool>> verifying_ =
      std::make_shared<std::atomic<bool>>(false);
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_REQUEST_EXECUTOR_H_
