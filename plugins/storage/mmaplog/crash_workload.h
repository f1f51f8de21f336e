// The workload shared by the crash test's child and parent: stream names and
// event contents that are a pure function of (stream, revision, batch).
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_CRASH_WORKLOAD_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_CRASH_WORKLOAD_H_

#include <cairn/plugin.h>

#include <cstdint>
#include <string>

namespace cairn::mmaplog::crash {

inline constexpr uint64_t kSegmentSize = 128 << 10;  // many rotations
// Two allocation steps a segment: kills land while segments get their disk
// in steps too (docs/mmaplog.md, "Disk in steps").
inline constexpr uint64_t kAllocationStep = 64 << 10;
inline constexpr int kThreads = 3;
inline constexpr int kStreamsPerThread = 4;
inline constexpr uint32_t kMaxBatch = 6;

inline std::string StreamName(int index) {
  return "crash-stream-" + std::to_string(index);
}

// One event; metadata records its batch ("first:count") so the parent can
// tell a half-visible batch.
struct Payload {
  std::string data;
  std::string metadata;
  std::string type = "CrashEvent";
  cairn_event View() const {
    cairn_event e{};
    e.size = sizeof e;
    e.type = cairn_bytes{reinterpret_cast<const uint8_t*>(type.data()),
                         type.size()};
    e.data = cairn_bytes{reinterpret_cast<const uint8_t*>(data.data()),
                         data.size()};
    e.metadata = cairn_bytes{reinterpret_cast<const uint8_t*>(metadata.data()),
                             metadata.size()};
    e.timestamp_us = 1;
    return e;
  }
};

inline Payload MakePayload(const std::string& stream, uint64_t revision,
                           uint64_t batch_first, uint32_t batch_count) {
  Payload p;
  uint64_t h = 1469598103934665603ull ^ revision;
  for (char c : stream) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  size_t length = 16 + h % 700;
  p.data.resize(length);
  for (size_t i = 0; i < length; ++i) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    p.data[i] = static_cast<char>(h >> 56);
  }
  p.metadata = std::to_string(batch_first) + ":" + std::to_string(batch_count);
  return p;
}

}  // namespace cairn::mmaplog::crash

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_CRASH_WORKLOAD_H_
