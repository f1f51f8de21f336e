// Control records in the ordered log (control_records.cc): positions, event
// reads skipping them, state derived from the log at reopen, read_log,
// apply_log, log_state, epochs and the segment format version.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "crc32c.h"
#include "log.h"
#include "record.h"
#include "snapshot_store.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

using testing::Any;
using testing::CopyOpenStore;
using testing::OwnedEvent;
using testing::ScratchDir;
using testing::SmallStoreOptions;
using testing::Str;
using testing::WriteLegacyDeletes;

absl::Status Append(Log& log, const std::string& stream,
                    std::vector<std::string> data) {
  std::vector<OwnedEvent> owned(data.size());
  std::vector<cairn_event> events;
  for (size_t i = 0; i < data.size(); ++i) {
    owned[i].data = data[i];
    events.push_back(owned[i].View());
  }
  cairn_append_result r;
  return log.Append(stream, Any(), events.data(), events.size(), &r);
}

std::vector<uint64_t> EventPositions(Log& log, bool include_deleted) {
  std::vector<uint64_t> out;
  EXPECT_TRUE(log.ReadAll(0, 1000, include_deleted,
                          [&](const cairn_event& e) {
                            out.push_back(e.position);
                            return true;
                          })
                  .ok());
  return out;
}

struct Rec {
  uint32_t kind;
  uint64_t position, epoch, revision;
  std::string stream, data;
};
std::vector<Rec> Records(Log& log, uint64_t after = 0) {
  std::vector<Rec> out;
  absl::Status s = log.ReadLog(after, 1000, [&](const cairn_log_record& r) {
    Rec x{r.kind, r.position, r.epoch, r.revision, Str(r.stream), Str(r.data)};
    if (r.kind == CAIRN_RECORD_EVENT) {
      x.stream = Str(r.event->stream);
      x.revision = r.event->revision;
      x.data = Str(r.event->data);
    }
    out.push_back(x);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

std::string LoadSnapshot(Log& log, const std::string& stream,
                         uint64_t* revision = nullptr) {
  cairn_snapshot_criteria all{sizeof all, 0, CAIRN_MAX_REVISION, INT64_MIN,
                              INT64_MAX};
  std::string data = "<none>";
  absl::Status s = log.SnapshotLoad(stream, all, [&](const cairn_snapshot& x) {
    data = Str(x.data);
    if (revision != nullptr) *revision = x.revision;
  });
  EXPECT_TRUE(s.ok()) << s;
  return data;
}

cairn_snapshot_criteria SnapshotCriteriaAll() {
  return cairn_snapshot_criteria{sizeof(cairn_snapshot_criteria), 0,
                                 CAIRN_MAX_REVISION, INT64_MIN, INT64_MAX};
}

absl::Status Save(Log& log, const std::string& stream, uint64_t revision,
                  const std::string& data) {
  cairn_snapshot snap{sizeof snap, OwnedEvent::Bytes(stream), revision, 42,
                      OwnedEvent::Bytes(data)};
  return log.SnapshotSave(snap);
}

class ControlRecordsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> Open(FsyncMode fsync = FsyncMode::kNever) {
    LogOptions o = SmallStoreOptions(dir_.path());
    o.fsync = fsync;
    auto log = Log::Open(o);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  ScratchDir dir_;
};

TEST_F(ControlRecordsTest, ControlRecordsTakePositionsThatEventReadsSkip) {
  auto log = Open();
  ASSERT_TRUE(Append(*log, "a", {"1", "2", "3"}).ok());  // 1..3
  ASSERT_TRUE(log->DeleteTo("a", 1).ok());               // 4
  ASSERT_TRUE(Save(*log, "a", 3, "state").ok());         // 5
  ASSERT_TRUE(Append(*log, "b", {"4"}).ok());            // 6
  EXPECT_EQ(log->HeadPosition(), 6u);
  EXPECT_EQ(EventPositions(*log, false), (std::vector<uint64_t>{2, 3, 6}));
  EXPECT_EQ(EventPositions(*log, true), (std::vector<uint64_t>{1, 2, 3, 6}));
  auto recs = Records(*log);
  ASSERT_EQ(recs.size(), 6u);
  for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].position, i + 1);
  EXPECT_EQ(recs[0].kind, uint32_t{CAIRN_RECORD_EVENT});
  EXPECT_EQ(recs[3].kind, uint32_t{CAIRN_RECORD_DELETE_TO});
  EXPECT_EQ(recs[3].stream, "a");
  EXPECT_EQ(recs[3].revision, 1u);
  EXPECT_EQ(recs[4].kind, uint32_t{CAIRN_RECORD_SNAPSHOT_SAVE});
  EXPECT_EQ(recs[4].data, "state");
  EXPECT_EQ(recs[5].stream, "b");
  // Deleting past the head clamps; deleting no further writes nothing.
  ASSERT_TRUE(log->DeleteTo("a", CAIRN_MAX_REVISION).ok());
  ASSERT_TRUE(log->DeleteTo("a", 2).ok());
  ASSERT_TRUE(log->DeleteTo("nobody", 2).ok());
  recs = Records(*log, 6);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].revision, 3u);
  EXPECT_EQ(EventPositions(*log, false), (std::vector<uint64_t>{6}));
  // No deletes.log any more.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/deletes.log"));
}

