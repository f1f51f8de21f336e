#include "log.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "test_util.h"

namespace cairn::mmaplog {
namespace {

using testing::Any;
using testing::Exact;
using testing::NoStream;
using testing::OwnedEvent;
using testing::ScratchDir;
using testing::Str;

struct Read {
  std::string stream;
  uint64_t revision;
  uint64_t position;
  std::string data;
  std::vector<std::string> tags;
};

class MmapLogTest : public ::testing::Test {
 protected:
  LogOptions Options(FsyncMode mode = FsyncMode::kNever) {
    LogOptions o;
    o.path = dir_.path() + "/log";
    o.segment_size = 64 << 10;
    o.fsync = mode;
    o.stream_bucket_bits = 8;
    return o;
  }
  std::unique_ptr<Log> OpenLog(FsyncMode mode = FsyncMode::kNever) {
    auto log = Log::Open(Options(mode));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  static absl::Status Append(Log& log, const std::string& stream,
                             Expected expected, std::vector<std::string> datas,
                             cairn_append_result* result = nullptr,
                             std::vector<std::string> tags = {}) {
    std::vector<OwnedEvent> owned(datas.size());
    std::vector<cairn_event> events;
    for (size_t i = 0; i < datas.size(); ++i) {
      owned[i].data = datas[i];
      owned[i].tags = tags;
    }
    for (auto& o : owned) events.push_back(o.View());
    cairn_append_result r;
    return log.Append(stream, expected, events.data(), events.size(),
                      result != nullptr ? result : &r);
  }
  static Read ToRead(const cairn_event& e) {
    Read r{Str(e.stream), e.revision, e.position, Str(e.data), {}};
    for (uint32_t i = 0; i < e.tag_count; ++i) r.tags.push_back(Str(e.tags[i]));
    return r;
  }
  static std::vector<Read> Stream(Log& log, const std::string& s,
                                  uint64_t from = 1,
                                  uint64_t to = CAIRN_MAX_REVISION,
                                  uint64_t max = UINT64_MAX) {
    std::vector<Read> out;
    absl::Status st = log.ReadStream(s, from, to, max, [&](const cairn_event& e) {
      out.push_back(ToRead(e));
      return true;
    });
    EXPECT_TRUE(st.ok()) << st;
    return out;
  }
  static std::vector<Read> All(Log& log, uint64_t after = 0,
                               uint64_t max = UINT64_MAX,
                               bool include_deleted = false) {
    std::vector<Read> out;
    absl::Status st =
        log.ReadAll(after, max, include_deleted, [&](const cairn_event& e) {
          out.push_back(ToRead(e));
          return true;
        });
    EXPECT_TRUE(st.ok()) << st;
    return out;
  }

  ScratchDir dir_;
};

TEST_F(MmapLogTest, AppendThenReadStreamReturnsEventsInRevisionOrder) {
  auto log = OpenLog();
  cairn_append_result r;
  ASSERT_TRUE(Append(*log, "a", NoStream(), {"1", "2", "3"}, &r).ok());
  EXPECT_EQ(r.first_revision, 1u);
  EXPECT_EQ(r.last_revision, 3u);
  EXPECT_EQ(r.first_position, 1u);
  EXPECT_EQ(r.last_position, 3u);
  ASSERT_TRUE(Append(*log, "b", Any(), {"x"}, &r).ok());
  EXPECT_EQ(r.first_position, 4u);
  auto events = Stream(*log, "a");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].data, "3");
  EXPECT_EQ(events[2].revision, 3u);
  EXPECT_EQ(Stream(*log, "a", 2, 2).size(), 1u);
  EXPECT_EQ(Stream(*log, "a", 1, CAIRN_MAX_REVISION, 2).size(), 2u);
  EXPECT_TRUE(Stream(*log, "unknown").empty());
  EXPECT_EQ(log->HeadRevision("a"), 3u);
  EXPECT_EQ(log->HeadPosition(), 4u);
}

TEST_F(MmapLogTest, WrongExpectedRevisionWritesNothing) {
  auto log = OpenLog();
  ASSERT_TRUE(Append(*log, "a", NoStream(), {"1"}).ok());
  absl::Status s = Append(*log, "a", NoStream(), {"2"});
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  EXPECT_NE(s.message().find("head is 1"), std::string::npos) << s;
  EXPECT_TRUE(absl::IsAborted(Append(*log, "a", Exact(5), {"2"})));
  EXPECT_TRUE(absl::IsAborted(Append(*log, "new", Exact(1), {"2"})));
  EXPECT_TRUE(Append(*log, "a", Exact(1), {"2"}).ok());
  EXPECT_EQ(Stream(*log, "a").size(), 2u);
  EXPECT_EQ(log->HeadPosition(), 2u);
  // The failed append to "new" created no visible stream.
  uint64_t listed = 0;
  ASSERT_TRUE(log->ListStreams(0, 100, [&](const cairn_stream_info&) {
                   ++listed;
                   return true;
                 }).ok());
  EXPECT_EQ(listed, 1u);
}

TEST_F(MmapLogTest, RacingAppendersWithTheSameExpectedRevisionExactlyOneWins) {
  auto log = OpenLog();
  for (int round = 0; round < 200; ++round) {
    std::string stream = "race-" + std::to_string(round);
    std::atomic<int> wins{0}, conflicts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        absl::Status s = Append(*log, stream, NoStream(), {"a", "b"});
        if (s.ok()) ++wins;
        else if (absl::IsAborted(s)) ++conflicts;
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(wins.load(), 1) << round;
    ASSERT_EQ(conflicts.load(), 3) << round;
    ASSERT_EQ(Stream(*log, stream).size(), 2u);
  }
}

TEST_F(MmapLogTest, ReadAllCrossesSegmentsWithoutGaps) {
  auto log = OpenLog();
  std::string big(1000, 'x');
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(Append(*log, "s" + std::to_string(i % 7), Any(), {big}).ok());
  }
  std::vector<Read> all = All(*log);
  ASSERT_EQ(all.size(), 300u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].position, i + 1);
  std::vector<Read> tail = All(*log, 250, 10);
  ASSERT_EQ(tail.size(), 10u);
  EXPECT_EQ(tail[0].position, 251u);
  uint64_t segments = 0;
  log->Stats([&](const char* name, double v) {
    if (std::string(name) == "segments") segments = static_cast<uint64_t>(v);
  });
  EXPECT_GT(segments, 3u);
}

