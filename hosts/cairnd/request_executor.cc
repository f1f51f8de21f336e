#include "request_executor.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "cairn/log/v1/log.pb.h"
#include "cairn/log_record.h"
#include "cairn/status.h"
#include "protocol/convert.h"
#include "protocol/frame.h"
#include "restore_gate.h"

namespace cairn::cairnd {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool SetError(const absl::Status& status, v1::Response* response) {
  if (status.ok()) return false;
  protocol::StatusToError(status, response->mutable_error());
  return true;
}

// Collects events into a ReadResponse until the page is full or the byte
// budget is spent; the event after that marks the read as cut.
class PageCollector {
 public:
  PageCollector(v1::ReadResponse* read, uint64_t page, size_t budget)
      : read_(read), page_(page), budget_(budget) {}

  bool operator()(const RecordedEvent& event) {
    if (count_ == page_ || bytes_ >= budget_) {
      cut_ = true;
      return false;
    }
    protocol::ToProto(event, read_->add_events());
    ++count_;
    bytes_ += event.data.size() + event.metadata.size() + event.type.size() +
              event.stream.size() + 64;
    last_revision_ = event.revision;
    last_position_ = event.position;
    return true;
  }

  uint64_t count() const { return count_; }
  bool cut() const { return cut_; }
  uint64_t last_revision() const { return last_revision_; }
  uint64_t last_position() const { return last_position_; }

 private:
  v1::ReadResponse* read_;
  uint64_t page_;
  size_t budget_;
  uint64_t count_ = 0;
  size_t bytes_ = 0;
  bool cut_ = false;
  uint64_t last_revision_ = 0;
  uint64_t last_position_ = 0;
};

// The page size for a request asking `max_count` (0: no limit) and how many
// events to ask the store for: one more than the page when the page may cut
// the request short, so the collector can tell.
void PageFor(int64_t max_count, uint32_t max_read_events, uint64_t* page,
             uint64_t* ask) {
  const uint64_t want =
      max_count == 0 ? kMaxRevision : static_cast<uint64_t>(max_count);
  *page = std::min<uint64_t>(want, max_read_events);
  *ask = want > *page ? *page + 1 : *page;
}

// The store's watermarks, or Unsupported if its storage keeps no ordered
// log (backup_begin, read_log).
absl::StatusOr<LogState> OrderedLogState(Store& store) {
  const PluginPtr& storage = store.storage_plugin();
  if (!storage->Has(CAIRN_CAP_ORDERED_LOG)) {
    return MakeStatus(CAIRN_E_UNSUPPORTED,
                      absl::StrCat("storage plugin '", storage->name(),
                                   "' keeps no ordered log "
                                   "(CAIRN_CAP_ORDERED_LOG); a backup copies "
                                   "the ordered log"));
  }
  return store.GetLogState();
}

}  // namespace

void RequestExecutor::Execute(const v1::Request& request,
                              v1::Response* response,
                              const void* session) const {
  response->set_request_id(request.request_id());
  switch (request.body_case()) {
    case v1::Request::kRestoreBegin:
      if (!SetError(
              restore_->Begin(session, request.restore_begin().last_position(),
                              metrics_->subscriptions_active.load()),
              response)) {
        response->mutable_done();
      }
      break;
    case v1::Request::kApplyLog:
      if (!SetError(restore_->Apply(session, request.apply_log()), response)) {
        response->mutable_done();
      }
      break;
    case v1::Request::kRestoreEnd: {
      absl::StatusOr<uint64_t> head = restore_->End(session);
      if (!SetError(head.status(), response)) {
        response->mutable_restore_end()->set_head_position(*head);
      }
      break;
    }
    default:
      // Every other request waits for no restore and runs beside others.
      SetError(restore_->Admit([&] { ExecuteAdmitted(request, response); }),
               response);
      break;
  }
  if (response->has_error()) metrics_->CountError(response->error().code());
}

