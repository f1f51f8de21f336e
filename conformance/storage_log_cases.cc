// Storage conformance: the ordered log (cairn/plugin.h, "The ordered log").
// Each group runs only for a plugin that declares its capability:
// CAIRN_CAP_ORDERED_LOG (read_log, log_state, control records),
// CAIRN_CAP_APPLY (apply_log), CAIRN_CAP_HOST_COMMIT (commit = host,
// set_committed), CAIRN_CAP_TRUNCATE (truncate_after) and CAIRN_CAP_EPOCHS
// (begin_epoch, epoch_end). Failures name the rule (target.h) they break.
#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage_suite.h"

namespace cairn::conformance {
namespace {

std::vector<uint32_t> Kinds(const std::vector<LogRow>& rows) {
  std::vector<uint32_t> out;
  for (const LogRow& r : rows) out.push_back(r.kind);
  return out;
}

// Another instance of the plugin under test, closed on destruction.
class Instance {
 public:
  // `extra` options are added to the target's (e.g. commit = host).
  Instance(const Target& target,
           std::vector<std::pair<std::string, std::string>> extra = {})
      : target_(WithOptions(target, std::move(extra))),
        options_(target_),
        api_(target.plugin->storage()) {
    ErrorBuffer error;
    status_ = api_->open(options_.get(), &store_, error.get());
    message_ = error.message;
  }
  ~Instance() {
    if (store_ != nullptr) api_->close(store_);
  }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  cairn_status status() const { return status_; }
  const std::string& message() const { return message_; }
  cairn_storage* get() const { return store_; }

 private:
  static Target WithOptions(
      Target target, std::vector<std::pair<std::string, std::string>> extra) {
    for (auto& kv : extra) target.options.push_back(std::move(kv));
    return target;
  }
  Target target_;
  OpenOptions options_;
  const cairn_storage_api* api_;
  cairn_storage* store_ = nullptr;
  cairn_status status_ = CAIRN_OK;
  std::string message_;
};

#define ASSERT_OPEN(instance)                                         \
  ASSERT_EQ((instance).status(), CAIRN_OK)                            \
      << "open failed: "                                              \
      << Describe((instance).status(), (instance).message().c_str()); \
  ASSERT_NE((instance).get(), nullptr)

class OrderedLog : public StorageConformance {
 protected:
  // Makes the helpers (ReadAll, ReadLog, MustAppend, ...) use `other` until
  // it goes out of scope.
  class UseStore {
   public:
    UseStore(OrderedLog* test, cairn_storage* other)
        : test_(test), saved_(test->store_) {
      test_->store_ = other;
    }
    ~UseStore() { test_->store_ = saved_; }

   private:
    OrderedLog* test_;
    cairn_storage* saved_;
  };

  // Writes a log with every kind of record the plugin declares: a batch of
  // two tagged events, a delete, a snapshot save and delete, an epoch, one
  // more event. Returns the kinds written, in order.
  std::vector<uint32_t> WriteEveryKind() {
    std::vector<uint32_t> kinds;
    std::vector<EventSpec> batch = Events(2, "log");
    if (target().Has(CAIRN_CAP_TAGS)) batch[1].tags = {"logged"};
    batch[0].timestamp_us = 7;
    MustAppend("log-a", NoStream(), batch);
    kinds.insert(kinds.end(), 2, CAIRN_RECORD_EVENT);
    MustAppend("log-b", NoStream(), Events(1, "b"));
    kinds.push_back(CAIRN_RECORD_EVENT);
    if (target().Has(CAIRN_CAP_DELETE)) {
      DeleteTo("log-a", 1);
      kinds.push_back(CAIRN_RECORD_DELETE_TO);
    }
    if (target().Has(CAIRN_CAP_SNAPSHOTS)) {
      SaveSnapshot("log-a", 2, 11, "two");
      SaveSnapshot("log-b", 1, 12, "one");
      EXPECT_EQ(api_->snapshot_delete(store_, Bytes("log-b"), 1, error_.get()),
                CAIRN_OK)
          << error_.message;
      kinds.insert(kinds.end(),
                   {CAIRN_RECORD_SNAPSHOT_SAVE, CAIRN_RECORD_SNAPSHOT_SAVE,
                    CAIRN_RECORD_SNAPSHOT_DELETE});
    }
    if (target().Has(CAIRN_CAP_EPOCHS)) {
      uint64_t at = 0;
      EXPECT_EQ(
          api_->begin_epoch(store_, 4, Bytes("node-a"), &at, error_.get()),
          CAIRN_OK)
          << error_.message;
      kinds.push_back(CAIRN_RECORD_EPOCH);
      EXPECT_EQ(at, kinds.size()) << "begin_epoch must report its position";
    }
    MustAppend("log-a", Exact(2), Events(1, "tail"));
    kinds.push_back(CAIRN_RECORD_EVENT);
    return kinds;
  }

  template <typename F>
  auto On(cairn_storage* other, F f) {
    UseStore use(this, other);
    return f();
  }

