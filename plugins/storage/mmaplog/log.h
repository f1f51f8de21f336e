// The mmaplog engine: a segmented, memory-mapped, append-only event log with
// lock-free appends, a commit watermark, group commit, indexes and recovery.
// docs/mmaplog.md describes the design as built; plugin.cc adapts it to the
// plugin ABI.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_LOG_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_LOG_H_

#include <cairn/plugin.h>
#include <cairn/sdk/expected.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "file_system.h"
#include "futex_event.h"
#include "idempotency_keys.h"
#include "index.h"
#include "index_arena.h"
#include "record.h"

namespace cairn::mmaplog {

struct RecordHeader;

// The sparse position index keeps one location per this many positions
// (Log::sparse_); the checkpoint stores it and retention clears it.
inline constexpr uint64_t kSparseEvery = 64;

enum class FsyncMode { kAlways, kInterval, kNever };

// Whether new segments of a synced log are zero-written (LogOptions).
enum class ZeroFill { kAuto, kAlways, kNever };

// Which sealed segments may be removed (docs/mmaplog.md, Retention). Removal
// is always of the oldest segments (a prefix of the log), never of the
// active one, and runs in the background after a rotation.
enum class RetentionMode {
  kNone,     // keep everything (the default: event sourcing keeps history)
  kDeleted,  // remove a segment whose every event is deleted (delete-to)
  kBytes,    // remove the oldest segments while the log exceeds a size
};

struct LogOptions {
  // The store folder (see store_folder.h for what Open accepts there).
  std::string path;
  // Whether Open may make a new store in a missing or empty folder; false:
  // such a folder is NotFound "no store at PATH" and nothing is created.
  bool create = true;
  uint64_t segment_size = 256ull << 20;  // 64 KiB .. 1 GiB, multiple of 4 KiB
  FsyncMode fsync = FsyncMode::kAlways;
  uint32_t fsync_interval_ms = 100;      // for kInterval
  uint32_t preallocate_segments = 1;     // spare segments kept ready
  // The preparer makes the spare segments once appends have reserved this
  // percent of the active segment (0: as soon as a segment is put in use).
  // A store smaller than that share of one segment keeps no blank spare on
  // disk (a 100k-event store: 16 MiB less). Made at 50%, a spare is ready
  // long before the segment fills; an append that reaches the end of a
  // segment before its spare is made waits for it. The plugin's
  // `spare-at-percent` option.
  uint32_t spare_at_percent = 50;
  // Disk blocks are given to a segment this many bytes at a time (a
  // multiple of 4 KiB, at least 64 KiB; larger than segment_size means the
  // whole segment at once): a new segment file has its full size but blocks
  // for only its first step, and the preparer thread allocates the next
  // step (zeros written or fallocate, see zero_fill) while appenders are in
  // the last half of the allocated part, so a new store takes one step of
  // disk (its spare comes at spare_at_percent), not a segment. The plugin's
  // `allocation-step` option.
  uint64_t allocation_step = 16ull << 20;
  // With fsync always/interval, whether new segments get zeros written
  // into them (FileSystem::Fill::kWriteZeros) or are only allocated: kAuto
  // while syncs are small (Log::ZeroFillPays), kAlways every segment
  // (including a new store's first, inside Open), kNever none. The plugin's
  // `zero-fill` option. Ignored with fsync=never, which never zero-fills.
  ZeroFill zero_fill = ZeroFill::kAuto;
  // Give a new store's first segment all its blocks inside Open, as 1.0
  // gave every segment (allocation_step does not apply to it), and write
  // its zeros where zero-fill applies (not with fsync=never or zero-fill
  // never): 0.5-2 s at 256 MiB when zeros are written, and a whole segment
  // of disk for a new store, so off by default; the first segments then grow
  // in steps, are only allocated, and zero-filled ones follow once a
  // finished segment shows syncs are small. Benchmarks of the steady state
  // set it (mmaplog_bench: zeros:1 and the fsync=never rows but the
  // `Fresh` ones).
  bool whole_first_segment = false;
  uint32_t stream_bucket_bits = 17;      // 2^bits buckets in the stream map
  RetentionMode retention = RetentionMode::kNone;
  uint64_t retention_bytes = 0;          // for kBytes
  // Whether Open may repair damage it would otherwise refuse (the plugin's
  // `repair` option, set by `cairn verify --repair`). Without it, damage
  // before the last point the store can prove durable fails the open with
  // DataLoss naming file and offset and changes nothing; with it the open
  // cuts the log at the damage, keeps a copy of every file it changes in
  // quarantine/ and lists what it dropped in RecoveryReport::repairs.
  bool repair = false;
  // The host-defined option "commit" (cairn/plugin.h, "The ordered log"):
  // false ("durable", the default) keeps committed = durable without any
  // call; true ("host") advances committed only through SetCommitted.
  bool commit_host = false;
  // Where the background thread reports what it could not do (a checkpoint
  // or a removal that failed); null: nowhere. Called from that thread.
  std::function<void(const std::string&)> warn;
  // Where the background thread reports what it removed (a segment
  // retention let go), a line each; null: nowhere. Called from that thread.
  std::function<void(const std::string&)> info;
  FileSystem* fs = nullptr;              // null: FileSystem::Default()
  // For tests: called by the upgrade of a store's deletes.log and
  // snapshots/ (Log::UpgradeLegacyFiles) after each step, named; an error
  // stops the open there, as a crash would.
  std::function<absl::Status(std::string_view step)> upgrade_hook;
};

// Parses "always", "never" or "interval:MS" into *mode / *interval_ms.
absl::Status ParseFsync(std::string_view text, FsyncMode* mode,
                        uint32_t* interval_ms);

// Parses "none", "deleted" or "bytes:SIZE" (SIZE as in segment-size, e.g.
// bytes:10GiB; > 0) into *mode / *bytes. Errors name the option and value.
// Parses the `zero-fill` option: auto, always or never.
absl::Status ParseZeroFill(std::string_view text, ZeroFill* mode);
absl::Status ParseRetention(std::string_view text, RetentionMode* mode,
                            uint64_t* bytes);

// What Open found and repaired.
struct RecoveryReport {
  uint64_t segments = 0;           // segments in use after recovery
  uint64_t records = 0;            // committed records found
  uint64_t truncated_bytes = 0;    // torn tail bytes zeroed
  uint64_t dropped_records = 0;    // records of incomplete batches dropped
  uint64_t dropped_segments = 0;   // segments after the tail removed
  std::vector<std::string> problems;  // corruption found in sealed segments
  double scan_seconds = 0;         // time spent scanning and indexing
  bool from_checkpoint = false;    // indexes loaded from the checkpoint
  // The checkpoint's control state (deleted-to, snapshots, epochs) covered
  // records recovery did not keep (a torn tail after its cut): it was
  // derived again from the log alone, and this says which position it had
  // reached and where the log now ends.
  std::string control_state_rebuilt;
  uint64_t checkpoint_position = 0;  // the checkpoint covered positions up
                                     // to this one; the scan began after it
  std::string checkpoint_rejected;   // why a checkpoint present was not used
  uint64_t scanned_records = 0;    // records the scan read (after the
                                   // checkpoint, or all without one)
  uint64_t scanned_bytes = 0;      // bytes of segments the scan walked
  uint64_t completed_removals = 0; // segments a crash left behind after
                                   // retention had recorded their removal
  // deletes.log and snapshots/ of a store from before control records
  // were turned into records (and removed) by this open.
  bool upgraded = false;
  bool store_created = false;      // Open made a new store
  bool store_adopted = false;      // a store from before the MMAPLOG marker
                                   // was given one (and modes 0700/0600)
  // Names in the store folder that mmaplog did not make: left alone.
  std::vector<std::string> foreign_files;
  // The last position the store could prove durable (the newest durable
  // mark in a segment header, the checkpoint's cut, the end of a sealed
  // segment) and what proved it. Damage at or before it is corruption and
  // fails the open unless LogOptions::repair; only what lies after it may be
  // cut as a torn tail.
  uint64_t proven_position = 0;
  std::string proven_by;
  uint64_t proven_deletes_bytes = 0;  // deletes.log bytes proven durable
  // With LogOptions::repair: one line per thing the open changed or dropped
  // (file, offsets, positions and event count, where the copy is kept).
  std::vector<std::string> repairs;
};

// One segment file while the log is open.
struct Segment {
  uint64_t number = 0;
  uint64_t base_position = 0;  // position before its first record
  std::unique_ptr<MappedFile> file;
  uint8_t* data = nullptr;
  size_t size = 0;
  uint32_t capacity_units = 0;  // 8-byte units usable for records
  // (records reserved << 32) | (8-byte units reserved, header included).
  std::atomic<uint64_t> reserve{0};
  std::atomic<bool> sealed{false};
  // Readers pin a segment while they use its mapping (Log::SegmentRef);
  // retention marks it retired, unpublishes it and unmaps it only once no
  // pin is left. The Segment object itself lives until the log closes.
  mutable std::atomic<uint32_t> pins{0};
  std::atomic<bool> retired{false};
  // Log::fsyncs_ when it became the active segment (0 if it was at open).
  uint64_t syncs_at_start = 0;
  // Bytes from offset 0 whose disk blocks are allocated: nothing is stored
  // at or beyond it. Grows under alloc_mu, by
  // Log::ExtendSegment.
  std::atomic<uint64_t> allocated{0};
  // How new blocks are given (FileFill::kWriteZeros only where nothing was
  // ever written: a segment this process created).
  FileFill fill = FileFill::kAllocate;
  // An appender asked the preparer to allocate the next step.
  std::atomic<bool> extend_requested{false};
  std::mutex alloc_mu;
  std::string name() const;
};

// The expected revision of an append (cairn_append_request's two fields).
using Expected = sdk::Expected;

// Turns a batch into what is stored once its revisions are fixed: the
// plugin's bridge to the request's cairn_seal_fn (cairn/plugin.h).
class Sealer {
 public:
  virtual ~Sealer() = default;
  // Seals the batch for revisions first_revision.. and sets *events to the
  // `count` events to store (contiguous, sealed payloads as data, empty
  // metadata), valid until the append returns. Called with the stream
  // claimed, before anything is reserved; a failure fails the append with
  // nothing written and no revision used.
  virtual absl::Status Seal(uint64_t first_revision,
                            const cairn_event** events) = 0;
};

class Log {
 public:
  using EventFn = absl::FunctionRef<bool(const cairn_event&)>;  // false: stop

