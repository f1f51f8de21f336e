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
  e.stream = sdk::Bytes(stream->name);
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

sdk::Status MemoryStorage::Open(const sdk::Options&,
                                std::unique_ptr<MemoryStorage>* out) {
  *out = std::make_unique<MemoryStorage>();
  return sdk::Status::Ok();
}

MemoryStorage::~MemoryStorage() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  committed_.notify_all();
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

sdk::Status MemoryStorage::ValidateEvents(const cairn_event* events,
                                          size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (events[i].tag_count != 0 && events[i].tags == nullptr) {
      return sdk::InvalidArgument("event " + std::to_string(i) + ": " +
                                  std::to_string(events[i].tag_count) +
                                  " tags announced but tags is NULL");
    }
  }
  return sdk::Status::Ok();
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

void MemoryStorage::PublishLocked(StreamState* stream, EventPtr event) {
  payload_bytes_ += event->data.size() + event->metadata.size();
  for (const std::string& tag : event->tags) {
    auto it = tags_.find(tag);
    if (it == tags_.end()) it = tags_.emplace(tag, std::vector<EventPtr>()).first;
    it->second.push_back(event);
  }
  stream->events.push_back(event);
  watermark_ = event->position;
  log_.push_back(std::move(event));
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
  if constexpr (kFault == Fault::kAnyConflictsWhileSealing) {
    std::lock_guard<std::mutex> peek(mu_);
    const StreamState* at_entry = FindLocked(stream);
    head_at_entry = at_entry == nullptr ? 0 : at_entry->head();
  }
  // One append at a time (append_mu_): the head read below stays the head
  // while the host seals, without holding mu_, which readers take.
  std::unique_lock<std::mutex> order(append_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return sdk::Closed("the memory store is closed");
  StreamState* state = FindLocked(stream);
  uint64_t head = state == nullptr ? 0 : state->head();
  if (!request.expected().Holds(head)) {
    return sdk::WrongExpectedRevision(
        "stream " + Quote(stream) + " was expected at " +
        request.expected().Text() + ", but its head revision is " +
        std::to_string(head));
  }
  if constexpr (kFault == Fault::kAnyConflictsWhileSealing) {
    if (request.has_seal() && head != head_at_entry) {
      return sdk::WrongExpectedRevision(
          "stream " + Quote(stream) + " moved from " +
          std::to_string(head_at_entry) + " to " + std::to_string(head) +
          " while this append waited to seal");
    }
  }
  uint64_t first_revision = head + 1;
  if constexpr (kFault == Fault::kReuseRevision) {
    if (head != 0) first_revision = head;
  }
  std::vector<std::shared_ptr<StoredEvent>> batch;
  if (count != 0) {
    lock.unlock();
    // Seal (the host's callback) and copy the payloads without mu_: a 16 MiB
    // event must not stall every reader while it is sealed and copied.
    if constexpr (kFault != Fault::kIgnoreSeal) {
      sdk::Status sealed = request.Seal(first_revision);
      if (!sealed.ok()) return sealed;
    }
    batch.reserve(count);
    for (size_t i = 0; i < count; ++i) batch.push_back(Copy(request[i]));
    lock.lock();
    if (closed_) return sdk::Closed("the memory store is closed");
  }
  if constexpr (kFault == Fault::kPositionGap) {
    if (count != 0 && watermark_ != 0) next_position_ += 1;
  }
  uint64_t first_position = next_position_;
  if (result != nullptr) {
    // count == 0 reports an empty range: first = head + 1 > last = head.
    if (CAIRN_HAS_FIELD(cairn_append_result, result, first_revision))
      result->first_revision = first_revision;
    if (CAIRN_HAS_FIELD(cairn_append_result, result, last_revision))
      result->last_revision = count == 0 ? head : first_revision + count - 1;
    if (CAIRN_HAS_FIELD(cairn_append_result, result, first_position))
      result->first_position = count == 0 ? watermark_ + 1 : first_position;
    if (CAIRN_HAS_FIELD(cairn_append_result, result, last_position))
      result->last_position =
          count == 0 ? watermark_ : first_position + count - 1;
  }
  if (count == 0) return sdk::Status::Ok();
  state = FindOrCreateLocked(stream);
  next_position_ += count;
  for (size_t i = 0; i < count; ++i) {
    batch[i]->stream = state;
    batch[i]->revision = first_revision + i;
    batch[i]->position = first_position + i;
  }
  size_t published = 0;
  if constexpr (kFault == Fault::kHalfVisibleBatch) {
    // Publish the first half, let readers in, then the rest.
    for (; published < count / 2; ++published) {
      PublishLocked(state, std::move(batch[published]));
    }
    lock.unlock();
    committed_.notify_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    lock.lock();
  }
  for (; published < count; ++published) {
    PublishLocked(state, std::move(batch[published]));
  }
  lock.unlock();
  committed_.notify_all();
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
      if (event->revision <= event->stream->deleted_to) continue;
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
        log_.begin(), log_.end(), after_position,
        [](uint64_t p, const EventPtr& e) { return p < e->position; });
    for (; start != log_.end() && selected.size() < max_count; ++start) {
      const EventPtr& event = *start;
      if (!include_deleted && event->revision <= event->stream->deleted_to) {
        continue;
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
  *position = watermark_;
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::WaitCommit(uint64_t after_position,
                                      uint32_t timeout_ms,
                                      uint64_t* position) {
  if (position == nullptr) return sdk::InvalidArgument("position is NULL");
  std::unique_lock<std::mutex> lock(mu_);
  ++waiters_;
  bool ready = committed_.wait_for(
      lock, std::chrono::milliseconds(timeout_ms),
      [&] { return closed_ || watermark_ > after_position; });
  --waiters_;
  *position = watermark_;
  if (closed_) return sdk::Closed("the memory store closed while waiting");
  if (!ready) {
    return sdk::Timeout("no commit after position " +
                        std::to_string(after_position) + " within " +
                        std::to_string(timeout_ms) + " ms");
  }
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::DeleteTo(std::string_view stream,
                                    uint64_t revision) {
  std::lock_guard<std::mutex> lock(mu_);
  StreamState* state = FindLocked(stream);
  if (state == nullptr) return sdk::Status::Ok();
  // Only revisions that exist are deleted: later appends stay visible.
  uint64_t target = std::min(revision, state->head());
  state->deleted_to = std::max(state->deleted_to, target);
  return sdk::Status::Ok();
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
  StoredSnapshot stored{snapshot.timestamp_us, Owned(snapshot.data)};
  std::lock_guard<std::mutex> lock(mu_);
  std::string_view stream = sdk::View(snapshot.stream);
  auto it = snapshots_.find(stream);
  if (it == snapshots_.end()) {
    it = snapshots_.emplace(std::string(stream), SnapshotMap()).first;
  }
  it->second[snapshot.revision] = std::move(stored);
  return sdk::Status::Ok();
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
  std::lock_guard<std::mutex> lock(mu_);
  auto it = snapshots_.find(stream);
  if (it != snapshots_.end()) it->second.erase(revision);
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::SnapshotDeleteMatching(
    std::string_view stream, const cairn_snapshot_criteria& criteria) {
  sdk::Status valid = CheckCriteria(criteria);
  if (!valid.ok()) return valid;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = snapshots_.find(stream);
  if (it == snapshots_.end()) return sdk::Status::Ok();
  std::erase_if(it->second, [&](const SnapshotMap::value_type& s) {
    return Matches(s.first, s.second, criteria);
  });
  return sdk::Status::Ok();
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
  double events, streams, tags, snapshots, bytes, watermark, waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events = static_cast<double>(log_.size());
    streams = static_cast<double>(by_ordinal_.size());
    tags = static_cast<double>(tags_.size());
    size_t count = 0;
    for (const auto& [name, map] : snapshots_) count += map.size();
    snapshots = static_cast<double>(count);
    bytes = static_cast<double>(payload_bytes_);
    watermark = static_cast<double>(watermark_);
    waiters = static_cast<double>(waiters_);
  }
  sink("events", events);
  sink("streams", streams);
  sink("tags", tags);
  sink("snapshots", snapshots);
  sink("payload_bytes", bytes);
  sink("head_position", watermark);
  sink("waiters", waiters);
  return sdk::Status::Ok();
}

sdk::Status MemoryStorage::Apply(const cairn_event* events, size_t count) {
  if (count != 0 && events == nullptr) {
    return sdk::InvalidArgument("apply: events is NULL with a count of " +
                                std::to_string(count));
  }
  sdk::Status valid = ValidateEvents(events, count);
  if (!valid.ok()) return valid;
  for (size_t i = 0; i < count; ++i) {
    valid = sdk::ValidateName(sdk::View(events[i].stream), "stream name");
    if (!valid.ok()) return valid;
    for (uint32_t t = 0; t < events[i].tag_count; ++t) {
      valid = sdk::ValidateName(sdk::View(events[i].tags[t]), "tag");
      if (!valid.ok()) return valid;
    }
  }
  std::vector<std::shared_ptr<StoredEvent>> batch;
  batch.reserve(count);
  for (size_t i = 0; i < count; ++i) batch.push_back(Copy(events[i]));

  std::lock_guard<std::mutex> order(append_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return sdk::Closed("the memory store is closed");
  // Check the whole batch before writing any of it.
  std::map<std::string_view, uint64_t> heads;  // stream -> head in this batch
  for (size_t i = 0; i < count; ++i) {
    const cairn_event& e = events[i];
    if (e.position != watermark_ + 1 + i) {
      return sdk::FailedPrecondition(
          "apply: event " + std::to_string(i) + " has position " +
          std::to_string(e.position) + ", expected " +
          std::to_string(watermark_ + 1 + i) +
          " (positions must continue the replica's head contiguously)");
    }
    std::string_view name = sdk::View(e.stream);
    auto it = heads.find(name);
    if (it == heads.end()) {
      const StreamState* state = FindLocked(name);
      it = heads.emplace(name, state == nullptr ? 0 : state->head()).first;
    }
    if (e.revision != it->second + 1) {
      return sdk::FailedPrecondition(
          "apply: event " + std::to_string(i) + " of stream " + Quote(name) +
          " has revision " + std::to_string(e.revision) + ", expected " +
          std::to_string(it->second + 1));
    }
    it->second = e.revision;
  }
  for (size_t i = 0; i < count; ++i) {
    StreamState* state = FindOrCreateLocked(sdk::View(events[i].stream));
    batch[i]->stream = state;
    batch[i]->revision = events[i].revision;
    batch[i]->position = events[i].position;
    PublishLocked(state, std::move(batch[i]));
  }
  next_position_ = watermark_ + 1;
  lock.unlock();
  committed_.notify_all();
  return sdk::Status::Ok();
}

}  // namespace cairn::memory
