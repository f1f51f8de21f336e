// Retention by whole segments and the periodic index checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "log.h"
#include "record.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

using testing::Any;
using testing::Exact;
using testing::NoStream;
using testing::OwnedEvent;
using testing::ScratchDir;
using testing::Str;

constexpr uint64_t kSegment = 64 << 10;

LogOptions Options(const std::string& dir,
                   RetentionMode mode = RetentionMode::kNone,
                   uint64_t bytes = 0) {
  LogOptions o;
  o.path = dir;
  o.segment_size = kSegment;
  o.fsync = FsyncMode::kNever;
  o.stream_bucket_bits = 8;
  o.retention = mode;
  o.retention_bytes = bytes;
  return o;
}

void AppendN(Log& log, const std::string& stream, int n, size_t size = 900,
             std::vector<std::string> tags = {}) {
  for (int i = 0; i < n; ++i) {
    OwnedEvent o;
    o.data = std::string(size, static_cast<char>('a' + i % 26));
    o.tags = tags;
    cairn_event e = o.View();
    cairn_append_result r;
    ASSERT_TRUE(log.Append(stream, Any(), &e, 1, &r).ok());
  }
}

double Stat(const Log& log, const std::string& name) {
  double value = -1;
  log.Stats([&](const char* n, double v) {
    if (name == n) value = v;
  });
  return value;
}

// Seals every finished segment (Flush waits for a flusher pass), then runs
// retention and the checkpoint as the background thread would.
void SealAndMaintain(Log& log) {
  ASSERT_TRUE(log.Flush().ok());
  ASSERT_TRUE(log.RunMaintenance().ok());
}

struct Event {
  std::string stream;
  uint64_t revision;
  uint64_t position;
};