  // Opens or creates the log in options.path and recovers it (see
  // RecoveryReport). Fails if another process has it open.
  static absl::StatusOr<std::unique_ptr<Log>> Open(const LogOptions& options);

  // Stops the background threads, makes everything durable and unmaps. No
  // other call may be in flight.
  ~Log();

  // Appends `count` events as one atomic batch. Fails with Aborted (wrong
  // expected revision) writing nothing if the stream's head does not match;
  // with ResourceExhausted if the batch exceeds kMaxBatchBytes or a segment.
  // Returns after the batch is visible to readers and as durable as the
  // fsync mode promises. Thread-safe; appends to different streams share no
  // lock. With a sealer, the revisions are fixed first and the events
  // sealed while the stream is claimed (other appends to it wait); an `any`
  // append never conflicts.
  // With an idempotency key (1..CAIRN_MAX_IDEMPOTENCY_KEY bytes; empty:
  // none) the key is stored with the batch, and an append whose key one of
  // the stream's newest CAIRN_IDEMPOTENCY_WINDOW batches holds writes
  // nothing and answers that batch (result->repeated, its epoch) once it is
  // as visible and durable as this append would be (cairn_storage_api
  // append, "Idempotency").
  absl::Status Append(std::string_view stream, Expected expected,
                      const cairn_event* events, size_t count,
                      cairn_append_result* result, Sealer* sealer = nullptr,
                      std::string_view idempotency_key = {});

