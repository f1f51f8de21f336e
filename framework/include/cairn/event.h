// The event model every host sees: what goes into a store and what comes out.
#ifndef CAIRN_EVENT_H_
#define CAIRN_EVENT_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace cairn {

inline constexpr uint64_t kMaxRevision = std::numeric_limits<uint64_t>::max();
inline constexpr uint64_t kMaxPosition = std::numeric_limits<uint64_t>::max();
inline constexpr size_t kMaxNameBytes = 255;  // names: see cairn/names.h

// An event as a writer hands it to Store::Append.
struct EventData {
  std::string type;        // event type / manifest
  std::string data;        // payload; codec and cipher apply
  std::string metadata;    // codec and cipher apply too
  std::vector<std::string> tags;
  std::string writer;      // writer id (e.g. an Akka writer GUID)
  int64_t timestamp_us = 0;  // 0: the store stamps the current time
};

// An event as read back, decoded and opened.
struct RecordedEvent {
  std::string stream;
  uint64_t revision = 0;   // 1-based within the stream
  uint64_t position = 0;   // 1-based, gap-free across the store
  std::string type;
  int64_t timestamp_us = 0;
  std::string writer;
  std::string metadata;
  std::string data;
  std::vector<std::string> tags;
  // How it was stored, so old events stay readable after a site changes
  // codec or rotates keys. Empty names mean identity / none.
  std::string codec;
  std::string cipher;
  uint32_t key_id = 0;
  // Sealed by an older build (envelope version 1): its seal binds stream,
  // revision and type only, so tags, timestamp and writer id are not
  // authenticated. New seals bind every stored field.
  bool legacy_seal = false;
};

// The revision an append expects the stream to be at.
class ExpectedRevision {
 public:
  enum class Kind { kAny, kNoStream, kExact };

  static ExpectedRevision Any() { return ExpectedRevision(Kind::kAny, 0); }
  static ExpectedRevision NoStream() {
    return ExpectedRevision(Kind::kNoStream, 0);
  }
  static ExpectedRevision Exact(uint64_t revision) {
    return ExpectedRevision(Kind::kExact, revision);
  }

  Kind kind() const { return kind_; }
  uint64_t revision() const { return revision_; }
  std::string ToString() const;

 private:
  ExpectedRevision(Kind kind, uint64_t revision)
      : kind_(kind), revision_(revision) {}
  Kind kind_;
  uint64_t revision_;
};

struct AppendResult {
  uint64_t first_revision = 0;
  uint64_t last_revision = 0;  // the stream's head after the append
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  // The replication epoch this node was primary of when it admitted and
  // wrote the append (0: replication without epochs, e.g. `none`); with a
  // plugin that writes EPOCH records (logship), the epoch its records hold.
  // Role and epoch change only while writes are paused
  // (cairn_replication_host), so it cannot change under a write.
  uint64_t epoch = 0;
  // The append repeated an earlier one's idempotency key (Store::Append):
  // nothing was written; the ranges and epoch are the earlier batch's.
  bool repeated = false;
};

struct Snapshot {
  std::string stream;
  uint64_t revision = 0;
  int64_t timestamp_us = 0;
  std::string data;
};

// Inclusive bounds; the defaults match every snapshot.
struct SnapshotCriteria {
  uint64_t min_revision = 0;
  uint64_t max_revision = kMaxRevision;
  int64_t min_timestamp_us = std::numeric_limits<int64_t>::min();
  int64_t max_timestamp_us = std::numeric_limits<int64_t>::max();
};

struct StreamInfo {
  std::string name;
  uint64_t ordinal = 0;        // 1-based, in order of first append
  uint64_t head_revision = 0;  // never goes down
  uint64_t deleted_to = 0;
};

}  // namespace cairn

#endif  // CAIRN_EVENT_H_
