#include "storage_suite.h"

#include <cairn/status.h>

#include <cstring>

namespace cairn::conformance {
namespace {

int CollectEvent(void* context, const cairn_event* e) {
  ReadEvent r;
  r.stream = String(e->stream);
  r.revision = e->revision;
  r.position = e->position;
  r.type = String(e->type);
  r.timestamp_us = e->timestamp_us;
  r.writer = String(e->writer);
  r.metadata = String(e->metadata);
  r.data = String(e->data);
  for (uint32_t i = 0; i < e->tag_count; ++i) r.tags.push_back(String(e->tags[i]));
  static_cast<std::vector<ReadEvent>*>(context)->push_back(std::move(r));
  return 0;
}

ReadEvent Own(const cairn_event* e) {
  std::vector<ReadEvent> one;
  CollectEvent(&one, e);
  return one.front();
}

int CollectRecord(void* context, const cairn_log_record* r) {
  LogRow row;
  row.kind = r->kind;
  row.position = r->position;
  row.epoch = r->epoch;
  row.batch_size = r->batch_size;
  row.batch_index = r->batch_index;
  if (r->event != nullptr) row.event = Own(r->event);
  row.stream = String(r->stream);
  row.revision = r->revision;
  row.timestamp_us = r->timestamp_us;
  row.data = String(r->data);
  if (r->criteria != nullptr) {
    row.criteria = std::vector<int64_t>{
        static_cast<int64_t>(r->criteria->min_revision),
        static_cast<int64_t>(r->criteria->max_revision),
        r->criteria->min_timestamp_us, r->criteria->max_timestamp_us};
  }
  if (CAIRN_HAS_FIELD(cairn_log_record, r, idempotency_key)) {
    row.idempotency_key = String(r->idempotency_key);
  }
  static_cast<std::vector<LogRow>*>(context)->push_back(std::move(row));
  return 0;
}

int CollectStream(void* context, const cairn_stream_info* info) {
  static_cast<std::vector<StreamRow>*>(context)->push_back(
      StreamRow{String(info->name), info->ordinal, info->head_revision,
                info->deleted_to});
  return 0;
}

int CollectSnapshot(void* context, const cairn_snapshot* s) {
  auto* out = static_cast<std::vector<SnapshotRow>*>(context);
  out->push_back(SnapshotRow{s->revision, s->timestamp_us, String(s->data)});
  return 0;
}

}  // namespace

std::vector<EventSpec> Events(size_t count, const std::string& prefix) {
  std::vector<EventSpec> out(count);
  for (size_t i = 0; i < count; ++i) {
    out[i].data = prefix + "-" + std::to_string(i);
  }
  return out;
}

std::string DescribeRow(const LogRow& row) {
  static const char* const kKinds[] = {
      "?", "EVENT", "DELETE_TO", "SNAPSHOT_SAVE", "SNAPSHOT_DELETE", "EPOCH"};
  std::string text = "position " + std::to_string(row.position) + " (" +
                     (row.kind <= 5 ? kKinds[row.kind] : "unknown kind");
  if (row.event) {
    text += " '" + row.event->stream + "' revision " +
            std::to_string(row.event->revision) + " batch " +
            std::to_string(row.batch_index) + "/" +
            std::to_string(row.batch_size);
  } else if (!row.stream.empty()) {
    text += " '" + row.stream + "' revision " + std::to_string(row.revision);
  }
  if (!row.idempotency_key.empty()) {
    text += ", idempotency key '" + row.idempotency_key + "'";
  }
  return text + ", epoch " + std::to_string(row.epoch) + ")";
}

std::string DescribeRows(const std::vector<LogRow>& rows) {
  std::string text;
  for (const LogRow& row : rows) text += "\n  " + DescribeRow(row);
  return text.empty() ? " (none)" : text;
}

RawRecords::RawRecords(const std::vector<LogRow>& rows)
    : tags_(rows.size()),
      events_(rows.size()),
      criteria_(rows.size()),
      records_(rows.size()) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const LogRow& row = rows[i];
    cairn_log_record& r = records_[i];
    r = cairn_log_record{};
    r.size = sizeof(cairn_log_record);
    r.kind = row.kind;
    r.position = row.position;
    r.epoch = row.epoch;
    r.batch_size = row.batch_size;
    r.batch_index = row.batch_index;
    r.stream = Bytes(row.stream);
    r.revision = row.revision;
    r.timestamp_us = row.timestamp_us;
    r.data = Bytes(row.data);
    r.idempotency_key = Bytes(row.idempotency_key);
    if (row.event) {
      const ReadEvent& ev = *row.event;
      for (const std::string& t : ev.tags) tags_[i].push_back(Bytes(t));
      cairn_event& e = events_[i];
      e = cairn_event{};
      e.size = sizeof(cairn_event);
      e.tag_count = static_cast<uint32_t>(tags_[i].size());
      e.stream = Bytes(ev.stream);
      e.revision = ev.revision;
      e.position = ev.position;
      e.type = Bytes(ev.type);
      e.timestamp_us = ev.timestamp_us;
      e.writer = Bytes(ev.writer);
      e.metadata = Bytes(ev.metadata);
      e.data = Bytes(ev.data);
      e.tags = tags_[i].empty() ? nullptr : tags_[i].data();
      r.event = &e;
    }
    if (row.criteria) {
      const std::vector<int64_t>& c = *row.criteria;
      criteria_[i] = cairn_snapshot_criteria{
          sizeof(cairn_snapshot_criteria), static_cast<uint64_t>(c[0]),
          static_cast<uint64_t>(c[1]), c[2], c[3]};
      r.criteria = &criteria_[i];
    }
  }
  for (const cairn_log_record& r : records_) pointers_.push_back(&r);
}