  // Reads as described by cairn_storage_api. Records whose checksum fails
  // give DataLoss naming segment and offset. Thread-safe.
  absl::Status ReadStream(std::string_view stream, uint64_t from,
                          uint64_t to, uint64_t max_count, EventFn fn);
  absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                       uint64_t max_count, EventFn fn);
  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       bool include_deleted, EventFn fn);

  // The committed head of `stream` (watermarks.cc): its highest revision at
  // or below the committed watermark. With commit = durable and fsync =
  // always, a head whose batch is written waits for its sync (at most one
  // group commit) and is then committed.
  uint64_t HeadRevision(std::string_view stream);
  uint64_t HeadPosition() const { return Committed(); }

  // ---- Watermarks (watermarks.cc; docs/mmaplog.md, Watermarks) ----------
  // written: the gap-free prefix of published records (the committer's
  // watermark). durable: what the fsync policy has acknowledged as durable:
  // synced with fsync=always; = written with interval and never, whose
  // appends are acknowledged before a sync. committed: what readers see;
  // with commit=durable it is durable itself (no store per append), with
  // commit=host what SetCommitted last raised it to.
  uint64_t Written() const {
    return watermark_.load(std::memory_order_acquire);
  }
  uint64_t Durable() const {
    return options_.fsync == FsyncMode::kAlways
               ? durable_.load(std::memory_order_acquire)
               : watermark_.load(std::memory_order_acquire);
  }
  uint64_t Committed() const {
    return options_.commit_host ? committed_.load(std::memory_order_acquire)
                                : Durable();
  }
  // Fills first_position, written, durable, committed and epoch.
  void LogState(cairn_log_state* state) const;
  // commit=host: raises committed to `position` (a lower one is a no-op);
  // FailedPrecondition past durable, or with commit=durable. Wakes
  // WaitCommit. Thread-safe.
  absl::Status SetCommitted(uint64_t position);

  // ---- Truncation (truncate.cc; docs/mmaplog.md, Truncation) ------------
  // Removes every record after `position` and everything derived from it;
  // the watermarks become at most `position`. Below committed needs
  // allow_committed (CAIRN_TRUNCATE_COMMITTED). Crash-safe through the
  // intent file `truncate`. No append, apply or delete_to may run beside it;
  // reads may, and see the log before or after the cut.
  absl::Status TruncateAfter(uint64_t position, bool allow_committed);

  // Blocks until the watermark exceeds after_position (OK), timeout_ms passes
  // (DeadlineExceeded) or the log closes (Cancelled). Woken by commits.
  absl::Status WaitCommit(uint64_t after_position, uint32_t timeout_ms,
                          uint64_t* position);

  // Blocks until the preparer thread holds the spare segments it keeps
  // ready (Options::preallocate_segments, at least 1): true; or has failed
  // to make one, the log closes or `timeout` passes: false. Spares are made
  // only once due (LogOptions::spare_at_percent). For tests, which wait on
  // this instead of sleeping.
  bool WaitForSpares(std::chrono::milliseconds timeout);

  // ---- Control records (control_records.cc; docs/mmaplog.md, "Control
  // records"). Each writes one record at the next position, through the
  // same reservation as an append, and returns once it is committed (and,
  // with fsync=always, durable); its effect on the derived state (deleted-to,
  // the snapshot index, the epoch list) is applied by the committer, so
  // recovery rebuilds it the same way from the log.

  // Logically deletes revisions <= revision of `stream` (clamped to its
  // head): a DELETE_TO record. Nothing to delete (unknown stream, already
  // deleted that far) writes nothing.
  absl::Status DeleteTo(std::string_view stream, uint64_t revision);
  // SNAPSHOT_SAVE: replaces the snapshot at (stream, revision).
  absl::Status SnapshotSave(const cairn_snapshot& snapshot);
  // Calls fn once with the matching snapshot of highest revision (ties:
  // newest timestamp), or not at all. Its data points into the segment and
  // is valid during the call.
  absl::Status SnapshotLoad(std::string_view stream,
                            const cairn_snapshot_criteria& criteria,
                            absl::FunctionRef<void(const cairn_snapshot&)> fn);
  // SNAPSHOT_DELETE with criteria; nothing matching writes nothing.
  absl::Status SnapshotDeleteMatching(std::string_view stream,
                                      const cairn_snapshot_criteria& criteria);
  // EPOCH: `epoch` must exceed the current one (FailedPrecondition).
  absl::Status BeginEpoch(uint64_t epoch, std::string_view primary,
                          uint64_t* position);
  // The position of the last written record whose epoch is <= `epoch`.
  uint64_t EpochEnd(uint64_t epoch) const;
  // The epoch record `position` was written in (0 before any EPOCH).
  uint64_t EpochAt(uint64_t position) const;

  using RecordFn = absl::FunctionRef<bool(const cairn_log_record&)>;
  // Records with position > after_position up to the written watermark,
  // events as stored (deleted ones too) and control records. Before the
  // first retained position: NotFound. A walk that finds no record before
  // the watermark fails with DataLoss naming segment and offset; a
  // truncation while it runs ends it early without an error.
  absl::Status ReadLog(uint64_t after_position, uint64_t max_count,
                       RecordFn fn);
  // Replica writes of records exactly as ReadLog returned them, at the same
  // positions (cairn_storage_api.apply_log). Everything is checked before
  // anything is written; FailedPrecondition names what does not follow.
  absl::Status ApplyLog(const cairn_log_record* const* records, size_t count);

  absl::Status ListStreams(
      uint64_t after_ordinal, uint64_t max_count,
      absl::FunctionRef<bool(const cairn_stream_info&)> fn);

  // Makes every committed record durable.
  absl::Status Flush();

  void Stats(absl::FunctionRef<void(const char*, double)> fn) const;

  // Checks every record of every segment, the position sequence and the
  // stream indexes, reporting each problem; DataLoss if any. Read-only.
  absl::Status Verify(absl::FunctionRef<void(const std::string&)> problem);

  // The first position still in the log (1 until retention removed a
  // segment); reads from before it start there.
  uint64_t FirstPosition() const {
    return first_position_.load(std::memory_order_acquire);
  }

  // Runs one retention pass and one checkpoint now, on the caller's thread,
  // as the background thread does after a rotation (the storage's maintain,
  // tests and tools). Reports each segment removed, and with
  // `report_checkpoint` a checkpoint written, through `on_change`, one line
  // each.
  absl::Status RunMaintenance(
      const std::function<void(const std::string&)>& on_change = nullptr,
      bool report_checkpoint = true);

  const RecoveryReport& recovery() const { return recovery_; }
  const LogOptions& options() const { return options_; }

 private:
  struct Reservation {
    Segment* segment = nullptr;
    uint32_t offset = 0;
    uint64_t first_position = 0;
  };

  // A reader's pin on one segment at a time (see Segment::pins). Switch
  // pins segment `number`, releasing the previous one; null if it is absent
  // or removed.
  class SegmentRef {
   public:
    explicit SegmentRef(const Log* log) : log_(log) {}
    ~SegmentRef() { Release(); }
    SegmentRef(const SegmentRef&) = delete;
    SegmentRef& operator=(const SegmentRef&) = delete;
    Segment* Switch(uint64_t number);
    void Release();

   private:
    const Log* log_;
    Segment* pinned_ = nullptr;
  };

  explicit Log(const LogOptions& options);

  absl::Status Recover();

  // watermarks.cc: the committed head of a stream, found through its
  // revision index (the records' positions) when its newest revisions are
  // past the committed watermark.
  uint64_t CommittedHead(const StreamState* s) const;
  // commit=host: maps <path>/committed and reads the committed watermark
  // it holds (at most durable) at open.
  absl::Status OpenCommittedFile();
  // commit=host: makes the committed watermark stored in <path>/committed
  // durable if it changed (flusher, after a sync).
  void SyncCommittedFile();
  // commit=host: stores `position` into <path>/committed (a new slot;
  // lower is allowed: truncation), synced if `sync`.
  void WriteCommittedCopy(uint64_t position, bool sync);
  // Wakes WaitCommit callers (when any wait).
  void WakeCommitWaiters();

  // truncate.cc. A read in progress, for the truncation's grace period:
  // reads hold one while they may look at records; CutAfter waits until
  // every read that began before it lowered the watermarks has ended.
  class ReadGuard {
   public:
    explicit ReadGuard(const Log* log);
    ~ReadGuard();
    ReadGuard(const ReadGuard&) = delete;
    ReadGuard& operator=(const ReadGuard&) = delete;

   private:
    const Log* log_;
    uint64_t slot_;
  };
  void WaitForReaders();
  // The cut itself, on the open log (also run by Open when it finds the
  // intent file): files first, then the derived in-memory state.
  absl::Status CutAfter(uint64_t position);
  // Cuts the in-memory state derived from records after `position`.
  void CutDerivedState(uint64_t position);
  // Open: finishes a truncation whose intent file a crash left behind.
  absl::Status FinishTruncation();
  absl::Status ScanSegment(Segment* segment, uint32_t from, uint64_t* expected,
                           bool* truncated);
  // Raises recovery_.proven_position to `position` (proved by `by`).
  void Prove(uint64_t position, const std::string& by);
  // The log ends (or must be cut) at `cut_position`, in `file` at `offset`,
  // because of `what`. OK if that is after everything proven durable (a
  // torn tail) or the open repairs; otherwise DataLoss saying so and how to
  // repair. Changes nothing.
  absl::Status CheckCut(const std::string& file, uint64_t offset,
                        uint64_t cut_position, const std::string& what) const;
  // Copies `bytes` of the file `name` to quarantine/<name>.<seconds>;
  // returns the copy's path.
  absl::StatusOr<std::string> Quarantine(const std::string& name,
                                         std::string_view bytes);
  // Moves the file at `path` (named `name`) to quarantine/; returns where.
  absl::StatusOr<std::string> MoveToQuarantine(const std::string& path,
                                               const std::string& name);
  // Writes the durable mark (record.h) into the active segment's header:
  // `position` (or the highest one marked before) and deletes_durable_. The
  // next sync of that segment's header makes it durable. Thread-safe.
  void WriteDurableMark(uint64_t position);
  absl::Status LoadDeletes();
  // checkpoint.cc: the indexes up to a cut (the end of the newest sealed
  // segment, or at a clean close the end of the log), and loading it at
  // open. LoadCheckpoint returns false (reason in recovery_) if there is no
  // usable checkpoint; otherwise *scan_segment / *scan_from / *expected say
  // where the scan goes on.
  absl::Status WriteCheckpoint(bool closing);
  absl::StatusOr<bool> LoadCheckpoint(
      const std::vector<std::unique_ptr<Segment>>& used, size_t* scan_segment,
      uint32_t* scan_from, uint64_t* expected);

  // retention.cc: removal of whole segments and the background thread that
  // runs it and the checkpoint after rotations.
  void MaintenanceLoop();
  void WakeMaintenance();
  absl::StatusOr<bool> RemoveOldestSegment();
  // Whether retention may remove `seg`, the oldest segment, while segments
  // up to number `last` (the active one) are in use.
  bool SegmentRemovable(Segment* seg, uint64_t last) const;
  absl::Status WriteRetentionState();
  // Reads <path>/retention.state at open: *first_segment is the first segment
  // the log keeps (0: no state). Stream entries are applied by
  // ApplyRetentionState once the streams are known.
  absl::Status ReadRetentionState(uint64_t* first_segment);
  void ApplyRetentionState();
  // Puts retired_epochs_ into the epoch list (in position order, once).
  void MergeRetiredEpochs();
  // Adds `count` entries (u8 name length, name, u64 head) to those
  // ApplyRetentionState applies (a repair of a log whose segments are gone).
  void AddRetentionEntries(uint64_t count, std::string_view entries);
  // `known`: the stream's state if the caller has already looked it up
  // (recovery does, to check the revision), spared a second lookup.
  void IndexRecord(Segment* segment, uint32_t offset, const uint8_t* record,
                   uint64_t revision, uint64_t position, std::string_view name,
                   bool recovering, StreamState* known = nullptr);

  // control_records.cc. Writes one control record (record.h) and waits as
  // an append does; required_position != 0: it must land there (apply_log),
  // and then, as ApplyEvents, it does not wait for the sync.
  absl::Status AppendControl(uint16_t kind, std::string_view stream,
                             uint64_t revision, int64_t timestamp_us,
                             std::string_view data, uint64_t required_position,
                             uint64_t* position);
  // Takes a written control record into the derived state. An EPOCH is
  // applied at once (the epoch list follows the written log: apply_log and
  // begin_epoch check against it); a DELETE_TO, SNAPSHOT_SAVE or
  // SNAPSHOT_DELETE is queued and takes effect only once the committed
  // watermark covers it (ApplyCommittedControls), so readers never see a
  // delete or snapshot change that is not committed. Committer or recovery
  // only; idempotent, so a checkpoint's state may be replayed over.
  void ApplyControl(Segment* segment, uint32_t offset, const uint8_t* record);
  // Applies the queued control records the committed watermark now covers,
  // in position order. Called wherever committed rises (the committer with
  // commit=durable and fsync != always, the flusher with fsync=always,
  // SetCommitted, the end of Open, a control write once it returns).
  // Cheap when nothing is queued. Thread-safe.
  void ApplyCommittedControls();
  // The effect of one committed control record; state_mu_ held.
  void ApplyControlLocked(Segment* segment, uint32_t offset,
                          const uint8_t* record, const RecordHeader& h);
  // At open, after recovery: moves the active segment to the current
  // format (it receives control records), and rebuilds the control state
  // from the log if the checkpoint's is ahead of what recovery kept.
  absl::Status PrepareControlRecords();
  // Sets the active segment's format version to the current one (a
  // version-1 segment must not receive control records).
  absl::Status MoveActiveSegmentToCurrentFormat();
  // Derives the control state (deleted-to, snapshot index, epochs) again
  // from the records up to the written watermark alone (and deletes.log of
  // an older store): after the log lost records the state includes, e.g.
  // a truncation. No control write may run beside it.
  absl::Status RebuildControlState();
  // Applies checkpoint_deletes_ (capped at each stream's head) and clears
  // them; state_mu_ held.
  void ApplyCheckpointDeletesLocked();
  // At open, once appends work: turns a store's deletes.log and the files
  // in snapshots/ (from before control records) into records, then removes
  // them. Crash-safe: records are durable before anything is removed, and a
  // repeated upgrade writes only what the log does not hold yet. Only an
  // open that may write (create = true) upgrades; a read-only one reads
  // the old files as they are (legacy_snapshots_).
  absl::Status UpgradeLegacyFiles();
  // Calls fn for every control record from the first retained position up
  // to the written watermark.
  void ForEachControlRecord(
      absl::FunctionRef<void(Segment*, uint32_t, const RecordHeader&)> fn);
  // Before retention drops `seg`: re-appends its control records whose
  // effect is still live (the latest DELETE_TO of a stream, a SNAPSHOT_SAVE
  // the snapshot index still points at) as new records, so that the log
  // alone still holds them. Maintenance thread.
  absl::Status CarryForwardControlRecords(Segment* seg);
  // Syncs segments `number` .. the active one whole (records written by
  // the upgrade or a carry, before files or segments they replace go).
  absl::Status SyncSegmentsFrom(uint64_t number);
  // The control state for the checkpoint (and loading it back).
  std::string EncodeControlState();
  bool DecodeControlState(std::string_view in);
  // Replica writes of one atomic batch of events (apply_log): the first
  // position must be the next one and the rest contiguous, each event's
  // revision its stream's head + 1; otherwise FailedPrecondition and
  // nothing is written.
  // `key`: the batch's idempotency key (cairn_log_record.idempotency_key).
  // With fsync = always it returns once the batch is written, not synced:
  // ApplyLog, its only caller, waits once for the whole call (one sync,
  // not one per batch).
  absl::Status ApplyEvents(const cairn_event* events, size_t count,
                           std::string_view key);
  // Idempotency keys (docs/mmaplog.md, "Idempotency keys"). keys_ holds
  // every keyed batch written or applied at or past the keys horizon (a
  // location: the log's end at the open or the last truncation); a
  // stream's keyed batches from before it are read back once per
  // generation, on its first keyed append, by LoadOlderKeys: the newest
  // CAIRN_IDEMPOTENCY_WINDOW batches below the horizon. Called with the
  // stream claimed, up to its head revision `head`.
  absl::Status LoadOlderKeys(StreamState& stream, uint64_t head);
  // Forgets every key and starts a new generation at the log's end (open,
  // truncation).
  void ResetKeys();
  // Where a walk of the log from position `want` (at least the first
  // retained one) starts: the segment pinned in `pin` and an offset at or
  // before the record. Shared by ReadAll and ReadLog.
  // Steps over end-of-segment markers (moving `pin` to the next segment):
  // true if a record is published at *seg / *off, false at the end. Inline:
  // every record of a walk passes here, and only a segment's end needs more.
  bool NextRecord(SegmentRef* pin, Segment** seg, uint32_t* off) {
    const uint32_t len = LoadLength((*seg)->data + *off);
    if (len != kEndOfSegment) return len != 0;
    return NextRecordInNextSegment(pin, seg, off);
  }
  bool NextRecordInNextSegment(SegmentRef* pin, Segment** seg, uint32_t* off);
  // Where a walk (read_all, read_log) found no record: set by At, and by
  // the NextRecord below when it returns false (the segment it was in if
  // the next one is missing).
  struct WalkEnd {
    bool ended = false;
    uint64_t segment = 0;
    uint32_t offset = 0;
    void At(const Segment* seg, uint32_t off) {
      ended = true;
      segment = seg->number;
      offset = off;
    }
  };
  bool NextRecord(SegmentRef* pin, Segment** seg, uint32_t* off, WalkEnd* end) {
    // The common case inline (a record follows in this segment); the rest,
    // and what the walk remembers of where it ended, out of line.
    const uint32_t len = LoadLength((*seg)->data + *off);
    if (len != kEndOfSegment && len != 0) [[likely]]
      return true;
    return NextRecordOrEnd(pin, seg, off, end);
  }
  bool NextRecordOrEnd(SegmentRef* pin, Segment** seg, uint32_t* off,
                       WalkEnd* end);
  // The DataLoss of a walk (read_all, read_log) that found no record at
  // `segment` / `offset` where the one after position `reached` should
  // follow, with positions up to `watermark` written.
  static absl::Status WalkEndedEarly(uint64_t segment, uint32_t offset,
                                     uint64_t reached, uint64_t watermark);
  // The DataLoss of a walk whose next record at `seg` / `offset` holds
  // `position` where `reached` + 1 should follow: records before it were
  // skipped (an end-of-segment marker written over a record's length).
  static absl::Status WalkSkipped(const Segment& seg, uint32_t offset,
                                  uint64_t reached, uint64_t position);
  // DataLoss "segment S offset O: <what>; run 'cairn verify', or restore
  // the segment from a backup or a replica" (read-stream's and the walks'
  // damage found while reading).
  static absl::Status DamageAt(const Segment& seg, uint32_t offset,
                               const std::string& what);
  absl::Status StartWalk(uint64_t* want, SegmentRef* pin, Segment** seg,
                         uint32_t* off, const char* what);

  // Every record written to the log goes through here. The first call of
  // the store's life records in the marker that the log has held records
  // (RecordRecordsHeld) before it reserves anything.
  absl::StatusOr<Reservation> Reserve(uint32_t count, uint32_t units,
                                      uint64_t required_first);
  // Writes "sealed 0 0" to the marker (store_folder.h) unless it already
  // says the log held records: synchronously (temp, sync, rename, sync
  // dir), once per store, so that a store killed before anything proved
  // its records durable is still not taken for a new one if its segments
  // are deleted. Later calls only load marker_records_held_.
  absl::Status RecordRecordsHeld();
  absl::Status Rotate(Segment* full, uint32_t end_units, uint64_t last_position);
  absl::StatusOr<std::unique_ptr<Segment>> CreateSegment(uint64_t number);
  // Whether a new segment should be zero-filled: a new store's first one,
  // and later ones while the last finished segment averaged under 64 KiB
  // per sync (see docs/mmaplog.md, "Append path").
  bool ZeroFillPays() const;
  void WriteAndPublish(const Reservation& r, std::string_view stream,
                       const cairn_event* events, size_t count,
                       const uint32_t* sizes, uint64_t first_revision,
                       StreamState* state, std::string_view key = {});
  // Waits until the watermark covers `last_position` and, with fsync =
  // always and `durable`, until it is synced.
  absl::Status FinishAppend(uint64_t last_position, bool durable = true);

  void TryAdvance();
  bool AdvanceLocked();
  // Called by every thread that published length words, before it tries
  // the committer flag: the flag's holder walks again if this was set while
  // it held the flag (TryAdvance).
  void Published() {
    advance_requested_.store(true, std::memory_order_seq_cst);
  }
  // Whether the batch whose first record (at `position`) is published at
  // `offset` of `seg` is wholly published; if so, *end is the offset after
  // it, *count its records and *hinted whether its appender left a batch
  // hint that lets the committer skip its records (see batch_hints_).
  bool BatchComplete(const Segment* seg, uint32_t offset, uint64_t position,
                     uint32_t* end, uint32_t* count, uint64_t* hint) const;
  Segment* SegmentAt(uint64_t number) const {
    return reinterpret_cast<Segment*>(segments_.Get(number));
  }

  absl::Status WaitDurable(uint64_t position);
  void FlusherLoop();
  // Records a failed sync: appends are refused from now on, and every
  // appender waiting for durability or a new segment is woken.
  void FailFlusher(const absl::Status& s);
  void PreparerLoop();
  // Whether the preparer should make spares now (spare_at_percent reached,
  // or a rotation waits for one). Under spare_mu_.
  bool SpareDue() const;
  // Makes sure [0, end) of `seg` has disk blocks before anything is stored
  // there: returns at once while it has; asks the preparer for the next
  // step once `end` is in the last half of what is allocated; allocates
  // inline (on the append path) only if the preparer fell behind. A failure
  // (disk full) fails the log like a failed rotation: a reservation that
  // cannot be written leaves a hole nothing can fill.
  absl::Status EnsureAllocated(Segment* seg, uint64_t end);
  // EnsureAllocated's fast path, inline on the append path: true while
  // [0, end) has blocks and is not yet in the last half of the allocation.
  bool AllocatedAhead(const Segment* seg, uint64_t end) const {
    const uint64_t allocated = seg->allocated.load(std::memory_order_acquire);
    return allocated >= seg->size ||
           end + options_.allocation_step / 2 <= allocated;
  }
  // Fills sizes[i] with each event's record size (the first one's with
  // `key`) and *total with their sum; false if an event or the batch is over
  // a limit (BatchTooLarge says which). No status is built on the append
  // path unless it fails.
  bool MeasureBatch(std::string_view stream, const cairn_event* events,
                    size_t count, uint32_t* sizes, uint64_t* total,
                    std::string_view key) const;
  absl::Status BatchTooLarge(std::string_view stream, const cairn_event* events,
                             size_t count) const;
  // Allocates steps of `seg` until at least `end` bytes have blocks. With
  // `populate` (the preparer), then maps the new steps' pages in, after
  // publishing them and outside the allocation lock: an appender that
  // caught up waits for the blocks only, and one that allocates inline
  // (populate false) stores at once rather than fault in a whole step
  // first.
  absl::Status ExtendSegment(Segment* seg, uint64_t end, bool populate);
  // Whether an allocation step is synced as it is made, so that appenders'
  // syncs write only data. Not with fsync=never: nothing waits for a sync
  // there, and a step's sync (a journal commit, milliseconds) made the
  // preparer fall behind a fast appender, who then waited for it under the
  // segment's allocation lock (half the batch-1 rate; docs/benchmarks.md).
  bool SyncsAllocations() const { return options_.fsync != FsyncMode::kNever; }
  // Marks the log failed with `why` (appends refused until reopened).
  absl::Status FailLog(const absl::Status& why);
  absl::Status SyncCommitted(uint64_t* synced_position);
  // Syncs (and seals, when finished) every segment that may hold records
  // committed and not yet synced: what was committed before the call is
  // durable when it returns OK. With `include_active` false it syncs and
  // seals only the finished segments and leaves the active one alone (a
  // seal with nothing waiting for durability). Flusher thread (or the
  // closing thread) only.
  absl::Status SyncSegments(bool include_active = true);
  // Syncs `seg` and counts the call and its time in fsyncs_ / fsync_nanos_.
  absl::Status TimedSync(Segment* seg, size_t offset, size_t length);
  absl::Status Failed() const;

  // Decodes and checks the record at `offset` of pinned segment `seg`.
  absl::Status ReadRecord(const Segment* seg, uint32_t offset,
                          const uint8_t** record,
                          struct RecordHeader* header) const;

  const LogOptions options_;
  FileSystem* const fs_;
  std::unique_ptr<DirectoryLock> lock_;
  RecoveryReport recovery_;

  // File-backed memory of the indexes (<path>/index/arena-*.idx); declared
  // before every index so it outlives them.
  std::unique_ptr<IndexArena> arena_;

  // Segments by number (Segment*), owned by segment_owner_.
  ChunkedArray segments_;
  std::mutex segment_owner_mu_;
  std::vector<std::unique_ptr<Segment>> segment_owner_;
  std::atomic<uint64_t> first_segment_{1};
  std::atomic<uint64_t> first_position_{1};
  std::atomic<uint64_t> segments_removed_{0};
  // Appends answered as repeats of an earlier one's idempotency key.
  std::atomic<uint64_t> repeated_appends_{0};
  // Allocation steps given to segments since open, and those an appender
  // had to give on its own path because the preparer was behind.
  std::atomic<uint64_t> allocation_steps_{0};
  std::atomic<uint64_t> allocation_steps_inline_{0};
  std::atomic<uint64_t> checkpoints_written_{0};
  std::atomic<Segment*> active_{nullptr};
  std::atomic<uint64_t> rotation_generation_{0};

  // Spare segments made ahead of need by the preparer thread.
  std::mutex spare_mu_;
  std::condition_variable spare_cv_;
  std::deque<std::unique_ptr<Segment>> spares_;
  uint64_t next_spare_number_ = 0;
  // Segment syncs while the last finished segment was active (ZeroFillPays).
  static constexpr uint64_t kNoSegmentFinished = ~uint64_t{0};
  std::atomic<uint64_t> syncs_in_last_segment_{kNoSegmentFinished};
  absl::Status spare_error_;
  // The active segment an appender asked to extend (PreparerLoop).
  Segment* extend_wanted_ = nullptr;
  // A rotation waits for a spare: make it whatever the fill (spare_mu_).
  bool rotation_waiting_ = false;

  // Batch hints. An appender whose batch the committer need not index
  // record by record (no record is a stream's first, none has tags; the
  // appender has set the stream and sparse index entries itself) stores,
  // before publishing the records, a hint in slot first position %
  // kBatchHints: the low 32 bits of the first position << 32 | the last
  // record's offset in 8-byte units << 1 | 1. The committer then checks one
  // length word (the last record's; the records are published in order)
  // instead of reading every record of a batch that sits in another CPU's
  // cache, and clears the slot once past the batch, so a hint never
  // outlives its batch. No hint (or another batch's) means the slow walk.
  static constexpr size_t kBatchHints = 4096;
  std::array<std::atomic<uint64_t>, kBatchHints> batch_hints_{};

  // Committer state, owned by whoever holds advancing_.
  std::atomic<bool> advancing_{false};
  // Set by a publisher (Published()), cleared by the flag's holder before
  // it walks. One store per batch, where a re-check of the cursor's batch
  // had to pin its segment (about 85 instructions an append).
  std::atomic<bool> advance_requested_{false};
  Segment* cursor_segment_ = nullptr;
  uint32_t cursor_offset_ = 0;
  uint64_t cursor_next_position_ = 1;
  std::atomic<uint64_t> cursor_location_{0};  // for the lock-free re-check
  std::atomic<uint64_t> committed_segment_{0};
  std::atomic<uint64_t> watermark_{0};
  std::atomic<uint64_t> durable_{0};
  // commit=host only (Committed()): the committed watermark, and its copy
  // in <path>/committed (a mapped 4 KiB file; record.h-style CRC'd slot).
  std::atomic<uint64_t> committed_{0};
  std::unique_ptr<MappedFile> committed_file_;
  std::mutex committed_mu_;  // serialises writes of committed_file_
  // Held by the flusher for a pass (watermark read .. durable_ raised) and
  // by a truncation, which lowers the watermarks.
  std::mutex sync_pass_mu_;
  uint64_t committed_synced_ = 0;  // guarded by committed_mu_
  // Reads in progress (ReadGuard), by the parity of reader_epoch_.
  mutable std::atomic<uint64_t> reader_epoch_{0};
  mutable std::atomic<int64_t> readers_[2] = {};
  // Truncations begun plus ended (CutAfter): odd while one runs. ReadLog
  // holds its ReadGuard only between callbacks and tells a cut from damage
  // by this count (the argument is at Log::ReadLog).
  std::atomic<uint64_t> truncations_{0};
  FutexEvent watermark_changed_;  // appenders waiting for an earlier batch
  // Appenders waiting for their sync: syncs alternate between the two.
  FutexEvent durable_changed_[2];
  // (position the sync in progress, or the last, covers) << 1 | its parity.
  std::atomic<uint64_t> sync_target_{0};

  // Indexes.
  NameMap<StreamState> streams_;
  // The idempotency keys of recent batches (a bounded set over the log),
  // and the horizon and generation LoadOlderKeys works from.
  IdempotencyKeys keys_;
  std::atomic<uint64_t> keys_horizon_{0};
  std::atomic<uint64_t> keys_generation_{0};
  std::atomic<uint64_t> key_loads_{0};  // LoadOlderKeys calls since open
  NameMap<TagState> tags_;
  ChunkedArray ordinals_;  // ordinal - 1 -> StreamState*
  std::atomic<uint64_t> stream_count_{0};
  ChunkedArray sparse_;    // (position - 1) / kSparseEvery -> location
  std::atomic<bool> any_deletes_{false};

  // Live-read waiters.
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::atomic<int> commit_waiters_{0};

  // Group commit.
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  uint64_t sync_wanted_ = 0;
  // Gathering (fsync=always): Append calls in progress, and threads waiting
  // for a sync (appenders and Flush). Before a sync the flusher waits, at
  // most as long as its last sync took (capped), until every append in
  // flight is waiting, so one sync covers all of them instead of the first
  // one's batch alone with the rest left for the next. An appender wakes
  // the gathering flusher only when it completes the set.
  std::atomic<int64_t> appends_in_flight_{0};
  std::atomic<int64_t> sync_waiters_{0};
  std::atomic<bool> gathering_{false};
  // Whether every append in flight is waiting for a sync (the set a
  // gathering flusher waits for is complete).
  bool AllAppendsWaiting() const {
    return sync_waiters_.load(std::memory_order_seq_cst) >=
           appends_in_flight_.load(std::memory_order_seq_cst);
  }
  // Ends an Append counted in appends_in_flight_.
  void LeaveAppend();
  uint64_t synced_segment_ = 1;  // lowest segment that may hold unsynced data
  // Segment syncs, and the time in them (Stats "fsyncs_total",
  // "fsync_seconds_total").
  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> fsync_nanos_{0};

  // Control records (control_records.cc). control_mu_ serialises control
  // writes (delete_to, snapshots, begin_epoch) with each other; state_mu_
  // guards the derived state below against readers.
  struct SnapshotEntry {
    uint64_t revision;
    int64_t timestamp_us;
    uint64_t location;  // of its SNAPSHOT_SAVE record
    uint64_t position;
  };
  std::mutex control_mu_;
  mutable std::mutex state_mu_;
  // One entry per live snapshot (not its bytes), by stream, in revision
  // order.
  std::map<std::string, std::vector<SnapshotEntry>, std::less<>> snapshots_;
  // (epoch, position of its EPOCH record), both increasing.
  std::vector<std::pair<uint64_t, uint64_t>> epochs_;
  // The part of epochs_ whose EPOCH records retention removed (kept in
  // retention.state).
  std::vector<std::pair<uint64_t, uint64_t>> retired_epochs_;
  // deletes.log's entries as LoadDeletes read them (stream, revision), for
  // UpgradeLegacyFiles.
  std::vector<std::pair<std::string, uint64_t>> legacy_deletes_;
  // A read-only open (create = false) of a store whose snapshots/ files
  // were not turned into records yet: SnapshotLoad reads them too.
  std::atomic<bool> legacy_snapshots_{false};
  // Per stream, the position of its newest DELETE_TO record seen since
  // open (CarryForwardControlRecords; a stream missing here is carried).
  std::map<std::string, uint64_t, std::less<>> last_delete_at_;
  // The position of the last control record taken in (ApplyControl),
  // applied or queued. Control records are taken in in position order, so
  // every one at or below it is reflected already (a checkpoint's state
  // covers them; recovery's scan skips them).
  uint64_t control_applied_ = 0;
  // A checkpoint's deleted-to values (stream, revision), applied once
  // recovery's scan has made every stream they name (a stream created after
  // the checkpoint's cut is not known while it is decoded). Guarded by
  // state_mu_; cleared by RebuildControlState.
  std::vector<std::pair<std::string, uint64_t>> checkpoint_deletes_;
  // Control records written but not yet committed, in position order:
  // (position, location). Guarded by state_mu_; pending_controls_any_ says
  // whether it is non-empty without the lock.
  std::deque<std::pair<uint64_t, uint64_t>> pending_controls_;
  std::atomic<bool> pending_controls_any_{false};

  // Bytes of deletes.log known durable (synced), for the durable mark.
  std::atomic<uint64_t> deletes_durable_{0};
  // Serialises writes of the durable mark (flusher, DeleteTo, close).
  std::mutex mark_mu_;
  uint64_t marked_position_ = 0;  // guarded by mark_mu_
  // Guards rewrites of a live segment's header (sealing) against Verify.
  std::mutex header_mu_;
  std::mutex apply_mu_;

  std::atomic<bool> failed_{false};
  mutable std::mutex failed_mu_;
  absl::Status failure_;

  // Retention and periodic checkpoints (retention.cc). maintenance_mu_ also
  // serialises RunMaintenance with the background thread.
  std::mutex maintenance_mu_;
  std::mutex maintenance_wake_mu_;
  std::condition_variable maintenance_cv_;
  uint64_t maintenance_requests_ = 0;
  uint64_t checkpointed_segment_ = 0;  // cut of the last checkpoint written
  uint64_t checkpoint_bytes_ = 0;      // size of the last one written or loaded
  // Whether the marker's high-water line proves records were synced (set at
  // open from the marker, and once the background thread wrote it).
  std::atomic<bool> marker_proves_records_{false};
  // Whether the marker says the log has held records (any high-water line;
  // set at open from the marker, and by RecordRecordsHeld). The append
  // path's one extra load.
  std::atomic<bool> marker_records_held_{false};
  // Serialises rewrites of the marker (RecordRecordsHeld on the append
  // path, the background thread, truncation): they share a temp file. A
  // leaf lock: nothing else is taken under it.
  std::mutex marker_mu_;
  std::string retention_state_;        // stream entries read at open

  std::atomic<bool> stopping_{false};
  bool recovered_ = false;  // Open got through recovery
  std::thread flusher_;
  std::thread preparer_;
  std::thread maintenance_;
};

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_LOG_H_