// index_memory_bytes is kept as running counts (arena allocations, nodes,
// buckets) rather than summed over every stream at each stats call: it
// still grows with the streams, tags and revisions indexed.
TEST_F(MmapLogTest, IndexMemoryStatGrowsWithTheIndex) {
  auto log = OpenLog();
  auto index_bytes = [&] {
    double bytes = -1;
    log->Stats([&](const char* name, double v) {
      if (std::string(name) == "index_memory_bytes") bytes = v;
    });
    return bytes;
  };
  const double empty = index_bytes();
  EXPECT_GT(empty, 0);  // the bucket arrays
  const std::string name(100, 'n');
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(Append(*log, name + std::to_string(i), Any(), {"d"}).ok());
  }
  const double streams = index_bytes();
  EXPECT_GE(streams - empty, 200 * 100);  // at least the names
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(Append(*log, name + "0", Any(), {"d"}, nullptr, {"t"}).ok());
  }
  const double revisions = index_bytes();
  EXPECT_GE(revisions - streams, 2 * 2000 * 8);  // locations: stream and tag
  EXPECT_EQ(index_bytes(), revisions);  // reading it changes nothing
}

TEST_F(MmapLogTest, ReopenKeepsEventsStreamsTagsAndDeletes) {
  {
    auto log = OpenLog(FsyncMode::kAlways);
    std::string big(700, 'y');
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(Append(*log, "s" + std::to_string(i % 5), Any(), {big}, nullptr,
                         {i % 2 == 0 ? "even" : "odd"})
                      .ok());
    }
    ASSERT_TRUE(log->DeleteTo("s1", 10).ok());
  }
  auto log = OpenLog(FsyncMode::kAlways);
  // The delete-to is a record of its own at position 201.
  EXPECT_EQ(log->HeadPosition(), 201u);
  EXPECT_EQ(log->HeadRevision("s0"), 40u);
  EXPECT_EQ(log->HeadRevision("s1"), 40u);
  auto s1 = Stream(*log, "s1");
  ASSERT_EQ(s1.size(), 30u);
  EXPECT_EQ(s1[0].revision, 11u);
  std::vector<uint64_t> even;
  ASSERT_TRUE(log->ReadTag("even", 0, 1000, [&](const cairn_event& e) {
                   even.push_back(e.position);
                   return true;
                 }).ok());
  // "even" marks i = 0, 2, ... (positions 1, 3, ...); s1's deleted revisions
  // 1..10 are i = 1, 6, ..., 46, of which 6, 16, 26, 36, 46 are even.
  ASSERT_EQ(even.size(), 95u);
  EXPECT_EQ(even.front(), 1u);
  cairn_append_result r;
  ASSERT_TRUE(Append(*log, "s0", Exact(40), {"more"}, &r).ok());
  EXPECT_EQ(r.first_position, 202u);
  EXPECT_EQ(r.first_revision, 41u);
  uint64_t ordinal_of_s0 = 0;
  ASSERT_TRUE(log->ListStreams(0, 100, [&](const cairn_stream_info& info) {
                   if (Str(info.name) == "s0") ordinal_of_s0 = info.ordinal;
                   return true;
                 }).ok());
  EXPECT_EQ(ordinal_of_s0, 1u);
}