void RequestExecutor::ExecuteAdmitted(const v1::Request& request,
                                      v1::Response* response) const {
  switch (request.body_case()) {
    case v1::Request::kAppend:
      Append(request.append(), response);
      break;
    case v1::Request::kReadStream:
      ReadStream(request.read_stream(), response);
      break;
    case v1::Request::kReadTag:
      ReadTag(request.read_tag(), response);
      break;
    case v1::Request::kReadAll:
      ReadAll(request.read_all(), response);
      break;
    case v1::Request::kDeleteTo: {
      const auto& del = request.delete_to();
      if (!SetError(store_->DeleteTo(del.stream(), del.revision()), response)) {
        response->mutable_done();
      }
      break;
    }
    case v1::Request::kSaveSnapshot:
      if (!SetError(store_->SaveSnapshot(
                        protocol::FromProto(request.save_snapshot().snapshot())),
                    response)) {
        response->mutable_done();
      }
      break;
    case v1::Request::kLoadSnapshot: {
      const auto& load = request.load_snapshot();
      auto snapshot = store_->LoadSnapshot(
          load.stream(), protocol::FromProto(load.criteria()));
      if (SetError(snapshot.status(), response)) break;
      auto* out = response->mutable_snapshot();
      out->set_found(snapshot->has_value());
      if (snapshot->has_value()) {
        protocol::ToProto(**snapshot, out->mutable_snapshot());
      }
      break;
    }
    case v1::Request::kDeleteSnapshot: {
      const auto& del = request.delete_snapshot();
      if (!SetError(store_->DeleteSnapshot(del.stream(), del.revision()),
                    response)) {
        response->mutable_done();
      }
      break;
    }
    case v1::Request::kDeleteSnapshots: {
      const auto& del = request.delete_snapshots();
      if (!SetError(store_->DeleteSnapshots(
                        del.stream(), protocol::FromProto(del.criteria())),
                    response)) {
        response->mutable_done();
      }
      break;
    }
    case v1::Request::kListStreams:
      ListStreams(request.list_streams(), response);
      break;
    case v1::Request::kHead: {
      auto position = store_->HeadPosition();
      if (SetError(position.status(), response)) break;
      uint64_t revision = 0;
      if (!request.head().stream().empty()) {
        auto head = store_->HeadRevision(request.head().stream());
        if (SetError(head.status(), response)) break;
        revision = *head;
      }
      response->mutable_head()->set_head_position(*position);
      response->mutable_head()->set_head_revision(revision);
      break;
    }
    case v1::Request::kServerInfo:
      ServerInfo(response);
      break;
    case v1::Request::kPromote:
      Promote(response);
      break;
    case v1::Request::kBackupBegin:
      BackupBegin(request.backup_begin(), response);
      break;
    case v1::Request::kReadLog:
      ReadLog(request.read_log(), response);
      break;
    case v1::Request::kVerify:
      Verify(request.verify(), response);
      break;
    case v1::Request::kRotateKey: {
      absl::StatusOr<uint32_t> key_id = store_->RotateKey();
      if (!SetError(key_id.status(), response)) {
        response->mutable_rotate_key()->set_key_id(*key_id);
      }
      break;
    }
    case v1::Request::kMaintain: {
      absl::StatusOr<std::vector<std::string>> changes = store_->Maintain();
      if (!SetError(changes.status(), response)) {
        auto* body = response->mutable_maintain();
        for (std::string& change : *changes) {
          body->add_changes(std::move(change));
        }
      }
      break;
    }
    case v1::Request::kFlush: {
      const auto start = Clock::now();
      const absl::Status flushed = store_->Flush();
      metrics_->flush_latency.Observe(SecondsSince(start));
      if (!SetError(flushed, response)) response->mutable_done();
      break;
    }
    default: {
      auto* error = response->mutable_error();
      error->set_code(v1::INTERNAL);
      error->set_message(std::string("request type '") +
                         v1::Request::descriptor()
                             ->FindFieldByNumber(request.body_case())
                             ->name() +
                         "' is handled by the connection, not the executor");
      break;
    }
  }
}

void RequestExecutor::Append(const v1::AppendRequest& request,
                             v1::Response* response) const {
  std::vector<EventData> events;
  events.reserve(request.events_size());
  uint64_t bytes = 0;
  for (const auto& event : request.events()) {
    events.push_back(protocol::FromProto(event));
    bytes += event.data().size() + event.metadata().size();
  }
  // A retry of an append already written gets the original answer: from
  // storage, which keeps keys with their batches (so also after a restart
  // or a failover), or, for storage that does not, from this server's
  // memory of the appends it answered.
  const std::string& key = request.idempotency_key();
  const bool remember = !key.empty() && !store_->IdempotentAppends();
  if (remember) {
    IdempotencyCache::Claim claim = idempotency_->Begin(request.stream(), key);
    if (!claim.run) {
      metrics_->append_retries_answered_total.fetch_add(
          1, std::memory_order_relaxed);
      *response->mutable_append() = std::move(claim.answer);
      return;
    }
  }
  const auto start = Clock::now();
  auto result = store_->Append(
      request.stream(), protocol::ExpectedFromProto(request), events, key);
  metrics_->append_latency.Observe(SecondsSince(start));
  if (SetError(result.status(), response)) {
    if (remember) idempotency_->Finish(request.stream(), key, nullptr);
    return;
  }
  if (result->repeated) {
    // Nothing was written: the original's figures counted it.
    metrics_->append_retries_answered_total.fetch_add(
        1, std::memory_order_relaxed);
  } else {
    metrics_->appends_total.fetch_add(1, std::memory_order_relaxed);
    metrics_->append_events_total.fetch_add(events.size(),
                                            std::memory_order_relaxed);
    metrics_->append_bytes_total.fetch_add(bytes, std::memory_order_relaxed);
    metrics_->last_append_unix_us.store(
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count(),
        std::memory_order_relaxed);
  }
  auto* out = response->mutable_append();
  out->set_first_revision(result->first_revision);
  out->set_last_revision(result->last_revision);
  out->set_first_position(result->first_position);
  out->set_last_position(result->last_position);
  out->set_epoch(result->epoch);
  out->set_repeated(result->repeated);
  if (remember) idempotency_->Finish(request.stream(), key, out);
}

