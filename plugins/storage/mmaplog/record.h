// The on-disk record and segment-header formats (see docs/mmaplog.md).
//
// A segment file is a 64-byte header followed by records, each 8-byte
// aligned. A record is
//
//   0  u32 length       whole record incl. padding; written LAST (release)
//   4  u32 header_crc   CRC32C of bytes [8, 64) and the stream name
//   8  u32 body_crc     CRC32C of the body (bytes after the stream name)
//   12 u16 kind         RecordKind: 0 an event (version-1 segments have 0
//                       here, so their records read as events), else a
//                       control record (see below)
//   14 u16 tag_count
//   16 u64 position     global, gap-free
//   24 u64 revision     within the stream
//   32 i64 timestamp_us
//   40 u32 writer_len
//   44 u32 metadata_len
//   48 u32 data_len
//   52 u16 type_len
//   54 u8  stream_len   1..255
//   55 u8  flags        kRecordHasKey, else 0 (format version 3; 0 before)
//   56 u32 batch_size   records in this record's batch (>= 1)
//   60 u32 batch_index  0-based index of this record in its batch
//   64 stream name, then the body: type, writer, metadata, data, per tag
//      u8 length + bytes, and with kRecordHasKey the batch's idempotency key
//      as u8 length (1..64) + bytes; zero padding to a multiple of 8.
//
// A length word of kEndOfSegment marks the end of a full segment; 0 means
// "nothing (yet) here". All integers are little-endian.
//
// Control records (segment format version 2) take one position each, like
// an event, in a batch of their own (batch_size 1), have no tags and no
// type, writer or metadata, and may have an empty stream name and revision
// 0 (events may not):
//   kind 2 DELETE_TO        stream, revision = deleted up to (clamped to the
//                           head when written)
//   kind 3 SNAPSHOT_SAVE    stream, revision, timestamp_us, data = its bytes
//   kind 4 SNAPSHOT_DELETE  stream, revision 0, data = u64 min_revision,
//                           u64 max_revision, i64 min_timestamp_us, i64
//                           max_timestamp_us (the criteria)
//   kind 5 EPOCH            empty stream, revision = the epoch, data = the
//                           primary's id
// The kind numbers are cairn_record_kind's (plugin.h); 0 stands for
// CAIRN_RECORD_EVENT (1) so that version-1 records are events.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_RECORD_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_RECORD_H_

#include <cairn/plugin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace cairn::mmaplog {

inline constexpr size_t kRecordHeaderSize = 64;
inline constexpr uint32_t kEndOfSegment = 0xFFFFFFFFu;
inline constexpr size_t kSegmentHeaderSize = 64;
inline constexpr uint64_t kSegmentMagic = 0x474553'4E524941ull;  // "AIRNSEG"
// The segment format this build writes; it reads kOldestFormatVersion too.
// Version 2 added control records (the kind field); a version-1 segment has
// none. Version 3 added idempotency keys (the flags byte); a version-2
// segment has none. A segment of a version this build does not know is refused
// at open with a message naming file and version.
inline constexpr uint32_t kFormatVersion = 3;
inline constexpr uint32_t kOldestFormatVersion = 1;

// The record kinds (offset 12).
enum RecordKind : uint16_t {
  kKindEvent = 0,
  kKindDeleteTo = CAIRN_RECORD_DELETE_TO,
  kKindSnapshotSave = CAIRN_RECORD_SNAPSHOT_SAVE,
  kKindSnapshotDelete = CAIRN_RECORD_SNAPSHOT_DELETE,
  kKindEpoch = CAIRN_RECORD_EPOCH,
};
inline constexpr uint16_t kLastKind = kKindEpoch;
// Record flags (offset 55). Only the first event record of a batch may
// carry a key.
inline constexpr uint8_t kRecordHasKey = 1;

// Segment header flags.
inline constexpr uint32_t kSegmentSealed = 1;  // complete and synced
inline constexpr uint32_t kSegmentInUse = 2;   // base_position is set

// The largest record and the largest batch mmaplog accepts (64 MiB; a batch
// must also fit in one segment). Bounding batches bounds how far concurrent
// reservations can overshoot a full segment (see Log::Reserve).
inline constexpr size_t kMaxBatchBytes = 64u << 20;

