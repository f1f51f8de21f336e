// One small interface every benchmarked engine implements, so Cairn and its
// peers (SQLite, RocksDB, LMDB) run the very same workload code.
//
// Every engine keeps what Cairn keeps: events in global position order,
// stream -> revision -> event, and tag -> position, and refuses an append
// whose expected head revision is wrong, writing nothing.
#ifndef CAIRN_BENCH_ENGINE_H_
#define CAIRN_BENCH_ENGINE_H_

#include <cairn/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "bench/commit_signal.h"
#include "bench/disk_usage.h"

namespace cairn::bench {

// How durable an acknowledged append is.
enum class Durability {
  kSynced,   // the append returns only after fsync/fdatasync
  kOsCache,  // the append returns once the data is in the page cache
};
const char* DurabilityName(Durability durability);  // "synced", "os-cache"

struct EngineOptions {
  std::string dir;  // the engine's folder; created if absent
  Durability durability = Durability::kSynced;
  // Cairn engines only: "section.key=value" site overrides
  // (SiteConfig::Override), applied after the engine's own defaults.
  std::vector<std::string> cairn_overrides;
  // Payload bytes of the events the workload appends (an engine that
  // trains a dictionary trains on events of this size).
  size_t event_bytes = 256;
};

// One event as a read hands it back. Views are valid during the callback.
struct ReadEvent {
  std::string_view stream;
  uint64_t revision = 0;
  uint64_t position = 0;
  int64_t timestamp_us = 0;
  std::string_view type;
  std::string_view data;
};
// Called once per event in order; return false to stop early.
using ReadFn = std::function<bool(const ReadEvent&)>;

class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::string name() const = 0;

  // Opens (creating if needed) the store in options.dir. Called once.
  virtual absl::Status Open(const EngineOptions& options) = 0;

  // Appends `events` to `stream` as one atomic batch, durable as the
  // options say when it returns. `expected_head` is the stream's head
  // revision (0: the stream must not exist); otherwise fails with
  // kAborted, writing nothing. Returns the last position written.
  // Safe from any thread.
  virtual absl::StatusOr<uint64_t> Append(std::string_view stream,
                                          uint64_t expected_head,
                                          absl::Span<const EventData> events) = 0;

  // Events of `stream` with revision >= from_revision, at most max_count.
  virtual absl::Status ReadStream(std::string_view stream,
                                  uint64_t from_revision, uint64_t max_count,
                                  const ReadFn& on_event) = 0;
  // Events tagged `tag` / all events with position > after_position, in
  // position order, at most max_count. Never shows a position before every
  // lower position is visible.
  virtual absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                               uint64_t max_count, const ReadFn& on_event) = 0;
  virtual absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                               const ReadFn& on_event) = 0;

  // Blocks until an event with position > after_position is readable or
  // `timeout` passes; returns the highest readable position either way.
  // Peers are woken in-process by their own appends (they have no
  // notification of their own); Cairn uses Store::WaitCommit.
  virtual absl::StatusOr<uint64_t> WaitCommit(uint64_t after_position,
                                              std::chrono::milliseconds timeout);

  // Flushes and closes; the folder then holds everything acknowledged.
  // Idempotent; the destructor calls it too.
  virtual absl::Status Close() = 0;

  // Bytes the engine's folder occupies on disk: allocated blocks, and those
  // of them holding written data (disk_usage.h).
  virtual DiskBytes DiskUsage() const;

 protected:
  const std::string& dir() const { return dir_; }
  // Records options.dir as the engine's folder and creates it; fails naming
  // the engine and the folder.
  absl::Status PrepareDir(const EngineOptions& options);
  CommitSignal& commit_signal() { return commit_signal_; }

 private:
  std::string dir_;
  CommitSignal commit_signal_;
};

// Engine names: "cairn" (mmaplog), "cairn-sealed" (mmaplog + zstd +
// aes-gcm), "cairn-sealed-dict" (zstd with a trained dictionary),
// "cairn-direct" (mmaplog through its C ABI, no Store; cairn_engine.h),
// "sqlite", "rocksdb", "lmdb".
std::vector<std::string> KnownEngines();
absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(std::string_view name);

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_ENGINE_H_
