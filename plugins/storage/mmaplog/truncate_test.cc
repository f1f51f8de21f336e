// The three watermarks (commit = durable | host, set_committed, readers see
// committed only) and truncate_after, including the intent file an open
// finishes (watermarks.cc, truncate.cc; docs/mmaplog.md).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log.h"
#include "test_util.h"
#include "truncate_check.h"

namespace cairn::mmaplog {
namespace {

using testing::Any;
using testing::CheckReadsAgree;
using testing::Exact;
using testing::OwnedEvent;
using testing::ScratchDir;
using testing::SmallStoreOptions;

cairn_append_result AppendOne(Log& log, const std::string& stream,
                              std::vector<std::string> tags = {},
                              size_t size = 100) {
  OwnedEvent o;
  o.data.assign(size, 'x');
  o.tags = std::move(tags);
  cairn_event e = o.View();
  cairn_append_result r{};
  r.size = sizeof r;
  absl::Status s = log.Append(stream, Any(), &e, 1, &r);
  EXPECT_TRUE(s.ok()) << s;
  return r;
}

uint64_t CountAll(Log& log) {
  uint64_t n = 0;
  EXPECT_TRUE(log.ReadAll(0, UINT64_MAX, true,
                          [&](const cairn_event&) {
                            ++n;
                            return true;
                          })
                  .ok());
  return n;
}

cairn_log_state State(Log& log) {
  cairn_log_state st{};
  st.size = sizeof st;
  log.LogState(&st);
  return st;
}

LogOptions HostCommitOptions(const std::string& path) {
  LogOptions o = SmallStoreOptions(path);
  o.commit_host = true;
  return o;
}

TEST(MmapLogWatermarks, HostCommitShowsReadersOnlyWhatSetCommittedAllowed) {
  ScratchDir dir;
  LogOptions o = HostCommitOptions(dir.path());
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    Log& l = **log;
    AppendOne(l, "a", {"t"});
    AppendOne(l, "a");
    AppendOne(l, "b", {"t"});
    cairn_log_state st = State(l);
    EXPECT_EQ(st.written, 3u);
    EXPECT_EQ(st.durable, 3u);  // fsync = never: durable = written
    EXPECT_EQ(st.committed, 0u);
    EXPECT_EQ(l.HeadPosition(), 0u);
    EXPECT_EQ(CountAll(l), 0u);
    EXPECT_EQ(l.HeadRevision("a"), 0u);
    EXPECT_EQ(CheckReadsAgree(l, {"a", "b"}, {"t"}), "");
    // Expected-revision checks see every written record.
    OwnedEvent ev;
    cairn_event e = ev.View();
    cairn_append_result r{};
    r.size = sizeof r;
    ASSERT_TRUE(l.Append("a", Exact(2), &e, 1, &r).ok());  // position 4
    EXPECT_TRUE(absl::IsFailedPrecondition(l.SetCommitted(5)));
    ASSERT_TRUE(l.SetCommitted(2).ok());
    ASSERT_TRUE(l.SetCommitted(1).ok());  // lower: a no-op
    EXPECT_EQ(l.HeadPosition(), 2u);
    EXPECT_EQ(CountAll(l), 2u);
    EXPECT_EQ(l.HeadRevision("a"), 2u);
    EXPECT_EQ(l.HeadRevision("b"), 0u);
    EXPECT_EQ(CheckReadsAgree(l, {"a", "b"}, {"t"}), "");
    // A waiter is woken by set_committed.
    absl::Status waited;
    uint64_t at = 0;
    std::thread waiter([&] { waited = l.WaitCommit(2, 30000, &at); });
    ASSERT_TRUE(l.SetCommitted(3).ok());
    waiter.join();
    EXPECT_TRUE(waited.ok()) << waited;
    EXPECT_EQ(at, 3u);
    EXPECT_EQ(CheckReadsAgree(l, {"a", "b"}, {"t"}), "");
  }
  {
    // Reopened: committed starts where it was (3), not at durable (4).
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->HeadPosition(), 3u);
    EXPECT_EQ(State(**log).written, 4u);
    EXPECT_EQ((*log)->HeadRevision("a"), 2u);
  }
  {
    // commit = durable: committed = durable again.
    o.commit_host = false;
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->HeadPosition(), 4u);
    EXPECT_TRUE(absl::IsFailedPrecondition((*log)->SetCommitted(4)));
  }
  {
    // ... which leaves the host's copy alone: host starts at 3 again.
    o.commit_host = true;
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->HeadPosition(), 3u);
  }
}