// Bytes a record for `event` (with stream name `stream`) occupies.
size_t RecordSize(std::string_view stream, const cairn_event& event);
// The same for a record that also holds its batch's idempotency key `key`
// (1..64 bytes). Apart from RecordSize so that appends without a key pay
// nothing for keys.
size_t KeyedRecordSize(std::string_view stream, const cairn_event& event,
                       std::string_view key);

// Writes every field of the record except the length word into `out`
// (RecordSize bytes, zeroed beforehand), including both checksums.
// `kind` is a RecordKind; for a control record `event` holds only the
// fields its kind uses (see above).
void EncodeRecord(uint8_t* out, std::string_view stream,
                  const cairn_event& event, uint64_t position,
                  uint64_t revision, uint32_t batch_size, uint32_t batch_index,
                  uint32_t record_size, uint16_t kind = kKindEvent);
// EncodeRecord of an event record that also holds its batch's idempotency
// key `key` (1..64 bytes; KeyedRecordSize bytes), with kRecordHasKey. A
// writer uses it for batch index 0 only (CheckRecord refuses others).
void EncodeKeyedRecord(uint8_t* out, std::string_view stream,
                       const cairn_event& event, uint64_t position,
                       uint64_t revision, uint32_t batch_size,
                       uint32_t batch_index, uint32_t record_size,
                       std::string_view key);

// Publishes a record: stores its length word with release semantics (and a
// full fence, so the committer that checks afterwards sees it).
inline void PublishLength(uint8_t* record, uint32_t length) {
  std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(record))
      .store(length, std::memory_order_seq_cst);
}

// Whether n bytes at p are all zero; 8 bytes a step (the compiler
// vectorises the OR). Checks segment tails at open and spare segments for
// reuse, a page at a time.
inline bool AllZero(const uint8_t* p, size_t n) {
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    any |= word;
  }
  for (; i < n; ++i) any |= p[i];
  return any == 0;
}

// Reads a record's length word with acquire semantics.
inline uint32_t LoadLength(const uint8_t* record) {
  return std::atomic_ref<uint32_t>(
             *reinterpret_cast<uint32_t*>(const_cast<uint8_t*>(record)))
      .load(std::memory_order_seq_cst);
}

// The fixed fields of a record, decoded without checking the body.
struct RecordHeader {
  uint32_t length = 0;
  uint32_t header_crc = 0;
  uint32_t body_crc = 0;
  uint16_t kind = kKindEvent;  // RecordKind
  uint16_t tag_count = 0;
  uint64_t position = 0;
  uint64_t revision = 0;
  int64_t timestamp_us = 0;
  uint32_t writer_len = 0;
  uint32_t metadata_len = 0;
  uint32_t data_len = 0;
  uint16_t type_len = 0;
  uint8_t stream_len = 0;
  uint32_t batch_size = 0;
  uint32_t batch_index = 0;
  uint8_t flags = 0;
  // With kRecordHasKey: where the key's length byte is, from the record's
  // start (CheckRecord finds it walking the tags).
  uint32_t key_offset = 0;

  std::string_view StreamName(const uint8_t* record) const {
    return std::string_view(
        reinterpret_cast<const char*>(record + kRecordHeaderSize), stream_len);
  }
  // The batch's idempotency key; empty if the record carries none.
  std::string_view Key(const uint8_t* record) const {
    if ((flags & kRecordHasKey) == 0) return {};
    return std::string_view(
        reinterpret_cast<const char*>(record + key_offset + 1),
        record[key_offset]);
  }
};

enum class RecordCheck {
  kOk,
  kEmpty,          // length word 0: nothing written here
  kEndOfSegment,   // the end-of-segment marker
  kBadLength,      // length impossible at this offset
  kBadHeader,      // header checksum or header fields wrong
  kBadBody,        // header fine, body checksum wrong
};