TEST_F(ControlRecordsTest, SnapshotsAreRecordsFoundThroughTheIndex) {
  auto log = Open();
  ASSERT_TRUE(Append(*log, "s", {"1", "2", "3"}).ok());
  ASSERT_TRUE(Save(*log, "s", 1, "one").ok());
  ASSERT_TRUE(Save(*log, "s", 2, "two").ok());
  ASSERT_TRUE(Save(*log, "s", 2, "two again").ok());  // replaces
  uint64_t revision = 0;
  EXPECT_EQ(LoadSnapshot(*log, "s", &revision), "two again");
  EXPECT_EQ(revision, 2u);
  cairn_snapshot_criteria only2{sizeof only2, 2, 2, INT64_MIN, INT64_MAX};
  ASSERT_TRUE(log->SnapshotDeleteMatching("s", only2).ok());
  EXPECT_EQ(LoadSnapshot(*log, "s"), "one");
  const uint64_t head = log->HeadPosition();
  ASSERT_TRUE(log->SnapshotDeleteMatching("s", only2).ok());  // none left
  EXPECT_EQ(log->HeadPosition(), head);
  auto recs = Records(*log, head - 1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, uint32_t{CAIRN_RECORD_SNAPSHOT_DELETE});
  EXPECT_EQ(LoadSnapshot(*log, "other"), "<none>");
}

// commit = host: a DELETE_TO, SNAPSHOT_SAVE or SNAPSHOT_DELETE takes effect
// for readers only once set_committed covers it, one that truncate_after
// cuts before that leaves no trace, and the queue of uncommitted ones
// survives a reopen (with the clean close's checkpoint and without it).
TEST_F(ControlRecordsTest, HostCommitShowsControlRecordsOnlyOnceCommitted) {
  LogOptions o = SmallStoreOptions(dir_.path());
  o.commit_host = true;
  cairn_snapshot_criteria rev3{sizeof rev3, 3, 3, INT64_MIN, INT64_MAX};
  {
    auto opened = Log::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status();
    Log& log = **opened;
    ASSERT_TRUE(Append(log, "a", {"1", "2", "3"}).ok());  // 1..3
    ASSERT_TRUE(Save(log, "a", 2, "old").ok());           // 4
    ASSERT_TRUE(log.SetCommitted(4).ok());
    EXPECT_EQ(LoadSnapshot(log, "a"), "old");
    ASSERT_TRUE(log.DeleteTo("a", 2).ok());        // 5
    ASSERT_TRUE(Save(log, "a", 2, "new").ok());    // 6: replaces "old"
    ASSERT_TRUE(Save(log, "a", 3, "three").ok());  // 7
    ASSERT_TRUE(log.SnapshotDeleteMatching("a", rev3).ok());  // 8
    EXPECT_EQ(log.Written(), 8u) << "a delete of a save not yet committed "
                                    "is recorded";
    EXPECT_EQ(EventPositions(log, false), (std::vector<uint64_t>{1, 2, 3}))
        << "an uncommitted delete-to hides events";
    EXPECT_EQ(LoadSnapshot(log, "a"), "old")
        << "an uncommitted snapshot save replaced a committed one";
    ASSERT_TRUE(log.SetCommitted(5).ok());
    EXPECT_EQ(EventPositions(log, false), (std::vector<uint64_t>{3}));
    EXPECT_EQ(LoadSnapshot(log, "a"), "old");
    ASSERT_TRUE(log.SetCommitted(7).ok());
    EXPECT_EQ(LoadSnapshot(log, "a"), "three");
    ASSERT_TRUE(log.SetCommitted(8).ok());
    EXPECT_EQ(LoadSnapshot(log, "a"), "new");

    // Uncommitted, then cut: no trace.
    ASSERT_TRUE(log.DeleteTo("a", 3).ok());  // 9
    ASSERT_TRUE(log.SnapshotDeleteMatching("a", SnapshotCriteriaAll()).ok());
    ASSERT_TRUE(log.TruncateAfter(8, /*allow_committed=*/false).ok());
    EXPECT_EQ(log.Written(), 8u);
    EXPECT_EQ(EventPositions(log, false), (std::vector<uint64_t>{3}));
    EXPECT_EQ(LoadSnapshot(log, "a"), "new");

    // Uncommitted at close: still waiting after the reopen.
    ASSERT_TRUE(log.DeleteTo("a", 3).ok());  // 9
  }
  for (bool checkpoint : {true, false}) {
    SCOPED_TRACE(checkpoint ? "with the checkpoint" : "scanned");
    if (!checkpoint) std::filesystem::remove(dir_.path() + "/index/checkpoint");
    auto opened = Log::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status();
    Log& log = **opened;
    EXPECT_EQ(log.recovery().from_checkpoint, checkpoint);
    EXPECT_EQ(log.Committed(), 8u);
    EXPECT_EQ(EventPositions(log, false), (std::vector<uint64_t>{3}))
        << "the uncommitted delete-to at 9 took effect at open";
    EXPECT_EQ(LoadSnapshot(log, "a"), "new");
    if (!checkpoint) {
      ASSERT_TRUE(log.SetCommitted(9).ok());
      EXPECT_EQ(EventPositions(log, false), (std::vector<uint64_t>{}));
    }
  }
}

