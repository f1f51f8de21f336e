// Several writers and readers at once; run under ThreadSanitizer by
// scripts/test.d/40-mmaplog-sanitizers.sh. Readers check the invariants a
// reader may rely on while writers race: positions up to the watermark are
// gap-free, stream revisions contiguous, batches whole, and live reads wake;
// a verify beside them finds nothing wrong.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "log.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

using testing::OwnedEvent;
using testing::Str;

// Runs Log::Verify at least once and again while `running()`, counting
// each run in *runs; every problem it reports fails the test.
template <typename Running>
void VerifyWhile(Log& log, Running running, std::atomic<uint64_t>* runs) {
  do {
    absl::Status s =
        log.Verify([](const std::string& p) { ADD_FAILURE() << p; });
    ASSERT_TRUE(s.ok()) << s;
    ++*runs;
  } while (running());
}

TEST(MmapLogStress, WritersAndReadersRaceWithoutBreakingInvariants) {
  testing::ScratchDir dir;
  LogOptions o;
  o.path = dir.path();
  o.segment_size = 64 << 10;  // rotations under contention
  o.fsync = FsyncMode::kNever;
  o.stream_bucket_bits = 6;
  auto opened = Log::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Log& log = **opened;

  constexpr int kWriters = 4;
  constexpr int kAppendsEach = 600;
  std::atomic<int> writers_done{0};
  std::atomic<uint64_t> conflicts{0};
  std::array<uint64_t, kWriters> tagged_events{};  // each writer's own entry
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int i = 0; i < kAppendsEach; ++i) {
        // Half the appends go to two streams every writer shares; every
        // tenth starts a new stream. A third of the batches carry a tag:
        // the others are committed through their appender's batch hint
        // (Log::batch_hints_), the tagged and new-stream ones record by
        // record, so both committer paths race here.
        bool shared = rng() % 2 == 0;
        std::string stream = shared ? "shared-" + std::to_string(rng() % 2)
                                    : "own-" + std::to_string(w);
        if (!shared && i % 10 == 0) stream += "-" + std::to_string(i);
        uint32_t count = 1 + rng() % 4;
        bool tagged = rng() % 3 == 0;
        std::vector<OwnedEvent> owned(count);
        std::vector<cairn_event> events;
        for (uint32_t k = 0; k < count; ++k) {
          owned[k].data = std::string(20 + rng() % 300, 'd');
          owned[k].metadata = std::to_string(count);
          if (tagged) owned[k].tags = {"w" + std::to_string(w)};
        }
        for (auto& ev : owned) events.push_back(ev.View());
        Expected expected{CAIRN_EXPECT_ANY, 0};
        if (shared && rng() % 2 == 0) {
          expected = {CAIRN_EXPECT_EXACT, log.HeadRevision(stream)};
        }
        cairn_append_result r;
        absl::Status s =
            log.Append(stream, expected, events.data(), events.size(), &r);
        if (absl::IsAborted(s)) {
          ++conflicts;
          continue;
        }
        ASSERT_TRUE(s.ok()) << s;
        ASSERT_EQ(r.last_position - r.first_position, count - 1);
        ASSERT_EQ(r.last_revision - r.first_revision, count - 1);
        if (tagged) tagged_events[w] += count;
      }
      ++writers_done;
    });
  }
  std::atomic<uint64_t> reads{0};
  for (int reader = 0; reader < 2; ++reader) {
    threads.emplace_back([&] {
      while (writers_done.load() < kWriters) {
        uint64_t expected_position = 0;
        std::map<std::string, uint64_t> heads;
        uint64_t batch_left = 0;
        absl::Status s = log.ReadAll(0, UINT64_MAX, true, [&](const cairn_event& e) {
          EXPECT_EQ(e.position, ++expected_position);
          EXPECT_EQ(e.revision, ++heads[Str(e.stream)]);
          if (batch_left == 0) batch_left = std::stoul(Str(e.metadata));
          --batch_left;
          return true;
        });
        ASSERT_TRUE(s.ok()) << s;
        ASSERT_EQ(batch_left, 0u) << "a batch was visible in part";
        for (int k = 0; k < 2; ++k) {
          std::string stream = "shared-" + std::to_string(k);
          uint64_t previous = 0;
          s = log.ReadStream(stream, 1, CAIRN_MAX_REVISION, UINT64_MAX,
                             [&](const cairn_event& e) {
                               EXPECT_EQ(e.revision, previous + 1);
                               previous = e.revision;
                               return true;
                             });
          ASSERT_TRUE(s.ok()) << s;
        }
        ++reads;
      }
    });
  }
  // Verify runs beside the writers, as `cairn verify --server` does in
  // cairnd: it checks up to the watermark it starts at and finds nothing.
  std::atomic<uint64_t> verifies{0};
  threads.emplace_back([&] {
    VerifyWhile(
        log, [&] { return writers_done.load() < kWriters; }, &verifies);
  });
  // A live reader follows the watermark through wait_commit.
  threads.emplace_back([&] {
    uint64_t seen = 0;
    while (writers_done.load() < kWriters) {
      uint64_t position = 0;
      absl::Status s = log.WaitCommit(seen, 50, &position);
      if (s.ok()) {
        ASSERT_GT(position, seen);
        seen = position;
      } else {
        ASSERT_TRUE(absl::IsDeadlineExceeded(s)) << s;
      }
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_GT(reads.load(), 0u);
  EXPECT_GT(verifies.load(), 0u);
  uint64_t total = 0;
  ASSERT_TRUE(log.ReadAll(0, UINT64_MAX, true, [&](const cairn_event&) {
                   ++total;
                   return true;
                 }).ok());
  EXPECT_EQ(total, log.HeadPosition());
  // Every tagged event is in its tag's list once, in position order.
  for (int w = 0; w < kWriters; ++w) {
    uint64_t n = 0, previous = 0;
    ASSERT_TRUE(log.ReadTag("w" + std::to_string(w), 0, UINT64_MAX,
                            [&](const cairn_event& e) {
                              EXPECT_GT(e.position, previous);
                              previous = e.position;
                              ++n;
                              return true;
                            })
                    .ok());
    EXPECT_EQ(n, tagged_events[w]) << "tag w" << w;
  }
  // Reads that start mid-log (found through the sparse index, which
  // appenders with a batch hint fill in themselves) start where asked.
  for (uint64_t after = 0; after < total; after += 97) {
    uint64_t first = 0;
    ASSERT_TRUE(log.ReadAll(after, 1, true, [&](const cairn_event& e) {
                     first = e.position;
                     return true;
                   }).ok());
    ASSERT_EQ(first, after + 1);
  }
  EXPECT_TRUE(log.Verify([](const std::string& p) { ADD_FAILURE() << p; }).ok());
}

}  // namespace
}  // namespace cairn::mmaplog