TEST_F(MmapLogTest, ReadTagFindsEventsAfterAPosition) {
  auto log = OpenLog();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Append(*log, "s", Any(), {std::to_string(i)}, nullptr,
                       {i % 3 == 0 ? "fizz" : "other"})
                    .ok());
  }
  std::vector<uint64_t> positions;
  ASSERT_TRUE(log->ReadTag("fizz", 10, 3, [&](const cairn_event& e) {
                   positions.push_back(e.position);
                   return true;
                 }).ok());
  EXPECT_EQ(positions, (std::vector<uint64_t>{13, 16, 19}));
}

TEST_F(MmapLogTest, DeleteToHidesRevisionsButKeepsTheHead) {
  auto log = OpenLog();
  ASSERT_TRUE(Append(*log, "a", Any(), {"1", "2", "3"}).ok());
  ASSERT_TRUE(log->DeleteTo("a", CAIRN_MAX_REVISION).ok());
  EXPECT_TRUE(Stream(*log, "a").empty());
  EXPECT_EQ(log->HeadRevision("a"), 3u);
  EXPECT_TRUE(All(*log).empty());
  EXPECT_EQ(All(*log, 0, 100, true).size(), 3u);
  ASSERT_TRUE(Append(*log, "a", Exact(3), {"4"}).ok());
  EXPECT_EQ(Stream(*log, "a").size(), 1u);
  EXPECT_TRUE(log->DeleteTo("nobody", 5).ok());
}

TEST_F(MmapLogTest, WaitCommitWakesOnCommitAndTimesOut) {
  auto log = OpenLog();
  uint64_t position = 0;
  absl::Status s = log->WaitCommit(0, 20, &position);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  std::thread writer([&] { ASSERT_TRUE(Append(*log, "a", Any(), {"1"}).ok()); });
  s = log->WaitCommit(0, 10000, &position);
  writer.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(position, 1u);
}