// Decodes and checks the record at `record`, of which `available` bytes lie
// inside the segment. With kOk or kBadBody, *header is filled (for kBadBody
// the header is trustworthy: its own checksum passed). Never reads outside
// [record, record + available).
// With check_body false the body checksum is not computed (kOk then means
// "header fine").
RecordCheck CheckRecord(const uint8_t* record, size_t available,
                        RecordHeader* header, bool check_body = true);

// Fills `event` with pointers into the record (valid while the segment is
// mapped); `tags` must hold header.tag_count entries. The record must have
// passed CheckRecord with kOk.
// Inline: every read calls it once per event (docs/benchmarks.md, the
// ReadAll instruction counts).
inline void DecodeRecord(const uint8_t* record, const RecordHeader& h,
                         cairn_event* event, cairn_bytes* tags) {
  const uint8_t* p = record + kRecordHeaderSize;
  event->size = sizeof(cairn_event);
  event->stream = cairn_bytes{p, h.stream_len};
  p += h.stream_len;
  event->revision = h.revision;
  event->position = h.position;
  event->timestamp_us = h.timestamp_us;
  event->type = cairn_bytes{p, h.type_len};
  p += h.type_len;
  event->writer = cairn_bytes{p, h.writer_len};
  p += h.writer_len;
  event->metadata = cairn_bytes{p, h.metadata_len};
  p += h.metadata_len;
  event->data = cairn_bytes{p, h.data_len};
  p += h.data_len;
  for (uint16_t i = 0; i < h.tag_count; ++i) {
    uint8_t len = *p++;
    tags[i] = cairn_bytes{p, len};
    p += len;
  }
  event->tag_count = h.tag_count;
  event->tags = h.tag_count == 0 ? nullptr : tags;
}

// The tags of a checked record, one call of `fn(std::string_view)` each.
template <typename Fn>
void ForEachTag(const uint8_t* record, const RecordHeader& h, Fn&& fn) {
  const uint8_t* p = record + kRecordHeaderSize + h.stream_len + h.type_len +
                     h.writer_len + h.metadata_len + h.data_len;
  for (uint16_t i = 0; i < h.tag_count; ++i) {
    uint8_t len = *p++;
    fn(std::string_view(reinterpret_cast<const char*>(p), len));
    p += len;
  }
}

// "00000007.log": the file name of segment `number`.
std::string SegmentFileName(uint64_t number);

// The 64-byte segment header:
//   0 u64 magic, 8 u32 version, 12 u32 flags (kSegmentInUse, kSegmentSealed),
//   16 u64 number, 24 u64 base_position (the position before its first
//   record; valid with kSegmentInUse), 32 u64 file size, 40 u32 CRC32C of
//   [0, 40), then the durable mark: 44 u32 CRC32C of [48, 64), 48 u64
//   position, 56 u64 deletes.log bytes. A spare segment made ahead of need
//   has flags 0.
// The durable mark (EncodeDurableMark) is not part of the header's checksum:
// it is rewritten after syncs while the header proper stays put.
struct SegmentHeader {
  uint32_t version = kFormatVersion;  // as read; EncodeTo writes it
  uint32_t flags = 0;
  uint64_t number = 0;
  uint64_t base_position = 0;
  uint64_t size = 0;

  void EncodeTo(uint8_t* out) const;
  // False if the magic, version or checksum is wrong.
  bool DecodeFrom(const uint8_t* in);
  // The version word of a header whose magic and checksum are right but
  // whose version this build does not read (kOldestFormatVersion ..
  // kFormatVersion); 0 otherwise. Names a newer format for the open's
  // refusal instead of calling the header damaged.
  static uint32_t UnknownVersion(const uint8_t* in);
};

// The durable mark in a segment header: a position, and a length of
// deletes.log, that the store had already made durable (a sync covering them
// had returned) when the mark was written. Recovery uses the largest valid
// marks of any segment as proof that everything up to them was complete on
// disk (docs/mmaplog.md, Recovery). Writes bytes [44, 64) of `header` only.
struct DurableMark {
  uint64_t position = 0;
  uint64_t deletes_bytes = 0;
};
void EncodeDurableMark(uint8_t* header, const DurableMark& mark);
// False (and *mark untouched) if no valid mark is there.
bool DecodeDurableMark(const uint8_t* header, DurableMark* mark);

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_RECORD_H_
