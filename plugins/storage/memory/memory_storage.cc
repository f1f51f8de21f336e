#include "memory_storage.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <thread>
#include <utility>

namespace cairn::memory {
namespace {

std::string Owned(cairn_bytes bytes) { return std::string(sdk::View(bytes)); }

// Built by appends, not `"'" + std::string(s) + "'"`: at -O3 GCC 12 reports a
// false -Wrestrict in that operator+ chain.
std::string Quote(std::string_view s) {
  std::string quoted;
  quoted.reserve(s.size() + 2);
  quoted.push_back('\'');
  quoted.append(s);
  quoted.push_back('\'');
  return quoted;
}

}  // namespace

cairn_event MemoryStorage::StoredEvent::View() const {
  cairn_event e{};
  e.size = sizeof(cairn_event);
  e.tag_count = static_cast<uint32_t>(tag_views.size());
  e.stream = sdk::Bytes(stream);
  e.revision = revision;
  e.position = position;
  e.type = sdk::Bytes(type);
  e.timestamp_us = timestamp_us;
  e.writer = sdk::Bytes(writer);
  e.metadata = sdk::Bytes(metadata);
  e.data = sdk::Bytes(data);
  e.tags = tag_views.empty() ? nullptr : tag_views.data();
  return e;
}

sdk::Status MemoryStorage::Open(const sdk::Options& options,
                                std::unique_ptr<MemoryStorage>* out) {
  std::string commit = options.Get(CAIRN_STORAGE_OPTION_COMMIT);
  if (!commit.empty() && commit != "durable" && commit != "host") {
    return sdk::InvalidArgument("option 'commit' is '" + commit +
                                "'; allowed: durable, host");
  }
  *out = std::make_unique<MemoryStorage>(commit == "host");
  return sdk::Status::Ok();
}

MemoryStorage::~MemoryStorage() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  committed_cv_.notify_all();
}

std::shared_ptr<MemoryStorage::StoredEvent> MemoryStorage::Copy(
    const cairn_event& event) {
  auto stored = std::make_shared<StoredEvent>();
  stored->type = Owned(event.type);
  stored->timestamp_us = event.timestamp_us;
  stored->writer = Owned(event.writer);
  stored->metadata = Owned(event.metadata);
  stored->data = Owned(event.data);
  stored->tags.reserve(event.tag_count);
  for (uint32_t t = 0; t < event.tag_count; ++t) {
    stored->tags.push_back(Owned(event.tags[t]));
  }
  for (const std::string& tag : stored->tags) {
    stored->tag_views.push_back(sdk::Bytes(tag));
  }
  return stored;
}

MemoryStorage::StreamState* MemoryStorage::FindLocked(
    std::string_view stream) const {
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();
}

MemoryStorage::StreamState* MemoryStorage::FindOrCreateLocked(
    std::string_view stream) {
  StreamState* state = FindLocked(stream);
  if (state != nullptr) return state;
  auto created = std::make_unique<StreamState>();
  created->name = std::string(stream);
  created->ordinal = by_ordinal_.size() + 1;
  state = created.get();
  by_ordinal_.push_back(state);
  streams_.emplace(state->name, std::move(created));
  return state;
}

uint64_t MemoryStorage::WrittenHeadLocked(std::string_view stream) const {
  auto it = heads_.find(stream);
  return it == heads_.end() ? 0 : it->second;
}

void MemoryStorage::NoteWrittenLocked(const RecordPtr& pointer) {
  const Record& record = *pointer;
  switch (record.kind) {
    case CAIRN_RECORD_EVENT: {
      if (!record.idempotency_key.empty()) {
        StreamKeys& keys = keys_[record.event->stream];
        keys.by_key[record.idempotency_key] = pointer;
        keys.order.push_back(pointer);
        if (keys.order.size() > 2 * CAIRN_IDEMPOTENCY_WINDOW) {
          // Keeps the newest window, dropping the older half at once (a key
          // a newer batch took again stays with that one).
          const size_t drop = keys.order.size() - CAIRN_IDEMPOTENCY_WINDOW;
          for (size_t i = 0; i < drop; ++i) {
            auto old = keys.by_key.find(keys.order[i]->idempotency_key);
            if (old != keys.by_key.end() && old->second == keys.order[i]) {
              keys.by_key.erase(old);
            }
          }
          keys.order.erase(keys.order.begin(),
                           keys.order.begin() + static_cast<ptrdiff_t>(drop));
        }
      }
      auto it = heads_.find(record.event->stream);
      if (it == heads_.end()) {
        heads_.emplace(record.event->stream, record.event->revision);
      } else {
        it->second = record.event->revision;
      }
      break;
    }
    case CAIRN_RECORD_DELETE_TO: {
      uint64_t& to = deleted_to_[record.stream];
      to = std::max(to, record.revision);
      break;
    }
    case CAIRN_RECORD_EPOCH:
      epoch_ = record.epoch;
      break;
    default:
      break;
  }
}

