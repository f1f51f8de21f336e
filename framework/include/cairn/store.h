// The Store: what every host (cairn, cairnd, libcairn-c) uses.
//
// Append: codec encode -> cipher seal (associated data = every stored field:
// stream, revision, type, timestamp, writer id, tags) -> storage append ->
// replication -> acknowledgement. Read: storage ->
// cipher open -> codec decode. Each stored event carries a small envelope
// naming its codec, cipher and key id, so a site can change codec or rotate
// keys without rewriting old events, and a replica stores the sealed bytes
// without needing keys.
#ifndef CAIRN_STORE_H_
#define CAIRN_STORE_H_

#include <cairn/config.h>
#include <cairn/event.h>
#include <cairn/plugin.h>
#include <cairn/plugin_registry.h>
#include <cairn/status.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cairn {

class Store;

// What a subscription follows. `after` is exclusive: a revision for kStream,
// a position for kTag and kAll. A subscription first catches up on what is
// stored, then goes live, with no gap and no duplicate between the two.
struct SubscriptionFilter {
  enum class Kind { kStream, kTag, kAll };
  Kind kind = Kind::kAll;
  std::string name;  // stream name or tag
  uint64_t after = 0;
};

// A pull cursor over a filter. One thread at a time calls Next; Cancel may be
// called from any thread.
class Subscription {
 public:
  ~Subscription();

  // Returns up to `max` events after the cursor and advances it. Waits up to
  // `timeout` for the first one; returns an empty vector on timeout or after
  // Cancel. A commit wakes the wait (storage's wait_commit); besides, the
  // wait ends every cancel-check interval to look at Cancel (and reads
  // again then).
  absl::StatusOr<std::vector<RecordedEvent>> Next(
      size_t max, std::chrono::milliseconds timeout);

  // The last revision (kStream) or position (kTag, kAll) delivered.
  uint64_t cursor() const { return filter_.after; }
  const SubscriptionFilter& filter() const { return filter_; }

  // Makes a later Next return at once, and a waiting one within the
  // cancel-check interval.
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

  // How often a waiting Next looks at Cancel: 100 ms unless set. Storage's
  // wait_commit cannot be interrupted, so this bounds how late Cancel
  // takes effect. Tests make it long to show that a commit, not this
  // re-check, ended a wait. At least 1 ms. Call before Next, from the
  // thread that calls it.
  void set_cancel_check_interval(std::chrono::milliseconds interval) {
    cancel_check_interval_ = std::max(interval, std::chrono::milliseconds(1));
  }

 private:
  friend class Store;
  Subscription(Store* store, SubscriptionFilter filter)
      : store_(store), filter_(std::move(filter)) {}
  Store* store_;
  SubscriptionFilter filter_;
  std::atomic<bool> cancelled_{false};
  std::chrono::milliseconds cancel_check_interval_{100};
};

// How a host opens a store (Store::Open).
struct StoreOpenOptions {
  // Whether storage may make a new store where there is none yet (e.g. a
  // missing or empty folder). Hosts pass false for commands that only read,
  // so a mistyped path is an error (NotFound), not a new store. Reaches a
  // storage plugin as the host-defined option `create` if the plugin lists
  // it (cairn/plugin.h); a plugin that does not is opened as before.
  bool create = true;
};

// Whether a line Store::Verify hands on_problem reports what a repair open
// did (CAIRN_VERIFY_REPAIRED_PREFIX) rather than a problem.
inline bool IsRepairReport(std::string_view line) {
  return line.substr(0, sizeof(CAIRN_VERIFY_REPAIRED_PREFIX) - 1) ==
         CAIRN_VERIFY_REPAIRED_PREFIX;
}

// The ordered log's watermarks (cairn/plugin.h, "The ordered log"),
// committed <= durable <= written.
struct LogState {
  uint64_t first_position = 0;  // oldest record still held; 0 if none
  uint64_t written = 0;         // every record at or below it is complete
  uint64_t durable = 0;         // synced as storage's fsync policy promises
  uint64_t committed = 0;       // what readers see (see Store::host_commit)
  uint64_t epoch = 0;           // the newest EPOCH record's; 0: none
};