TEST_F(MmapLogTest, SecondOpenOfTheSameDirectoryIsRefused) {
  auto log = OpenLog();
  auto second = Log::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  // The refusal names the holder (this process: flock excludes a second
  // open file description here too) and the way through a server.
  const std::string message(second.status().message());
  EXPECT_NE(message.find("is open in another process (pid " +
                         std::to_string(getpid()) + ", "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("LOCK is held"), std::string::npos) << message;
  EXPECT_NE(message.find("--server HOST:PORT instead of --data"),
            std::string::npos)
      << message;
}

TEST_F(MmapLogTest, OversizeBatchIsRefusedWithItsLimit) {
  auto log = OpenLog();
  std::string huge(70 << 10, 'z');
  absl::Status s = Append(*log, "a", Any(), {huge});
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(log->HeadRevision("a"), 0u);
  EXPECT_TRUE(Append(*log, "a", NoStream(), {"fine"}).ok());
}

TEST_F(MmapLogTest, OverlongTypeOrTooManyTagsIsRefusedNamingTheEvent) {
  auto log = OpenLog();
  OwnedEvent fine;
  fine.data = "fine";
  std::string type(65536, 't');
  std::vector<cairn_event> events = {fine.View(), fine.View()};
  events[1].type =
      cairn_bytes{reinterpret_cast<const uint8_t*>(type.data()), type.size()};
  cairn_append_result r;
  absl::Status s = log->Append("a", Any(), events.data(), events.size(), &r);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(), "append: event 1 type is 65536 bytes; at most 65535");

  std::vector<cairn_bytes> tags(65536, cairn_bytes{nullptr, 0});
  events[1] = fine.View();
  events[1].tags = tags.data();
  events[1].tag_count = static_cast<uint32_t>(tags.size());
  s = log->Append("a", Any(), events.data(), events.size(), &r);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(), "append: event 1 has more than 65535 tags");
  EXPECT_EQ(log->HeadRevision("a"), 0u);
  EXPECT_TRUE(All(*log).empty());
}

TEST_F(MmapLogTest, BadOptionsAreRefusedNamingTheOption) {
  LogOptions o = Options();
  o.segment_size = 1000;
  auto log = Log::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("segment-size"), std::string::npos);
  FsyncMode mode;
  uint32_t ms;
  absl::Status s = ParseFsync("sometimes", &mode, &ms);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("interval:MS"), std::string::npos);
  ASSERT_TRUE(ParseFsync("interval:25", &mode, &ms).ok());
  EXPECT_EQ(mode, FsyncMode::kInterval);
  EXPECT_EQ(ms, 25u);
}

TEST_F(MmapLogTest, FsyncIntervalFlushMakesEveryAppendDurable) {
  LogOptions o = Options(FsyncMode::kInterval);
  o.fsync_interval_ms = 60000;  // the timer never fires during the test
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Append(**log, "s" + std::to_string(i % 3), Any(), {"e"}).ok());
  }
  ASSERT_TRUE((*log)->Flush().ok());
  double durable = 0;
  (*log)->Stats([&](const char* name, double v) {
    if (std::string(name) == "durable_position") durable = v;
  });
  EXPECT_EQ(durable, 20);
}