void MemoryStorage::PublishLocked(const Record& record) {
  switch (record.kind) {
    case CAIRN_RECORD_EVENT: {
      const EventPtr& event = record.event;
      StreamState* stream = FindOrCreateLocked(event->stream);
      payload_bytes_ += event->data.size() + event->metadata.size();
      for (const std::string& tag : event->tags) tags_[tag].push_back(event);
      stream->events.push_back(event);
      events_.push_back(event);
      break;
    }
    case CAIRN_RECORD_DELETE_TO: {
      StreamState* stream = FindLocked(record.stream);
      if (stream != nullptr) {
        stream->deleted_to = std::max(stream->deleted_to, record.revision);
      }
      break;
    }
    case CAIRN_RECORD_SNAPSHOT_SAVE:
      snapshots_[record.stream][record.revision] =
          StoredSnapshot{record.timestamp_us, record.data};
      break;
    case CAIRN_RECORD_SNAPSHOT_DELETE: {
      auto it = snapshots_.find(record.stream);
      if (it == snapshots_.end()) break;
      std::erase_if(it->second, [&](const SnapshotMap::value_type& s) {
        return Matches(s.first, s.second, record.criteria);
      });
      break;
    }
    default:
      break;
  }
}

void MemoryStorage::CommitLocked(uint64_t position) {
  if (position <= committed_) return;
  auto it = std::upper_bound(
      records_.begin(), records_.end(), committed_,
      [](uint64_t p, const RecordPtr& r) { return p < r->position; });
  for (; it != records_.end() && (*it)->position <= position; ++it) {
    PublishLocked(**it);
  }
  committed_ = position;
}

void MemoryStorage::WriteLocked(RecordPtr record) {
  NoteWrittenLocked(record);
  if (kFault == Fault::kControlBeforeCommit) {
    if (record->kind != CAIRN_RECORD_EVENT) PublishLocked(*record);
  }
  const uint64_t position = record->position;
  records_.push_back(std::move(record));
  if (!host_commit_ || kFault == Fault::kCommitAheadOfAck) {
    CommitLocked(position);
  }
}

void MemoryStorage::RebuildLocked() {
  const uint64_t committed = std::min(committed_, WrittenLocked());
  heads_.clear();
  deleted_to_.clear();
  keys_.clear();
  epoch_ = 0;
  committed_ = 0;
  payload_bytes_ = 0;
  events_.clear();
  if (kFault != Fault::kStaleIndexAfterTruncate) {
    streams_.clear();
    by_ordinal_.clear();
    tags_.clear();
  } else {
    // The broken rule: the tag index and the streams directory keep what
    // the cut records put there (stream events are re-derived below).
    for (auto& [name, stream] : streams_) {
      stream->events.clear();
      stream->deleted_to = 0;
    }
  }
  snapshots_.clear();
  for (const RecordPtr& record : records_) NoteWrittenLocked(record);
  CommitLocked(committed);
}

void MemoryStorage::Deliver(const std::vector<EventPtr>& events,
                            const sdk::EventSink& sink) {
  for (const EventPtr& event : events) {
    if (!sink(event->View())) return;
  }
}