TEST(MmapLogWatermarks, FsyncAlwaysCommittedIsDurable) {
  ScratchDir dir;
  LogOptions o = SmallStoreOptions(dir.path());
  o.fsync = FsyncMode::kAlways;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  cairn_append_result r = AppendOne(**log, "a");
  cairn_log_state st = State(**log);
  EXPECT_EQ(st.committed, r.last_position);
  EXPECT_EQ(st.durable, r.last_position);
  EXPECT_EQ(st.written, r.last_position);
  EXPECT_EQ(st.first_position, 1u);
  EXPECT_EQ((*log)->HeadRevision("a"), 1u);
}

// A log of `n` events over many 64 KiB segments: streams s0..s9 (s9 first
// appended late), tags on every third event.
void Fill(Log& log, int n, int late_from) {
  for (int i = 0; i < n; ++i) {
    std::string stream = i >= late_from ? "s9" : "s" + std::to_string(i % 9);
    std::vector<std::string> tags;
    if (i % 3 == 0) tags.push_back("t" + std::to_string(i % 2));
    if (i >= late_from) tags.push_back("late");
    AppendOne(log, stream, tags, 500);
  }
}

const std::vector<std::string> kStreams = {"s0", "s1", "s2", "s3", "s4",
                                           "s5", "s6", "s7", "s8", "s9"};
const std::vector<std::string> kTags = {"t0", "t1", "late"};

TEST(MmapLogTruncate, CutsRecordsIndexesAndStreamsAndAppendsGoOn) {
  ScratchDir dir;
  LogOptions o = SmallStoreOptions(dir.path());
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    Log& l = **log;
    Fill(l, 1000, 900);
    ASSERT_TRUE(l.RunMaintenance().ok());  // a checkpoint and sealed segments
    EXPECT_EQ(CheckReadsAgree(l, kStreams, kTags), "");
    // Below committed needs the flag (fsync = never: committed = written).
    EXPECT_TRUE(absl::IsFailedPrecondition(l.TruncateAfter(500, false)));
    ASSERT_TRUE(l.TruncateAfter(500, true).ok());
    EXPECT_EQ(l.HeadPosition(), 500u);
    cairn_log_state st = State(l);
    EXPECT_EQ(st.written, 500u);
    EXPECT_EQ(st.committed, 500u);
    EXPECT_EQ(l.HeadRevision("s9"), 0u);  // its first event was cut
    EXPECT_EQ(CheckReadsAgree(l, kStreams, kTags), "");
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/truncate"));
    // Appends continue at 501, s9 starts again at revision 1.
    cairn_append_result r = AppendOne(l, "s9", {"late"});
    EXPECT_EQ(r.first_position, 501u);
    EXPECT_EQ(r.first_revision, 1u);
    Fill(l, 300, 0);  // rotates into new segments
    EXPECT_EQ(CheckReadsAgree(l, kStreams, kTags), "");
    ASSERT_TRUE(l.TruncateAfter(700, true).ok());  // a second cut
    EXPECT_EQ(CheckReadsAgree(l, kStreams, kTags), "");
    EXPECT_TRUE(l.TruncateAfter(800, false).ok());  // past written: nothing
    EXPECT_EQ(l.HeadPosition(), 700u);
  }
  for (int reopen = 0; reopen < 2; ++reopen) {  // from the checkpoint, then
    auto log = Log::Open(o);                    // after a clean close again
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->HeadPosition(), 700u);
    EXPECT_EQ(CheckReadsAgree(**log, kStreams, kTags), "");
    ASSERT_TRUE((*log)->recovery().problems.empty());
  }
  {
    // A cut in a sealed segment of a log loaded from the checkpoint (whose
    // segments have no reservation counts: the cut walks the records).
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE((*log)->recovery().from_checkpoint);
    ASSERT_TRUE((*log)->TruncateAfter(650, true).ok());
    EXPECT_EQ(CheckReadsAgree(**log, kStreams, kTags), "");
  }
  std::filesystem::remove(dir.path() + "/index/checkpoint");
  auto log = Log::Open(o);  // by a full scan
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->HeadPosition(), 650u);
  EXPECT_EQ(CheckReadsAgree(**log, kStreams, kTags), "");
  EXPECT_EQ(AppendOne(**log, "s1").first_position, 651u);
}

