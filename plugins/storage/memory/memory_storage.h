// The in-memory storage plugin: every call of the storage table, kept in
// process memory behind one mutex. Nothing survives close. It is the plainest
// correct storage plugin: read it first when writing your own.
//
// The ordered log (cairn/plugin.h): every change is a record at a gap-free
// position in records_: events and the control records DELETE_TO,
// SNAPSHOT_SAVE, SNAPSHOT_DELETE and EPOCH. Everything else is derived from
// the records, in two parts:
//   - the written side (heads_, deleted_to_, epoch_), over every record:
//     expected-revision checks, delete_to's clamping and apply_log's checks
//     use it;
//   - the readers' side (streams_, tags_, events_, snapshots_), over the
//     records up to committed_ only: every read, head, wait, list and
//     snapshot_load uses it.
// With the option "commit" = "durable" (the default) committed follows
// written at once (memory is as durable as this store gets); with "host"
// only set_committed advances it. truncate_after cuts records_ and rebuilds
// both sides from what is left, so nothing derived from a cut record stays.
//
// Deleting (delete_to) is logical: hidden events keep their memory until
// close, like any append-only log before compaction. Reads with max_count 0
// deliver nothing, as the ABI's "at most max_count" says. A delete_to that
// changes nothing (unknown stream, nothing new to delete) writes no record.
//
// Thread safety: every public function may be called from any thread at any
// time, except the destructor (the ABI's close), which runs when no other
// call is in flight. Readers copy shared pointers to the immutable records
// under the lock and call the host's callbacks after releasing it, so a
// callback may call back into the store (even append) without deadlock.
//
// Fault switch: the conformance suite's broken fixtures
// (conformance/fixtures/) link one build of this source, made with
// CAIRN_MEMORY_FAULT_AT_RUN_TIME, and each defines kFault (from
// -DCAIRN_MEMORY_FAULT=<Fault enumerator>) to break exactly one rule.
// The shipped plugin is built without either: kFault is the constant
// Fault::kNone there, and every fault branch folds away.
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
  kIgnoreSeal,        // stores data and metadata unsealed, never calls seal
  kCommitAheadOfAck,  // with commit = host, appends advance committed too
  kStaleIndexAfterTruncate,   // truncate_after keeps the tag index and the
                              // streams directory as they were
  kReadLogSkipsControl,       // read_log returns event records only
  kApplyLogWritesPrefix,      // a refused apply_log keeps the records before
                              // the one it refused
  kSetCommittedWakesNobody,   // set_committed does not wake wait_commit
  kTruncateIgnoresCommitted,  // cuts committed records without the flag
  kEpochEndOneShort,          // epoch_end answers one record too early
  kApplyLogDropsSnapshots,    // apply_log checks SNAPSHOT_SAVE records but
                              // does not keep them
  kControlBeforeCommit,       // with commit = host, delete_to and snapshot
                              // writes take effect when written
  kIgnoreIdempotencyKey,      // declares CAIRN_CAP_IDEMPOTENT_APPEND but
                              // writes a repeated key's batch again
  kApplyLogDropsKeys,         // apply_log stores batches without their keys
};

#ifndef CAIRN_MEMORY_FAULT
#define CAIRN_MEMORY_FAULT kNone
#endif
#ifdef CAIRN_MEMORY_FAULT_AT_RUN_TIME
// Defined by each fixture module (conformance/fixtures/), so that one
// compiled memory_storage.cc serves them all.
extern const Fault kFault;
#else
inline constexpr Fault kFault = Fault::CAIRN_MEMORY_FAULT;
#endif

// What the shipped plugin (and the fixtures built from it) declares.
#define CAIRN_MEMORY_CAPABILITIES                                       \
  (CAIRN_CAP_LIVE_READS | CAIRN_CAP_TAGS | CAIRN_CAP_SNAPSHOTS |        \
   CAIRN_CAP_DELETE | CAIRN_CAP_APPLY | CAIRN_CAP_SEAL_IN_APPEND |      \
   CAIRN_CAP_ORDERED_LOG | CAIRN_CAP_HOST_COMMIT | CAIRN_CAP_TRUNCATE | \
   CAIRN_CAP_EPOCHS | CAIRN_CAP_IDEMPOTENT_APPEND)

// The host-defined option "commit" (cairn/plugin.h), as the plugin lists it.
inline constexpr const char* kCommitModes[] = {"durable", "host", nullptr};
#define CAIRN_MEMORY_COMMIT_OPTION                                          \
  ::cairn::sdk::OptionDesc(                                                 \
      CAIRN_STORAGE_OPTION_COMMIT, CAIRN_OPT_ENUM, "durable",               \
      "who advances the committed watermark: durable (the store, at once) " \
      "or host (set_committed)",                                            \
      ::cairn::memory::kCommitModes, CAIRN_OPT_HOST_DEFINED)

class MemoryStorage : public sdk::Storage {
 public:
  // Takes the option "commit" (durable | host; the host rejects other keys
  // and values before open).
  static sdk::Status Open(const sdk::Options& options,
                          std::unique_ptr<MemoryStorage>* out);

  explicit MemoryStorage(bool host_commit = false)
      : host_commit_(host_commit) {}
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
  // events (committed), records, written, streams, tags, snapshots,
  // payload_bytes, head_position, and waiters: the threads inside WaitCommit
  // now (tests wait for a reader to be waiting with it, instead of sleeping).
  sdk::Status Stats(const sdk::StatSink& sink) override;

