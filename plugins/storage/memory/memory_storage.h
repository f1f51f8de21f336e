// The in-memory storage plugin: every call of the storage table, kept in
// process memory behind one mutex. Nothing survives close. It is the plainest
// correct storage plugin: read it first when writing your own.
//
// Deleting (delete_to) is logical: hidden events keep their memory until
// close, like any append-only log before compaction. Reads with max_count 0
// deliver nothing, as the ABI's "at most max_count" says.
//
// Thread safety: every public function may be called from any thread at any
// time, except the destructor (the ABI's close), which runs when no other
// call is in flight. Readers copy shared pointers to the immutable events
// under the lock and call the host's callbacks after releasing it, so a
// callback may call back into the store (even append) without deadlock.
//
// Fault switch: the conformance suite's broken fixtures
// (conformance/fixtures/) compile this same source with
// -DCAIRN_MEMORY_FAULT=<Fault enumerator> to break exactly one rule. The
// shipped plugin is built without it (Fault::kNone).
#ifndef CAIRN_PLUGINS_STORAGE_MEMORY_MEMORY_STORAGE_H_
#define CAIRN_PLUGINS_STORAGE_MEMORY_MEMORY_STORAGE_H_

#include <cairn/sdk/storage.hpp>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::memory {

// Rules the fixtures break on purpose. Never set in the shipped plugin.
enum class Fault {
  kNone,
  kReuseRevision,     // a batch on an existing stream starts at the head
                      // revision instead of head + 1
  kHalfVisibleBatch,  // a batch is published in two halves with a pause
  kPositionGap,       // every batch skips one global position
  kAnyConflictsWhileSealing,  // with a seal, an `any` append fails if the
                              // head moved since it began (the ABI 1 Store's
                              // any -> exact turn, without its retries)
  kIgnoreSeal,  // stores data and metadata unsealed, never calls seal
};

#ifndef CAIRN_MEMORY_FAULT
#define CAIRN_MEMORY_FAULT kNone
#endif
inline constexpr Fault kFault = Fault::CAIRN_MEMORY_FAULT;

class MemoryStorage : public sdk::Storage {
 public:
  // Takes no options (the host rejects unknown keys before open).
  static sdk::Status Open(const sdk::Options& options,
                          std::unique_ptr<MemoryStorage>* out);

  MemoryStorage() = default;
  // Wakes every wait_commit with CAIRN_E_CLOSED.
  ~MemoryStorage() override;

  sdk::Status Append(sdk::AppendBatch& batch,
                     cairn_append_result* result) override;
  sdk::Status ReadStream(std::string_view stream, uint64_t from_revision,
                         uint64_t to_revision, uint64_t max_count,
                         const sdk::EventSink& sink) override;
  sdk::Status ReadTag(std::string_view tag, uint64_t after_position,
                      uint64_t max_count, const sdk::EventSink& sink) override;
  sdk::Status ReadAll(uint64_t after_position, uint64_t max_count,
                      bool include_deleted,
                      const sdk::EventSink& sink) override;
  sdk::Status HeadRevision(std::string_view stream,
                           uint64_t* revision) override;
  sdk::Status HeadPosition(uint64_t* position) override;
  sdk::Status WaitCommit(uint64_t after_position, uint32_t timeout_ms,
                         uint64_t* position) override;
  sdk::Status DeleteTo(std::string_view stream, uint64_t revision) override;
  sdk::Status SnapshotSave(const cairn_snapshot& snapshot) override;
  sdk::Status SnapshotLoad(std::string_view stream,
                           const cairn_snapshot_criteria& criteria,
                           const sdk::SnapshotSink& sink) override;
  sdk::Status SnapshotDelete(std::string_view stream,
                             uint64_t revision) override;
  sdk::Status SnapshotDeleteMatching(
      std::string_view stream,
      const cairn_snapshot_criteria& criteria) override;
  sdk::Status ListStreams(uint64_t after_ordinal, uint64_t max_count,
                          const sdk::StreamSink& sink) override;
  sdk::Status Flush() override;
  // events, streams, tags, snapshots, payload_bytes, head_position, and
  // waiters: the threads inside WaitCommit now (tests wait for a reader to
  // be waiting with it, instead of sleeping).
  sdk::Status Stats(const sdk::StatSink& sink) override;
  sdk::Status Apply(const cairn_event* events, size_t count) override;

 private:
  struct StreamState;

  // An event as stored: owns its bytes; immutable once published.
  struct StoredEvent {
    const StreamState* stream = nullptr;
    uint64_t revision = 0;
    uint64_t position = 0;
    std::string type;
    int64_t timestamp_us = 0;
    std::string writer;
    std::string metadata;
    std::string data;
    std::vector<std::string> tags;
    std::vector<cairn_bytes> tag_views;  // point into `tags`

    // The ABI view; valid while this object lives.
    cairn_event View() const;
  };
  using EventPtr = std::shared_ptr<const StoredEvent>;

  struct StreamState {
    std::string name;
    uint64_t ordinal = 0;
    uint64_t deleted_to = 0;
    std::vector<EventPtr> events;  // events[i] has revision i + 1

    uint64_t head() const {
      return events.empty() ? 0 : events.back()->revision;
    }
  };

  struct StoredSnapshot {
    int64_t timestamp_us = 0;
    std::string data;
  };
  using SnapshotMap = std::map<uint64_t, StoredSnapshot>;  // by revision

  // Copies the host's event into a new StoredEvent (no lock needed).
  static std::shared_ptr<StoredEvent> Copy(const cairn_event& event);
  // Checks each event's tag array (apply; the SDK checked the struct sizes).
  static sdk::Status ValidateEvents(const cairn_event* events, size_t count);
  static bool Matches(uint64_t revision, const StoredSnapshot& snapshot,
                      const cairn_snapshot_criteria& criteria);

  // Requires mu_. nullptr if the stream has no event.
  StreamState* FindLocked(std::string_view stream) const;
  // Requires mu_. Creates the stream with the next ordinal if needed.
  StreamState* FindOrCreateLocked(std::string_view stream);
  // Requires mu_. Indexes and publishes `event` (position and revision set).
  void PublishLocked(StreamState* stream, EventPtr event);
  // Delivers `events` to `sink` (no lock held) until the sink stops.
  static void Deliver(const std::vector<EventPtr>& events,
                      const sdk::EventSink& sink);

  // Orders appends and applies, one at a time; held while the host seals a
  // batch (cairn_seal_fn), so readers, heads and snapshots, which take only
  // mu_, go on meanwhile. Always taken before mu_.
  std::mutex append_mu_;
  mutable std::mutex mu_;
  std::condition_variable committed_;  // notified when watermark_ moves
  bool closed_ = false;
  uint64_t waiters_ = 0;         // threads inside WaitCommit, for stats
  uint64_t watermark_ = 0;       // highest published position
  uint64_t next_position_ = 1;   // next position to hand out
  uint64_t payload_bytes_ = 0;   // for stats
  std::vector<EventPtr> log_;    // every event, in position order
  std::map<std::string, std::unique_ptr<StreamState>, std::less<>> streams_;
  std::vector<StreamState*> by_ordinal_;  // by_ordinal_[i]: ordinal i + 1
  std::map<std::string, std::vector<EventPtr>, std::less<>> tags_;
  std::map<std::string, SnapshotMap, std::less<>> snapshots_;
};

}  // namespace cairn::memory

#endif  // CAIRN_PLUGINS_STORAGE_MEMORY_MEMORY_STORAGE_H_