std::vector<Event> All(Log& log, uint64_t after = 0) {
  std::vector<Event> out;
  absl::Status s = log.ReadAll(after, UINT64_MAX, true, [&](const cairn_event& e) {
    out.push_back({Str(e.stream), e.revision, e.position});
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

std::vector<uint64_t> Revisions(Log& log, const std::string& stream,
                                uint64_t from = 1) {
  std::vector<uint64_t> out;
  absl::Status s = log.ReadStream(stream, from, CAIRN_MAX_REVISION, UINT64_MAX,
                                  [&](const cairn_event& e) {
                                    out.push_back(e.revision);
                                    return true;
                                  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

std::vector<uint64_t> TagPositions(Log& log, const std::string& tag,
                                   uint64_t after = 0) {
  std::vector<uint64_t> out;
  absl::Status s = log.ReadTag(tag, after, UINT64_MAX, [&](const cairn_event& e) {
    out.push_back(e.position);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

bool SegmentFileExists(const std::string& dir, uint64_t number) {
  return std::filesystem::exists(dir + "/" + SegmentFileName(number));
}

// Everything a reader may rely on after retention removed a prefix: reads
// start at the first retained position and are gap-free to the head.
// Records (events and control records) are gap-free; event reads skip the
// control records' positions.
void ExpectContiguousFromFirstPosition(Log& log) {
  std::vector<uint64_t> all;
  ASSERT_TRUE(log.ReadLog(log.FirstPosition() - 1, UINT64_MAX,
                          [&](const cairn_log_record& r) {
                            all.push_back(r.position);
                            return true;
                          })
                  .ok());
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front(), log.FirstPosition());
  for (size_t i = 1; i < all.size(); ++i) {
    ASSERT_EQ(all[i], all[i - 1] + 1);
  }
  EXPECT_EQ(all.back(), log.HeadPosition());
}

TEST(MmapLogRetention, OptionParsesEachModeAndNamesABadValue) {
  RetentionMode mode;
  uint64_t bytes = 0;
  ASSERT_TRUE(ParseRetention("none", &mode, &bytes).ok());
  EXPECT_EQ(mode, RetentionMode::kNone);
  ASSERT_TRUE(ParseRetention("deleted", &mode, &bytes).ok());
  EXPECT_EQ(mode, RetentionMode::kDeleted);
  ASSERT_TRUE(ParseRetention("bytes:10GiB", &mode, &bytes).ok());
  EXPECT_EQ(mode, RetentionMode::kBytes);
  EXPECT_EQ(bytes, 10ull << 30);
  for (const char* bad : {"", "bytes:", "bytes:0", "bytes:ten", "bytes:5XB",
                          "Deleted", "segments:3", "bytes"}) {
    absl::Status s = ParseRetention(bad, &mode, &bytes);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad;
    EXPECT_NE(s.message().find("option 'retention'"), std::string::npos) << s;
    EXPECT_NE(s.message().find("'" + std::string(bad) + "'"), std::string::npos)
        << s;
  }
}

TEST(MmapLogRetention, NoneIsTheDefaultAndKeepsEverySegment) {
  ScratchDir dir;
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok());
  AppendN(**log, "s", 400);
  SealAndMaintain(**log);
  EXPECT_EQ(Stat(**log, "segments_removed_total"), 0);
  EXPECT_EQ((*log)->FirstPosition(), 1u);
  EXPECT_TRUE(SegmentFileExists(dir.path(), 1));
  EXPECT_EQ(All(**log).size(), 400u);
}

TEST(MmapLogRetention, BytesRemovesOldestSealedSegmentsKeepingPositions) {
  ScratchDir dir;
  auto log = Log::Open(Options(dir.path(), RetentionMode::kBytes, 4 * kSegment));
  ASSERT_TRUE(log.ok());
  AppendN(**log, "gone", 100, 900, {"t"});   // only in the oldest segments
  AppendN(**log, "long", 400, 900, {"t"});   // spans removed and kept ones
  const uint64_t head_position = (*log)->HeadPosition();
  SealAndMaintain(**log);

  const double removed = Stat(**log, "segments_removed_total");
  ASSERT_GT(removed, 0);
  EXPECT_LE(Stat(**log, "segments") * kSegment, 4 * kSegment);
  EXPECT_FALSE(SegmentFileExists(dir.path(), 1));
  EXPECT_GT((*log)->FirstPosition(), 101u);
  EXPECT_EQ(Stat(**log, "first_position"),
            static_cast<double>((*log)->FirstPosition()));
  // No renumbering: the head position is what it was, reads from 0 start at
  // the first retained position.
  EXPECT_EQ((*log)->HeadPosition(), head_position);
  ExpectContiguousFromFirstPosition(**log);
  EXPECT_EQ(All(**log, 5).front().position, (*log)->FirstPosition());
  // A stream keeps its head and expected-revision checks; reads return what
  // remains.
  EXPECT_EQ((*log)->HeadRevision("gone"), 100u);
  EXPECT_TRUE(Revisions(**log, "gone").empty());
  std::vector<uint64_t> kept = Revisions(**log, "long");
  ASSERT_FALSE(kept.empty());
  EXPECT_GT(kept.front(), 1u);
  EXPECT_EQ(kept.back(), 400u);
  EXPECT_EQ(kept.size(), 400u - kept.front() + 1);
  EXPECT_EQ(Revisions(**log, "long", 2), kept);
  EXPECT_TRUE(absl::IsAborted([&] {
    OwnedEvent o;
    cairn_event e = o.View();
    cairn_append_result r;
    return (*log)->Append("gone", NoStream(), &e, 1, &r);
  }()));
  {
    OwnedEvent o;
    cairn_event e = o.View();
    cairn_append_result r;
    ASSERT_TRUE((*log)->Append("gone", Exact(100), &e, 1, &r).ok());
    EXPECT_EQ(r.first_revision, 101u);
    EXPECT_EQ(Revisions(**log, "gone"), std::vector<uint64_t>{101});
  }
  // The tag index skips what was removed.
  std::vector<uint64_t> tagged = TagPositions(**log, "t");
  ASSERT_FALSE(tagged.empty());
  EXPECT_EQ(tagged.front(), (*log)->FirstPosition());
  EXPECT_TRUE((*log)->Verify([](const std::string& p) { ADD_FAILURE() << p; }).ok());
}

// bytes:SIZE counts each segment at its own size when segment-size changed
// between opens: raised, the older small segments are not counted at the
// new size (which dropped history that fit in SIZE); lowered, the older
// large ones are not undercounted (which kept more than SIZE).
TEST(MmapLogRetention, BytesCountsEachSegmentAtItsOwnSize) {
  {
    ScratchDir dir;
    {
      auto log = Log::Open(Options(dir.path()));
      ASSERT_TRUE(log.ok());
      AppendN(**log, "s", 300);  // about 5 segments of 64 KiB
      ASSERT_TRUE((*log)->Flush().ok());
    }
    LogOptions raised =
        Options(dir.path(), RetentionMode::kBytes, 8 * kSegment);
    raised.segment_size = 4 * kSegment;
    auto log = Log::Open(raised);
    ASSERT_TRUE(log.ok()) << log.status();
    const double segments = Stat(**log, "segments");
    ASSERT_GE(segments, 4);
    ASSERT_LE(segments, 8);
    SealAndMaintain(**log);
    EXPECT_EQ(Stat(**log, "segments_removed_total"), 0);
    EXPECT_EQ((*log)->FirstPosition(), 1u);
    EXPECT_EQ(All(**log).size(), 300u);
  }
  {
    ScratchDir dir;
    {
      LogOptions large = Options(dir.path());
      large.segment_size = 4 * kSegment;
      auto log = Log::Open(large);
      ASSERT_TRUE(log.ok());
      AppendN(**log, "s", 600);  // two sealed segments of 256 KiB, a third
      ASSERT_TRUE((*log)->Flush().ok());
      ASSERT_GE(Stat(**log, "segments"), 3);
    }
    auto log =
        Log::Open(Options(dir.path(), RetentionMode::kBytes, 5 * kSegment));
    ASSERT_TRUE(log.ok()) << log.status();
    SealAndMaintain(**log);
    EXPECT_GE(Stat(**log, "segments_removed_total"), 2);
    EXPECT_LE(Stat(**log, "segments"), 2);
    EXPECT_GT((*log)->FirstPosition(), 1u);
    ExpectContiguousFromFirstPosition(**log);
  }
}

// Every segment retention removes is reported once, with its file, its
// positions and its size: by RunMaintenance's caller (the storage's
// maintain) when that pass removes it, else by the background pass (the
// open's, here) through LogOptions::info. A pass with nothing to remove
// reports no removal.
TEST(MmapLogRetention, EachRemovedSegmentIsReportedOnceWithItsPositions) {
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "s", 400);
    ASSERT_TRUE((*log)->Flush().ok());
  }
  std::mutex mu;
  std::vector<std::string> lines;
  LogOptions o = Options(dir.path(), RetentionMode::kBytes, 3 * kSegment);
  o.info = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(line);
  };
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  auto collect = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(line);
  };
  ASSERT_TRUE((*log)->RunMaintenance(collect).ok());
  const double removed = Stat(**log, "segments_removed_total");
  ASSERT_GE(removed, 2);
  std::vector<std::string> removals;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& line : lines) {
      if (line.rfind("removed segment ", 0) == 0) removals.push_back(line);
    }
    lines.clear();
  }
  ASSERT_EQ(removals.size(), static_cast<size_t>(removed));
  std::sort(removals.begin(), removals.end());
  EXPECT_EQ(removals[0].rfind("removed segment 00000001.log (positions 1-", 0),
            0u)
      << removals[0];
  EXPECT_NE(removals[0].find(absl::StrCat(
                ", ", kSegment, " bytes; retention bytes:", 3 * kSegment, ")")),
            std::string::npos)
      << removals[0];
  ASSERT_TRUE((*log)->RunMaintenance(collect).ok());
  for (const std::string& line : lines) {
    EXPECT_EQ(line.rfind("removed", 0), std::string::npos) << line;
  }
}

TEST(MmapLogRetention, ReopenAfterRetentionKeepsHeadsWithAndWithoutCheckpoint) {
  ScratchDir dir;
  uint64_t first_position = 0, head_position = 0;
  {
    auto log = Log::Open(Options(dir.path(), RetentionMode::kBytes, 3 * kSegment));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "gone", 100, 900, {"t"});
    AppendN(**log, "long", 300, 900, {"t"});
    SealAndMaintain(**log);
    ASSERT_GT(Stat(**log, "segments_removed_total"), 0);
    first_position = (*log)->FirstPosition();
    head_position = (*log)->HeadPosition();
  }
  for (bool drop_checkpoint : {false, true}) {
    SCOPED_TRACE(drop_checkpoint ? "scan" : "checkpoint");
    if (drop_checkpoint) {
      std::filesystem::remove(dir.path() + "/index/checkpoint");
    }
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->recovery().from_checkpoint, !drop_checkpoint);
    EXPECT_TRUE((*log)->recovery().problems.empty())
        << (*log)->recovery().problems.front();
    EXPECT_EQ((*log)->FirstPosition(), first_position);
    EXPECT_EQ((*log)->HeadPosition(), head_position);
    EXPECT_EQ((*log)->HeadRevision("gone"), 100u);
    EXPECT_EQ((*log)->HeadRevision("long"), 300u);
    EXPECT_TRUE(Revisions(**log, "gone").empty());
    std::vector<uint64_t> kept = Revisions(**log, "long");
    ASSERT_FALSE(kept.empty());
    EXPECT_EQ(kept.size(), 300u - kept.front() + 1);
    ExpectContiguousFromFirstPosition(**log);
    EXPECT_EQ(TagPositions(**log, "t").front(), first_position);
    EXPECT_TRUE((*log)->Verify([](const std::string& p) { ADD_FAILURE() << p; }).ok());
  }
}