  sdk::Status ReadLog(uint64_t after_position, uint64_t max_count,
                      const sdk::RecordSink& sink) override;
  sdk::Status ApplyLog(const cairn_log_record* const* records,
                       size_t count) override;
  sdk::Status LogState(cairn_log_state* state) override;
  sdk::Status SetCommitted(uint64_t position) override;
  sdk::Status TruncateAfter(uint64_t position, uint32_t flags) override;
  sdk::Status BeginEpoch(uint64_t epoch, std::string_view primary,
                         uint64_t* position) override;
  sdk::Status EpochEnd(uint64_t epoch, uint64_t* position) override;

 private:
  struct StreamState;

  // An event as stored: owns its bytes; immutable once published.
  struct StoredEvent {
    std::string stream;
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

  // One record of the ordered log; immutable once in records_.
  struct Record {
    cairn_record_kind kind = CAIRN_RECORD_EVENT;
    uint64_t position = 0;
    uint64_t epoch = 0;
    uint32_t batch_size = 1;
    uint32_t batch_index = 0;
    EventPtr event;      // EVENT
    std::string stream;  // DELETE_TO, SNAPSHOT_*
    uint64_t revision = 0;
    int64_t timestamp_us = 0;
    std::string data;                    // SNAPSHOT_SAVE, EPOCH
    cairn_snapshot_criteria criteria{};  // SNAPSHOT_DELETE
    std::string idempotency_key;         // EVENT, batch_index 0: its batch's
  };
  using RecordPtr = std::shared_ptr<const Record>;

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
  static bool Matches(uint64_t revision, const StoredSnapshot& snapshot,
                      const cairn_snapshot_criteria& criteria);
  // Checks and copies apply_log's records; FailedPrecondition (nothing
  // written) unless they continue the written log. Requires mu_.
  sdk::Status CheckAppliedLocked(const cairn_log_record* const* records,
                                 size_t count,
                                 std::vector<RecordPtr>* out) const;

  // Requires mu_. nullptr if the stream has no committed event.
  StreamState* FindLocked(std::string_view stream) const;
  // Requires mu_. Creates the stream with the next ordinal if needed.
  StreamState* FindOrCreateLocked(std::string_view stream);
  // Requires mu_. The written head revision of `stream` (0: none).
  uint64_t WrittenHeadLocked(std::string_view stream) const;
  uint64_t WrittenLocked() const {
    return records_.empty() ? 0 : records_.back()->position;
  }
  // Requires mu_. Adds `record` to the log and the written side; with
  // commit = durable, commits it too (the caller notifies committed_).
  void WriteLocked(RecordPtr record);
  // Requires mu_. Folds `record` into the written side.
  void NoteWrittenLocked(const RecordPtr& record);
  // Requires mu_. Makes every record up to `position` visible to readers.
  void CommitLocked(uint64_t position);
  // Requires mu_. Folds one record into the readers' side.
  void PublishLocked(const Record& record);
  // Requires mu_. Drops both derived sides and rebuilds them from records_.
  void RebuildLocked();
  // Appends one control record (delete, snapshot, epoch) as an append does.
  sdk::Status WriteControl(std::shared_ptr<Record> record,
                           uint64_t* position = nullptr);
  // Delivers `events` to `sink` (no lock held) until the sink stops.
  static void Deliver(const std::vector<EventPtr>& events,
                      const sdk::EventSink& sink);

  const bool host_commit_;  // "commit" = "host"
  // Orders appends, applies and truncations, one at a time; held while the
  // host seals a batch (cairn_seal_fn), so readers, heads, snapshots and
  // control writes (which a seal may make), which take only mu_, go on
  // meanwhile. Taken before mu_.
  std::mutex append_mu_;
  mutable std::mutex mu_;
  std::condition_variable committed_cv_;  // notified when committed_ moves
  bool closed_ = false;
  uint64_t waiters_ = 0;            // threads inside WaitCommit, for stats
  uint64_t payload_bytes_ = 0;      // for stats (committed events)
  std::vector<RecordPtr> records_;  // the log, in position order

  // The written side.
  std::map<std::string, uint64_t, std::less<>> heads_;
  std::map<std::string, uint64_t, std::less<>> deleted_to_;
  uint64_t epoch_ = 0;
  // Per stream, the keyed batches among its newest
  // CAIRN_IDEMPOTENCY_WINDOW (or more): key -> the first record of its
  // batch, and the keys oldest first.
  struct StreamKeys {
    std::map<std::string, RecordPtr, std::less<>> by_key;
    std::vector<RecordPtr> order;
  };
  std::map<std::string, StreamKeys, std::less<>> keys_;

  // The readers' side: records up to committed_.
  uint64_t committed_ = 0;
  std::vector<EventPtr> events_;  // committed events, in position order
  std::map<std::string, std::unique_ptr<StreamState>, std::less<>> streams_;
  std::vector<StreamState*> by_ordinal_;  // by_ordinal_[i]: ordinal i + 1
  std::map<std::string, std::vector<EventPtr>, std::less<>> tags_;
  std::map<std::string, SnapshotMap, std::less<>> snapshots_;
};

}  // namespace cairn::memory

#endif  // CAIRN_PLUGINS_STORAGE_MEMORY_MEMORY_STORAGE_H_