// The derived state comes back from the log: with the checkpoint a clean
// close writes, and without it (a full scan).
void CheckReopened(Log& log) {
  EXPECT_EQ(EventPositions(log, false), (std::vector<uint64_t>{3}));
  EXPECT_EQ(LoadSnapshot(log, "a"), "snap");
  cairn_log_state st{};
  st.size = sizeof st;
  log.LogState(&st);
  EXPECT_EQ(st.epoch, 7u);
  EXPECT_EQ(st.written, 6u);
  EXPECT_EQ(log.EpochEnd(6), 5u);
  EXPECT_EQ(log.EpochEnd(7), 6u);
}

TEST_F(ControlRecordsTest, DerivedStateSurvivesReopenWithAndWithoutCheckpoint) {
  {
    auto log = Open();
    ASSERT_TRUE(Append(*log, "a", {"1", "2", "3"}).ok());
    ASSERT_TRUE(log->DeleteTo("a", 2).ok());
    ASSERT_TRUE(Save(*log, "a", 3, "snap").ok());
    uint64_t p = 0;
    ASSERT_TRUE(log->BeginEpoch(7, "", &p).ok());  // no id: a bare header
    EXPECT_EQ(p, 6u);
  }
  {
    auto log = Open();
    EXPECT_TRUE(log->recovery().from_checkpoint);
    CheckReopened(*log);
  }
  std::filesystem::remove(dir_.path() + "/index/checkpoint");
  auto log = Open();
  EXPECT_FALSE(log->recovery().from_checkpoint);
  CheckReopened(*log);
}

// Copies the folder of an open store: what kill -9 leaves when the page
// cache survives (every byte written, no clean close's checkpoint).
uint64_t DeletedTo(Log& log, const std::string& stream) {
  uint64_t d = UINT64_MAX;
  EXPECT_TRUE(log.ListStreams(0, 100,
                              [&](const cairn_stream_info& i) {
                                if (Str(i.name) == stream) d = i.deleted_to;
                                return true;
                              })
                  .ok());
  return d;
}

// A background checkpoint chooses its cut (the end of the newest sealed
// segment) and then encodes the control state, which so covers control
// records after the cut; the open loads it and scans those records again.
// Made deterministic in three steps: the records are written after segment
// 1 is sealed; a copy of the folder without a checkpoint is opened (a scan)
// and its checkpoint written by the open's maintenance pass or by
// RunMaintenance, whichever comes first, with nothing written since; a
// copy of that folder (a kill -9 after the checkpoint) is opened from it.
// The delete-tos (one of a stream created after the cut) keep their value,
// and the snapshot delete is not applied again over the save after it;
// with an uncommitted record queued at the checkpoint (commit = host) and
// without one. (Before cd09182, with a record queued, s came back capped
// at its head at the cut and t's delete-to was lost.)
TEST_F(ControlRecordsTest, CheckpointStateCoveringRecordsAfterItsCutIsKept) {
  for (bool queued : {true, false}) {
    SCOPED_TRACE(queued ? "a record queued at the checkpoint" : "none queued");
    ScratchDir first, scanned, checkpointed;
    LogOptions o = SmallStoreOptions(first.path());
    o.commit_host = true;
    uint64_t first_control = 0, committed = 0;
    auto check = [&](Log& log) {
      EXPECT_EQ(DeletedTo(log, "s"), 90u);
      EXPECT_EQ(DeletedTo(log, "t"), 2u);
      EXPECT_EQ(LoadSnapshot(log, "a"), "new");
      EXPECT_EQ(log.Committed(), committed);
      EXPECT_EQ(LoadSnapshot(log, "b"), "<none>");
    };
    {
      auto opened = Log::Open(o);
      ASSERT_TRUE(opened.ok()) << opened.status();
      Log& log = **opened;
      for (int i = 0; i < 100; ++i) {  // segment 1 fills; s goes on in 2
        ASSERT_TRUE(Append(log, "s", {std::string(900, 'x')}).ok());
      }
      ASSERT_TRUE(Save(log, "a", 1, "old").ok());
      first_control = log.Written();
      ASSERT_TRUE(log.DeleteTo("s", 90).ok());
      ASSERT_TRUE(Append(log, "t", {"1", "2", "3"}).ok());
      ASSERT_TRUE(log.DeleteTo("t", 2).ok());
      ASSERT_TRUE(log.SnapshotDeleteMatching("a", SnapshotCriteriaAll()).ok());
      ASSERT_TRUE(Save(log, "a", 1, "new").ok());
      committed = log.Written();
      ASSERT_TRUE(log.SetCommitted(committed).ok());
      if (queued) {
        ASSERT_TRUE(Save(log, "b", 1, "queued").ok());
      }
      CopyOpenStore(first.path(), scanned.path());
    }
    std::filesystem::remove(scanned.path() + "/index/checkpoint");
    {
      o.path = scanned.path();
      auto opened = Log::Open(o);
      ASSERT_TRUE(opened.ok()) << opened.status();
      Log& log = **opened;
      EXPECT_FALSE(log.recovery().from_checkpoint);
      check(log);
      ASSERT_TRUE(log.RunMaintenance().ok());
      double written = -1;
      log.Stats([&](const char* n, double v) {
        if (std::string_view(n) == "checkpoints_written_total") written = v;
      });
      ASSERT_EQ(written, 1) << "the checkpoint after the scan";
      CopyOpenStore(scanned.path(), checkpointed.path());
    }
    o.path = checkpointed.path();
    auto opened = Log::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status();
    Log& log = **opened;
    ASSERT_TRUE(log.recovery().from_checkpoint);
    ASSERT_LT(log.recovery().checkpoint_position, first_control)
        << "every control record is after the checkpoint's cut";
    check(log);
    if (queued) {
      ASSERT_TRUE(log.SetCommitted(log.Written()).ok());
      EXPECT_EQ(LoadSnapshot(log, "b"), "queued");
    }
  }
}