namespace cairn::mmaplog {
namespace {

// Retention removes segments (bytes mode, a few 64 KiB segments kept) while
// writers append and readers copy events out of the mappings: readers must
// never touch an unmapped segment (ASan/TSan see it), and every read stays
// gap-free from where it started, which is never before the first position
// the reader saw before it started.
TEST(MmapLogStress, ReadersRaceWithRetentionRemovingSegments) {
  testing::ScratchDir dir;
  LogOptions o;
  o.path = dir.path();
  o.segment_size = 64 << 10;
  o.fsync = FsyncMode::kNever;
  o.stream_bucket_bits = 6;
  o.retention = RetentionMode::kBytes;
  o.retention_bytes = 3 * o.segment_size;
  auto opened = Log::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Log& log = **opened;

  constexpr int kWriters = 2;
  constexpr int kAppendsEach = 1500;
  std::atomic<int> writers_done{0};
  // The writers start once both readers run, so the reads race the appends
  // and the removals even when the machine is slow to schedule the readers
  // (CI saw a run in which no read happened before the writers finished).
  std::atomic<int> readers_running{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      while (readers_running.load() < 2) std::this_thread::yield();
      std::mt19937 rng(w);
      for (int i = 0; i < kAppendsEach; ++i) {
        std::string stream = "s-" + std::to_string(rng() % 5);
        OwnedEvent owned;
        owned.data = std::string(100 + rng() % 400, 'd');
        owned.tags = {"all"};
        cairn_event e = owned.View();
        cairn_append_result r;
        ASSERT_TRUE(log.Append(stream, {CAIRN_EXPECT_ANY, 0}, &e, 1, &r).ok());
      }
      ++writers_done;
    });
  }
  // Something that removes as fast as it can, besides the background thread,
  // with one last pass that starts after the writers finish: the flush seals
  // every segment but the active one, so that pass removes what the passes
  // before it could not (nothing, if the writers ran while this thread did
  // not, and the background thread may still be mid-removal when they
  // finish). RunMaintenance waits for a background pass in progress, so once
  // this thread is done the removals are complete and counted. The readers
  // go on until then, so the last pass races them too.
  std::atomic<bool> removing{true};
  threads.emplace_back([&] {
    for (bool last = false; !last;) {
      last = writers_done.load() == kWriters;
      absl::Status s = log.Flush();
      if (s.ok()) s = log.RunMaintenance();
      EXPECT_TRUE(s.ok()) << s;
      if (!s.ok()) break;
    }
    removing = false;
  });
  // Verify beside them too: segments retention removes mid-check are
  // skipped, never read after their unmapping, and nothing else is reported.
  std::atomic<uint64_t> verifies{0};
  threads.emplace_back([&] {
    VerifyWhile(
        log, [&] { return removing.load(); }, &verifies);
  });
  std::atomic<uint64_t> reads{0};
  for (int reader = 0; reader < 2; ++reader) {
    threads.emplace_back([&, reader] {
      ++readers_running;
      do {
        uint64_t first = log.FirstPosition();
        uint64_t previous = 0;
        std::string sum;
        absl::Status s;
        if (reader == 0) {
          s = log.ReadAll(0, UINT64_MAX, true, [&](const cairn_event& e) {
            EXPECT_GE(e.position, first);
            if (previous != 0) {
              EXPECT_EQ(e.position, previous + 1);
            }
            previous = e.position;
            sum += Str(e.data).substr(0, 1);  // copy out of the mapping
            return true;
          });
        } else {
          s = log.ReadTag("all", 0, UINT64_MAX, [&](const cairn_event& e) {
            EXPECT_GE(e.position, first);
            EXPECT_GT(e.position, previous);
            previous = e.position;
            sum += Str(e.data).substr(0, 1);
            return true;
          });
          for (int k = 0; k < 5 && s.ok(); ++k) {
            uint64_t revision = 0;
            s = log.ReadStream("s-" + std::to_string(k), 1, CAIRN_MAX_REVISION,
                               UINT64_MAX, [&](const cairn_event& e) {
                                 if (revision != 0) {
                                   EXPECT_EQ(e.revision, revision + 1);
                                 }
                                 revision = e.revision;
                                 sum += Str(e.data).substr(0, 1);
                                 return true;
                               });
          }
        }
        ASSERT_TRUE(s.ok()) << s;
        ++reads;
      } while (removing.load());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(reads.load(), 2u);
  EXPECT_GT(verifies.load(), 0u);
  double removed = 0;
  log.Stats([&](const char* name, double v) {
    if (std::string(name) == "segments_removed_total") removed = v;
  });
  EXPECT_GT(removed, 0);
  EXPECT_GT(log.FirstPosition(), 1u);
  EXPECT_TRUE(log.Verify([](const std::string& p) { ADD_FAILURE() << p; }).ok());
}

}  // namespace
}  // namespace cairn::mmaplog