  // What readers see of the streams and tags WriteEveryKind (and the tests)
  // use: compared between a primary and its replica, or before an append
  // and after its truncation.
  struct Visible {
    std::vector<ReadEvent> all, all_with_deleted, tagged;
    std::vector<StreamRow> streams;
    std::vector<uint64_t> heads;
    std::vector<std::optional<SnapshotRow>> snapshots;
    uint64_t head_position = 0;
    bool operator==(const Visible&) const = default;
  };
  Visible See() {
    Visible v;
    v.all = ReadAll();
    v.all_with_deleted = ReadAll(0, CAIRN_MAX_REVISION, true);
    if (target().Has(CAIRN_CAP_TAGS)) v.tagged = ReadTag("logged");
    v.streams = ListStreams();
    for (const char* s : {"log-a", "log-b", "log-c"}) {
      v.heads.push_back(HeadRevision(s));
      if (target().Has(CAIRN_CAP_SNAPSHOTS)) {
        v.snapshots.push_back(LoadSnapshot(s, AllSnapshots()));
      }
    }
    v.head_position = HeadPosition();
    return v;
  }
  // Fails naming `rule` for each part of `got` that differs from `want`.
  static void ExpectSame(const Visible& got, const Visible& want,
                         const char* rule, const std::string& what) {
    EXPECT_EQ(got.all, want.all) << rule << ": read_all " << what;
    EXPECT_EQ(got.all_with_deleted, want.all_with_deleted)
        << rule << ": read_all with deleted events " << what;
    EXPECT_EQ(got.tagged, want.tagged) << rule << ": read_tag " << what;
    EXPECT_EQ(got.streams, want.streams) << rule << ": list_streams " << what;
    EXPECT_EQ(got.heads, want.heads) << rule << ": head_revision " << what;
    EXPECT_EQ(got.snapshots, want.snapshots)
        << rule << ": snapshot_load " << what;
    EXPECT_EQ(got.head_position, want.head_position)
        << rule << ": head_position " << what;
  }

  // Applies `rows` to `replica` one whole batch (or control record) per
  // call, as a replication plugin ships them.
  void ApplyInBatches(cairn_storage* replica, const std::vector<LogRow>& rows) {
    RawRecords raw(rows);
    size_t i = 0;
    while (i < rows.size()) {
      size_t n = rows[i].kind == CAIRN_RECORD_EVENT ? rows[i].batch_size : 1;
      ASSERT_GE(n, 1u) << DescribeRow(rows[i]) << ": batch_size 0";
      cairn_status st = api_->apply_log(replica, raw.data(i), n, error_.get());
      ASSERT_EQ(st, CAIRN_OK)
          << kRuleApplyLogReproduces << ": apply_log of "
          << DescribeRow(rows[i]) << " (" << n
          << " record(s)) failed: " << Describe(st, error_.message);
      i += n;
    }
  }