TEST_F(ControlRecordsTest, EpochsAreRecordsAndEpochEndFindsWhereTheyEnd) {
  auto log = Open();
  EXPECT_EQ(log->EpochEnd(0), 0u);
  ASSERT_TRUE(Append(*log, "a", {"1"}).ok());  // 1, epoch 0
  uint64_t p = 0;
  ASSERT_TRUE(log->BeginEpoch(2, "n1", &p).ok());  // 2
  EXPECT_EQ(p, 2u);
  ASSERT_TRUE(Append(*log, "a", {"2"}).ok());  // 3, epoch 2
  absl::Status s = log->BeginEpoch(2, "n2", &p);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  ASSERT_TRUE(log->BeginEpoch(5, "n2", &p).ok());  // 4
  ASSERT_TRUE(Append(*log, "a", {"3"}).ok());      // 5, epoch 5
  EXPECT_EQ(log->EpochEnd(0), 1u);
  EXPECT_EQ(log->EpochEnd(1), 1u);
  EXPECT_EQ(log->EpochEnd(2), 3u);
  EXPECT_EQ(log->EpochEnd(4), 3u);
  EXPECT_EQ(log->EpochEnd(5), 5u);
  EXPECT_EQ(log->EpochEnd(9), 5u);
  auto recs = Records(*log);
  ASSERT_EQ(recs.size(), 5u);
  std::vector<uint64_t> epochs;
  for (const Rec& r : recs) epochs.push_back(r.epoch);
  EXPECT_EQ(epochs, (std::vector<uint64_t>{0, 2, 2, 5, 5}));
  EXPECT_EQ(recs[3].kind, uint32_t{CAIRN_RECORD_EPOCH});
  EXPECT_EQ(recs[3].data, "n2");
  EXPECT_EQ(EventPositions(*log, true), (std::vector<uint64_t>{1, 3, 5}));
}

TEST_F(ControlRecordsTest, LogStateReportsTheWatermarks) {
  auto log = Open(FsyncMode::kAlways);
  cairn_log_state st{};
  st.size = sizeof st;
  log->LogState(&st);
  EXPECT_EQ(st.first_position, 0u);
  EXPECT_EQ(st.written, 0u);
  ASSERT_TRUE(Append(*log, "a", {"1", "2"}).ok());
  ASSERT_TRUE(log->DeleteTo("a", 1).ok());
  log->LogState(&st);
  EXPECT_EQ(st.first_position, 1u);
  EXPECT_EQ(st.written, 3u);
  EXPECT_EQ(st.durable, 3u);  // fsync=always: durable when it returned
  EXPECT_EQ(st.committed, 3u);
  EXPECT_EQ(st.epoch, 0u);
  // A caller's smaller struct is filled only up to its size.
  cairn_log_state small{};
  small.size = offsetof(cairn_log_state, written) + sizeof(uint64_t);
  small.durable = 99;
  log->LogState(&small);
  EXPECT_EQ(small.written, 3u);
  EXPECT_EQ(small.durable, 99u);
}

// Copies records as read_log returns them (owning their bytes).
struct Copied {
  std::vector<cairn_log_record> records;
  std::vector<std::unique_ptr<cairn_event>> events;
  std::vector<std::unique_ptr<cairn_snapshot_criteria>> criteria;
  std::vector<std::unique_ptr<std::string>> bytes;
  cairn_bytes Keep(cairn_bytes b) {
    bytes.push_back(std::make_unique<std::string>(
        reinterpret_cast<const char*>(b.data), b.size));
    return OwnedEvent::Bytes(*bytes.back());
  }
  std::vector<const cairn_log_record*> Pointers(size_t from, size_t to) {
    std::vector<const cairn_log_record*> out;
    for (size_t i = from; i < to; ++i) out.push_back(&records[i]);
    return out;
  }
};
void CopyLog(Log& log, Copied* c) {
  ASSERT_TRUE(log.ReadLog(0, 1000,
                          [&](const cairn_log_record& r) {
                            cairn_log_record x = r;
                            x.stream = c->Keep(r.stream);
                            x.data = c->Keep(r.data);
                            x.idempotency_key = c->Keep(r.idempotency_key);
                            if (r.event != nullptr) {
                              auto e = std::make_unique<cairn_event>(*r.event);
                              e->stream = c->Keep(e->stream);
                              e->type = c->Keep(e->type);
                              e->data = c->Keep(e->data);
                              e->metadata = c->Keep(e->metadata);
                              e->writer = c->Keep(e->writer);
                              e->tag_count = 0;
                              e->tags = nullptr;
                              x.event = e.get();
                              c->events.push_back(std::move(e));
                            }
                            if (r.criteria != nullptr) {
                              c->criteria.push_back(
                                  std::make_unique<cairn_snapshot_criteria>(
                                      *r.criteria));
                              x.criteria = c->criteria.back().get();
                            }
                            c->records.push_back(x);
                            return true;
                          })
                  .ok());
}