TEST(MmapLogRetention, DeletedRemovesOnlyPrefixOfFullyDeletedSegments) {
  ScratchDir dir;
  auto log = Log::Open(Options(dir.path(), RetentionMode::kDeleted));
  ASSERT_TRUE(log.ok());
  AppendN(**log, "old", 200);   // segments 1..3 or so
  AppendN(**log, "live", 1);    // one live event after them
  AppendN(**log, "old", 200);
  AppendN(**log, "tail", 100);  // the active segment
  // Nothing is deleted yet: nothing goes.
  SealAndMaintain(**log);
  EXPECT_EQ(Stat(**log, "segments_removed_total"), 0);

  ASSERT_TRUE((*log)->DeleteTo("old", 400).ok());
  SealAndMaintain(**log);
  // Segments holding only deleted events went, up to the one holding the
  // live event, which stays with everything after it.
  EXPECT_GT(Stat(**log, "segments_removed_total"), 0);
  std::vector<Event> all = All(**log);
  ASSERT_FALSE(all.empty());
  bool live_seen = false;
  for (const Event& e : all) live_seen |= e.stream == "live";
  EXPECT_TRUE(live_seen) << "a live event was removed";
  EXPECT_EQ(Revisions(**log, "live"), std::vector<uint64_t>{1});
  EXPECT_EQ((*log)->HeadRevision("old"), 400u);
  EXPECT_TRUE(Revisions(**log, "old").empty());
  EXPECT_EQ(Revisions(**log, "tail").size(), 100u);
  ExpectContiguousFromFirstPosition(**log);

  // Deleting the live stream lets the rest go, but never the active segment.
  ASSERT_TRUE((*log)->DeleteTo("live", 1).ok());
  ASSERT_TRUE((*log)->DeleteTo("tail", 100).ok());
  SealAndMaintain(**log);
  EXPECT_EQ(Stat(**log, "segments"), 1);
  EXPECT_EQ((*log)->HeadRevision("live"), 1u);
  EXPECT_EQ((*log)->HeadRevision("tail"), 100u);
}