  // apply_log of `raw` records [first, first + n) onto `replica` must fail
  // with FAILED_PRECONDITION and write nothing.
  void ExpectRefused(cairn_storage* replica, const RawRecords& raw,
                     size_t first, size_t n, const std::string& what) {
    cairn_status st =
        api_->apply_log(replica, raw.data(first), n, error_.get());
    EXPECT_EQ(st, CAIRN_E_FAILED_PRECONDITION)
        << kRuleApplyLogAllOrNothing << ": apply_log of " << what
        << " must be refused with FAILED_PRECONDITION; got "
        << Describe(st, error_.message);
    EXPECT_STRNE(error_.message, "") << what << ": the refusal must say why";
    std::vector<LogRow> left;
    std::string message;
    EXPECT_EQ(
        ReadLogFrom(api_, replica, 0, CAIRN_MAX_REVISION, &left, &message),
        CAIRN_OK)
        << message;
    EXPECT_TRUE(left.empty())
        << kRuleApplyLogAllOrNothing << ": a refused apply_log of " << what
        << " wrote records:" << DescribeRows(left);
  }
};

// ---- read_log, log_state --------------------------------------------------

CAIRN_TEST_P(OrderedLog, ReadLogReturnsEveryRecordInOrderWithGapFreePositions,
             kRuleReadLogEveryRecord) {
  SKIP_UNLESS(CAIRN_CAP_ORDERED_LOG, "read_log and control records");
  std::vector<uint32_t> kinds = WriteEveryKind();
  CheckAndReopen([&] {
    std::vector<LogRow> log = ReadLog();
    ASSERT_EQ(Kinds(log), kinds)
        << kRuleReadLogEveryRecord
        << ": read_log must return every event and control record in the "
           "order written; got:"
        << DescribeRows(log);
    for (size_t i = 0; i < log.size(); ++i) {
      EXPECT_EQ(log[i].position, i + 1)
          << kRuleReadLogEveryRecord << ": record positions are 1-based and "
          << "gap-free over records; got:" << DescribeRows(log);
      if (log[i].kind == CAIRN_RECORD_EVENT) {
        ASSERT_TRUE(log[i].event.has_value())
            << DescribeRow(log[i]) << " has no event";
        EXPECT_EQ(log[i].event->position, log[i].position)
            << DescribeRow(log[i]) << ": its event has another position";
      }
    }
    EXPECT_EQ(log[0].batch_size, 2u) << DescribeRow(log[0]);
    EXPECT_EQ(log[1].batch_index, 1u) << DescribeRow(log[1]);
    // Event reads return the event records only, at the same positions.
    std::vector<uint64_t> event_positions;
    for (const LogRow& r : log) {
      if (r.kind == CAIRN_RECORD_EVENT) event_positions.push_back(r.position);
    }
    std::vector<uint64_t> read_positions;
    for (const ReadEvent& e : ReadAll(0, CAIRN_MAX_REVISION, true)) {
      read_positions.push_back(e.position);
    }
    EXPECT_EQ(read_positions, event_positions)
        << kRuleReadLogEveryRecord
        << ": read_all must return the event records, skipping control ones";
    EXPECT_EQ(HeadPosition(), log.size())
        << "head_position is the last record's, control or not";
    cairn_log_state state = LogState();
    EXPECT_EQ(state.written, log.size());
    EXPECT_EQ(state.committed, log.size())
        << "with commit = durable, committed follows durable";
    EXPECT_LE(state.committed, state.durable);
    EXPECT_LE(state.durable, state.written);
    EXPECT_EQ(state.first_position, 1u);
    // Bounds: after is exclusive, max limits.
    std::vector<LogRow> tail = ReadLog(2, 2);
    ASSERT_EQ(tail.size(), 2u) << "read_log(2, 2)";
    EXPECT_EQ(tail[0].position, 3u);
    EXPECT_TRUE(ReadLog(0, 0).empty()) << "max = 0 reads nothing";
    EXPECT_TRUE(ReadLog(log.size()).empty());
  });
}

// ---- apply_log --------------------------------------------------------------

CAIRN_TEST_P(OrderedLog, ApplyLogOntoASecondInstanceReproducesTheLog,
             kRuleApplyLogReproduces) {
  SKIP_UNLESS(CAIRN_CAP_APPLY, "apply_log (replica writes)");
  WriteEveryKind();
  std::vector<LogRow> primary = ReadLog();
  Instance replica(target());
  ASSERT_OPEN(replica);
  ASSERT_NO_FATAL_FAILURE(ApplyInBatches(replica.get(), primary));
  std::vector<LogRow> copy = On(replica.get(), [&] { return ReadLog(); });
  ASSERT_EQ(copy.size(), primary.size())
      << kRuleApplyLogReproduces << ": primary:" << DescribeRows(primary)
      << "\nreplica:" << DescribeRows(copy);
  for (size_t i = 0; i < copy.size(); ++i) {
    EXPECT_EQ(copy[i], primary[i])
        << kRuleApplyLogReproduces << ": the replica's " << DescribeRow(copy[i])
        << " differs from the primary's " << DescribeRow(primary[i]);
  }
  ExpectSame(On(replica.get(), [&] { return See(); }), See(),
             kRuleApplyLogReproduces,
             "on the replica differs from the primary");
  cairn_log_state mine = LogState();
  cairn_log_state theirs = On(replica.get(), [&] { return LogState(); });
  EXPECT_EQ(theirs.written, mine.written) << kRuleApplyLogReproduces;
  EXPECT_EQ(theirs.epoch, mine.epoch) << kRuleApplyLogReproduces;
  AppendOutcome next =
      AppendTo(api_, replica.get(), "log-a", Exact(3), Events(1, "more"));
  EXPECT_EQ(next.code, CAIRN_OK) << next.message;
  EXPECT_EQ(next.result.first_position, primary.size() + 1)
      << kRuleGapFreePositions << " after apply_log";
  EXPECT_EQ(next.result.first_revision, 4u) << kRuleContiguousRevisions;
}

CAIRN_TEST_P(OrderedLog,
             ApplyLogRefusesWhatDoesNotContinueTheLogAndWritesNothing,
             kRuleApplyLogAllOrNothing) {
  SKIP_UNLESS(CAIRN_CAP_APPLY, "apply_log (replica writes)");
  MustAppend("log-a", NoStream(), Events(2, "pair"));  // 1, 2: one batch
  MustAppend("log-b", NoStream(), Events(1, "one"));   // 3
  std::vector<LogRow> primary = ReadLog();
  ASSERT_EQ(primary.size(), 3u) << DescribeRows(primary);
  Instance replica(target());
  ASSERT_OPEN(replica);
  {
    RawRecords raw(primary);
    ExpectRefused(replica.get(), raw, 2, 1,
                  "a record at position 3 onto an empty log (a gap)");
    ExpectRefused(replica.get(), raw, 0, 1,
                  "the first event of a batch of two, without the second");
    ExpectRefused(replica.get(), raw, 1, 2,
                  "a batch's second event without its first");
  }
  {
    RawRecords raw(primary);
    raw.event_at(2).revision = 2;  // log-b has no event: must be revision 1
    ExpectRefused(replica.get(), raw, 0, 3,
                  "a good batch, then an event whose revision skips one");
  }
  {
    RawRecords raw(primary);
    for (size_t i = 0; i < raw.size(); ++i) raw.at(i).epoch += 5;
    ExpectRefused(replica.get(), raw, 0, 3,
                  "records of an epoch no EPOCH record began");
  }
  RawRecords raw(primary);
  cairn_status st =
      api_->apply_log(replica.get(), raw.data(), raw.size(), error_.get());
  ASSERT_EQ(st, CAIRN_OK) << kRuleApplyLogReproduces << ": "
                          << Describe(st, error_.message);
  UseStore use(this, replica.get());
  EXPECT_EQ(ReadLog(), primary) << kRuleApplyLogReproduces;
}

// ---- commit = host
// ------------------------------------------------------------

CAIRN_TEST_P(OrderedLog, ReadersSeeNothingPastCommittedWithHostCommit,
             kRuleCommittedNotAheadOfAck) {
  SKIP_UNLESS(CAIRN_CAP_HOST_COMMIT, "commit = host (set_committed)");
  Instance host(target(), {{CAIRN_STORAGE_OPTION_COMMIT, "host"}});
  ASSERT_OPEN(host);
  UseStore use(this, host.get());
  std::vector<EventSpec> batch = Events(2, "held");
  if (target().Has(CAIRN_CAP_TAGS)) batch[0].tags = {"logged"};
  MustAppend("log-a", NoStream(), batch);  // 1, 2
  const bool snapshots = target().Has(CAIRN_CAP_SNAPSHOTS);
  if (snapshots) SaveSnapshot("log-a", 2, 5, "held");  // 3
  const uint64_t written = snapshots ? 3 : 2;
  Visible nothing;
  nothing.heads.assign(3, 0);
  if (snapshots) nothing.snapshots.assign(3, std::nullopt);
  ExpectSame(See(), nothing, kRuleCommittedNotAheadOfAck,
             "shows records set_committed never allowed");
  cairn_log_state state = LogState();
  EXPECT_EQ(state.committed, 0u) << kRuleCommittedNotAheadOfAck;
  EXPECT_EQ(state.written, written);
  EXPECT_EQ(ReadLog().size(), written) << "read_log reads up to written";
  // Expected revisions see every written record.
  cairn_append_result r = MustAppend("log-a", Exact(2), Events(1, "third"));
  EXPECT_EQ(r.first_revision, 3u);
  ASSERT_EQ(api_->flush(store_, error_.get()), CAIRN_OK) << error_.message;
  state = LogState();
  cairn_status st =
      api_->set_committed(store_, state.durable + 1, error_.get());
  EXPECT_EQ(st, CAIRN_E_FAILED_PRECONDITION)
      << "set_committed past durable (" << state.durable
      << ") must be refused; got " << Describe(st, error_.message);
  EXPECT_EQ(HeadPosition(), 0u) << kRuleCommittedNotAheadOfAck;

  ASSERT_EQ(api_->set_committed(store_, 2, error_.get()), CAIRN_OK)
      << error_.message;
  Visible two = See();
  EXPECT_EQ(two.head_position, 2u) << kRuleCommittedNotAheadOfAck;
  EXPECT_EQ(two.all.size(), 2u) << kRuleCommittedNotAheadOfAck;
  EXPECT_EQ(two.heads[0], 2u) << kRuleCommittedNotAheadOfAck;
  ASSERT_EQ(two.streams.size(), 1u);
  EXPECT_EQ(two.streams[0].head_revision, 2u) << kRuleCommittedNotAheadOfAck;
  if (target().Has(CAIRN_CAP_TAGS)) {
    EXPECT_EQ(two.tagged.size(), 1u) << kRuleCommittedNotAheadOfAck;
  }
  if (snapshots) {
    EXPECT_EQ(two.snapshots[0], std::nullopt) << kRuleCommittedNotAheadOfAck;
  }
  ASSERT_EQ(api_->set_committed(store_, 1, error_.get()), CAIRN_OK)
      << "a lower set_committed is a no-op, not an error";
  EXPECT_EQ(HeadPosition(), 2u) << "committed must never go down";
  ASSERT_EQ(api_->set_committed(store_, state.durable, error_.get()), CAIRN_OK)
      << error_.message;
  Visible all = See();
  EXPECT_EQ(all.head_position, state.durable);
  EXPECT_EQ(all.heads[0], 3u);
  if (snapshots) {
    EXPECT_NE(all.snapshots[0], std::nullopt);
  }
}

CAIRN_TEST_P(OrderedLog, ControlRecordsTakeEffectOnlyOnceCommitted,
             kRuleControlTakesEffectWhenCommitted) {
  SKIP_UNLESS(CAIRN_CAP_HOST_COMMIT, "commit = host (set_committed)");
  const bool deletes = target().Has(CAIRN_CAP_DELETE);
  const bool snapshots = target().Has(CAIRN_CAP_SNAPSHOTS);
  if (!deletes && !snapshots) GTEST_SKIP() << "no delete_to or snapshots";
  Instance host(target(), {{CAIRN_STORAGE_OPTION_COMMIT, "host"}});
  ASSERT_OPEN(host);
  UseStore use(this, host.get());
  MustAppend("log-a", NoStream(), Events(3, "kept"));  // 1..3
  if (snapshots) {
    SaveSnapshot("log-a", 1, 5, "one");
    SaveSnapshot("log-a", 2, 5, "two");
  }
  ASSERT_EQ(api_->flush(store_, error_.get()), CAIRN_OK) << error_.message;
  const uint64_t committed = LogState().written;
  ASSERT_EQ(api_->set_committed(store_, committed, error_.get()), CAIRN_OK)
      << error_.message;
  const Visible before = See();
  if (deletes) DeleteTo("log-a", 2);
  if (snapshots) {
    SaveSnapshot("log-a", 2, 6, "two replaced");
    EXPECT_EQ(api_->snapshot_delete(store_, Bytes("log-a"), 1, error_.get()),
              CAIRN_OK)
        << error_.message;
  }
  ASSERT_EQ(api_->flush(store_, error_.get()), CAIRN_OK) << error_.message;
  ASSERT_GT(LogState().written, committed) << "no control record was written";
  ExpectSame(See(), before, kRuleControlTakesEffectWhenCommitted,
             "shows a control record set_committed never allowed");
  if (target().Has(CAIRN_CAP_TRUNCATE)) {
    ASSERT_EQ(api_->truncate_after(store_, committed, 0, error_.get()),
              CAIRN_OK)
        << error_.message;
    ExpectSame(See(), before, kRuleControlTakesEffectWhenCommitted,
               "after truncate_after cut the uncommitted control records");
    if (deletes) DeleteTo("log-a", 2);
    ASSERT_EQ(api_->flush(store_, error_.get()), CAIRN_OK) << error_.message;
  }
  // Committed, they take effect.
  ASSERT_EQ(api_->set_committed(store_, LogState().durable, error_.get()),
            CAIRN_OK)
      << error_.message;
  const Visible after = See();
  if (deletes) {
    EXPECT_EQ(after.all.size(), 1u)
        << kRuleControlTakesEffectWhenCommitted
        << ": a committed delete_to to revision 2 of 3 events";
  }
}

CAIRN_TEST_P(OrderedLog, SetCommittedWakesWaitCommit,
             kRuleWaitCommitWokenBySetCommitted) {
  SKIP_UNLESS(CAIRN_CAP_HOST_COMMIT, "commit = host (set_committed)");
  SKIP_UNLESS(CAIRN_CAP_LIVE_READS, "wait_commit");
  Instance host(target(), {{CAIRN_STORAGE_OPTION_COMMIT, "host"}});
  ASSERT_OPEN(host);
  AppendOutcome out = AppendTo(api_, host.get(), "log-a", Any(), Events(1));
  ASSERT_EQ(out.code, CAIRN_OK) << out.message;
  ASSERT_EQ(api_->flush(host.get(), error_.get()), CAIRN_OK);
  // The wait's own timeout is far beyond the bound this test gives
  // set_committed to wake it: a wait that ends only at its timeout (even
  // with CAIRN_OK, the condition holding by then) was not woken.
  constexpr uint32_t kTimeoutMs = 30000;
  constexpr auto kWokenWithin = std::chrono::seconds(10);
  std::atomic<bool> returned{false};
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  cairn_status waited = CAIRN_E_INTERNAL;
  uint64_t seen = 0;
  std::thread waiter([&] {
    ErrorBuffer error;
    waited = api_->wait_commit(host.get(), 0, kTimeoutMs, &seen, error.get());
    returned = true;
    done.set_value();
  });
  // Let the waiter get into wait_commit: through the plugin's "waiters"
  // stat where it has one, else by yielding a bounded number of times.
  for (int i = 0; i < 200000; ++i) {
    double waiters = -1;
    if (api_->stats != nullptr) {
      api_->stats(
          host.get(),
          [](void* c, const char* name, double v) {
            if (std::string(name) == "waiters") *static_cast<double*>(c) = v;
          },
          &waiters, error_.get());
    }
    if (waiters >= 1 || (waiters < 0 && i >= 1000) || returned) break;
    std::this_thread::yield();
  }
  EXPECT_FALSE(returned) << kRuleCommittedNotAheadOfAck
                         << ": wait_commit returned before set_committed "
                            "committed anything";
  ASSERT_EQ(api_->set_committed(host.get(), 1, error_.get()), CAIRN_OK)
      << error_.message;
  const bool woken =
      finished.wait_for(kWokenWithin) == std::future_status::ready;
  waiter.join();
  EXPECT_TRUE(woken) << kRuleWaitCommitWokenBySetCommitted
                     << ": wait_commit (timeout " << kTimeoutMs
                     << " ms) had not returned "
                     << std::chrono::seconds(kWokenWithin).count()
                     << " s after set_committed";
  EXPECT_EQ(waited, CAIRN_OK) << kRuleWaitCommitWokenBySetCommitted;
  EXPECT_EQ(seen, 1u) << "wait_commit must report the committed watermark";
}

// ---- truncate_after ---------------------------------------------------------

CAIRN_TEST_P(OrderedLog, TruncateAfterLeavesNoTraceOfTheCutRecords,
             kRuleTruncateLeavesNoStaleIndex) {
  SKIP_UNLESS(CAIRN_CAP_TRUNCATE, "truncate_after");
  std::vector<EventSpec> tagged = Events(1, "kept");
  if (target().Has(CAIRN_CAP_TAGS)) tagged[0].tags = {"logged"};
  MustAppend("log-a", NoStream(), tagged);
  if (target().Has(CAIRN_CAP_SNAPSHOTS)) SaveSnapshot("log-a", 1, 3, "kept");
  MustAppend("log-a", Exact(1), tagged);
  const Visible before = See();
  const uint64_t cut = HeadPosition();
  const std::vector<LogRow> log_before =
      target().Has(CAIRN_CAP_ORDERED_LOG) ? ReadLog() : std::vector<LogRow>();
  const uint64_t epoch_before =
      target().Has(CAIRN_CAP_ORDERED_LOG) ? LogState().epoch : 0;

  std::vector<EventSpec> gone = Events(1, "gone");
  if (target().Has(CAIRN_CAP_TAGS)) gone[0].tags = {"logged"};
  MustAppend("log-c", NoStream(), gone);
  MustAppend("log-a", Exact(2), gone);
  if (target().Has(CAIRN_CAP_DELETE)) DeleteTo("log-a", 2);
  if (target().Has(CAIRN_CAP_SNAPSHOTS)) SaveSnapshot("log-a", 3, 4, "gone");
  if (target().Has(CAIRN_CAP_EPOCHS)) {
    EXPECT_EQ(api_->begin_epoch(store_, epoch_before + 1, Bytes("node-b"),
                                nullptr, error_.get()),
              CAIRN_OK)
        << error_.message;
  }
  MustAppend("log-c", Exact(1), gone);
  const uint64_t head = HeadPosition();

  cairn_status st = api_->truncate_after(store_, cut, 0, error_.get());
  EXPECT_EQ(st, CAIRN_E_FAILED_PRECONDITION)
      << kRuleTruncateKeepsCommitted << ": truncate_after(" << cut
      << ") below committed " << head
      << " without CAIRN_TRUNCATE_COMMITTED must be refused; got "
      << Describe(st, error_.message);
  EXPECT_EQ(HeadPosition(), head)
      << kRuleTruncateKeepsCommitted << ": a refused truncation cut records";

  st =
      api_->truncate_after(store_, cut, CAIRN_TRUNCATE_COMMITTED, error_.get());
  ASSERT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
  CheckAndReopen([&] {
    ExpectSame(See(), before, kRuleTruncateLeavesNoStaleIndex,
               "after truncate_after still shows a cut record");
    if (target().Has(CAIRN_CAP_ORDERED_LOG)) {
      EXPECT_EQ(ReadLog(), log_before)
          << kRuleTruncateLeavesNoStaleIndex
          << ": read_log after the cut:" << DescribeRows(ReadLog());
      cairn_log_state state = LogState();
      EXPECT_EQ(state.written, cut) << kRuleTruncateLeavesNoStaleIndex;
      EXPECT_LE(state.committed, cut) << kRuleTruncateLeavesNoStaleIndex;
      EXPECT_EQ(state.epoch, epoch_before)
          << kRuleTruncateLeavesNoStaleIndex << ": the cut EPOCH record";
    }
  });
  // New appends reuse the cut positions and revisions.
  cairn_append_result r = MustAppend("log-c", NoStream(), Events(1, "again"));
  EXPECT_EQ(r.first_position, cut + 1) << kRuleTruncateLeavesNoStaleIndex;
  EXPECT_EQ(r.first_revision, 1u) << kRuleTruncateLeavesNoStaleIndex;
  r = MustAppend("log-a", Exact(2), Events(1, "again"));
  EXPECT_EQ(r.first_revision, 3u) << kRuleTruncateLeavesNoStaleIndex;
}

CAIRN_TEST_P(OrderedLog, TruncateAboveCommittedNeedsNoFlag,
             kRuleTruncateKeepsCommitted) {
  SKIP_UNLESS(CAIRN_CAP_TRUNCATE, "truncate_after");
  SKIP_UNLESS(CAIRN_CAP_HOST_COMMIT, "commit = host (set_committed)");
  Instance host(target(), {{CAIRN_STORAGE_OPTION_COMMIT, "host"}});
  ASSERT_OPEN(host);
  UseStore use(this, host.get());
  for (int i = 0; i < 3; ++i) MustAppend("log-a", Any(), Events(1));
  ASSERT_EQ(api_->flush(store_, error_.get()), CAIRN_OK);
  ASSERT_EQ(api_->set_committed(store_, 2, error_.get()), CAIRN_OK)
      << error_.message;
  cairn_status st = api_->truncate_after(store_, 1, 0, error_.get());
  EXPECT_EQ(st, CAIRN_E_FAILED_PRECONDITION)
      << kRuleTruncateKeepsCommitted << ": truncate_after(1) below committed 2";
  st = api_->truncate_after(store_, 2, 0, error_.get());
  ASSERT_EQ(st, CAIRN_OK) << "truncate_after(2) at committed 2 needs no flag: "
                          << Describe(st, error_.message);
  EXPECT_EQ(LogState().written, 2u);
  EXPECT_EQ(HeadRevision("log-a"), 2u);
  EXPECT_EQ(MustAppend("log-a", Exact(2), Events(1)).first_position, 3u);
}

// ---- Epochs -----------------------------------------------------------------

CAIRN_TEST_P(OrderedLog, EpochEndIsTheLastRecordOfTheEpoch, kRuleEpochEnd) {
  SKIP_UNLESS(CAIRN_CAP_EPOCHS, "begin_epoch and epoch_end");
  auto end_of = [&](uint64_t epoch) {
    uint64_t position = 99;
    cairn_status st = api_->epoch_end(store_, epoch, &position, error_.get());
    EXPECT_EQ(st, CAIRN_OK) << Describe(st, error_.message);
    return position;
  };
  EXPECT_EQ(end_of(0), 0u) << kRuleEpochEnd << ": an empty log";
  MustAppend("log-a", Any(), Events(2));  // 1, 2 (epoch 0)
  uint64_t at = 0;
  ASSERT_EQ(api_->begin_epoch(store_, 1, Bytes("node-a"), &at, error_.get()),
            CAIRN_OK)
      << error_.message;
  EXPECT_EQ(at, 3u);
  MustAppend("log-a", Any(), Events(1));  // 4 (epoch 1)
  ASSERT_EQ(api_->begin_epoch(store_, 3, Bytes("node-b"), &at, error_.get()),
            CAIRN_OK)
      << error_.message;
  EXPECT_EQ(at, 5u);
  MustAppend("log-a", Any(), Events(1));  // 6 (epoch 3)
  const std::pair<uint64_t, uint64_t> ends[] = {
      {0, 2}, {1, 4}, {2, 4}, {3, 6}, {9, 6}};
  for (const auto& [epoch, end] : ends) {
    EXPECT_EQ(end_of(epoch), end)
        << kRuleEpochEnd << ": epoch_end(" << epoch << ")";
  }
  for (uint64_t stale : {3u, 2u}) {
    cairn_status st =
        api_->begin_epoch(store_, stale, Bytes("late"), nullptr, error_.get());
    EXPECT_EQ(st, CAIRN_E_FAILED_PRECONDITION)
        << "begin_epoch(" << stale
        << ") at epoch 3: " << Describe(st, error_.message);
  }
  if (target().Has(CAIRN_CAP_ORDERED_LOG)) {
    EXPECT_EQ(LogState().epoch, 3u);
    std::vector<uint64_t> epochs;
    for (const LogRow& r : ReadLog()) epochs.push_back(r.epoch);
    EXPECT_EQ(epochs, (std::vector<uint64_t>{0, 0, 1, 1, 3, 3}))
        << "a record carries the newest EPOCH record's epoch at or before it";
  }
}

// ---- Idempotent appends -----------------------------------------------------

// A repeat must answer the original batch's ranges, flagged, and write
// nothing; keys are per stream; a key one of the stream's newest
// CAIRN_IDEMPOTENCY_WINDOW batches holds is found (also after a reopen); of
// appends racing with one key, exactly one writes.
CAIRN_TEST_P(OrderedLog, ARepeatedIdempotencyKeyWritesNothing,
             kRuleRepeatedKeyWritesNothing) {
  SKIP_UNLESS(CAIRN_CAP_IDEMPOTENT_APPEND, "idempotency keys");
  const char* rule = kRuleRepeatedKeyWritesNothing;
  AppendOutcome first = AppendTo(api_, store_, "idem", NoStream(),
                                 Events(2, "first"), nullptr, "key-1");
  ASSERT_EQ(first.code, CAIRN_OK) << first.message;
  EXPECT_EQ(first.result.repeated, 0u) << rule << ": a first append";
  MustAppend("idem", Exact(2), Events(1, "other"));
  const uint64_t head_position = HeadPosition();
  auto expect_repeat = [&](const AppendOutcome& again, const std::string& how) {
    ASSERT_EQ(again.code, CAIRN_OK)
        << rule << ": " << how << " must answer the original append, not "
        << Describe(again.code, again.message.c_str());
    EXPECT_EQ(again.result.repeated, 1u) << rule << ": " << how;
    EXPECT_EQ(again.result.first_revision, first.result.first_revision)
        << rule << ": " << how;
    EXPECT_EQ(again.result.last_revision, first.result.last_revision)
        << rule << ": " << how;
    EXPECT_EQ(again.result.first_position, first.result.first_position)
        << rule << ": " << how;
    EXPECT_EQ(again.result.last_position, first.result.last_position)
        << rule << ": " << how;
    EXPECT_EQ(HeadRevision("idem"), 3u) << rule << ": " << how << " wrote";
    EXPECT_EQ(HeadPosition(), head_position) << rule << ": " << how << " wrote";
  };
  // Its expected revision no longer holds: a repeat is not checked again.
  expect_repeat(AppendTo(api_, store_, "idem", NoStream(), Events(2, "first"),
                         nullptr, "key-1"),
                "a repeat whose expected revision the stream has passed");
  expect_repeat(AppendTo(api_, store_, "idem", Any(), Events(1, "changed"),
                         nullptr, "key-1"),
                "a repeat with other events");
  AppendOutcome elsewhere = AppendTo(api_, store_, "idem-other", Any(),
                                     Events(1, "o"), nullptr, "key-1");
  ASSERT_EQ(elsewhere.code, CAIRN_OK) << elsewhere.message;
  EXPECT_EQ(elsewhere.result.repeated, 0u)
      << rule << ": keys are per stream; another stream's append wrote";
  EXPECT_EQ(HeadRevision("idem-other"), 1u) << rule;
  AppendOutcome long_key =
      AppendTo(api_, store_, "idem", Any(), Events(1), nullptr,
               std::string(CAIRN_MAX_IDEMPOTENCY_KEY + 1, 'k'));
  EXPECT_EQ(long_key.code, CAIRN_E_INVALID_ARGUMENT)
      << "a key over CAIRN_MAX_IDEMPOTENCY_KEY bytes: "
      << Describe(long_key.code, long_key.message.c_str());
  EXPECT_EQ(HeadRevision("idem"), 3u) << "a refused append wrote";

  // 1022 batches more, every other one keyed: key-1's batch is then the
  // window's oldest.
  for (int i = 0; i < CAIRN_IDEMPOTENCY_WINDOW - 2; ++i) {
    AppendOutcome more =
        AppendTo(api_, store_, "idem", Any(), Events(1 + i % 2, "w"), nullptr,
                 i % 2 == 0 ? "window-" + std::to_string(i) : std::string());
    ASSERT_EQ(more.code, CAIRN_OK) << more.message;
    ASSERT_EQ(more.result.repeated, 0u) << rule << ": a new key, batch " << i;
  }
  const uint64_t head = HeadRevision("idem");
  CheckAndReopen([&] {
    AppendOutcome again = AppendTo(api_, store_, "idem", Any(),
                                   Events(2, "first"), nullptr, "key-1");
    ASSERT_EQ(again.code, CAIRN_OK) << again.message;
    EXPECT_EQ(again.result.repeated, 1u)
        << rule << ": key-1's batch is among the stream's newest "
        << CAIRN_IDEMPOTENCY_WINDOW << " batches (after a reopen too)";
    EXPECT_EQ(again.result.first_position, first.result.first_position) << rule;
    EXPECT_EQ(HeadRevision("idem"), head) << rule << ": a repeat wrote";
  });

  // Racing appends with one key: exactly one writes, all answer it.
  constexpr int kThreads = 6;
  for (int round = 0; round < 10; ++round) {
    const std::string key = "race-" + std::to_string(round);
    const uint64_t before = HeadRevision("idem-race");
    std::vector<AppendOutcome> outcomes(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        outcomes[t] = AppendTo(api_, store_, "idem-race", Any(), Events(3, "r"),
                               nullptr, key);
      });
    }
    for (std::thread& t : threads) t.join();
    int wrote = 0;
    for (const AppendOutcome& o : outcomes) {
      ASSERT_EQ(o.code, CAIRN_OK) << o.message;
      if (o.result.repeated == 0) ++wrote;
      EXPECT_EQ(o.result.first_revision, before + 1)
          << rule << ": every racer answers the one batch written";
    }
    EXPECT_EQ(wrote, 1) << rule << ": " << kThreads
                        << " appends racing with key " << key;
    EXPECT_EQ(HeadRevision("idem-race"), before + 3) << rule;
  }
}