void RequestExecutor::Promote(v1::Response* response) const {
  if (!SetError(store_->Promote(), response)) response->mutable_done();
}

void RequestExecutor::BackupBegin(const v1::BackupBeginRequest& request,
                                  v1::Response* response) const {
  const PluginPtr& storage = store_->storage_plugin();
  auto state = OrderedLogState(*store_);
  if (SetError(state.status(), response)) return;
  uint64_t last = state->committed;
  if (request.at_position() != 0) {
    if (request.at_position() > state->committed) {
      SetError(MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                          absl::StrCat("at_position ", request.at_position(),
                                       " is above the committed position ",
                                       state->committed)),
               response);
      return;
    }
    last = request.at_position();
  }
  if (request.after_position() > last) {
    SetError(MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                        absl::StrCat("the store's committed position ", last,
                                     " is behind the previous backup's last "
                                     "position ",
                                     request.after_position(),
                                     ": is it the same store?")),
             response);
    return;
  }
  if (request.after_position() < last && state->first_position != 0 &&
      state->first_position > request.after_position() + 1) {
    SetError(
        MakeStatus(CAIRN_E_NOT_FOUND,
                   absl::StrCat("the log no longer holds position ",
                                request.after_position() + 1, " (it starts at ",
                                state->first_position, ")")),
        response);
    return;
  }
  auto* out = response->mutable_backup_begin();
  out->set_last_position(last);
  out->set_first_position(state->first_position);
  out->set_committed(state->committed);
  out->mutable_storage()->set_kind("storage");
  out->mutable_storage()->set_name(storage->name());
  out->mutable_storage()->set_version(storage->version());
}

void RequestExecutor::ReadLog(const v1::ReadLogRequest& request,
                              v1::Response* response) const {
  const PluginPtr& storage = store_->storage_plugin();
  auto state = OrderedLogState(*store_);
  if (SetError(state.status(), response)) return;
  const uint64_t after = request.after_position();
  const uint64_t to = request.to_position();
  if (to > state->committed) {
    SetError(MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                        absl::StrCat("to_position ", to,
                                     " is above the committed position ",
                                     state->committed)),
             response);
    return;
  }
  auto* out = response->mutable_read_log();
  out->set_next_after_position(after);
  if (after >= to) {
    out->set_end(true);
    return;
  }
  uint64_t page = 0;
  uint64_t ask = 0;
  PageFor(request.max_count(), limits_.max_read_events, &page, &ask);
  page = std::min<uint64_t>(page, to - after);
  // One read_log call per page, cut at the page size and the byte budget:
  // the storage holds nothing for this client between pages.
  struct Collect {
    v1::ReadLogResponse* out;
    uint64_t to, page, last;
    size_t budget, bytes;
    absl::Status status;
  } collect{out, to, page, after, response_budget(), 0, absl::OkStatus()};
  char message[512] = "";
  cairn_error error{message, sizeof(message)};
  const auto start = Clock::now();
  const cairn_status status = storage->storage()->read_log(
      store_->raw_storage(), after, page,
      [](void* raw, const cairn_log_record* record) -> int {
        auto* c = static_cast<Collect*>(raw);
        if (record->position > c->to ||
            static_cast<uint64_t>(c->out->records_size()) >= c->page ||
            (c->out->records_size() > 0 && c->bytes >= c->budget)) {
          return 1;
        }
        if (record->position != c->last + 1) {
          c->status = MakeStatus(
              CAIRN_E_CORRUPTION,
              absl::StrCat("read_log returned position ", record->position,
                           " after ", c->last, "; the log has a gap"));
          return 1;
        }
        log::v1::LogRecord* proto = c->out->add_records();
        ToProto(OwnedLogRecord(*record), proto);
        c->bytes += proto->ByteSizeLong() + 8;
        c->last = record->position;
        return 0;
      },
      &collect, &error);
  metrics_->read_latency.Observe(SecondsSince(start));
  if (!collect.status.ok()) {
    response->clear_read_log();
    SetError(collect.status, response);
    return;
  }
  if (status != CAIRN_OK) {
    response->clear_read_log();
    SetError(
        MakeStatus(status, absl::StrCat("read_log after position ", after, ": ",
                                        message[0] != '\0'
                                            ? std::string(message)
                                            : std::string(CodeName(status)))),
        response);
    return;
  }
  if (collect.last == after) {
    response->clear_read_log();
    SetError(MakeStatus(CAIRN_E_CORRUPTION,
                        absl::StrCat("read_log after position ", after,
                                     " returned nothing below the committed "
                                     "position ",
                                     to)),
             response);
    return;
  }
  metrics_->reads_total.fetch_add(1, std::memory_order_relaxed);
  out->set_next_after_position(collect.last);
  out->set_end(collect.last == to);
}

