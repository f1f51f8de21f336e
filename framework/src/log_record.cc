#include "cairn/log_record.h"

#include <utility>

namespace cairn {
namespace {

std::string Own(cairn_bytes bytes) {
  if (bytes.size == 0) return std::string();
  return std::string(reinterpret_cast<const char*>(bytes.data), bytes.size);
}

cairn_bytes Bytes(const std::string& s) {
  return cairn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

OwnedLogRecord::OwnedLogRecord(const cairn_log_record& record)
    : kind(record.kind),
      position(record.position),
      epoch(record.epoch),
      batch_size(record.batch_size),
      batch_index(record.batch_index),
      stream(Own(record.stream)),
      revision(record.revision),
      timestamp_us(record.timestamp_us),
      data(Own(record.data)),
      idempotency_key(
          CAIRN_HAS_FIELD(cairn_log_record, &record, idempotency_key)
              ? Own(record.idempotency_key)
              : std::string()) {
  if (record.event != nullptr) {
    const cairn_event& e = *record.event;
    OwnedEvent& owned = event.emplace();
    owned.stream = Own(e.stream);
    owned.revision = e.revision;
    owned.position = e.position;
    owned.type = Own(e.type);
    owned.timestamp_us = e.timestamp_us;
    owned.writer = Own(e.writer);
    owned.metadata = Own(e.metadata);
    owned.data = Own(e.data);
    owned.tags.reserve(e.tag_count);
    for (uint32_t i = 0; i < e.tag_count; ++i)
      owned.tags.push_back(Own(e.tags[i]));
  }
  if (record.criteria != nullptr) criteria = *record.criteria;
}

OwnedLogRecord::OwnedLogRecord(const OwnedLogRecord& other)
    : kind(other.kind),
      position(other.position),
      epoch(other.epoch),
      batch_size(other.batch_size),
      batch_index(other.batch_index),
      event(other.event),
      stream(other.stream),
      revision(other.revision),
      timestamp_us(other.timestamp_us),
      data(other.data),
      criteria(other.criteria),
      idempotency_key(other.idempotency_key) {}

OwnedLogRecord& OwnedLogRecord::operator=(const OwnedLogRecord& other) {
  if (this != &other) *this = OwnedLogRecord(other);
  return *this;
}

OwnedLogRecord::OwnedLogRecord(OwnedLogRecord&& other) noexcept
    : kind(other.kind),
      position(other.position),
      epoch(other.epoch),
      batch_size(other.batch_size),
      batch_index(other.batch_index),
      event(std::move(other.event)),
      stream(std::move(other.stream)),
      revision(other.revision),
      timestamp_us(other.timestamp_us),
      data(std::move(other.data)),
      criteria(other.criteria),
      idempotency_key(std::move(other.idempotency_key)) {}

OwnedLogRecord& OwnedLogRecord::operator=(OwnedLogRecord&& other) noexcept {
  kind = other.kind;
  position = other.position;
  epoch = other.epoch;
  batch_size = other.batch_size;
  batch_index = other.batch_index;
  event = std::move(other.event);
  stream = std::move(other.stream);
  revision = other.revision;
  timestamp_us = other.timestamp_us;
  data = std::move(other.data);
  criteria = other.criteria;
  idempotency_key = std::move(other.idempotency_key);
  view_ = cairn_log_record{};
  return *this;
}

bool OwnedLogRecord::operator==(const OwnedLogRecord& other) const {
  auto same_criteria = [](const std::optional<cairn_snapshot_criteria>& a,
                          const std::optional<cairn_snapshot_criteria>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a.has_value()) return true;
    return a->min_revision == b->min_revision &&
           a->max_revision == b->max_revision &&
           a->min_timestamp_us == b->min_timestamp_us &&
           a->max_timestamp_us == b->max_timestamp_us;
  };
  return kind == other.kind && position == other.position &&
         epoch == other.epoch && batch_size == other.batch_size &&
         batch_index == other.batch_index && event == other.event &&
         stream == other.stream && revision == other.revision &&
         timestamp_us == other.timestamp_us && data == other.data &&
         same_criteria(criteria, other.criteria) &&
         idempotency_key == other.idempotency_key;
}

const cairn_log_record& OwnedLogRecord::View() {
  view_ = cairn_log_record{};
  view_.size = sizeof(cairn_log_record);
  view_.kind = kind;
  view_.position = position;
  view_.epoch = epoch;
  view_.batch_size = batch_size;
  view_.batch_index = batch_index;
  view_.stream = Bytes(stream);
  view_.revision = revision;
  view_.timestamp_us = timestamp_us;
  view_.data = Bytes(data);
  view_.idempotency_key = Bytes(idempotency_key);
  if (event.has_value()) {
    const OwnedEvent& e = *event;
    tag_views_.clear();
    for (const std::string& tag : e.tags) tag_views_.push_back(Bytes(tag));
    event_view_ = cairn_event{};
    event_view_.size = sizeof(cairn_event);
    event_view_.tag_count = static_cast<uint32_t>(tag_views_.size());
    event_view_.stream = Bytes(e.stream);
    event_view_.revision = e.revision;
    event_view_.position = e.position;
    event_view_.type = Bytes(e.type);
    event_view_.timestamp_us = e.timestamp_us;
    event_view_.writer = Bytes(e.writer);
    event_view_.metadata = Bytes(e.metadata);
    event_view_.data = Bytes(e.data);
    event_view_.tags = tag_views_.empty() ? nullptr : tag_views_.data();
    view_.event = &event_view_;
  }
  if (criteria.has_value()) {
    criteria_view_ = *criteria;
    criteria_view_.size = sizeof(cairn_snapshot_criteria);
    view_.criteria = &criteria_view_;
  }
  return view_;
}

std::vector<const cairn_log_record*> LogRecordViews(
    std::vector<OwnedLogRecord>& records) {
  std::vector<const cairn_log_record*> views;
  views.reserve(records.size());
  for (OwnedLogRecord& record : records) views.push_back(&record.View());
  return views;
}

}  // namespace cairn