cairn_snapshot_criteria AllSnapshots() {
  return cairn_snapshot_criteria{sizeof(cairn_snapshot_criteria), 0,
                                 CAIRN_MAX_REVISION, INT64_MIN, INT64_MAX};
}

bool AppendToBuffer(cairn_buffer* out, const std::string& bytes) {
  if (out->capacity - out->size < bytes.size() &&
      (out->reserve == nullptr || out->reserve(out, bytes.size()) != 0 ||
       out->capacity - out->size < bytes.size())) {
    return false;
  }
  if (!bytes.empty())
    std::memcpy(out->data + out->size, bytes.data(), bytes.size());
  out->size += bytes.size();
  return true;
}

AppendOutcome AppendTo(const cairn_storage_api* api, cairn_storage* store,
                       const std::string& stream, Expected expected,
                       const std::vector<EventSpec>& events, const SealFn* seal,
                       const std::string& key) {
  std::vector<std::vector<cairn_bytes>> tags(events.size());
  std::vector<cairn_event> raw(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const EventSpec& spec = events[i];
    for (const std::string& t : spec.tags) tags[i].push_back(Bytes(t));
    cairn_event& e = raw[i];
    e = cairn_event{};
    e.size = sizeof(cairn_event);
    e.tag_count = static_cast<uint32_t>(tags[i].size());
    e.type = Bytes(spec.type);
    e.timestamp_us = spec.timestamp_us;
    e.writer = Bytes(spec.writer);
    e.metadata = Bytes(spec.metadata);
    e.data = Bytes(spec.data);
    e.tags = tags[i].empty() ? nullptr : tags[i].data();
  }
  std::vector<const cairn_event*> pointers;
  for (const cairn_event& e : raw) pointers.push_back(&e);
  cairn_append_request request{};
  request.size = sizeof(request);
  request.expected_kind = expected.kind;
  request.expected_revision = expected.revision;
  request.stream = Bytes(stream);
  request.events = pointers.empty() ? nullptr : pointers.data();
  request.count = pointers.size();
  request.idempotency_key = Bytes(key);
  if (seal != nullptr) {
    request.seal = [](void* context, size_t index, uint64_t revision,
                      cairn_buffer* buffer, cairn_error* error) {
      return (*static_cast<const SealFn*>(context))(index, revision, buffer,
                                                    error);
    };
    request.seal_context = const_cast<SealFn*>(seal);
  }
  AppendOutcome out;
  out.result.size = sizeof(cairn_append_result);
  ErrorBuffer error;
  out.code = api->append(store, &request, &out.result, error.get());
  out.message = error.message;
  return out;
}

cairn_status ReadAllFrom(const cairn_storage_api* api, cairn_storage* store,
                         uint64_t after, uint64_t max, bool include_deleted,
                         std::vector<ReadEvent>* out, std::string* message) {
  ErrorBuffer error;
  cairn_status st = api->read_all(store, after, max, include_deleted ? 1 : 0,
                                  &CollectEvent, out, error.get());
  *message = error.message;
  return st;
}

cairn_status ReadLogFrom(const cairn_storage_api* api, cairn_storage* store,
                         uint64_t after, uint64_t max, std::vector<LogRow>* out,
                         std::string* message) {
  ErrorBuffer error;
  cairn_status st =
      api->read_log(store, after, max, &CollectRecord, out, error.get());
  *message = error.message;
  return st;
}

