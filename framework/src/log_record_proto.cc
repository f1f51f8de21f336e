// ToProto / FromProto of cairn/log_record.h (library cairn_log_record_proto).
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cairn/log/v1/log.pb.h"
#include "cairn/log_record.h"

namespace cairn {
namespace {

const char* KindName(uint32_t kind) {
  switch (kind) {
    case CAIRN_RECORD_EVENT:
      return "EVENT";
    case CAIRN_RECORD_DELETE_TO:
      return "DELETE_TO";
    case CAIRN_RECORD_SNAPSHOT_SAVE:
      return "SNAPSHOT_SAVE";
    case CAIRN_RECORD_SNAPSHOT_DELETE:
      return "SNAPSHOT_DELETE";
    case CAIRN_RECORD_EPOCH:
      return "EPOCH";
    default:
      return "unknown";
  }
}

absl::Status Invalid(uint64_t position, uint32_t kind,
                     const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(
      "log record at position ", position, " (", KindName(kind), "): ", what));
}

absl::Status CheckSize(uint64_t position, uint32_t kind,
                       const std::string& field, size_t size, size_t limit) {
  if (size <= limit) return absl::OkStatus();
  return Invalid(position, kind,
                 absl::StrCat("field '", field, "' is ", size,
                              " bytes, more than the ", limit, " allowed"));
}

}  // namespace

void ToProto(const OwnedLogRecord& record, log::v1::LogRecord* out) {
  out->Clear();
  out->set_kind(static_cast<log::v1::RecordKind>(record.kind));
  out->set_position(record.position);
  out->set_epoch(record.epoch);
  out->set_batch_size(record.batch_size);
  out->set_batch_index(record.batch_index);
  if (record.event.has_value()) {
    const OwnedEvent& e = *record.event;
    log::v1::Event* event = out->mutable_event();
    event->set_stream(e.stream);
    event->set_revision(e.revision);
    event->set_position(e.position);
    event->set_type(e.type);
    event->set_timestamp_us(e.timestamp_us);
    event->set_writer(e.writer);
    event->set_metadata(e.metadata);
    event->set_data(e.data);
    for (const std::string& tag : e.tags) event->add_tags(tag);
  }
  out->set_stream(record.stream);
  out->set_revision(record.revision);
  out->set_timestamp_us(record.timestamp_us);
  out->set_data(record.data);
  if (record.criteria.has_value()) {
    log::v1::SnapshotCriteria* criteria = out->mutable_criteria();
    criteria->set_min_revision(record.criteria->min_revision);
    criteria->set_max_revision(record.criteria->max_revision);
    criteria->set_min_timestamp_us(record.criteria->min_timestamp_us);
    criteria->set_max_timestamp_us(record.criteria->max_timestamp_us);
  }
  out->set_idempotency_key(record.idempotency_key);
}

absl::StatusOr<OwnedLogRecord> FromProto(const log::v1::LogRecord& proto) {
  const uint64_t position = proto.position();
  const uint32_t kind = static_cast<uint32_t>(proto.kind());
  if (kind < CAIRN_RECORD_EVENT || kind > CAIRN_RECORD_EPOCH) {
    return Invalid(position, kind,
                   absl::StrCat("field 'kind' holds ", proto.kind(),
                                ", not a record kind this build knows"));
  }
  if (position == 0)
    return Invalid(position, kind,
                   "field 'position' is 0 (positions start at 1)");
  if (proto.batch_size() == 0 || proto.batch_index() >= proto.batch_size()) {
    return Invalid(
        position, kind,
        absl::StrCat("field 'batch_index' ", proto.batch_index(),
                     " is not below 'batch_size' ", proto.batch_size()));
  }
  const bool is_event = kind == CAIRN_RECORD_EVENT;
  if (is_event && !proto.has_event())
    return Invalid(position, kind, "field 'event' is missing");
  if (!is_event && proto.has_event()) {
    return Invalid(position, kind,
                   "field 'event' is set on a record that is not an EVENT");
  }
  absl::Status s = CheckSize(position, kind, "stream", proto.stream().size(),
                             kMaxLogNameBytes);
  if (s.ok())
    s = CheckSize(position, kind, "data", proto.data().size(),
                  kMaxLogFieldBytes);
  if (s.ok()) {
    s = CheckSize(position, kind, "idempotency_key",
                  proto.idempotency_key().size(), CAIRN_MAX_IDEMPOTENCY_KEY);
  }
  if (!s.ok()) return s;
  if (!proto.idempotency_key().empty() &&
      (!is_event || proto.batch_index() != 0)) {
    return Invalid(position, kind,
                   "field 'idempotency_key' is set on a record that does not "
                   "start a batch of events");
  }

  OwnedLogRecord record;
  record.kind = kind;
  record.position = position;
  record.epoch = proto.epoch();
  record.batch_size = proto.batch_size();
  record.batch_index = proto.batch_index();
  record.stream = proto.stream();
  record.revision = proto.revision();
  record.timestamp_us = proto.timestamp_us();
  record.data = proto.data();
  record.idempotency_key = proto.idempotency_key();
  if (proto.has_event()) {
    const log::v1::Event& e = proto.event();
    if (e.position() != position) {
      return Invalid(position, kind,
                     absl::StrCat("field 'event.position' is ", e.position(),
                                  ", not the record's position"));
    }
    if (e.stream().empty())
      return Invalid(position, kind, "field 'event.stream' is empty");
    s = CheckSize(position, kind, "event.stream", e.stream().size(),
                  kMaxLogNameBytes);
    if (s.ok())
      s = CheckSize(position, kind, "event.type", e.type().size(),
                    kMaxLogFieldBytes);
    if (s.ok())
      s = CheckSize(position, kind, "event.writer", e.writer().size(),
                    kMaxLogFieldBytes);
    if (s.ok()) {
      s = CheckSize(position, kind, "event.metadata", e.metadata().size(),
                    kMaxLogFieldBytes);
    }
    if (s.ok())
      s = CheckSize(position, kind, "event.data", e.data().size(),
                    kMaxLogFieldBytes);
    for (int i = 0; s.ok() && i < e.tags_size(); ++i) {
      s = CheckSize(position, kind, absl::StrCat("event.tags[", i, "]"),
                    e.tags(i).size(), kMaxLogNameBytes);
    }
    if (!s.ok()) return s;
    OwnedEvent& event = record.event.emplace();
    event.stream = e.stream();
    event.revision = e.revision();
    event.position = e.position();
    event.type = e.type();
    event.timestamp_us = e.timestamp_us();
    event.writer = e.writer();
    event.metadata = e.metadata();
    event.data = e.data();
    event.tags.assign(e.tags().begin(), e.tags().end());
  }
  if (proto.has_criteria()) {
    const log::v1::SnapshotCriteria& c = proto.criteria();
    cairn_snapshot_criteria criteria{};
    criteria.size = sizeof(cairn_snapshot_criteria);
    criteria.min_revision = c.min_revision();
    criteria.max_revision = c.max_revision();
    criteria.min_timestamp_us = c.min_timestamp_us();
    criteria.max_timestamp_us = c.max_timestamp_us();
    record.criteria = criteria;
  }
  return record;
}

}  // namespace cairn