// read_log returns a batch's key on its first record, apply_log stores it,
// and the replica then answers a repeat; truncate_after removes the keys of
// the batches it cuts.
CAIRN_TEST_P(OrderedLog, IdempotencyKeysTravelWithTheLog,
             kRuleKeysTravelWithTheLog) {
  SKIP_UNLESS(CAIRN_CAP_IDEMPOTENT_APPEND, "idempotency keys");
  SKIP_UNLESS(CAIRN_CAP_APPLY, "apply_log (replica writes)");
  const char* rule = kRuleKeysTravelWithTheLog;
  MustAppend("idem", NoStream(), Events(1, "plain"));  // 1
  AppendOutcome keyed = AppendTo(api_, store_, "idem", Exact(1),
                                 Events(2, "keyed"), nullptr, "key-2");
  ASSERT_EQ(keyed.code, CAIRN_OK) << keyed.message;  // 2, 3
  std::vector<LogRow> primary = ReadLog();
  ASSERT_EQ(primary.size(), 3u) << DescribeRows(primary);
  EXPECT_EQ(primary[0].idempotency_key, "") << rule << DescribeRows(primary);
  EXPECT_EQ(primary[1].idempotency_key, "key-2")
      << rule << ": read_log returns a batch's key on its first record:"
      << DescribeRows(primary);
  EXPECT_EQ(primary[2].idempotency_key, "")
      << rule << ": only the batch's first record carries the key:"
      << DescribeRows(primary);
  Instance replica(target());
  ASSERT_OPEN(replica);
  ASSERT_NO_FATAL_FAILURE(ApplyInBatches(replica.get(), primary));
  UseStore use(this, replica.get());
  EXPECT_EQ(ReadLog(), primary)
      << rule
      << ": the replica's log must hold the keys:" << DescribeRows(ReadLog());
  // A failover: the replica, now written to, knows the key.
  AppendOutcome retry = AppendTo(api_, replica.get(), "idem", Exact(1),
                                 Events(2, "keyed"), nullptr, "key-2");
  ASSERT_EQ(retry.code, CAIRN_OK)
      << rule << ": a retry on the replica must answer the original, not "
      << Describe(retry.code, retry.message.c_str());
  EXPECT_EQ(retry.result.repeated, 1u)
      << rule << ": the replica wrote a batch its log already holds";
  EXPECT_EQ(retry.result.first_position, 2u) << rule;
  EXPECT_EQ(HeadPosition(), 3u) << rule << ": the retry wrote";
  if (!target().Has(CAIRN_CAP_TRUNCATE)) return;
  ASSERT_EQ(api_->truncate_after(replica.get(), 1, CAIRN_TRUNCATE_COMMITTED,
                                 error_.get()),
            CAIRN_OK)
      << error_.message;
  AppendOutcome after_cut = AppendTo(api_, replica.get(), "idem", Exact(1),
                                     Events(2, "keyed"), nullptr, "key-2");
  ASSERT_EQ(after_cut.code, CAIRN_OK) << after_cut.message;
  EXPECT_EQ(after_cut.result.repeated, 0u)
      << rule << ": truncate_after cut key-2's batch; its key went with it";
  EXPECT_EQ(HeadRevision("idem"), 3u) << rule;
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OrderedLog);
INSTANTIATE_TEST_SUITE_P(Plugin, OrderedLog,
                         ::testing::ValuesIn(TargetsOfKind(CAIRN_KIND_STORAGE)),
                         TargetName);

}  // namespace
}  // namespace cairn::conformance