cairn_status ReadStreamFrom(const cairn_storage_api* api, cairn_storage* store,
                            const std::string& stream, uint64_t from,
                            uint64_t to, uint64_t max,
                            std::vector<ReadEvent>* out, std::string* message) {
  ErrorBuffer error;
  cairn_status st = api->read_stream(store, Bytes(stream), from, to, max,
                                     &CollectEvent, out, error.get());
  *message = error.message;
  return st;
}

void StorageConformance::SetUp() {
  api_ = target().plugin->storage();
  ASSERT_NE(api_, nullptr) << "plugin '" << target().plugin->name()
                           << "' has no storage table";
  options_ = std::make_unique<OpenOptions>(target());
  ASSERT_NO_FATAL_FAILURE(Open());
}

void StorageConformance::TearDown() { Close(); }

void StorageConformance::Open() {
  cairn_status st = api_->open(options_->get(), &store_, error_.get());
  ASSERT_EQ(st, CAIRN_OK) << "open failed: " << Describe(st, error_.message);
  ASSERT_NE(store_, nullptr) << "open returned CAIRN_OK but no instance";
}

void StorageConformance::Close() {
  if (store_ != nullptr) {
    api_->close(store_);
    store_ = nullptr;
  }
}

void StorageConformance::Reopen() {
  uint64_t before = HeadPosition();
  Close();
  ASSERT_NO_FATAL_FAILURE(Open());
  uint64_t after = HeadPosition();
  EXPECT_EQ(after, before) << kRuleSurvivesReopen
                           << ": the head position was " << before
                           << " before close and is " << after
                           << " after reopen";
  // Live reads see the reopened store's committed events at once: a waiter
  // for anything past position 0 must not block while the head is above it.
  if (after == 0 || !target().Has(CAIRN_CAP_LIVE_READS)) return;
  uint64_t watermark = 0;
  cairn_status st =
      api_->wait_commit(store_, 0, 2000, &watermark, error_.get());
  EXPECT_EQ(st, CAIRN_OK)
      << kRuleWatermarkSurvivesReopen << ": after reopen head_position is "
      << after << ", so wait_commit(after_position = 0) must return at once; "
      << "it returned " << Describe(st, error_.message);
  if (st == CAIRN_OK) {
    EXPECT_EQ(watermark, after)
        << kRuleWatermarkSurvivesReopen << ": wait_commit reported watermark "
        << watermark << " but head_position is " << after;
  }
}

void StorageConformance::CheckAndReopen(const std::function<void()>& check) {
  {
    SCOPED_TRACE("before reopen");
    check();
  }
  if (!Persistent() || HasFatalFailure()) return;
  ASSERT_NO_FATAL_FAILURE(Reopen());
  SCOPED_TRACE(std::string("after close and reopen (") + kRuleSurvivesReopen +
               ")");
  check();
}

AppendOutcome StorageConformance::Append(const std::string& stream,
                                         Expected expected,
                                         const std::vector<EventSpec>& events) {
  return AppendTo(api_, store_, stream, expected, events);
}

cairn_append_result StorageConformance::MustAppend(
    const std::string& stream, Expected expected,
    const std::vector<EventSpec>& events) {
  AppendOutcome out = Append(stream, expected, events);
  EXPECT_EQ(out.code, CAIRN_OK)
      << "append of " << events.size() << " event(s) to '" << stream
      << "' failed: " << Describe(out.code, out.message.c_str());
  return out.result;
}

std::vector<ReadEvent> StorageConformance::ReadStream(const std::string& stream,
                                                      uint64_t from,
                                                      uint64_t to,
                                                      uint64_t max) {
  std::vector<ReadEvent> out;
  std::string message;
  cairn_status st =
      ReadStreamFrom(api_, store_, stream, from, to, max, &out, &message);
  EXPECT_EQ(st, CAIRN_OK) << "read_stream('" << stream << "', " << from
                          << ", " << to << ", " << max
                          << ") failed: " << Describe(st, message.c_str());
  return out;
}

std::vector<ReadEvent> StorageConformance::ReadAll(uint64_t after,
                                                   uint64_t max,
                                                   bool include_deleted) {
  std::vector<ReadEvent> out;
  std::string message;
  cairn_status st =
      ReadAllFrom(api_, store_, after, max, include_deleted, &out, &message);
  EXPECT_EQ(st, CAIRN_OK) << "read_all(" << after << ", " << max
                          << ") failed: " << Describe(st, message.c_str());
  return out;
}