TEST(MmapLogRetention, CrashBetweenRecordingAndUnlinkingIsCompletedAtOpen) {
  ScratchDir dir;
  const std::string first = dir.path() + "/" + SegmentFileName(1);
  const std::string saved = dir.path() + "/saved-segment";
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "s", 300);
  }
  std::filesystem::copy_file(first, saved);
  uint64_t first_position = 0;
  {
    auto log = Log::Open(Options(dir.path(), RetentionMode::kBytes, 3 * kSegment));
    ASSERT_TRUE(log.ok());
    SealAndMaintain(**log);
    ASSERT_GT(Stat(**log, "segments_removed_total"), 0);
    first_position = (*log)->FirstPosition();
  }
  // As if the process died after retention.state was replaced but before
  // the segment was unlinked.
  std::filesystem::rename(saved, first);
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->recovery().completed_removals, 1u);
  EXPECT_FALSE(SegmentFileExists(dir.path(), 1));
  EXPECT_EQ((*log)->FirstPosition(), first_position);
  EXPECT_EQ((*log)->HeadRevision("s"), 300u);
  ExpectContiguousFromFirstPosition(**log);
}

TEST(MmapLogRetention, IndexMemoryOfRemovedEventsIsGivenBack) {
  ScratchDir dir;
  auto log = Log::Open(Options(dir.path(), RetentionMode::kBytes, 4 * kSegment));
  ASSERT_TRUE(log.ok());
  // ~330 small events a segment: thousands of revisions and tag entries go,
  // so whole index chunks (4 KiB and more) hold only removed entries.
  AppendN(**log, "s", 6000, 60, {"t"});
  SealAndMaintain(**log);
  ASSERT_GT(Stat(**log, "segments_removed_total"), 0);
  EXPECT_GE(Stat(**log, "index_released_bytes_total"), 2 * 4096);
  // What remains still reads, and the stream's head holds.
  std::vector<uint64_t> kept = Revisions(**log, "s");
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.back(), 6000u);
  EXPECT_EQ(kept.size(), 6000u - kept.front() + 1);
  EXPECT_EQ(TagPositions(**log, "t").front(), (*log)->FirstPosition());
  ExpectContiguousFromFirstPosition(**log);
}