TEST(MmapLogTruncate, HostCommitCutsCommittedOnlyWithTheFlag) {
  ScratchDir dir;
  const LogOptions o = HostCommitOptions(dir.path());
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  Fill(**log, 50, 40);
  ASSERT_TRUE((*log)->SetCommitted(30).ok());
  ASSERT_TRUE((*log)->TruncateAfter(35, false).ok());  // uncommitted tail
  EXPECT_EQ(State(**log).written, 35u);
  EXPECT_EQ(State(**log).committed, 30u);
  EXPECT_TRUE(absl::IsFailedPrecondition((*log)->TruncateAfter(20, false)));
  ASSERT_TRUE((*log)->TruncateAfter(20, true).ok());
  EXPECT_EQ(State(**log).committed, 20u);
  EXPECT_EQ(CheckReadsAgree(**log, kStreams, kTags), "");
  log->reset();
  auto again = Log::Open(o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->HeadPosition(), 20u);
}

// Writes the intent file as truncate_after would (mode 0600).
void WriteIntent(const std::string& dir, const std::string& text) {
  std::ofstream(dir + "/truncate") << text;
  std::filesystem::permissions(
      dir + "/truncate",
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(MmapLogTruncate, AnOpenFinishesACutWhoseIntentItFinds) {
  ScratchDir dir;
  LogOptions o = SmallStoreOptions(dir.path());
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    Fill(**log, 600, 550);
  }
  // As if a truncate_after had written its intent and then been killed.
  WriteIntent(dir.path(), "cairn mmaplog truncate after 300\n");
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->HeadPosition(), 300u);
    EXPECT_EQ(CheckReadsAgree(**log, kStreams, kTags), "");
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/truncate"));
  }
  WriteIntent(dir.path(), "cairn mmaplog truncate after x\n");
  auto log = Log::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("/truncate"), std::string::npos)
      << log.status();
}

// The first failure that any of the reader threads reports.
struct FirstFailure {
  std::mutex mu;
  std::string what;
  void operator()(const std::string& failure) {
    std::lock_guard<std::mutex> lk(mu);
    if (what.empty()) what = failure;
  }
};

TEST(MmapLogTruncate, ReadsBesideACutSeeTheLogBeforeOrAfterIt) {
  ScratchDir dir;
  auto log = Log::Open(SmallStoreOptions(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  Log& l = **log;
  Fill(l, 2000, 1500);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  FirstFailure fail;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      while (!stop.load()) {
        uint64_t last = 0;
        absl::Status s;
        if (t == 0) {
          s = l.ReadAll(0, UINT64_MAX, true, [&](const cairn_event& e) {
            if (e.position != last + 1)
              fail("read_all gap at " + std::to_string(e.position));
            last = e.position;
            return true;
          });
        } else if (t == 1) {
          s = l.ReadStream("s9", 1, UINT64_MAX, UINT64_MAX,
                           [&](const cairn_event& e) {
                             if (e.revision != last + 1)
                               fail("read_stream gap");
                             last = e.revision;
                             return true;
                           });
        } else {
          s = l.ReadTag("late", 0, UINT64_MAX, [&](const cairn_event& e) {
            if (e.position <= last) fail("read_tag order");
            last = e.position;
            return true;
          });
        }
        if (!s.ok()) fail(s.ToString());
        ++reads;
      }
    });
  }
  // Cuts from the end down, each after the readers have run a while.
  for (uint64_t p : {1900u, 1700u, 1400u, 900u}) {
    const uint64_t before = reads.load();
    for (int spin = 0; spin < 100000 && reads.load() < before + 6; ++spin) {
      std::this_thread::yield();
    }
    ASSERT_TRUE(l.TruncateAfter(p, true).ok());
    EXPECT_EQ(l.HeadPosition(), p);
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(fail.what, "");
  EXPECT_EQ(CheckReadsAgree(l, kStreams, kTags), "");
}