TEST_F(MmapLogTest, FsyncAlwaysGroupCommitsConcurrentAppenders) {
  auto log = OpenLog(FsyncMode::kAlways);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(Append(*log, "w" + std::to_string(t), Any(), {"e"}).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(log->HeadPosition(), 400u);
  double fsyncs = 0;
  double fsync_seconds = 0;
  log->Stats([&](const char* name, double v) {
    if (std::string(name) == "fsyncs_total") fsyncs = v;
    if (std::string(name) == "fsync_seconds_total") fsync_seconds = v;
  });
  EXPECT_GT(fsyncs, 0);
  EXPECT_GT(fsync_seconds, 0);
  EXPECT_TRUE(log->Verify([](const std::string& p) { ADD_FAILURE() << p; }).ok());
}

// Group-commit gathering counts appends in flight and threads waiting for
// a sync; every way out of Append (success, conflict, a batch too large)
// must uncount, or each later sync would wait its whole budget for an
// appender that is gone.
TEST_F(MmapLogTest, FsyncAlwaysGatheringCountsReturnToZero) {
  auto log = OpenLog(FsyncMode::kAlways);
  std::vector<std::thread> threads;
  std::atomic<int> conflicts{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        cairn_append_result r;
        absl::Status s = Append(*log, "shared", Exact(i), {"e"}, &r);
        if (absl::IsAborted(s)) ++conflicts;
        else EXPECT_TRUE(s.ok()) << s;
        if (t == 0 && i % 10 == 0) {
          std::string huge(65 << 10, 'x');  // over the 64 KiB segment
          EXPECT_TRUE(absl::IsResourceExhausted(
              Append(*log, "big", Any(), {huge})));
        }
        ASSERT_TRUE(Append(*log, "own" + std::to_string(t), Any(), {"e"}).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(conflicts.load(), 0);
  ASSERT_TRUE(log->Flush().ok());
  double in_flight = -1, waiters = -1;
  log->Stats([&](const char* name, double v) {
    if (std::string(name) == "appends_in_flight") in_flight = v;
    if (std::string(name) == "sync_waiters") waiters = v;
  });
  EXPECT_EQ(in_flight, 0);
  EXPECT_EQ(waiters, 0);
}

double StatOf(const Log& log, const std::string& name) {
  double value = -1;
  log.Stats([&](const char* n, double v) {
    if (name == n) value = v;
  });
  return value;
}

// Disk blocks and logical sizes of the segment files in `dir`.
void SegmentFiles(const std::string& dir, uint64_t* disk, uint64_t* size) {
  *disk = *size = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() != 12 || name.substr(8) != ".log") continue;
    struct stat st {};
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    *disk += static_cast<uint64_t>(st.st_blocks) * 512;
    *size += static_cast<uint64_t>(st.st_size);
  }
}

// bytes_on_disk is what the segment files take, not segments x the current
// segment-size option: right after that option changed on reopen, and for
// files that get their disk in steps.
TEST_F(MmapLogTest, BytesOnDiskMeasuresTheSegmentFilesAsTheyAre) {
  LogOptions o = Options();
  o.segment_size = 256u << 10;
  o.allocation_step = 64u << 10;
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(Append(**log, "s", Any(), {std::string(10000, 'x')}).ok());
    }
  }
  // The same store with another segment size: old segments keep theirs.
  o.segment_size = 1u << 20;
  o.spare_at_percent = 0;  // the spare at once: its file counts too
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(Append(**log, "s", Any(), {std::string(10000, 'y')}).ok());
  }
  ASSERT_TRUE((*log)->WaitForSpares(std::chrono::seconds(60)));
  ASSERT_TRUE((*log)->Flush().ok());
  uint64_t disk = 0, size = 0;
  SegmentFiles(o.path, &disk, &size);
  EXPECT_EQ(StatOf(**log, "bytes_on_disk"), static_cast<double>(disk));
  EXPECT_EQ(StatOf(**log, "segment_file_bytes"), static_cast<double>(size));
  EXPECT_NE(StatOf(**log, "bytes_on_disk"),
            StatOf(**log, "segments") * static_cast<double>(o.segment_size));
}

// segments_removed counts segments retention removed over the store's life,
// not since this open.
TEST_F(MmapLogTest, SegmentsRemovedSurvivesAReopen) {
  LogOptions o = Options();
  o.retention = RetentionMode::kBytes;
  o.retention_bytes = 4 * o.segment_size;
  double removed = 0;
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(Append(**log, "s", Any(), {std::string(900, 'r')}).ok());
    }
    ASSERT_TRUE((*log)->Flush().ok());
    ASSERT_TRUE((*log)->RunMaintenance().ok());
    removed = StatOf(**log, "segments_removed_total");
    ASSERT_GT(removed, 0);
  }
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(StatOf(**log, "segments_removed_total"), removed);
}

// ---- Idempotency keys ---------------------------------------------------

absl::Status AppendKeyed(Log& log, const std::string& stream, Expected expected,
                         size_t count, const std::string& key,
                         cairn_append_result* result) {
  std::vector<OwnedEvent> owned(count);
  std::vector<cairn_event> events;
  for (size_t i = 0; i < count; ++i)
    owned[i].data = key + "-" + std::to_string(i);
  for (auto& o : owned) events.push_back(o.View());
  *result = cairn_append_result{};
  return log.Append(stream, expected, events.data(), events.size(), result,
                    nullptr, key);
}