TEST(MmapLogCheckpoint, WrittenAfterRotationAndLoadedWithoutRemovingIt) {
  ScratchDir dir;
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok());
  AppendN(**log, "s", 300, 900, {"t"});
  SealAndMaintain(**log);
  EXPECT_GE(Stat(**log, "checkpoints_written_total"), 1);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/index/checkpoint"));
}

// Each checkpoint rewrites the whole index, so one is written only once the
// log grew by 4x the last one's size. Many streams of one small event each
// make the index about as big as the log: writing one at every seal would
// rewrite it a dozen times here.
TEST(MmapLogCheckpoint, SpacedOutOnceTheIndexIsLargeAgainstTheLog) {
  ScratchDir dir;
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok());
  int stream = 0;
  int seals = 0;
  for (double segments = 1; segments < 13;) {
    for (int i = 0; i < 200; ++i) {
      AppendN(**log, absl::StrFormat("stream-with-a-longish-name-%06d", stream++),
              1, 8);
    }
    SealAndMaintain(**log);
    double now = Stat(**log, "segments");
    if (now > segments) ++seals;
    segments = now;
  }
  const double written = Stat(**log, "checkpoints_written_total");
  EXPECT_GE(written, 2) << "the first seal and a later one";
  EXPECT_LE(written, 4) << "one per seal would be about " << seals;
}

TEST(MmapLogCheckpoint, DamagedCheckpointFallsBackToScanningWithTheReason) {
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "s", 300, 900, {"t"});
  }
  {
    std::fstream f(dir.path() + "/index/checkpoint",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE((*log)->recovery().from_checkpoint);
  EXPECT_NE((*log)->recovery().checkpoint_rejected.find("checksum"),
            std::string::npos)
      << (*log)->recovery().checkpoint_rejected;
  EXPECT_EQ((*log)->recovery().scanned_records, 300u);
  EXPECT_EQ(All(**log).size(), 300u);
  EXPECT_EQ(TagPositions(**log, "t").size(), 300u);
}

TEST(MmapLogCheckpoint, CheckpointWhoseCutSegmentWasRemovedIsNotTrusted) {
  ScratchDir dir;
  const std::string saved = dir.path() + "/saved-checkpoint";
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "s", 150);
    SealAndMaintain(**log);  // a checkpoint cut at an early segment
    std::filesystem::copy_file(dir.path() + "/index/checkpoint", saved);
  }
  {
    auto log = Log::Open(Options(dir.path(), RetentionMode::kBytes, kSegment));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "s", 300);
    SealAndMaintain(**log);
    ASSERT_GT(Stat(**log, "segments_removed_total"), 2);
  }
  std::filesystem::rename(saved, dir.path() + "/index/checkpoint");
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE((*log)->recovery().from_checkpoint);
  EXPECT_NE((*log)->recovery().checkpoint_rejected.find("removed by retention"),
            std::string::npos)
      << (*log)->recovery().checkpoint_rejected;
  EXPECT_EQ((*log)->HeadRevision("s"), 450u);
  ExpectContiguousFromFirstPosition(**log);
}