void RequestExecutor::ReadStream(const v1::ReadStreamRequest& request,
                                 v1::Response* response) const {
  uint64_t page = 0;
  uint64_t ask = 0;
  PageFor(request.max_count(), limits_.max_read_events, &page, &ask);
  const uint64_t from = std::max<uint64_t>(request.from_revision(), 1);
  const uint64_t to =
      request.to_revision() == 0 ? kMaxRevision : request.to_revision();
  auto* read = response->mutable_read();
  PageCollector collect(read, page, response_budget());
  const auto start = Clock::now();
  const absl::Status status = store_->ReadStream(
      request.stream(), from, to, ask,
      [&collect](const RecordedEvent& event) { return collect(event); });
  metrics_->read_latency.Observe(SecondsSince(start));
  if (SetError(status, response)) return;
  metrics_->reads_total.fetch_add(1, std::memory_order_relaxed);
  metrics_->read_events_total.fetch_add(collect.count(),
                                        std::memory_order_relaxed);
  read->set_end(!collect.cut());
  read->set_next_revision(collect.count() > 0 ? collect.last_revision() + 1
                                              : from);
}

void RequestExecutor::ReadTag(const v1::ReadTagRequest& request,
                              v1::Response* response) const {
  ReadByPosition(
      request.after_position(), request.max_count(),
      [&](uint64_t ask, const Store::EventFn& on_event) {
        return store_->ReadTag(request.tag(), request.after_position(), ask, on_event);
      },
      response);
}

void RequestExecutor::ReadAll(const v1::ReadAllRequest& request,
                              v1::Response* response) const {
  ReadByPosition(
      request.after_position(), request.max_count(),
      [&](uint64_t ask, const Store::EventFn& on_event) {
        return store_->ReadAll(request.after_position(), ask, on_event);
      },
      response);
}

void RequestExecutor::ReadByPosition(
    uint64_t after_position, int64_t max_count,
    const std::function<absl::Status(uint64_t, const Store::EventFn&)>& read_fn,
    v1::Response* response) const {
  uint64_t page = 0;
  uint64_t ask = 0;
  PageFor(max_count, limits_.max_read_events, &page, &ask);
  auto* read = response->mutable_read();
  PageCollector collect(read, page, response_budget());
  const auto start = Clock::now();
  const absl::Status status =
      read_fn(ask, [&collect](const RecordedEvent& event) { return collect(event); });
  metrics_->read_latency.Observe(SecondsSince(start));
  if (SetError(status, response)) return;
  metrics_->reads_total.fetch_add(1, std::memory_order_relaxed);
  metrics_->read_events_total.fetch_add(collect.count(),
                                        std::memory_order_relaxed);
  read->set_end(!collect.cut());
  read->set_next_after_position(collect.count() > 0 ? collect.last_position()
                                                    : after_position);
}

void RequestExecutor::ListStreams(const v1::ListStreamsRequest& request,
                                  v1::Response* response) const {
  uint64_t page = 0;
  uint64_t ask = 0;
  PageFor(request.max_count(), limits_.max_read_events, &page, &ask);
  auto streams = store_->ListStreams(request.after_ordinal(), ask);
  if (SetError(streams.status(), response)) return;
  auto* out = response->mutable_streams();
  uint64_t next = request.after_ordinal();
  uint64_t count = 0;
  for (const StreamInfo& info : *streams) {
    if (count == page) break;
    protocol::ToProto(info, out->add_streams());
    next = info.ordinal;
    ++count;
  }
  out->set_end(streams->size() <= page);
  out->set_next_after_ordinal(next);
}