TEST_F(MmapLogTest, ARepeatedKeyIsAnsweredFromTheLogAfterAReopen) {
  LogOptions o = Options();
  cairn_append_result first, again;
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE(AppendKeyed(**log, "s", NoStream(), 3, "k1", &first).ok());
    EXPECT_EQ(first.repeated, 0u);
    ASSERT_TRUE(AppendKeyed(**log, "s", Exact(3), 1, "k2", &again).ok());
    // In memory: answered without reading the log again.
    const double loads = StatOf(**log, "idempotency_key_loads_total");
    ASSERT_TRUE(AppendKeyed(**log, "s", NoStream(), 3, "k1", &again).ok());
    EXPECT_EQ(again.repeated, 1u);
    EXPECT_EQ(again.first_position, first.first_position);
    EXPECT_EQ(again.last_revision, 3u);
    EXPECT_EQ(StatOf(**log, "idempotency_key_loads_total"), loads);
    EXPECT_EQ(StatOf(**log, "repeated_appends_total"), 1);
    EXPECT_EQ((*log)->HeadPosition(), 4u);
  }
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE(AppendKeyed(**log, "s", Any(), 3, "k1", &again).ok());
  EXPECT_EQ(again.repeated, 1u) << "the key is read back from the log";
  EXPECT_EQ(again.first_revision, 1u);
  EXPECT_EQ(again.last_revision, 3u);
  EXPECT_EQ(again.first_position, first.first_position);
  EXPECT_EQ(again.last_position, first.last_position);
  EXPECT_EQ(StatOf(**log, "idempotency_key_loads_total"), 1);
  EXPECT_EQ((*log)->HeadPosition(), 4u) << "a repeat writes nothing";
  // A new key after the reopen writes, and is then known.
  ASSERT_TRUE(AppendKeyed(**log, "s", Exact(4), 1, "k3", &again).ok());
  EXPECT_EQ(again.repeated, 0u);
  EXPECT_EQ(again.first_revision, 5u);
  ASSERT_TRUE(AppendKeyed(**log, "s", Exact(4), 1, "k3", &again).ok());
  EXPECT_EQ(again.repeated, 1u);
  // A wrong expected revision with a new key is still refused.
  EXPECT_TRUE(
      absl::IsAborted(AppendKeyed(**log, "s", Exact(1), 1, "k4", &again)))
      << "a key does not lift the expected-revision check of a new append";
}

TEST_F(MmapLogTest, TheKeyWindowIsTheStreamsNewest1024BatchesAfterAReopen) {
  LogOptions o = Options();
  o.segment_size = 1 << 20;
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    cairn_append_result r;
    ASSERT_TRUE(AppendKeyed(**log, "s", Any(), 2, "oldest", &r).ok());
    ASSERT_TRUE(AppendKeyed(**log, "s", Any(), 1, "second", &r).ok());
    // Keyless batches count toward the window too.
    for (int i = 0; i < CAIRN_IDEMPOTENCY_WINDOW - 1; ++i) {
      ASSERT_TRUE(Append(**log, "s", Any(), {"x"}).ok());
    }
    ASSERT_TRUE(AppendKeyed(**log, "other", Any(), 1, "oldest", &r).ok());
  }
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  cairn_append_result r;
  // "second" is the 1024th newest batch of s: found; "oldest" (1025th) is
  // past the window: written again (the documented bound).
  ASSERT_TRUE(AppendKeyed(**log, "s", Any(), 1, "second", &r).ok());
  EXPECT_EQ(r.repeated, 1u);
  EXPECT_EQ(r.first_revision, 3u);
  ASSERT_TRUE(AppendKeyed(**log, "s", Any(), 2, "oldest", &r).ok());
  EXPECT_EQ(r.repeated, 0u);
  EXPECT_EQ(r.first_revision, 3u + CAIRN_IDEMPOTENCY_WINDOW - 1 + 1);
  // Per stream: "oldest" on `other` is its own.
  ASSERT_TRUE(AppendKeyed(**log, "other", Any(), 1, "oldest", &r).ok());
  EXPECT_EQ(r.repeated, 1u);
}

TEST_F(MmapLogTest, RacingAppendsWithOneKeyWriteOnce) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  constexpr int kThreads = 4;
  for (int round = 0; round < 50; ++round) {
    const std::string key = "race-" + std::to_string(round);
    std::atomic<int> wrote{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        cairn_append_result r;
        ASSERT_TRUE(AppendKeyed(*log, "s", Any(), 2, key, &r).ok());
        if (r.repeated == 0) wrote.fetch_add(1);
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_EQ(wrote.load(), 1) << key;
  }
  EXPECT_EQ(log->HeadRevision("s"), 100u);
}

}  // namespace
}  // namespace cairn::mmaplog