std::vector<ReadEvent> StorageConformance::ReadTag(const std::string& tag,
                                                   uint64_t after,
                                                   uint64_t max) {
  std::vector<ReadEvent> out;
  cairn_status st = api_->read_tag(store_, Bytes(tag), after, max,
                                   &CollectEvent, &out, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "read_tag('" << tag << "', " << after
                          << ") failed: " << Describe(st, error_.message);
  return out;
}

std::vector<LogRow> StorageConformance::ReadLog(uint64_t after, uint64_t max) {
  std::vector<LogRow> out;
  std::string message;
  cairn_status st = ReadLogFrom(api_, store_, after, max, &out, &message);
  EXPECT_EQ(st, CAIRN_OK) << "read_log(" << after << ", " << max
                          << ") failed: " << Describe(st, message.c_str());
  return out;
}

cairn_log_state StorageConformance::LogState() {
  cairn_log_state state{};
  state.size = sizeof(state);
  cairn_status st = api_->log_state(store_, &state, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "log_state failed: "
                          << Describe(st, error_.message);
  return state;
}

uint64_t StorageConformance::HeadRevision(const std::string& stream) {
  uint64_t revision = 0;
  cairn_status st =
      api_->head_revision(store_, Bytes(stream), &revision, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "head_revision('" << stream
                          << "') failed: " << Describe(st, error_.message);
  return revision;
}

uint64_t StorageConformance::HeadPosition() {
  uint64_t position = 0;
  cairn_status st = api_->head_position(store_, &position, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "head_position failed: "
                          << Describe(st, error_.message);
  return position;
}

std::vector<StreamRow> StorageConformance::ListStreams(uint64_t after,
                                                       uint64_t max) {
  std::vector<StreamRow> out;
  cairn_status st = api_->list_streams(store_, after, max, &CollectStream,
                                       &out, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "list_streams failed: "
                          << Describe(st, error_.message);
  return out;
}

void StorageConformance::DeleteTo(const std::string& stream,
                                  uint64_t revision) {
  cairn_status st =
      api_->delete_to(store_, Bytes(stream), revision, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "delete_to('" << stream << "', " << revision
                          << ") failed: " << Describe(st, error_.message);
}

void StorageConformance::SaveSnapshot(const std::string& stream,
                                      uint64_t revision, int64_t timestamp_us,
                                      const std::string& data) {
  cairn_snapshot s{sizeof(cairn_snapshot), Bytes(stream), revision,
                   timestamp_us, Bytes(data)};
  cairn_status st = api_->snapshot_save(store_, &s, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "snapshot_save('" << stream << "', " << revision
                          << ") failed: " << Describe(st, error_.message);
}

std::optional<SnapshotRow> StorageConformance::LoadSnapshot(
    const std::string& stream, const cairn_snapshot_criteria& criteria) {
  std::vector<SnapshotRow> rows;
  cairn_status st = api_->snapshot_load(store_, Bytes(stream), &criteria,
                                        &CollectSnapshot, &rows, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "snapshot_load('" << stream
                          << "') failed: " << Describe(st, error_.message);
  EXPECT_LE(rows.size(), 1u)
      << "snapshot_load must call back at most once, called " << rows.size()
      << " times";
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

bool StorageConformance::Lacks(uint64_t capability, const char* capability_name,
                               const std::string& what,
                               std::string* skip_message) {
  if (target().Has(capability)) return false;
  *skip_message = NoteSkip(capability_name, what);
  return true;
}

void StorageConformance::ExpectContiguousRevisions(
    const std::string& stream, const std::vector<ReadEvent>& events,
    uint64_t first) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].revision != first + i) {
      ADD_FAILURE() << kRuleContiguousRevisions << ": event " << i
                    << " read from stream '" << stream << "' has revision "
                    << events[i].revision << ", expected " << first + i;
      return;
    }
    if (events[i].stream != stream) {
      ADD_FAILURE() << "read_stream('" << stream << "') returned an event of '"
                    << events[i].stream << "'";
      return;
    }
  }
}

void StorageConformance::ExpectGapFreePositions(
    const std::vector<ReadEvent>& events, uint64_t first) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].position != first + i) {
      ADD_FAILURE() << kRuleGapFreePositions << " and in commit order: event "
                    << i << " of read_all has position " << events[i].position
                    << ", expected " << first + i;
      return;
    }
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StorageConformance);
INSTANTIATE_TEST_SUITE_P(Plugin, StorageConformance,
                         ::testing::ValuesIn(TargetsOfKind(CAIRN_KIND_STORAGE)),
                         TargetName);

}  // namespace cairn::conformance