// read_log holds no ReadGuard while its callback runs, so a cut can zero
// and remove what its walk has yet to reach: it must end early without an
// error then, never fail with DataLoss (or a checksum) for what the cut
// zeroed, and never skip a position. 200 cuts of up to 300 records (up to
// three segments), each followed by appends that fill the log up again.
TEST(MmapLogTruncate, ReadLogBesideCutsEndsEarlyWithoutAnError) {
  ScratchDir dir;
  auto log = Log::Open(SmallStoreOptions(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  Log& l = **log;
  Fill(l, 800, 800);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  FirstFailure fail;
  std::thread reader([&] {
    while (!stop.load()) {
      uint64_t last = 0;
      absl::Status s = l.ReadLog(0, UINT64_MAX, [&](const cairn_log_record& r) {
        if (r.position != last + 1) {
          fail("read_log gap: " + std::to_string(r.position) + " after " +
               std::to_string(last));
        }
        last = r.position;
        return true;
      });
      if (!s.ok()) fail(s.ToString());
      ++reads;
    }
  });
  std::mt19937_64 rng(20261204);
  for (int i = 0; i < 200 && !HasFailure(); ++i) {
    const uint64_t before = reads.load();
    for (int spin = 0; spin < 100000 && reads.load() == before; ++spin) {
      std::this_thread::yield();
    }
    const uint64_t written = l.Written();
    const uint64_t cut = 1 + rng() % 300;
    ASSERT_TRUE(l.TruncateAfter(written - cut, true).ok());
    Fill(l, static_cast<int>(cut), static_cast<int>(cut));
  }
  stop = true;
  reader.join();
  EXPECT_EQ(fail.what, "");
  EXPECT_GT(reads.load(), 200u);
}

// A read_log callback that blocks does not hold a truncation up (read_log
// holds its ReadGuard only between callbacks): a cut before the record it
// was given, and appends that fill the log up again past where it stands,
// run to the end while it waits. Then the read ends without an error where
// it was, instead of walking on from an offset that now lies inside other
// records (a DataLoss for the log's own records, or records the cut
// removed mixed with new ones).
TEST(MmapLogTruncate, ReadLogWhoseCallbackBlocksLetsACutRunAndEndsThere) {
  ScratchDir dir;
  auto log = Log::Open(SmallStoreOptions(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  Log& l = **log;
  Fill(l, 800, 800);
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false, cut = false;
  uint64_t last = 0;
  absl::Status read;
  std::thread reader([&] {
    read = l.ReadLog(0, UINT64_MAX, [&](const cairn_log_record& r) {
      EXPECT_EQ(r.position, last + 1);
      last = r.position;
      if (r.position == 100) {  // in the first segment, which the cut keeps
        std::unique_lock<std::mutex> lk(mu);
        blocked = true;
        cv.notify_all();
        cv.wait(lk, [&] { return cut; });
      }
      return true;
    });
  });
  {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return blocked; });
  }
  ASSERT_TRUE(l.TruncateAfter(50, true).ok());
  Fill(l, 750, 750);
  EXPECT_EQ(l.Written(), 800u);
  {
    std::lock_guard<std::mutex> lk(mu);
    cut = true;
  }
  cv.notify_all();
  reader.join();
  EXPECT_TRUE(read.ok()) << read;
  EXPECT_EQ(last, 100u);
}

}  // namespace
}  // namespace cairn::mmaplog