TEST_F(ControlRecordsTest, ApplyLogCopiesEveryRecordAtItsPosition) {
  auto primary = Open();
  uint64_t p;
  ASSERT_TRUE(primary->BeginEpoch(1, "primary", &p).ok());  // 1
  ASSERT_TRUE(Append(*primary, "a", {"1", "2"}).ok());      // 2..3
  ASSERT_TRUE(primary->DeleteTo("a", 1).ok());              // 4
  ASSERT_TRUE(Save(*primary, "a", 2, "snap").ok());         // 5
  cairn_snapshot_criteria c{sizeof c, 9, 9, INT64_MIN, INT64_MAX};
  ASSERT_TRUE(Save(*primary, "a", 9, "x").ok());              // 6
  ASSERT_TRUE(primary->SnapshotDeleteMatching("a", c).ok());  // 7
  ASSERT_TRUE(Append(*primary, "b", {"3"}).ok());             // 8
  Copied copy;
  CopyLog(*primary, &copy);
  ASSERT_EQ(copy.records.size(), 8u);

  ScratchDir replica_dir;
  auto replica = Log::Open(SmallStoreOptions(replica_dir.path()));
  ASSERT_TRUE(replica.ok());
  Log& r = **replica;
  // A gap, a batch cut in two, a wrong epoch: refused, nothing written.
  auto gap = copy.Pointers(1, 8);
  absl::Status s = r.ApplyLog(gap.data(), gap.size());
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  auto half = copy.Pointers(0, 2);
  s = r.ApplyLog(half.data(), half.size());
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  cairn_log_record wrong = copy.records[1];
  wrong.epoch = 4;
  std::vector<const cairn_log_record*> bad = {&copy.records[0], &wrong,
                                              &copy.records[2]};
  s = r.ApplyLog(bad.data(), bad.size());
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(r.HeadPosition(), 0u);

  auto first = copy.Pointers(0, 5);
  ASSERT_TRUE(r.ApplyLog(first.data(), first.size()).ok());
  auto rest = copy.Pointers(5, 8);
  ASSERT_TRUE(r.ApplyLog(rest.data(), rest.size()).ok());
  auto a = Records(*primary), b = Records(r);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].kind, b[i].kind) << i;
    EXPECT_EQ(a[i].position, b[i].position) << i;
    EXPECT_EQ(a[i].epoch, b[i].epoch) << i;
    EXPECT_EQ(a[i].revision, b[i].revision) << i;
    EXPECT_EQ(a[i].stream, b[i].stream) << i;
    EXPECT_EQ(a[i].data, b[i].data) << i;
  }
  EXPECT_EQ(EventPositions(r, false), (std::vector<uint64_t>{3, 8}));
  EXPECT_EQ(LoadSnapshot(r, "a"), "snap");
  EXPECT_EQ(r.EpochEnd(0), 0u);
  EXPECT_EQ(r.EpochEnd(1), 8u);
}

// fsync = always: one apply_log call syncs once, however many batches it
// holds (a replica applies a shipped frame so, and acknowledges after it:
// a sync per batch made every sync and quorum append wait for one replica
// sync per batch, one after the other). What it wrote is durable and
// committed when it returns, its control records in effect.
TEST_F(ControlRecordsTest, ApplyLogSyncsOncePerCall) {
  auto primary = Open();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Append(*primary, "s" + std::to_string(i % 5), {"a", "b"}).ok());
  }
  ASSERT_TRUE(primary->DeleteTo("s0", 2).ok());  // 101
  Copied copy;
  CopyLog(*primary, &copy);
  ASSERT_EQ(copy.records.size(), 101u);

  ScratchDir replica_dir;
  LogOptions o = SmallStoreOptions(replica_dir.path());
  o.fsync = FsyncMode::kAlways;
  o.segment_size = 4 << 20;  // no rotation (its sync) inside the call
  auto replica = Log::Open(o);
  ASSERT_TRUE(replica.ok()) << replica.status();
  Log& r = **replica;
  auto fsyncs = [&] {
    double n = -1;
    r.Stats([&](const char* name, double v) {
      if (std::string_view(name) == "fsyncs_total") n = v;
    });
    return n;
  };
  const double before = fsyncs();
  ASSERT_GE(before, 0);
  auto all = copy.Pointers(0, copy.records.size());
  ASSERT_TRUE(r.ApplyLog(all.data(), all.size()).ok());
  // One sync (SyncCommitted may sync the next segment's header with it).
  const double syncs = fsyncs() - before;
  EXPECT_GE(syncs, 1);
  EXPECT_LE(syncs, 2) << "51 batches and a control record";
  cairn_log_state st{};
  st.size = sizeof st;
  r.LogState(&st);
  EXPECT_EQ(st.written, 101u);
  EXPECT_EQ(st.durable, 101u);
  EXPECT_EQ(st.committed, 101u);
  // The delete-to (positions 1..2, revisions 1..2 of s0) is in effect.
  const std::vector<uint64_t> events = EventPositions(r, false);
  ASSERT_EQ(events.size(), 98u);
  EXPECT_EQ(events.front(), 3u);
}