void RequestExecutor::Verify(const v1::VerifyRequest& request,
                             v1::Response* response) const {
  bool idle = false;
  if (!verifying_->compare_exchange_strong(idle, true)) {
    SetError(MakeStatus(CAIRN_E_FAILED_PRECONDITION,
                        "a verify is already running on this server (one at "
                        "a time); run this one when it has answered"),
             response);
    return;
  }
  struct Done {
    std::atomic<bool>* flag;
    ~Done() { flag->store(false); }
  } done{verifying_.get()};
  // The problems go back in one response: at most kMaxProblems of them and
  // about a quarter of a frame, so the answer always fits; the count says
  // how many there were.
  constexpr int kMaxProblems = 1000;
  const size_t budget = limits_.max_frame / 4;
  auto* out = response->mutable_verify();
  size_t bytes = 0;
  uint64_t total = 0;
  absl::StatusOr<std::string> checked = store_->Verify(
      [&](const std::string& problem) {
        if (!IsRepairReport(problem)) ++total;
        if (out->problems_size() >= kMaxProblems ||
            bytes + problem.size() > budget) {
          return;
        }
        bytes += problem.size();
        out->add_problems(problem);
      },
      request.deep());
  out->set_problems_total(total);
  if (checked.ok()) {
    out->set_checked(*checked);
  } else {
    protocol::StatusToError(checked.status(), out->mutable_failure());
  }
}

void RequestExecutor::ServerInfo(v1::Response* response) const {
  auto* info = response->mutable_server_info();
  info->set_server_version(kServerVersion);
  info->set_protocol_major(1);
  info->set_protocol_minor(kProtocolMinor);
  const std::pair<const char*, const PluginPtr*> plugins[] = {
      {"storage", &store_->storage_plugin()},
      {"codec", &store_->codec_plugin()},
      {"cipher", &store_->cipher_plugin()},
      {"replication", &store_->replication_plugin()}};
  for (const auto& [kind, plugin] : plugins) {
    if (!*plugin) continue;
    auto* out = info->add_plugins();
    out->set_kind(kind);
    out->set_name((*plugin)->name());
    out->set_version((*plugin)->version());
  }
  switch (store_->role()) {
    case CAIRN_ROLE_PRIMARY: info->set_role("primary"); break;
    case CAIRN_ROLE_REPLICA: info->set_role("replica"); break;
    default: info->set_role("standalone"); break;
  }
  protocol::LeaderToProto(store_->Leader(), info->mutable_leader());
  auto head = store_->HeadPosition();
  if (SetError(head.status(), response)) return;
  info->set_head_position(*head);
  // A storage without watermarks leaves `log` unset; any other failure is
  // the answer.
  absl::StatusOr<LogState> log = store_->GetLogState();
  if (!log.ok() && CodeOf(log.status()) != CAIRN_E_UNSUPPORTED) {
    SetError(log.status(), response);
    return;
  }
  if (log.ok()) {
    auto* out = info->mutable_log();
    out->set_first_position(log->first_position);
    out->set_written(log->written);
    out->set_durable(log->durable);
    out->set_committed(log->committed);
    out->set_epoch(log->epoch);
  }
  auto stats = store_->Stats();
  if (SetError(stats.status(), response)) return;
  for (const auto& [key, value] : *stats) (*info->mutable_stats())[key] = value;
}

absl::StatusOr<size_t> RequestExecutor::PullSubscription(
    Subscription* subscription, uint64_t subscription_id, size_t max_events,
    std::string* frames) const {
  auto events = subscription->Next(max_events, std::chrono::milliseconds(0));
  if (!events.ok()) return events.status();
  v1::Response response;
  response.set_request_id(subscription_id);
  size_t bytes = 0;
  for (const RecordedEvent& event : *events) {
    protocol::ToProto(event, response.mutable_events()->add_events());
    bytes += event.data.size() + event.metadata.size() + 64;
    if (bytes >= response_budget()) {
      protocol::AppendFrame(response, frames);
      response.mutable_events()->clear_events();
      bytes = 0;
    }
  }
  if (response.events().events_size() > 0) {
    protocol::AppendFrame(response, frames);
  }
  metrics_->subscription_events_total.fetch_add(events->size(),
                                                std::memory_order_relaxed);
  return events->size();
}

}  // namespace cairn::cairnd