class Store {
 public:
  // Opens the plugins the site names (found in `registry`), checks every
  // option key against what each plugin accepts, and opens storage at
  // config.path (passing `open_options.create` to a storage plugin that
  // accepts `create`). Unless the node is a replica, refuses, before anything
  // is written, a site with no cipher on a store that recorded sealed events,
  // or a keyring that cannot open every key the store recorded (its seal
  // registry, docs/security.md), unless config allows it explicitly
  // (allow_plaintext / allow_new_keyring; logged). The registry must outlive
  // the Store.
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const SiteConfig& config, PluginRegistry& registry,
      const StoreOpenOptions& open_options = {});
  ~Store();  // flushes, then closes replication, storage, cipher, codec

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Appends `events` to `stream` as one atomic batch. Fails with
  // WrongExpectedRevision (see IsWrongExpectedRevision), writing nothing, if
  // the stream's head is not `expected`. Safe from any thread. Returns once
  // replication acknowledged the events (replicate) and, with host_commit(),
  // once the committed watermark covers them, so readers see them.
  // With host_commit(), a replicate failure fails this append with the
  // plugin's message; committed then never passes the positions before
  // the failed range in this Store: appends (and control writes) that
  // started before it and lie past it fail with FailedPrecondition naming
  // the failed range, later ones fail the same way writing nothing, and
  // reads keep seeing the committed prefix. Reopening offers the
  // unacknowledged positions to replication again (docs/architecture.md,
  // "Watermarks").
  //
  // `idempotency_key` (at most 64 bytes; empty: none) names this append on
  // every retry of it. With a storage plugin that keeps keys
  // (IdempotentAppends()), an append whose key one of the stream's last
  // 1024 batches was written with writes nothing and answers that batch's
  // result, with `repeated` set and the epoch it was written in (as the
  // log's EPOCH records say; without them, this node's epoch as for a new
  // append), once replication acknowledged it as for a new append. The key is
  // stored with the batch, so a restart or a failover to a replica that
  // received it keeps it (docs/plugins.md, "Idempotent appends"). Without such
  // a plugin the key is ignored.
  absl::StatusOr<AppendResult> Append(std::string_view stream,
                                      ExpectedRevision expected,
                                      absl::Span<const EventData> events,
                                      std::string_view idempotency_key = {});
  // Whether the storage plugin keeps idempotency keys
  // (CAIRN_CAP_IDEMPOTENT_APPEND).
  bool IdempotentAppends() const;

  // Called once per event, in order; return false to stop early.
  using EventFn = std::function<bool(const RecordedEvent&)>;

  // Events of `stream` with from <= revision <= to, at most max_count,
  // skipping deleted ones. Unknown stream: none, OK.
  absl::Status ReadStream(std::string_view stream, uint64_t from_revision,
                          uint64_t to_revision, uint64_t max_count,
                          const EventFn& on_event);
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      std::string_view stream, uint64_t from_revision = 1,
      uint64_t to_revision = kMaxRevision, uint64_t max_count = kMaxRevision);

  // Events tagged `tag` / all events, with position > after_position.
  absl::Status ReadTag(std::string_view tag, uint64_t after_position,
                       uint64_t max_count, const EventFn& on_event);
  absl::Status ReadAll(uint64_t after_position, uint64_t max_count,
                       const EventFn& on_event);

  absl::StatusOr<uint64_t> HeadRevision(std::string_view stream);
  absl::StatusOr<uint64_t> HeadPosition();
  // Blocks until the head position exceeds `after_position` or timeout;
  // returns the head position either way.
  absl::StatusOr<uint64_t> WaitCommit(uint64_t after_position,
                                      std::chrono::milliseconds timeout);

  // Control writes (DeleteTo, SaveSnapshot, DeleteSnapshot(s),
  // BeginEpoch) are records of the ordered log too. With host_commit() each
  // runs while no append is inside storage (it waits for those in
  // storage, not for their replication), then is replicated and committed
  // like an append, and fails like one after a replicate failure.
  absl::Status DeleteTo(std::string_view stream, uint64_t revision);

  // Snapshot data goes through codec and cipher like event data.
  absl::Status SaveSnapshot(const Snapshot& snapshot);
  absl::StatusOr<std::optional<Snapshot>> LoadSnapshot(
      std::string_view stream, const SnapshotCriteria& criteria = {});
  absl::Status DeleteSnapshot(std::string_view stream, uint64_t revision);
  absl::Status DeleteSnapshots(std::string_view stream,
                               const SnapshotCriteria& criteria);

  absl::StatusOr<std::vector<StreamInfo>> ListStreams(uint64_t after_ordinal,
                                                      uint64_t max_count);

  absl::Status Flush();

  // Storage's watermarks. Unsupported if storage does not report them
  // (neither CAIRN_CAP_ORDERED_LOG nor CAIRN_CAP_HOST_COMMIT). Any thread.
  absl::StatusOr<LogState> GetLogState();

  // Whether this Store advances storage's committed watermark itself: it
  // opened storage with "commit" = "host" because the replication plugin
  // declares CAIRN_CAP_MULTI_NODE (or the site set [storage] commit =
  // host). Then committed is the end of the contiguous prefix of positions
  // replication acknowledged. Otherwise storage keeps committed = durable
  // and the Store never calls set_committed.
  bool host_commit() const;

  // CAIRN_CAP_EPOCHS (else Unsupported). Appends an EPOCH record starting
  // `epoch`, written by node `primary`, and returns its position; a new
  // primary calls it before it accepts appends. FailedPrecondition if
  // `epoch` does not exceed the current one. With host_commit() it is a
  // control write that also replicates and commits every record before it
  // not committed yet (the tail a former replica holds), and returns once
  // the EPOCH record is committed.
  absl::StatusOr<uint64_t> BeginEpoch(uint64_t epoch, std::string_view primary);
  // CAIRN_CAP_EPOCHS: the position of the last written record whose epoch is
  // <= `epoch` (0 if none): where a rejoining node's log diverges.
  absl::StatusOr<uint64_t> EpochEnd(uint64_t epoch);

  // CAIRN_CAP_TRUNCATE (else Unsupported): removes every record after
  // `position` (storage's truncate_after), e.g. a deposed primary's
  // divergent tail after EpochEnd. Below committed needs allow_committed
  // (CAIRN_TRUNCATE_COMMITTED; FailedPrecondition otherwise). Needs
  // host_commit() (FailedPrecondition otherwise): appends and control
  // writes are paused through the Store's write order, which only host
  // commit takes. While it runs no append or control write is inside
  // storage; afterwards the commit tracker starts over at storage's
  // committed watermark: an append still waiting for positions the cut
  // removed fails with Aborted, a replication answer for them is ignored,
  // and a stalled commit (a failed replicate) is cleared, so writes go on.
  absl::Status TruncateAfter(uint64_t position, bool allow_committed = false);

  // What CheckSeals found.
  struct SealCheck {
    uint64_t events = 0;  // stored events read, logically deleted included
    uint64_t sealed = 0;  // of those, sealed ones that opened
    uint64_t legacy = 0;  // of those, sealed by an older build (see
                          // RecordedEvent::legacy_seal)
    uint64_t failed = 0;  // events that failed to open or decode
  };
  // Opens (and decodes) every stored event as a read would, changing
  // nothing, and calls on_problem once per event that fails, naming stream,
  // revision and position. With no cipher configured sealed events fail, naming
  // the cipher they need. Snapshots are not checked. Fails only if storage
  // does. `on_progress`, if set, is called every 4096 events and after the
  // last with the events read so far and the bytes (type, data and
  // metadata) of those that opened.
  using ProgressFn = std::function<void(uint64_t events, uint64_t bytes)>;
  absl::StatusOr<SealCheck> CheckSeals(
      const std::function<void(const std::string&)>& on_problem,
      const ProgressFn& on_progress = nullptr);

  // `cairn verify`: storage's own check of every stored record (checksums,
  // structure, indexes; cairn_storage_api::verify) and then, with a cipher
  // configured or `deep`, CheckSeals, changing nothing. on_problem gets each
  // problem, and each CAIRN_VERIFY_REPAIRED_PREFIX line a repair open left
  // (reported, not counted). With `deep` the seals are opened even after
  // storage found problems, so every event that still reads is checked.
  // Returns one line saying what was checked when nothing was wrong;
  // otherwise Corruption (storage) or Integrity (seals) with the counts.
  // Unsupported if storage has no verify. Runs beside appends and reads
  // (storage checks up to what it had written when the call began).
  // `on_progress` follows the seal pass (CheckSeals); storage's own check
  // reports nothing until it is done.
  absl::StatusOr<std::string> Verify(
      const std::function<void(const std::string&)>& on_problem,
      bool deep = false, const ProgressFn& on_progress = nullptr);

  // Makes a new key of the configured cipher active for later appends (the
  // cipher plugin persists it, e.g. in its keyring file); events sealed
  // under older keys keep opening. Returns the new key id. Fails with
  // Unsupported if the cipher cannot rotate.
  absl::StatusOr<uint32_t> RotateKey();
  // `cairn maintain`: runs the storage's maintenance now (retention as the
  // site configured it, index checkpoints; cairn_storage_api::maintain) and
  // returns one line per change it made, none when there was nothing to do.
  // Unsupported, naming the plugin, if storage has no maintenance. Runs
  // beside appends and reads.
  absl::StatusOr<std::vector<std::string>> Maintain();
  // Storage and replication counters, prefixed "storage." / "replication.";
  // with host_commit() also the Store's own: "store.acknowledged" (end of
  // the acknowledged prefix), "store.committed" (what it set),
  // "store.acks_out_of_order" (acknowledged ranges waiting for an earlier
  // one), "store.acknowledgements" (replicate answers handled) and
  // "store.commit_failed_at" (first unacknowledged position; 0: none).
  absl::StatusOr<std::map<std::string, double>> Stats();

  std::unique_ptr<Subscription> Subscribe(SubscriptionFilter filter);

  // The plugins in use.
  const PluginPtr& storage_plugin() const;
  const PluginPtr& codec_plugin() const;
  const PluginPtr& cipher_plugin() const;
  const PluginPtr& replication_plugin() const;
  // The node's replication role (CAIRN_ROLE_*).
  cairn_replication_role role() const;
  // This node's role, the newest epoch and the leader, as the replication
  // plugin knows them now (leader()); any thread, does not block on peers.
  // On a replica, appends, deletes and snapshot writes fail with
  // CAIRN_E_NOT_LEADER (IsNotLeader) naming this leader (NotLeaderOf).
  LeaderInfo Leader() const;
  // Asks the replication plugin to make this node the primary of a new
  // epoch (promote). FailedPrecondition if a known peer is ahead;
  // Unsupported, saying so, for a single-node plugin. Blocks while the
  // plugin pauses writes: call it from no write or callback.
  absl::Status Promote();
  // How many times replication reported a role change (role_changed).
  uint64_t role_changes() const;
  // Whether Append may wait (an fsync, replicas): the storage plugin
  // declares CAIRN_CAP_APPEND_MAY_BLOCK and its open instance keeps it
  // (instance_capabilities narrows the descriptor's), or the replication
  // plugin declares it. A server runs such appends off its I/O threads.
  // Lock-free; any thread.
  bool AppendMayBlock() const;

  // The opened storage instance, for tools that need raw records (verify,
  // replication). Valid for the Store's lifetime.
  cairn_storage* raw_storage() const;

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn

#endif  // CAIRN_STORE_H_