// commit = host (a replica): a stream's next batch applies while the one
// before it is written but not yet committed; revisions continue from the
// written head, and readers still see only what set_committed allowed.
TEST_F(ControlRecordsTest, ApplyLogCarriesKeysAndTruncationForgetsThem) {
  auto keyed = [](Log& log, std::string_view stream, size_t count,
                  std::string_view key, cairn_append_result* r) {
    std::vector<OwnedEvent> owned(count);
    std::vector<cairn_event> events;
    for (auto& o : owned) events.push_back(o.View());
    *r = cairn_append_result{};
    return log.Append(stream, Expected{CAIRN_EXPECT_ANY, 0}, events.data(),
                      events.size(), r, nullptr, key);
  };
  auto primary = Open();
  cairn_append_result r;
  ASSERT_TRUE(keyed(*primary, "s", 2, "k1", &r).ok());  // 1..2
  ASSERT_TRUE(keyed(*primary, "s", 1, "k2", &r).ok());  // 3
  ASSERT_TRUE(keyed(*primary, "s", 1, "", &r).ok());    // 4
  Copied copy;
  CopyLog(*primary, &copy);
  ASSERT_EQ(copy.records.size(), 4u);
  EXPECT_EQ(Str(copy.records[0].idempotency_key), "k1");
  EXPECT_EQ(copy.records[1].idempotency_key.size, 0u);
  EXPECT_EQ(Str(copy.records[2].idempotency_key), "k2");
  EXPECT_EQ(copy.records[3].idempotency_key.size, 0u);

  ScratchDir replica_dir;
  auto replica = Log::Open(SmallStoreOptions(replica_dir.path()));
  ASSERT_TRUE(replica.ok());
  Log& log = **replica;
  // A key on a batch's second record is refused, nothing written.
  {
    std::vector<cairn_log_record> bad(copy.records.begin(),
                                      copy.records.begin() + 2);
    bad[1].idempotency_key = bad[0].idempotency_key;
    std::vector<const cairn_log_record*> p{&bad[0], &bad[1]};
    absl::Status s = log.ApplyLog(p.data(), p.size());
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
    EXPECT_EQ(log.HeadPosition(), 0u);
  }
  ASSERT_TRUE(log.ApplyLog(copy.Pointers(0, 2).data(), 2).ok());
  // A repeat loads the stream's keys into memory...
  ASSERT_TRUE(keyed(log, "s", 2, "k1", &r).ok());
  EXPECT_EQ(r.repeated, 1u) << "the applied batch's key answers";
  EXPECT_EQ(r.first_position, 1u);
  // ...and a keyed batch applied afterwards must not find them stale.
  ASSERT_TRUE(log.ApplyLog(copy.Pointers(2, 4).data(), 2).ok());
  ASSERT_TRUE(keyed(log, "s", 1, "k2", &r).ok());
  EXPECT_EQ(r.repeated, 1u) << "k2 arrived by apply_log after the load";
  EXPECT_EQ(r.first_position, 3u);
  EXPECT_EQ(log.HeadPosition(), 4u);
  // Reopened: read back from the replica's own segments.
  replica->reset();
  replica = Log::Open(SmallStoreOptions(replica_dir.path()));
  ASSERT_TRUE(replica.ok()) << replica.status();
  ASSERT_TRUE(keyed(**replica, "s", 2, "k1", &r).ok());
  EXPECT_EQ(r.repeated, 1u);
  ASSERT_TRUE((*replica)->TruncateAfter(2, /*allow_committed=*/true).ok());
  ASSERT_TRUE(keyed(**replica, "s", 1, "k2", &r).ok());
  EXPECT_EQ(r.repeated, 0u) << "the cut batch took its key with it";
  EXPECT_EQ(r.first_position, 3u);
  ASSERT_TRUE(keyed(**replica, "s", 2, "k1", &r).ok());
  EXPECT_EQ(r.repeated, 1u) << "a batch before the cut keeps its key";
}

TEST_F(ControlRecordsTest, ApplyLogContinuesAStreamPastItsUncommittedHead) {
  auto primary = Open();
  ASSERT_TRUE(Append(*primary, "a", {"1"}).ok());  // 1
  ASSERT_TRUE(Append(*primary, "a", {"2"}).ok());  // 2
  Copied copy;
  CopyLog(*primary, &copy);
  ASSERT_EQ(copy.records.size(), 2u);

  ScratchDir replica_dir;
  LogOptions o = SmallStoreOptions(replica_dir.path());
  o.commit_host = true;
  auto replica = Log::Open(o);
  ASSERT_TRUE(replica.ok());
  Log& r = **replica;
  auto first = copy.Pointers(0, 1);
  ASSERT_TRUE(r.ApplyLog(first.data(), first.size()).ok());
  auto second = copy.Pointers(1, 2);
  absl::Status s = r.ApplyLog(second.data(), second.size());
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(r.HeadPosition(), 0u);
  ASSERT_TRUE(r.SetCommitted(2).ok());
  EXPECT_EQ(r.HeadRevision("a"), 2u);
  EXPECT_EQ(EventPositions(r, false), (std::vector<uint64_t>{1, 2}));
}

