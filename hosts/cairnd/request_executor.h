// Runs one checked request against the store and produces its response
// frame. Called on a worker thread (store calls may block: fsync, group
// commit), never on an I/O thread.
#ifndef CAIRN_HOSTS_CAIRND_REQUEST_EXECUTOR_H_
#define CAIRN_HOSTS_CAIRND_REQUEST_EXECUTOR_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cairn/store.h"
#include "cairn/v1/client.pb.h"
#include "idempotency_cache.h"
#include "metrics.h"
#include "server_options.h"

namespace cairn::cairnd {

inline constexpr char kServerVersion[] = "0.1.0";

class RequestExecutor {
 public:
  RequestExecutor(Store* store, const Limits& limits, ServerMetrics* metrics)
      : store_(store), limits_(limits), metrics_(metrics) {}

  // Executes `request` (which passed protocol::CheckRequest and is not
  // hello, subscribe, credit or cancel) and fills `response` (request_id,
  // body or error). Thread-safe.
  void Execute(const v1::Request& request, v1::Response* response) const;

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

  Store* store_;
  Limits limits_;
  ServerMetrics* metrics_;
  // Appends answered by idempotency key (AppendRequest.idempotency_key).
  std::shared_ptr<IdempotencyCache> idempotency_ =
      std::make_shared<IdempotencyCache>();
};

}  // namespace cairn::cairnd

#endif  // CAIRN_HOSTS_CAIRND_REQUEST_EXECUTOR_H_
