// One record of the ordered log (cairn/plugin.h, "The ordered log"), owned.
//
// read_log hands out cairn_log_record views valid only during its callback;
// replication and backup must keep records longer, ship them and apply them
// elsewhere. OwnedLogRecord is that owning copy, shared by both ("one way to
// copy a store"):
//
//   read_log callback --OwnedLogRecord(record)--> owned
//   owned --ToProto--> cairn.log.v1.LogRecord (schemas/cairn/log/v1/log.proto)
//   LogRecord --FromProto (validates)--> owned
//   owned --View()--> const cairn_log_record& for apply_log
//
// Records are kept exactly as stored (events sealed), so none of this needs
// a key. Libraries: the copy and the view are in `cairn_log_record` (needs
// only the SDK, so plugins may use it); ToProto and FromProto are in
// `cairn_log_record_proto` (adds protobuf and cairn_proto).
#ifndef CAIRN_LOG_RECORD_H_
#define CAIRN_LOG_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cairn/plugin.h"

namespace cairn {
namespace log::v1 {
class LogRecord;  // schemas/cairn/log/v1/log.proto
}  // namespace log::v1

// The largest stream name and tag FromProto accepts (cairn/names.h).
inline constexpr size_t kMaxLogNameBytes = 255;
// The largest type, writer, metadata, data (event or record) FromProto
// accepts: far above any event a store takes, far below what breaks a
// 32-bit length.
inline constexpr size_t kMaxLogFieldBytes = size_t{1} << 30;

// cairn_event as stored, owned.
struct OwnedEvent {
  std::string stream;
  uint64_t revision = 0;
  uint64_t position = 0;
  std::string type;
  int64_t timestamp_us = 0;
  std::string writer;
  std::string metadata;
  std::string data;  // as stored: sealed
  std::vector<std::string> tags;

  bool operator==(const OwnedEvent&) const = default;
};

// A cairn_log_record and everything it points at. Fields a kind does not
// use are zero / empty / nullopt, as in cairn_log_record.
class OwnedLogRecord {
 public:
  OwnedLogRecord() = default;
  // Copies every field of `record` and what it points at (the event and its
  // tags, the criteria). Never fails: it keeps what storage returned, valid
  // or not; FromProto is where foreign bytes are checked.
  explicit OwnedLogRecord(const cairn_log_record& record);

  // Copies and moves carry the owned fields; the view is rebuilt by View().
  OwnedLogRecord(const OwnedLogRecord& other);
  OwnedLogRecord& operator=(const OwnedLogRecord& other);
  OwnedLogRecord(OwnedLogRecord&& other) noexcept;
  OwnedLogRecord& operator=(OwnedLogRecord&& other) noexcept;

  // A cairn_log_record pointing into this object, for apply_log. Valid until
  // this object is changed, moved, destroyed or View() is called again.
  const cairn_log_record& View();

  // Equal when every owned field is (the view is not compared).
  bool operator==(const OwnedLogRecord& other) const;

  uint32_t kind = 0;  // cairn_record_kind
  uint64_t position = 0;
  uint64_t epoch = 0;
  uint32_t batch_size = 0;
  uint32_t batch_index = 0;
  std::optional<OwnedEvent> event;  // EVENT
  std::string stream;
  uint64_t revision = 0;
  int64_t timestamp_us = 0;
  std::string data;
  std::optional<cairn_snapshot_criteria> criteria;  // SNAPSHOT_DELETE
  std::string idempotency_key;  // EVENT, batch_index 0: its batch's, if any

 private:
  cairn_log_record view_{};
  cairn_event event_view_{};
  std::vector<cairn_bytes> tag_views_;
  cairn_snapshot_criteria criteria_view_{};
};

// Pointers to each record's View(), in order: the `records` of one
// apply_log call. Valid while `records` is neither changed nor moved.
std::vector<const cairn_log_record*> LogRecordViews(
    std::vector<OwnedLogRecord>& records);

// ---- cairn.log.v1.LogRecord (library cairn_log_record_proto) ----

// Fills `out` (cleared first) from `record`.
void ToProto(const OwnedLogRecord& record, log::v1::LogRecord* out);

// The record `proto` holds, checked: a known kind, a position > 0, an event
// exactly when the kind is EVENT (with the record's position), names within
// kMaxLogNameBytes and other byte fields within kMaxLogFieldBytes, batch
// index < batch size. InvalidArgument naming the field and the record's
// position otherwise. It does not check what only storage can (gap-free
// positions, stream revisions): apply_log does.
absl::StatusOr<OwnedLogRecord> FromProto(const log::v1::LogRecord& proto);

}  // namespace cairn

#endif  // CAIRN_LOG_RECORD_H_