// Rewrites segment 1's header version word (and its checksum).
void SetSegmentVersion(const std::string& dir, uint32_t version) {
  const std::string path = dir + "/" + SegmentFileName(1);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  uint8_t h[kSegmentHeaderSize];
  f.read(reinterpret_cast<char*>(h), sizeof h);
  std::memcpy(h + 8, &version, 4);
  const uint32_t crc = Crc32c(0, h, 40);
  std::memcpy(h + 40, &crc, 4);
  f.seekp(0);
  f.write(reinterpret_cast<const char*>(h), sizeof h);
}
uint32_t SegmentVersion(const std::string& dir) {
  std::ifstream f(dir + "/" + SegmentFileName(1), std::ios::binary);
  uint8_t h[kSegmentHeaderSize];
  f.read(reinterpret_cast<char*>(h), sizeof h);
  uint32_t v;
  std::memcpy(&v, h + 8, 4);
  return v;
}

TEST_F(ControlRecordsTest, VersionOneSegmentsAreReadAndMovedOnBeforeControl) {
  {
    auto log = Open();
    ASSERT_TRUE(Append(*log, "a", {"1", "2"}).ok());
  }
  EXPECT_EQ(SegmentVersion(dir_.path()), kFormatVersion);
  SetSegmentVersion(dir_.path(), 1);  // as version-1 code left it
  std::filesystem::remove(dir_.path() + "/index/checkpoint");
  {
    auto log = Open();
    EXPECT_EQ(EventPositions(*log, false), (std::vector<uint64_t>{1, 2}));
    // The active segment receives control records: it is current now.
    EXPECT_EQ(SegmentVersion(dir_.path()), kFormatVersion);
    ASSERT_TRUE(log->DeleteTo("a", 1).ok());
  }
  auto log = Open();
  EXPECT_EQ(EventPositions(*log, false), (std::vector<uint64_t>{2}));
}