// A checkpoint from another log (copied in by mistake, or a restore that
// mixed files) is refused, whichever way it does not fit.
void ExpectForeignCheckpointRefused(int own_events, size_t own_size,
                                    const std::string& reason,
                                    bool proves_missing_segments = false) {
  ScratchDir other, dir;
  {
    auto log = Log::Open(Options(other.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "s", 400);  // seven segments or so
  }
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "s", own_events, own_size);
  }
  std::filesystem::copy_file(other.path() + "/index/checkpoint",
                             dir.path() + "/index/checkpoint",
                             std::filesystem::copy_options::overwrite_existing);
  LogOptions options = Options(dir.path());
  if (proves_missing_segments) {
    // A checkpoint whose cut lies beyond the log is also what segments
    // deleted at the end look like: the open refuses unless it repairs.
    auto refused = Log::Open(options);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("index/checkpoint"), std::string::npos)
        << refused.status();
    options.repair = true;
  }
  auto log = Log::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE((*log)->recovery().from_checkpoint);
  EXPECT_NE((*log)->recovery().checkpoint_rejected.find(reason),
            std::string::npos)
      << (*log)->recovery().checkpoint_rejected;
  EXPECT_EQ((*log)->HeadRevision("s"), static_cast<uint64_t>(own_events));
  EXPECT_EQ(All(**log).size(), static_cast<size_t>(own_events));
}

TEST(MmapLogCheckpoint, CheckpointBeyondTheEndOfTheLogIsRefusedUntilRepaired) {
  ExpectForeignCheckpointRefused(100, 900, "the log ends before", true);
}

TEST(MmapLogCheckpoint, CheckpointWhoseCutSegmentStartsElsewhereIsNotTrusted) {
  // As many segments, but smaller events: the cut segment starts at
  // another position.
  ExpectForeignCheckpointRefused(1400, 250, "starts at another position");
}

