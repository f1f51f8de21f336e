#include "record.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "crc32c.h"

namespace cairn::mmaplog {
namespace {

template <typename T>
void Put(uint8_t* out, size_t offset, T value) {
  std::memcpy(out + offset, &value, sizeof(T));
}
template <typename T>
T Get(const uint8_t* in, size_t offset) {
  T value;
  std::memcpy(&value, in + offset, sizeof(T));
  return value;
}

size_t BodySize(const cairn_event& e) {
  size_t n = e.type.size + e.writer.size + e.metadata.size + e.data.size;
  for (uint32_t i = 0; i < e.tag_count; ++i) n += 1 + e.tags[i].size;
  return n;
}

uint8_t* CopyBytes(uint8_t* p, cairn_bytes b) {
  if (b.size != 0) std::memcpy(p, b.data, b.size);
  return p + b.size;
}

template <bool kKeyed>
size_t SizeOf(std::string_view stream, const cairn_event& event,
              std::string_view key) {
  size_t n = kRecordHeaderSize + stream.size() + BodySize(event);
  if constexpr (kKeyed) n += 1 + key.size();
  // At least 72 bytes: CheckRecord takes a bare 64-byte header for a bad
  // length (an event always has a stream name; an EPOCH record with an
  // empty primary id would not).
  return std::max<size_t>(kRecordHeaderSize + 8, (n + 7) & ~size_t{7});
}

template <bool kKeyed>
void Encode(uint8_t* out, std::string_view stream, const cairn_event& e,
            uint64_t position, uint64_t revision, uint32_t batch_size,
            uint32_t batch_index, uint16_t kind, std::string_view key) {
  Put<uint16_t>(out, 12, kind);
  Put<uint16_t>(out, 14, static_cast<uint16_t>(e.tag_count));
  Put<uint64_t>(out, 16, position);
  Put<uint64_t>(out, 24, revision);
  Put<int64_t>(out, 32, e.timestamp_us);
  Put<uint32_t>(out, 40, static_cast<uint32_t>(e.writer.size));
  Put<uint32_t>(out, 44, static_cast<uint32_t>(e.metadata.size));
  Put<uint32_t>(out, 48, static_cast<uint32_t>(e.data.size));
  Put<uint16_t>(out, 52, static_cast<uint16_t>(e.type.size));
  out[54] = static_cast<uint8_t>(stream.size());
  out[55] = kKeyed ? kRecordHasKey : 0;
  Put<uint32_t>(out, 56, batch_size);
  Put<uint32_t>(out, 60, batch_index);
  uint8_t* p = out + kRecordHeaderSize;
  // An EPOCH record has no stream (and data() may be NULL): CopyBytes
  // copies nothing for an empty one.
  p = CopyBytes(
      p, {reinterpret_cast<const uint8_t*>(stream.data()), stream.size()});
  uint8_t* body = p;
  p = CopyBytes(p, e.type);
  p = CopyBytes(p, e.writer);
  p = CopyBytes(p, e.metadata);
  p = CopyBytes(p, e.data);
  for (uint32_t i = 0; i < e.tag_count; ++i) {
    *p++ = static_cast<uint8_t>(e.tags[i].size);
    p = CopyBytes(p, e.tags[i]);
  }
  if constexpr (kKeyed) {
    *p++ = static_cast<uint8_t>(key.size());
    std::memcpy(p, key.data(), key.size());
    p += key.size();
  }
  // Padding up to the record's size stays as the caller zeroed it.
  Put<uint32_t>(out, 8, Crc32c(0, body, static_cast<size_t>(p - body)));
  Put<uint32_t>(out, 4,
                Crc32c(0, out + 8, kRecordHeaderSize - 8 + stream.size()));
}

}  // namespace

size_t RecordSize(std::string_view stream, const cairn_event& event) {
  return SizeOf<false>(stream, event, {});
}

size_t KeyedRecordSize(std::string_view stream, const cairn_event& event,
                       std::string_view key) {
  return SizeOf<true>(stream, event, key);
}

void EncodeRecord(uint8_t* out, std::string_view stream, const cairn_event& e,
                  uint64_t position, uint64_t revision, uint32_t batch_size,
                  uint32_t batch_index, uint32_t record_size, uint16_t kind) {
  (void)record_size;
  Encode<false>(out, stream, e, position, revision, batch_size, batch_index,
                kind, {});
}

void EncodeKeyedRecord(uint8_t* out, std::string_view stream,
                       const cairn_event& e, uint64_t position,
                       uint64_t revision, uint32_t batch_size,
                       uint32_t batch_index, uint32_t record_size,
                       std::string_view key) {
  (void)record_size;
  Encode<true>(out, stream, e, position, revision, batch_size, batch_index,
               kKindEvent, key);
}

RecordCheck CheckRecord(const uint8_t* record, size_t available,
                        RecordHeader* h, bool check_body) {
  if (available < 4) return RecordCheck::kBadLength;
  uint32_t length = LoadLength(record);
  if (length == 0) return RecordCheck::kEmpty;
  if (length == kEndOfSegment) return RecordCheck::kEndOfSegment;
  if (length < kRecordHeaderSize + 8 || (length & 7) != 0 ||
      length > available || length > kMaxBatchBytes) {
    return RecordCheck::kBadLength;
  }
  h->length = length;
  h->header_crc = Get<uint32_t>(record, 4);
  h->stream_len = record[54];
  h->kind = Get<uint16_t>(record, 12);
  const bool event = h->kind == kKindEvent;
  if ((event && h->stream_len == 0) ||
      kRecordHeaderSize + h->stream_len > length) {
    return RecordCheck::kBadHeader;
  }
  if (Crc32c(0, record + 8, kRecordHeaderSize - 8 + h->stream_len) !=
      h->header_crc) {
    return RecordCheck::kBadHeader;
  }
  h->body_crc = Get<uint32_t>(record, 8);
  h->tag_count = Get<uint16_t>(record, 14);
  h->position = Get<uint64_t>(record, 16);
  h->revision = Get<uint64_t>(record, 24);
  h->timestamp_us = Get<int64_t>(record, 32);
  h->writer_len = Get<uint32_t>(record, 40);
  h->metadata_len = Get<uint32_t>(record, 44);
  h->data_len = Get<uint32_t>(record, 48);
  h->type_len = Get<uint16_t>(record, 52);
  h->batch_size = Get<uint32_t>(record, 56);
  h->batch_index = Get<uint32_t>(record, 60);
  h->flags = record[55];
  uint64_t fixed = uint64_t{kRecordHeaderSize} + h->stream_len + h->type_len +
                   h->writer_len + h->metadata_len + h->data_len;
  if (fixed + h->tag_count > length || h->batch_size == 0 ||
      h->batch_index >= h->batch_size || h->position == 0 ||
      (event && h->revision == 0) || h->kind > kLastKind ||
      h->kind == CAIRN_RECORD_EVENT ||
      (!event && (h->tag_count != 0 || h->batch_size != 1)) ||
      (h->flags & ~kRecordHasKey) != 0 ||
      (h->flags != 0 && (!event || h->batch_index != 0))) {
    return RecordCheck::kBadHeader;
  }
  // Walk the tags to find the body's end without leaving the record.
  uint64_t end = fixed;
  for (uint16_t i = 0; i < h->tag_count; ++i) {
    if (end >= length) return RecordCheck::kBadBody;
    end += 1 + record[end];
  }
  if ((h->flags & kRecordHasKey) != 0) {
    if (end >= length || record[end] == 0 ||
        record[end] > CAIRN_MAX_IDEMPOTENCY_KEY) {
      return RecordCheck::kBadBody;
    }
    h->key_offset = static_cast<uint32_t>(end);
    end += 1 + record[end];
  }
  if (end > length) return RecordCheck::kBadBody;
  if (!check_body) return RecordCheck::kOk;
  const uint8_t* body = record + kRecordHeaderSize + h->stream_len;
  size_t body_size = static_cast<size_t>(end) - kRecordHeaderSize - h->stream_len;
  if (Crc32c(0, body, body_size) != h->body_crc) return RecordCheck::kBadBody;
  return RecordCheck::kOk;
}

std::string SegmentFileName(uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%08llu.log",
                static_cast<unsigned long long>(number));
  return name;
}