// A version-2 segment (before idempotency keys) is read as it is and moved
// on before a record with a key can land in it.
TEST_F(ControlRecordsTest, VersionTwoSegmentsAreReadAndMovedOnBeforeKeys) {
  {
    auto log = Open();
    ASSERT_TRUE(Append(*log, "a", {"1", "2"}).ok());
  }
  SetSegmentVersion(dir_.path(), 2);  // as version-2 code left it
  {
    auto opened = Log::Open(SmallStoreOptions(dir_.path(), /*create=*/false));
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(EventPositions(**opened, false), (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(SegmentVersion(dir_.path()), 2u) << "a read-only open";
    // Even there, a key moves the segment on first.
    OwnedEvent e;
    cairn_event events[] = {e.View()};
    cairn_append_result r{};
    ASSERT_TRUE((*opened)
                    ->Append("a", Expected{CAIRN_EXPECT_ANY, 0}, events, 1, &r,
                             nullptr, "key")
                    .ok());
    EXPECT_EQ(SegmentVersion(dir_.path()), kFormatVersion);
  }
  SetSegmentVersion(dir_.path(), 2);
  auto log = Open();
  EXPECT_EQ(SegmentVersion(dir_.path()), kFormatVersion)
      << "an open that may write moves it on";
  EXPECT_EQ(EventPositions(*log, false), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(ControlRecordsTest, AnUnknownSegmentVersionIsRefusedByName) {
  {
    auto log = Open();
    ASSERT_TRUE(Append(*log, "a", {"1"}).ok());
  }
  const uint32_t newer = kFormatVersion + 1;
  SetSegmentVersion(dir_.path(), newer);
  auto log = Log::Open(SmallStoreOptions(dir_.path()));
  ASSERT_FALSE(log.ok());
  const std::string m(log.status().message());
  EXPECT_NE(m.find("00000001.log"), std::string::npos) << m;
  EXPECT_NE(m.find("format version " + std::to_string(newer)),
            std::string::npos)
      << m;
  EXPECT_EQ(SegmentVersion(dir_.path()), newer);  // nothing was changed
}

// A store as a build from before control records left it: events, a
// deletes.log and a snapshot file.
void MakeLegacyStore(const std::string& dir) {
  {
    auto log = Log::Open(SmallStoreOptions(dir));
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(Append(**log, "a", {"1", "2", "3"}).ok());
    ASSERT_TRUE(Append(**log, "b", {"4"}).ok());
  }
  WriteLegacyDeletes(dir, {{"a", 1}, {"a", 2}, {"b", 9}});
  SnapshotStore legacy(FileSystem::Default(), dir + "/snapshots", true);
  const std::string stream = "a", data = "legacy";  // outlive `snap`
  cairn_snapshot snap{sizeof snap, OwnedEvent::Bytes(stream), 3, 11,
                      OwnedEvent::Bytes(data)};
  ASSERT_TRUE(legacy.Save(snap).ok());
}

size_t SnapshotFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(dir + "/snapshots")) {
    n += e.path().extension() == ".snap";
  }
  return n;
}

void ExpectUpgraded(Log& log, const std::string& dir) {
  EXPECT_FALSE(std::filesystem::exists(dir + "/deletes.log"));
  EXPECT_EQ(SnapshotFiles(dir), 0u);
  EXPECT_EQ(EventPositions(log, false), (std::vector<uint64_t>{3}));
  EXPECT_EQ(LoadSnapshot(log, "a"), "legacy");
  // Exactly one record per stream's delete-to and one per snapshot.
  std::vector<std::string> control;
  for (const Rec& r : Records(log)) {
    if (r.kind == CAIRN_RECORD_EVENT) continue;
    control.push_back(std::to_string(r.kind) + ":" + r.stream + ":" +
                      std::to_string(r.revision));
  }
  EXPECT_EQ(control, (std::vector<std::string>{"2:a:2", "2:b:1", "3:a:3"}));
}

TEST_F(ControlRecordsTest, UpgradeTurnsDeletesLogAndSnapshotFilesIntoRecords) {
  MakeLegacyStore(dir_.path());
  {
    auto log = Open();
    EXPECT_TRUE(log->recovery().upgraded);
    ExpectUpgraded(*log, dir_.path());
  }
  auto log = Open();
  EXPECT_FALSE(log->recovery().upgraded);
  ExpectUpgraded(*log, dir_.path());
}

// A command that only reads (create = false) rewrites nothing of an old
// store: the version-1 segment, deletes.log and snapshots/ stay as they
// are and are read as they are; the next open that may write upgrades.
TEST_F(ControlRecordsTest, ReadOnlyOpenReadsAnOldStoreWithoutUpgradingIt) {
  MakeLegacyStore(dir_.path());
  SetSegmentVersion(dir_.path(), 1);
  std::filesystem::remove(dir_.path() + "/index/checkpoint");
  {
    auto opened = Log::Open(SmallStoreOptions(dir_.path(), /*create=*/false));
    ASSERT_TRUE(opened.ok()) << opened.status();
    Log& log = **opened;
    EXPECT_FALSE(log.recovery().upgraded);
    EXPECT_EQ(EventPositions(log, false), (std::vector<uint64_t>{3}));
    EXPECT_EQ(LoadSnapshot(log, "a"), "legacy");
    for (const Rec& r : Records(log)) {
      EXPECT_EQ(r.kind, uint32_t{CAIRN_RECORD_EVENT}) << r.position;
    }
  }
  EXPECT_EQ(SegmentVersion(dir_.path()), 1u);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/deletes.log"));
  EXPECT_EQ(SnapshotFiles(dir_.path()), 1u);
  auto log = Open();
  EXPECT_TRUE(log->recovery().upgraded);
  EXPECT_EQ(SegmentVersion(dir_.path()), kFormatVersion);
  ExpectUpgraded(*log, dir_.path());
}

// A failure injected after each step of the upgrade (as a crash there
// would leave it): the next open finishes it, losing and doubling nothing.
TEST_F(ControlRecordsTest, UpgradeStoppedAfterAnyStepIsFinishedByTheNextOpen) {
  for (const char* step :
       {"deletes-written", "records-durable", "marks-cleared"}) {
    SCOPED_TRACE(step);
    ScratchDir dir;
    MakeLegacyStore(dir.path());
    LogOptions o = SmallStoreOptions(dir.path());
    o.upgrade_hook = [&](std::string_view at) {
      return at == step ? absl::InternalError("injected") : absl::OkStatus();
    };
    auto failed = Log::Open(o);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().message(), "injected");
    auto log = Log::Open(SmallStoreOptions(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    ExpectUpgraded(**log, dir.path());
  }
}

// The header check knows the kinds: control records may have an empty
// stream and revision 0, events may not; an unknown kind (or 1, which only
// the ABI uses for events) is a damaged header.
TEST(ControlRecordFormat, TheHeaderCheckKnowsTheKinds) {
  auto check = [](uint16_t kind, std::string_view stream, uint64_t revision) {
    cairn_event e{};
    e.size = sizeof e;
    const size_t size = RecordSize(stream, e);
    std::vector<uint8_t> buf(size + 8, 0);
    EncodeRecord(buf.data(), stream, e, 1, revision, 1, 0,
                 static_cast<uint32_t>(size), kind);
    PublishLength(buf.data(), static_cast<uint32_t>(size));
    RecordHeader h;
    RecordCheck c = CheckRecord(buf.data(), buf.size(), &h);
    return c == RecordCheck::kOk ? static_cast<int>(h.kind) : -1;
  };
  EXPECT_EQ(check(kKindEvent, "s", 1), 0);
  EXPECT_EQ(check(kKindEvent, "", 1), -1);
  EXPECT_EQ(check(kKindEvent, "s", 0), -1);
  EXPECT_EQ(check(kKindEpoch, "", 3), kKindEpoch);
  EXPECT_EQ(check(kKindSnapshotDelete, "s", 0), kKindSnapshotDelete);
  EXPECT_EQ(check(CAIRN_RECORD_EVENT, "s", 1), -1);
  EXPECT_EQ(check(kLastKind + 1, "s", 1), -1);
}

}  // namespace
}  // namespace cairn::mmaplog
