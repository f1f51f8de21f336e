// The byte layout the key-value peers (RocksDB, LMDB) store: one value per
// event, and the keys of their indexes. Big-endian integers in keys, so the
// byte order the stores sort by is numeric order.
#ifndef CAIRN_BENCH_RECORD_FORMAT_H_
#define CAIRN_BENCH_RECORD_FORMAT_H_

#include <cairn/event.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "bench/engine.h"

namespace cairn::bench {

// A decoded event value; views point into the bytes it was parsed from.
struct EventRecord {
  std::string_view stream;
  uint64_t revision = 0;
  int64_t timestamp_us = 0;
  std::string_view type;
  std::string_view metadata;
  std::string_view data;
  std::string_view tags;  // tags joined by '\0'
};

// Appends the value of `event` at (stream, revision) to `out`.
void EncodeEventRecord(std::string_view stream, uint64_t revision,
                       const EventData& event, int64_t timestamp_us,
                       std::string* out);
// Fails with kDataLoss naming what is wrong when `bytes` is not a record.
absl::StatusOr<EventRecord> DecodeEventRecord(std::string_view bytes);

// Decodes `value` (the event at `position`) and hands it to `on_event`;
// returns what on_event returned, or kDataLoss if `value` is no record.
absl::StatusOr<bool> DeliverRecord(uint64_t position, std::string_view value,
                                   const ReadFn& on_event);

void PutBigEndian64(uint64_t value, std::string* out);
uint64_t GetBigEndian64(const char* bytes);

// Index keys. Stream names and tags never contain NUL (Cairn's rule), so
// "<name>\0" is a prefix no other name shares.
std::string PositionKey(uint64_t position);                        // 8 bytes
std::string StreamKey(std::string_view stream, uint64_t revision);  // name\0rev
std::string TagKey(std::string_view tag, uint64_t position);        // tag\0pos
std::string NamePrefix(std::string_view name);                      // name\0

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_RECORD_FORMAT_H_