sdk::Status MemoryStorage::Append(sdk::AppendBatch& request,
                                  cairn_append_result* result) {
  const std::string_view stream = request.stream();
  const size_t count = request.size();
  uint64_t head_at_entry = 0;
  if (kFault == Fault::kAnyConflictsWhileSealing) {
    std::lock_guard<std::mutex> peek(mu_);
    head_at_entry = WrittenHeadLocked(stream);
  }
  // One append at a time (append_mu_): the head read below stays the head
  // while the host seals, without holding mu_, which readers take.
  std::unique_lock<std::mutex> order(append_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return sdk::Closed("the memory store is closed");
  const std::string_view key = request.idempotency_key();
  if (!key.empty() && count != 0 && kFault != Fault::kIgnoreIdempotencyKey) {
    auto keys = keys_.find(stream);
    if (keys != keys_.end()) {
      auto found = keys->second.by_key.find(key);
      if (found != keys->second.by_key.end()) {
        // A repeat: that batch's ranges, nothing written.
        const Record& first = *found->second;
        result->first_revision = first.event->revision;
        result->last_revision = first.event->revision + first.batch_size - 1;
        result->first_position = first.position;
        result->last_position = first.position + first.batch_size - 1;
        result->repeated = 1;
        result->epoch = first.epoch;
        return sdk::Status::Ok();
      }
    }
  }
  // Expected revisions see every written record, committed or not.
  const uint64_t head = WrittenHeadLocked(stream);
  if (!request.expected().Holds(head)) {
    return sdk::WrongExpectedRevision(
        "stream " + Quote(stream) + " was expected at " +
        request.expected().Text() + ", but its head revision is " +
        std::to_string(head));
  }
  if (kFault == Fault::kAnyConflictsWhileSealing) {
    if (request.has_seal() && head != head_at_entry) {
      return sdk::WrongExpectedRevision(
          "stream " + Quote(stream) + " moved from " +
          std::to_string(head_at_entry) + " to " + std::to_string(head) +
          " while this append waited to seal");
    }
  }
  uint64_t first_revision = head + 1;
  if (kFault == Fault::kReuseRevision) {
    if (head != 0) first_revision = head;
  }
  std::vector<std::shared_ptr<StoredEvent>> batch;
  if (count != 0) {
    lock.unlock();
    // Seal (the host's callback) and copy the payloads without mu_: a 16 MiB
    // event must not stall every reader while it is sealed and copied.
    if (kFault != Fault::kIgnoreSeal) {
      sdk::Status sealed = request.Seal(first_revision);
      if (!sealed.ok()) return sealed;
    }
    batch.reserve(count);
    for (size_t i = 0; i < count; ++i) batch.push_back(Copy(request[i]));
    lock.lock();
    if (closed_) return sdk::Closed("the memory store is closed");
  }
  uint64_t first_position = WrittenLocked() + 1;
  if (kFault == Fault::kPositionGap) {
    if (count != 0 && WrittenLocked() != 0) first_position += 1;
  }
  if (result != nullptr) {
    // count == 0 reports an empty range: first = head + 1 > last = head.
    if (CAIRN_HAS_FIELD(cairn_append_result, result, first_revision))
      result->first_revision = first_revision;
    if (CAIRN_HAS_FIELD(cairn_append_result, result, last_revision))
      result->last_revision = count == 0 ? head : first_revision + count - 1;
    if (CAIRN_HAS_FIELD(cairn_append_result, result, first_position))
      result->first_position = count == 0 ? committed_ + 1 : first_position;
    if (CAIRN_HAS_FIELD(cairn_append_result, result, last_position))
      result->last_position =
          count == 0 ? committed_ : first_position + count - 1;
  }
  if (count == 0) return sdk::Status::Ok();
  size_t written = 0;
  auto write = [&](size_t end) {
    for (; written < end; ++written) {
      batch[written]->stream = std::string(stream);
      batch[written]->revision = first_revision + written;
      batch[written]->position = first_position + written;
      auto record = std::make_shared<Record>();
      record->kind = CAIRN_RECORD_EVENT;
      record->position = first_position + written;
      record->epoch = epoch_;
      record->batch_size = static_cast<uint32_t>(count);
      record->batch_index = static_cast<uint32_t>(written);
      if (written == 0) record->idempotency_key = std::string(key);
      record->event = std::move(batch[written]);
      WriteLocked(std::move(record));
    }
  };
  if (kFault == Fault::kHalfVisibleBatch) {
    // Publish the first half, let readers in, then the rest.
    write(count / 2);
    lock.unlock();
    committed_cv_.notify_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    lock.lock();
  }
  write(count);
  lock.unlock();
  committed_cv_.notify_all();
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::ReadStream(std::string_view stream,
                                      uint64_t from_revision,
                                      uint64_t to_revision, uint64_t max_count,
                                      const sdk::EventSink& sink) {
  std::vector<EventPtr> selected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const StreamState* state = FindLocked(stream);
    if (state == nullptr) return sdk::Status::Ok();
    uint64_t from = std::max({from_revision, state->deleted_to + 1,
                              uint64_t{1}});
    uint64_t to = std::min<uint64_t>(to_revision, state->events.size());
    for (uint64_t revision = from;
         revision <= to && selected.size() < max_count; ++revision) {
      selected.push_back(state->events[revision - 1]);
    }
  }
  Deliver(selected, sink);
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::ReadTag(std::string_view tag,
                                   uint64_t after_position, uint64_t max_count,
                                   const sdk::EventSink& sink) {
  std::vector<EventPtr> selected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tags_.find(tag);
    if (it == tags_.end()) return sdk::Status::Ok();
    const std::vector<EventPtr>& tagged = it->second;
    auto start = std::upper_bound(
        tagged.begin(), tagged.end(), after_position,
        [](uint64_t p, const EventPtr& e) { return p < e->position; });
    for (; start != tagged.end() && selected.size() < max_count; ++start) {
      const EventPtr& event = *start;
      const StreamState* stream = FindLocked(event->stream);
      if (stream != nullptr && event->revision <= stream->deleted_to) continue;
      selected.push_back(event);
    }
  }
  Deliver(selected, sink);
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::ReadAll(uint64_t after_position, uint64_t max_count,
                                   bool include_deleted,
                                   const sdk::EventSink& sink) {
  std::vector<EventPtr> selected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto start = std::upper_bound(
        events_.begin(), events_.end(), after_position,
        [](uint64_t p, const EventPtr& e) { return p < e->position; });
    for (; start != events_.end() && selected.size() < max_count; ++start) {
      const EventPtr& event = *start;
      if (!include_deleted) {
        const StreamState* stream = FindLocked(event->stream);
        if (stream != nullptr && event->revision <= stream->deleted_to) {
          continue;
        }
      }
      selected.push_back(event);
    }
  }
  Deliver(selected, sink);
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::HeadRevision(std::string_view stream,
                                        uint64_t* revision) {
  if (revision == nullptr) return sdk::InvalidArgument("revision is NULL");
  std::lock_guard<std::mutex> lock(mu_);
  const StreamState* state = FindLocked(stream);
  *revision = state == nullptr ? 0 : state->head();
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::HeadPosition(uint64_t* position) {
  if (position == nullptr) return sdk::InvalidArgument("position is NULL");
  std::lock_guard<std::mutex> lock(mu_);
  *position = committed_;
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::WaitCommit(uint64_t after_position,
                                      uint32_t timeout_ms,
                                      uint64_t* position) {
  if (position == nullptr) return sdk::InvalidArgument("position is NULL");
  std::unique_lock<std::mutex> lock(mu_);
  ++waiters_;
  bool ready = committed_cv_.wait_for(
      lock, std::chrono::milliseconds(timeout_ms),
      [&] { return closed_ || committed_ > after_position; });
  --waiters_;
  *position = committed_;
  if (closed_) return sdk::Closed("the memory store closed while waiting");
  if (!ready) {
    return sdk::Timeout("no commit after position " +
                        std::to_string(after_position) + " within " +
                        std::to_string(timeout_ms) + " ms");
  }
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::WriteControl(std::shared_ptr<Record> record,
                                        uint64_t* position) {
  // mu_ only, not append_mu_: a control record moves no stream head, and a
  // seal function may write a snapshot while its append holds append_mu_
  // (cairn_seal_fn; the Store does). An append takes its positions under mu_
  // after sealing, so the log stays gap-free either way.
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return sdk::Closed("the memory store is closed");
  record->position = WrittenLocked() + 1;
  if (record->kind == CAIRN_RECORD_EPOCH) {
    if (record->epoch <= epoch_) {
      return sdk::FailedPrecondition(
          "begin_epoch: epoch " + std::to_string(record->epoch) +
          " does not exceed the current epoch " + std::to_string(epoch_));
    }
  } else {
    record->epoch = epoch_;
  }
  if (record->kind == CAIRN_RECORD_DELETE_TO) {
    // Only revisions that exist are deleted: later appends stay visible.
    // Nothing to delete (an unknown stream, or no revision past what is
    // deleted already) writes no record.
    record->revision =
        std::min(record->revision, WrittenHeadLocked(record->stream));
    auto it = deleted_to_.find(record->stream);
    uint64_t deleted = it == deleted_to_.end() ? 0 : it->second;
    if (record->revision <= deleted) return sdk::Status::Ok();
  }
  if (position != nullptr) *position = record->position;
  WriteLocked(std::move(record));
  lock.unlock();
  committed_cv_.notify_all();
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::DeleteTo(std::string_view stream,
                                    uint64_t revision) {
  auto record = std::make_shared<Record>();
  record->kind = CAIRN_RECORD_DELETE_TO;
  record->stream = std::string(stream);
  record->revision = revision;
  return WriteControl(std::move(record));
}

bool MemoryStorage::Matches(uint64_t revision, const StoredSnapshot& snapshot,
                            const cairn_snapshot_criteria& criteria) {
  return revision >= criteria.min_revision &&
         revision <= criteria.max_revision &&
         snapshot.timestamp_us >= criteria.min_timestamp_us &&
         snapshot.timestamp_us <= criteria.max_timestamp_us;
}

namespace {
sdk::Status CheckCriteria(const cairn_snapshot_criteria& criteria) {
  if (criteria.size < offsetof(cairn_snapshot_criteria, max_timestamp_us) +
                          sizeof(criteria.max_timestamp_us)) {
    return sdk::InvalidArgument(
        "cairn_snapshot_criteria.size is " + std::to_string(criteria.size) +
        "; set size = sizeof(cairn_snapshot_criteria)");
  }
  return sdk::Status::Ok();
}
}  // namespace

sdk::Status MemoryStorage::SnapshotSave(const cairn_snapshot& snapshot) {
  if (snapshot.size < offsetof(cairn_snapshot, data) + sizeof(snapshot.data)) {
    return sdk::InvalidArgument("cairn_snapshot.size is " +
                                std::to_string(snapshot.size) +
                                "; set size = sizeof(cairn_snapshot)");
  }
  auto record = std::make_shared<Record>();
  record->kind = CAIRN_RECORD_SNAPSHOT_SAVE;
  record->stream = Owned(snapshot.stream);
  record->revision = snapshot.revision;
  record->timestamp_us = snapshot.timestamp_us;
  record->data = Owned(snapshot.data);
  return WriteControl(std::move(record));
}

sdk::Status MemoryStorage::SnapshotLoad(std::string_view stream,
                                        const cairn_snapshot_criteria& criteria,
                                        const sdk::SnapshotSink& sink) {
  sdk::Status valid = CheckCriteria(criteria);
  if (!valid.ok()) return valid;
  bool found = false;
  uint64_t revision = 0;
  StoredSnapshot copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = snapshots_.find(stream);
    if (it == snapshots_.end()) return sdk::Status::Ok();
    // One snapshot per revision, so the highest matching revision decides.
    for (auto s = it->second.rbegin(); s != it->second.rend(); ++s) {
      if (Matches(s->first, s->second, criteria)) {
        found = true;
        revision = s->first;
        copy = s->second;
        break;
      }
    }
  }
  if (!found) return sdk::Status::Ok();
  cairn_snapshot out{};
  out.size = sizeof(cairn_snapshot);
  out.stream = sdk::Bytes(stream);
  out.revision = revision;
  out.timestamp_us = copy.timestamp_us;
  out.data = sdk::Bytes(copy.data);
  sink(out);
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::SnapshotDelete(std::string_view stream,
                                          uint64_t revision) {
  // One revision R is the criteria min = max = R, any timestamp.
  cairn_snapshot_criteria criteria{sizeof(cairn_snapshot_criteria), revision,
                                   revision, INT64_MIN, INT64_MAX};
  return SnapshotDeleteMatching(stream, criteria);
}

sdk::Status MemoryStorage::SnapshotDeleteMatching(
    std::string_view stream, const cairn_snapshot_criteria& criteria) {
  sdk::Status valid = CheckCriteria(criteria);
  if (!valid.ok()) return valid;
  auto record = std::make_shared<Record>();
  record->kind = CAIRN_RECORD_SNAPSHOT_DELETE;
  record->stream = std::string(stream);
  record->criteria = criteria;
  record->criteria.size = sizeof(cairn_snapshot_criteria);
  return WriteControl(std::move(record));
}

sdk::Status MemoryStorage::ListStreams(uint64_t after_ordinal,
                                       uint64_t max_count,
                                       const sdk::StreamSink& sink) {
  struct Row {
    std::string name;
    uint64_t ordinal, head, deleted_to;
  };
  std::vector<Row> rows;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t i = after_ordinal;
         i < by_ordinal_.size() && rows.size() < max_count; ++i) {
      const StreamState* s = by_ordinal_[i];
      rows.push_back(Row{s->name, s->ordinal, s->head(), s->deleted_to});
    }
  }
  for (const Row& row : rows) {
    cairn_stream_info info{};
    info.size = sizeof(cairn_stream_info);
    info.name = sdk::Bytes(row.name);
    info.ordinal = row.ordinal;
    info.head_revision = row.head;
    info.deleted_to = row.deleted_to;
    if (!sink(info)) break;
  }
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::Flush() {
  // Memory is as durable as this store gets; nothing to do.
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::Stats(const sdk::StatSink& sink) {
  double events, records, written, streams, tags, snapshots, bytes, committed,
      waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events = static_cast<double>(events_.size());
    records = static_cast<double>(records_.size());
    written = static_cast<double>(WrittenLocked());
    streams = static_cast<double>(by_ordinal_.size());
    tags = static_cast<double>(tags_.size());
    size_t count = 0;
    for (const auto& [name, map] : snapshots_) count += map.size();
    snapshots = static_cast<double>(count);
    bytes = static_cast<double>(payload_bytes_);
    committed = static_cast<double>(committed_);
    waiters = static_cast<double>(waiters_);
  }
  sink("events", events);
  sink("records", records);
  sink("written", written);
  sink("streams", streams);
  sink("tags", tags);
  sink("snapshots", snapshots);
  sink("payload_bytes", bytes);
  sink("head_position", committed);
  sink("waiters", waiters);
  return sdk::Status::Ok();
}

// ---- The ordered log ------------------------------------------------------

sdk::Status MemoryStorage::ReadLog(uint64_t after_position, uint64_t max_count,
                                   const sdk::RecordSink& sink) {
  std::vector<RecordPtr> selected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto start = std::upper_bound(
        records_.begin(), records_.end(), after_position,
        [](uint64_t p, const RecordPtr& r) { return p < r->position; });
    for (; start != records_.end() && selected.size() < max_count; ++start) {
      if (kFault == Fault::kReadLogSkipsControl) {
        if ((*start)->kind != CAIRN_RECORD_EVENT) continue;
      }
      selected.push_back(*start);
    }
  }
  for (const RecordPtr& r : selected) {
    cairn_log_record out{};
    out.size = sizeof(out);
    out.kind = r->kind;
    out.position = r->position;
    out.epoch = r->epoch;
    out.batch_size = r->batch_size;
    out.batch_index = r->batch_index;
    cairn_event event{};
    if (r->event != nullptr) {
      event = r->event->View();
      out.event = &event;
    }
    out.stream = sdk::Bytes(r->stream);
    out.revision = r->revision;
    out.timestamp_us = r->timestamp_us;
    out.data = sdk::Bytes(r->data);
    if (r->kind == CAIRN_RECORD_SNAPSHOT_DELETE) out.criteria = &r->criteria;
    out.idempotency_key = sdk::Bytes(r->idempotency_key);
    if (!sink(out)) break;
  }
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::CheckAppliedLocked(
    const cairn_log_record* const* records, size_t count,
    std::vector<RecordPtr>* out) const {
  std::map<std::string, uint64_t, std::less<>> heads;  // as of this call
  auto head = [&](std::string_view stream) {
    auto it = heads.find(stream);
    if (it == heads.end()) {
      it = heads.emplace(std::string(stream), WrittenHeadLocked(stream)).first;
    }
    return it;
  };
  uint64_t epoch = epoch_;
  uint64_t next = WrittenLocked() + 1;
  // The open batch: its stream, size and the index expected next.
  std::string batch_stream;
  uint32_t batch_size = 0, batch_next = 0;
  for (size_t i = 0; i < count; ++i) {
    const cairn_log_record& r = *records[i];
    const std::string at = "apply_log: record " + std::to_string(i) +
                           " (position " + std::to_string(r.position) + ")";
    if (r.position != next) {
      return sdk::FailedPrecondition(
          at + " does not continue the log: expected position " +
          std::to_string(next) + " (written + 1, then contiguous)");
    }
    ++next;
    auto record = std::make_shared<Record>();
    record->kind = static_cast<cairn_record_kind>(r.kind);
    record->position = r.position;
    record->epoch = r.epoch;
    if (r.kind == CAIRN_RECORD_EPOCH) {
      if (r.epoch <= epoch) {
        return sdk::FailedPrecondition(
            at + ": EPOCH record starts epoch " + std::to_string(r.epoch) +
            ", which does not exceed the current " + std::to_string(epoch));
      }
      epoch = r.epoch;
    } else if (r.epoch != epoch) {
      return sdk::FailedPrecondition(
          at + " carries epoch " + std::to_string(r.epoch) +
          ", but the newest EPOCH record before it starts " +
          std::to_string(epoch));
    }
    if (r.kind != CAIRN_RECORD_EVENT && batch_next != 0) {
      return sdk::FailedPrecondition(
          at + " interrupts a batch of " + std::to_string(batch_size) +
          " events after " + std::to_string(batch_next));
    }
    switch (r.kind) {
      case CAIRN_RECORD_EVENT: {
        if (r.event == nullptr) {
          return sdk::InvalidArgument(at + ": an EVENT record without event");
        }
        const cairn_event& e = *r.event;
        std::string_view stream = sdk::View(e.stream);
        sdk::Status valid = sdk::ValidateName(stream, "stream name");
        if (!valid.ok()) return valid;
        if (e.tag_count != 0 && e.tags == nullptr) {
          return sdk::InvalidArgument(at + ": " + std::to_string(e.tag_count) +
                                      " tags announced but tags is NULL");
        }
        for (uint32_t t = 0; t < e.tag_count; ++t) {
          valid = sdk::ValidateName(sdk::View(e.tags[t]), "tag");
          if (!valid.ok()) return valid;
        }
        if (r.batch_size == 0 || r.batch_index >= r.batch_size) {
          return sdk::InvalidArgument(
              at + ": batch_index " + std::to_string(r.batch_index) +
              " does not fit batch_size " + std::to_string(r.batch_size));
        }
        if (r.batch_index != batch_next ||
            (batch_next != 0 &&
             (r.batch_size != batch_size || stream != batch_stream))) {
          return sdk::FailedPrecondition(
              at + " is event " + std::to_string(r.batch_index) + " of " +
              std::to_string(r.batch_size) + " of its batch, expected " +
              (batch_next == 0 ? std::string("a batch's first event")
                               : "event " + std::to_string(batch_next) +
                                     " of the open batch of " +
                                     std::to_string(batch_size)) +
              " (a batch comes whole, in one call)");
        }
        batch_stream = std::string(stream);
        batch_size = r.batch_size;
        batch_next = r.batch_index + 1 == r.batch_size ? 0 : r.batch_index + 1;
        auto h = head(stream);
        if (e.revision != h->second + 1) {
          return sdk::FailedPrecondition(
              at + ": stream " + Quote(stream) + " event has revision " +
              std::to_string(e.revision) + ", expected " +
              std::to_string(h->second + 1));
        }
        h->second = e.revision;
        std::shared_ptr<StoredEvent> stored = Copy(e);
        stored->stream = std::string(stream);
        stored->revision = e.revision;
        stored->position = r.position;
        record->event = std::move(stored);
        record->batch_size = r.batch_size;
        record->batch_index = r.batch_index;
        if (r.idempotency_key.size > CAIRN_MAX_IDEMPOTENCY_KEY ||
            (r.idempotency_key.size != 0 && r.batch_index != 0)) {
          return sdk::InvalidArgument(
              "apply_log: record at position " + std::to_string(r.position) +
              " has an idempotency key of " +
              std::to_string(r.idempotency_key.size) + " bytes; keys are 1.." +
              std::to_string(CAIRN_MAX_IDEMPOTENCY_KEY) +
              " bytes, on a batch's first event only");
        }
        if (kFault != Fault::kApplyLogDropsKeys) {
          record->idempotency_key = Owned(r.idempotency_key);
        }
        break;
      }
      case CAIRN_RECORD_DELETE_TO:
      case CAIRN_RECORD_SNAPSHOT_SAVE:
      case CAIRN_RECORD_SNAPSHOT_DELETE: {
        std::string_view stream = sdk::View(r.stream);
        sdk::Status valid = sdk::ValidateName(stream, "stream name");
        if (!valid.ok()) return valid;
        record->stream = std::string(stream);
        record->revision = r.revision;
        if (r.kind == CAIRN_RECORD_DELETE_TO &&
            r.revision > head(stream)->second) {
          return sdk::FailedPrecondition(
              at + ": deletes stream " + Quote(stream) + " to revision " +
              std::to_string(r.revision) + ", past its head " +
              std::to_string(head(stream)->second));
        }
        if (r.kind == CAIRN_RECORD_SNAPSHOT_SAVE) {
          record->timestamp_us = r.timestamp_us;
          record->data = Owned(r.data);
        }
        if (r.kind == CAIRN_RECORD_SNAPSHOT_DELETE) {
          if (r.criteria == nullptr) {
            return sdk::InvalidArgument(
                at + ": a SNAPSHOT_DELETE record without criteria");
          }
          record->criteria = *r.criteria;
          record->revision = 0;
        }
        break;
      }
      case CAIRN_RECORD_EPOCH:
        record->data = Owned(r.data);
        break;
      default:
        return sdk::InvalidArgument(at + " has unknown kind " +
                                    std::to_string(r.kind));
    }
    out->push_back(std::move(record));
  }
  if (batch_next != 0) {
    return sdk::FailedPrecondition(
        "apply_log: the last batch (stream " + Quote(batch_stream) + ") has " +
        std::to_string(batch_next) + " of its " + std::to_string(batch_size) +
        " events; a batch comes whole, in one call");
  }
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::ApplyLog(const cairn_log_record* const* records,
                                    size_t count) {
  std::lock_guard<std::mutex> order(append_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return sdk::Closed("the memory store is closed");
  std::vector<RecordPtr> checked;
  sdk::Status valid = CheckAppliedLocked(records, count, &checked);
  if (kFault == Fault::kApplyLogWritesPrefix) {
    for (RecordPtr& r : checked) WriteLocked(std::move(r));  // broken rule
    lock.unlock();
    committed_cv_.notify_all();
    return valid;
  }
  if (!valid.ok()) return valid;
  for (RecordPtr& r : checked) {
    if (kFault == Fault::kApplyLogDropsSnapshots &&
        r->kind == CAIRN_RECORD_SNAPSHOT_SAVE) {
      continue;  // the broken rule
    }
    WriteLocked(std::move(r));
  }
  lock.unlock();
  committed_cv_.notify_all();
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::LogState(cairn_log_state* state) {
  std::lock_guard<std::mutex> lock(mu_);
  state->first_position = records_.empty() ? 0 : records_.front()->position;
  state->written = WrittenLocked();
  state->durable = state->written;  // memory is as durable as it gets
  state->committed = committed_;
  state->epoch = epoch_;
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::SetCommitted(uint64_t position) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!host_commit_) {
    return sdk::FailedPrecondition(
        "set_committed: this store runs with commit = durable and advances "
        "committed itself; open it with commit = host");
  }
  if (position > WrittenLocked()) {
    return sdk::FailedPrecondition(
        "set_committed: position " + std::to_string(position) +
        " is past durable " + std::to_string(WrittenLocked()));
  }
  if (position <= committed_) return sdk::Status::Ok();
  CommitLocked(position);
  lock.unlock();
  if (kFault != Fault::kSetCommittedWakesNobody) {
    committed_cv_.notify_all();
  }
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::TruncateAfter(uint64_t position, uint32_t flags) {
  std::lock_guard<std::mutex> order(append_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return sdk::Closed("the memory store is closed");
  if (position >= WrittenLocked()) return sdk::Status::Ok();
  if (position < committed_ && (flags & CAIRN_TRUNCATE_COMMITTED) == 0 &&
      kFault != Fault::kTruncateIgnoresCommitted) {
    return sdk::FailedPrecondition(
        "truncate_after: position " + std::to_string(position) +
        " is below committed " + std::to_string(committed_) +
        "; cutting committed records needs CAIRN_TRUNCATE_COMMITTED");
  }
  auto cut = std::upper_bound(
      records_.begin(), records_.end(), position,
      [](uint64_t p, const RecordPtr& r) { return p < r->position; });
  records_.erase(cut, records_.end());
  RebuildLocked();
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::BeginEpoch(uint64_t epoch, std::string_view primary,
                                      uint64_t* position) {
  auto record = std::make_shared<Record>();
  record->kind = CAIRN_RECORD_EPOCH;
  record->epoch = epoch;
  record->data = std::string(primary);
  return WriteControl(std::move(record), position);
}

sdk::Status MemoryStorage::EpochEnd(uint64_t epoch, uint64_t* position) {
  std::lock_guard<std::mutex> lock(mu_);
  *position = 0;
  // Epochs never decrease along the log: the last record of epoch <= E.
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if ((*it)->epoch <= epoch) {
      *position = (*it)->position;
      break;
    }
  }
  if (kFault == Fault::kEpochEndOneShort) {
    if (*position != 0) *position -= 1;
  }
  return sdk::Status::Ok();
}

}  // namespace cairn::memory