void SegmentHeader::EncodeTo(uint8_t* out) const {
  Put<uint64_t>(out, 0, kSegmentMagic);
  Put<uint32_t>(out, 8, version);
  Put<uint32_t>(out, 12, flags);
  Put<uint64_t>(out, 16, number);
  Put<uint64_t>(out, 24, base_position);
  Put<uint64_t>(out, 32, size);
  Put<uint32_t>(out, 40, Crc32c(0, out, 40));
}

bool SegmentHeader::DecodeFrom(const uint8_t* in) {
  if (Get<uint64_t>(in, 0) != kSegmentMagic) return false;
  const uint32_t v = Get<uint32_t>(in, 8);
  if (v < kOldestFormatVersion || v > kFormatVersion) return false;
  if (Get<uint32_t>(in, 40) != Crc32c(0, in, 40)) return false;
  version = v;
  flags = Get<uint32_t>(in, 12);
  number = Get<uint64_t>(in, 16);
  base_position = Get<uint64_t>(in, 24);
  size = Get<uint64_t>(in, 32);
  return true;
}

uint32_t SegmentHeader::UnknownVersion(const uint8_t* in) {
  if (Get<uint64_t>(in, 0) != kSegmentMagic) return 0;
  if (Get<uint32_t>(in, 40) != Crc32c(0, in, 40)) return 0;
  const uint32_t v = Get<uint32_t>(in, 8);
  return v >= kOldestFormatVersion && v <= kFormatVersion ? 0 : v;
}

void EncodeDurableMark(uint8_t* header, const DurableMark& mark) {
  uint8_t out[20];
  std::memcpy(out + 4, &mark.position, 8);
  std::memcpy(out + 12, &mark.deletes_bytes, 8);
  const uint32_t crc = Crc32c(0, out + 4, 16);
  std::memcpy(out, &crc, 4);
  std::memcpy(header + 44, out, sizeof out);
}

bool DecodeDurableMark(const uint8_t* header, DurableMark* mark) {
  uint8_t in[20];
  std::memcpy(in, header + 44, sizeof in);
  uint32_t crc;
  std::memcpy(&crc, in, 4);
  if (Crc32c(0, in + 4, 16) != crc) return false;
  std::memcpy(&mark->position, in + 4, 8);
  std::memcpy(&mark->deletes_bytes, in + 12, 8);
  return true;
}

}  // namespace cairn::mmaplog
