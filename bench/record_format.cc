#include "bench/record_format.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cairn::bench {
namespace {

void PutFixed32(uint32_t value, std::string* out) {
  char bytes[4];
  std::memcpy(bytes, &value, 4);
  out->append(bytes, 4);
}

void PutBytes(std::string_view bytes, std::string* out) {
  PutFixed32(static_cast<uint32_t>(bytes.size()), out);
  out->append(bytes.data(), bytes.size());
}

// Reads one length-prefixed field from the front of `in`.
bool TakeBytes(std::string_view* in, std::string_view* field) {
  if (in->size() < 4) return false;
  uint32_t size;
  std::memcpy(&size, in->data(), 4);
  if (in->size() - 4 < size) return false;
  *field = in->substr(4, size);
  in->remove_prefix(4 + size);
  return true;
}

}  // namespace

void PutBigEndian64(uint64_t value, std::string* out) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out->append(bytes, 8);
}

uint64_t GetBigEndian64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

void EncodeEventRecord(std::string_view stream, uint64_t revision,
                       const EventData& event, int64_t timestamp_us,
                       std::string* out) {
  PutBigEndian64(revision, out);
  PutBigEndian64(static_cast<uint64_t>(timestamp_us), out);
  PutBytes(stream, out);
  PutBytes(event.type, out);
  PutBytes(event.metadata, out);
  std::string tags;
  for (size_t i = 0; i < event.tags.size(); ++i) {
    if (i > 0) tags.push_back('\0');
    tags += event.tags[i];
  }
  PutBytes(tags, out);
  PutBytes(event.data, out);
}

absl::StatusOr<EventRecord> DecodeEventRecord(std::string_view bytes) {
  EventRecord record;
  if (bytes.size() < 16) {
    return absl::DataLossError(absl::StrCat(
        "event record of ", bytes.size(), " bytes is shorter than its header"));
  }
  record.revision = GetBigEndian64(bytes.data());
  record.timestamp_us = static_cast<int64_t>(GetBigEndian64(bytes.data() + 8));
  bytes.remove_prefix(16);
  if (!TakeBytes(&bytes, &record.stream) || !TakeBytes(&bytes, &record.type) ||
      !TakeBytes(&bytes, &record.metadata) || !TakeBytes(&bytes, &record.tags) ||
      !TakeBytes(&bytes, &record.data) || !bytes.empty()) {
    return absl::DataLossError("event record is truncated or has trailing bytes");
  }
  return record;
}

absl::StatusOr<bool> DeliverRecord(uint64_t position, std::string_view value,
                                   const ReadFn& on_event) {
  auto record = DecodeEventRecord(value);
  if (!record.ok()) return record.status();
  ReadEvent event;
  event.stream = record->stream;
  event.revision = record->revision;
  event.position = position;
  event.timestamp_us = record->timestamp_us;
  event.type = record->type;
  event.data = record->data;
  return on_event(event);
}

std::string PositionKey(uint64_t position) {
  std::string key;
  PutBigEndian64(position, &key);
  return key;
}

std::string NamePrefix(std::string_view name) {
  std::string key(name);
  key.push_back('\0');
  return key;
}

std::string StreamKey(std::string_view stream, uint64_t revision) {
  std::string key = NamePrefix(stream);
  PutBigEndian64(revision, &key);
  return key;
}

std::string TagKey(std::string_view tag, uint64_t position) {
  std::string key = NamePrefix(tag);
  PutBigEndian64(position, &key);
  return key;
}

}  // namespace cairn::bench