// Issue #14: the log alone holds every change, also after retention drops
// the segments where a delete-to or a snapshot was written.
TEST(MmapLogRetention, LiveDeleteToAndSnapshotsAreCarriedForward) {
  ScratchDir dir;
  auto snapshot = [](uint64_t revision, const std::string& data) {
    static std::string stream = "s";
    static std::vector<std::string> keep;
    keep.push_back(data);
    return cairn_snapshot{sizeof(cairn_snapshot), OwnedEvent::Bytes(stream),
                          revision, 7, OwnedEvent::Bytes(keep.back())};
  };
  const cairn_snapshot_criteria all{sizeof all, 0, CAIRN_MAX_REVISION,
                                    INT64_MIN, INT64_MAX};
  auto load = [&](Log& log) {
    std::string got = "<none>";
    EXPECT_TRUE(
        log.SnapshotLoad("s", all,
                         [&](const cairn_snapshot& x) { got = Str(x.data); })
            .ok());
    return got;
  };
  auto deleted_to = [](Log& log) {
    uint64_t d = 0;
    EXPECT_TRUE(log.ListStreams(0, 100,
                                [&](const cairn_stream_info& i) {
                                  if (Str(i.name) == "s") d = i.deleted_to;
                                  return true;
                                })
                    .ok());
    return d;
  };
  auto count_kind = [](Log& log, uint32_t kind) {
    uint64_t n = 0;
    EXPECT_TRUE(log.ReadLog(log.FirstPosition() - 1, UINT64_MAX,
                            [&](const cairn_log_record& r) {
                              n += r.kind == kind;
                              return true;
                            })
                    .ok());
    return n;
  };
  uint64_t control_end = 0;
  {
    auto log =
        Log::Open(Options(dir.path(), RetentionMode::kBytes, 3 * kSegment));
    ASSERT_TRUE(log.ok());
    AppendN(**log, "s", 10);
    ASSERT_TRUE((*log)->DeleteTo("s", 3).ok());
    ASSERT_TRUE((*log)->DeleteTo("s", 4).ok());  // the live one
    ASSERT_TRUE((*log)->SnapshotSave(snapshot(10, "keep")).ok());
    ASSERT_TRUE((*log)->SnapshotSave(snapshot(5, "gone")).ok());
    const cairn_snapshot_criteria five{sizeof five, 5, 5, INT64_MIN, INT64_MAX};
    ASSERT_TRUE((*log)->SnapshotDeleteMatching("s", five).ok());
    control_end = (*log)->HeadPosition();
    AppendN(**log, "t", 400);
    SealAndMaintain(**log);
    ASSERT_GT((*log)->FirstPosition(), control_end) << "nothing was dropped";
    EXPECT_EQ(deleted_to(**log), 4u);
    EXPECT_EQ(load(**log), "keep");
    // Carried: one DELETE_TO (the live one) and one SNAPSHOT_SAVE; the
    // superseded delete and the deleted snapshot are not.
    EXPECT_EQ(count_kind(**log, CAIRN_RECORD_DELETE_TO), 1u);
    EXPECT_EQ(count_kind(**log, CAIRN_RECORD_SNAPSHOT_SAVE), 1u);
    ExpectContiguousFromFirstPosition(**log);
  }
  // The log alone (no checkpoint) still holds them.
  std::filesystem::remove(dir.path() + "/index/checkpoint");
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE((*log)->recovery().from_checkpoint);
  EXPECT_EQ(deleted_to(**log), 4u);
  EXPECT_EQ(load(**log), "keep");
  // read_log before the first retained position: NotFound.
  absl::Status s =
      (*log)->ReadLog(0, 10, [](const cairn_log_record&) { return true; });
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

// EPOCH records are not carried forward (an epoch begins where its record
// is), yet log_state.epoch and epoch_end answer as before once retention
// dropped the segments that held them: retention.state keeps them, with
// and without a checkpoint, and after a truncation rebuilds the state.
TEST(MmapLogRetention, EpochsOfRemovedSegmentsStillAnswer) {
  ScratchDir dir;
  const LogOptions options =
      Options(dir.path(), RetentionMode::kBytes, 3 * kSegment);
  auto expect_epochs = [](Log& log, uint64_t e2_at, uint64_t e5_at) {
    cairn_log_state st{};
    st.size = sizeof st;
    log.LogState(&st);
    EXPECT_EQ(st.epoch, 5u);
    EXPECT_EQ(log.EpochEnd(0), e2_at - 1);
    EXPECT_EQ(log.EpochEnd(2), e5_at - 1);
    EXPECT_EQ(log.EpochEnd(4), e5_at - 1);
    EXPECT_EQ(log.EpochEnd(5), log.Written());
    // read_log still labels records with their epoch.
    uint64_t labelled = 0;
    EXPECT_TRUE(log.ReadLog(log.FirstPosition() - 1, 1,
                            [&](const cairn_log_record& r) {
                              labelled = r.epoch;
                              return true;
                            })
                    .ok());
    EXPECT_EQ(labelled, 5u);
  };
  uint64_t e2_at = 0, e5_at = 0;
  {
    auto log = Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    AppendN(**log, "s", 3);
    ASSERT_TRUE((*log)->BeginEpoch(2, "n1", &e2_at).ok());
    AppendN(**log, "s", 3);
    ASSERT_TRUE((*log)->BeginEpoch(5, "n2", &e5_at).ok());
    AppendN(**log, "t", 400);
    SealAndMaintain(**log);
    ASSERT_GT((*log)->FirstPosition(), e5_at) << "nothing was dropped";
    expect_epochs(**log, e2_at, e5_at);
  }
  {
    SCOPED_TRACE("with the checkpoint");
    auto log = Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_TRUE((*log)->recovery().from_checkpoint);
    expect_epochs(**log, e2_at, e5_at);
  }
  {
    SCOPED_TRACE("from the log and retention.state alone");
    std::filesystem::remove(dir.path() + "/index/checkpoint");
    auto log = Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_FALSE((*log)->recovery().from_checkpoint);
    expect_epochs(**log, e2_at, e5_at);
    // A truncation rebuilds the control state from the log.
    const uint64_t written = (*log)->Written();
    AppendN(**log, "t", 1);
    ASSERT_TRUE((*log)->TruncateAfter(written, /*allow_committed=*/true).ok());
    expect_epochs(**log, e2_at, e5_at);
    uint64_t at = 0;
    absl::Status s = (*log)->BeginEpoch(5, "n3", &at);
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  }
}

}  // namespace
}  // namespace cairn::mmaplog
