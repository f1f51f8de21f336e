// Storage conformance under concurrency: appenders on distinct and shared
// streams, readers racing appenders, live reads. Sizes are small enough for
// the whole suite to stay within seconds on two cores, large enough that a
// plugin without proper locking or publication fails reliably.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "storage_suite.h"

namespace cairn::conformance {
namespace {

constexpr int kThreads = 4;
// wait_commit's wake-up bound after a commit (cairn/plugin.h).
constexpr int kWakeBoundMs = 1000;

// Collects the first failure seen by a worker thread.
class FirstFailure {
 public:
  void Set(const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (message_.empty()) message_ = message;
  }
  std::string Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return message_;
  }

 private:
  mutable std::mutex mu_;
  std::string message_;
};

CAIRN_TEST_P(StorageConformance, ConcurrentAppendsToDistinctStreamsLoseNothing,
             kRuleAtomicBatches) {
  constexpr int kBatches = 50;
  constexpr size_t kBatchSize = 3;
  FirstFailure failure;
  std::vector<std::vector<cairn_append_result>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string stream = "distinct-" + std::to_string(t);
      for (int b = 0; b < kBatches; ++b) {
        AppendOutcome out =
            AppendTo(api_, store_, stream, Exact(uint64_t(b) * kBatchSize),
                     Events(kBatchSize, std::to_string(b)));
        if (out.code != CAIRN_OK) {
          failure.Set("append to " + stream + " failed: " +
                      Describe(out.code, out.message.c_str()));
          return;
        }
        results[t].push_back(out.result);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failure.Get(), "");
  for (int t = 0; t < kThreads; ++t) {
    for (const cairn_append_result& r : results[t]) {
      EXPECT_EQ(r.last_position - r.first_position + 1, kBatchSize)
          << kRuleAtomicBatches
          << ": a batch must take one contiguous range of positions";
    }
  }
  CheckAndReopen([&] {
    for (int t = 0; t < kThreads; ++t) {
      std::string stream = "distinct-" + std::to_string(t);
      std::vector<ReadEvent> events = ReadStream(stream);
      ASSERT_EQ(events.size(), kBatches * kBatchSize) << stream;
      ExpectContiguousRevisions(stream, events);
    }
    std::vector<ReadEvent> all = ReadAll(0, CAIRN_MAX_REVISION, true);
    ASSERT_EQ(all.size(), size_t{kThreads} * kBatches * kBatchSize);
    ExpectGapFreePositions(all);
    EXPECT_EQ(HeadPosition(), all.size());
  });
}

CAIRN_TEST_P(StorageConformance,
             ConcurrentAppendsToOneStreamLoseAndDuplicateNothing,
             kRuleAtomicBatches) {
  constexpr int kBatches = 40;
  constexpr size_t kBatchSize = 2;
  FirstFailure failure;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::string id = std::to_string(t) + "." + std::to_string(b);
        AppendOutcome out =
            AppendTo(api_, store_, "shared", Any(), Events(kBatchSize, id));
        if (out.code != CAIRN_OK) {
          failure.Set("append failed: " +
                      Describe(out.code, out.message.c_str()));
          return;
        }
        if (out.result.last_revision - out.result.first_revision + 1 !=
            kBatchSize) {
          failure.Set(std::string(kRuleContiguousRevisions) +
                      ": a batch of 2 was given revisions " +
                      std::to_string(out.result.first_revision) + ".." +
                      std::to_string(out.result.last_revision));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failure.Get(), "");
  CheckAndReopen([&] {
    std::vector<ReadEvent> events = ReadStream("shared");
    ASSERT_EQ(events.size(), size_t{kThreads} * kBatches * kBatchSize)
        << "events were lost or duplicated";
    ExpectContiguousRevisions("shared", events);
    std::set<std::string> seen;
    for (size_t i = 0; i < events.size(); i += kBatchSize) {
      // A batch's events are adjacent: "<t>.<b>-0" then "<t>.<b>-1".
      std::string id = events[i].data.substr(0, events[i].data.rfind('-'));
      EXPECT_EQ(events[i].data, id + "-0") << kRuleAtomicBatches;
      EXPECT_EQ(events[i + 1].data, id + "-1")
          << kRuleAtomicBatches << ": batch " << id
          << " is interleaved with another";
      EXPECT_TRUE(seen.insert(id).second) << "batch " << id << " appears twice";
    }
  });
}

CAIRN_TEST_P(StorageConformance, ConcurrentExactExpectedAppendsSerialize,
             kRuleExpectedRevisionChecked) {
  constexpr int kPerThread = 20;
  constexpr int kMaxAttempts = 20000;
  std::atomic<int> attempts{0};
  FirstFailure failure;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int done = 0;
      while (done < kPerThread) {
        if (++attempts > kMaxAttempts) {
          failure.Set("no progress after " + std::to_string(kMaxAttempts) +
                      " attempts");
          return;
        }
        uint64_t head = 0;
        ErrorBuffer error;
        cairn_status st = api_->head_revision(store_, Bytes("cas"), &head,
                                              error.get());
        if (st != CAIRN_OK) {
          failure.Set("head_revision failed: " + Describe(st, error.message));
          return;
        }
        AppendOutcome out =
            AppendTo(api_, store_, "cas", Exact(head),
                     Events(1, std::to_string(t) + "." + std::to_string(done)));
        if (out.code == CAIRN_E_WRONG_EXPECTED_REVISION) continue;
        if (out.code != CAIRN_OK) {
          failure.Set("append failed: " +
                      Describe(out.code, out.message.c_str()));
          return;
        }
        if (out.result.first_revision != head + 1) {
          failure.Set(std::string(kRuleContiguousRevisions) +
                      ": append expecting head " + std::to_string(head) +
                      " got revision " +
                      std::to_string(out.result.first_revision));
        }
        ++done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failure.Get(), "");
  std::vector<ReadEvent> events = ReadStream("cas");
  EXPECT_EQ(events.size(), size_t{kThreads} * kPerThread)
      << "exact-expected appends must each write once";
  ExpectContiguousRevisions("cas", events);
}

CAIRN_TEST_P(StorageConformance, ReadersNeverSeeHalfABatch,
             kRuleAtomicBatches) {
  constexpr int kWriters = 2;
  constexpr int kBatches = 60;
  constexpr size_t kBatchSize = 8;
  std::atomic<int> writers_left{kWriters};
  FirstFailure failure;
  std::thread reader([&] {
    bool last_pass = false;
    while (!last_pass) {
      last_pass = writers_left.load() == 0;
      for (int w = 0; w < kWriters; ++w) {
        std::string stream = "halves-" + std::to_string(w);
        std::vector<ReadEvent> events;
        std::string message;
        cairn_status st = ReadStreamFrom(api_, store_, stream, 1,
                                         CAIRN_MAX_REVISION,
                                         CAIRN_MAX_REVISION, &events, &message);
        if (st != CAIRN_OK) {
          failure.Set("read_stream failed: " + Describe(st, message.c_str()));
          return;
        }
        if (events.size() % kBatchSize != 0) {
          failure.Set(std::string(kRuleAtomicBatches) + ": a reader saw " +
                      std::to_string(events.size()) + " events of " + stream +
                      ", not a whole number of 8-event batches");
          return;
        }
      }
      std::vector<ReadEvent> all;
      std::string message;
      cairn_status st = ReadAllFrom(api_, store_, 0, CAIRN_MAX_REVISION, true,
                                    &all, &message);
      if (st != CAIRN_OK) {
        failure.Set("read_all failed: " + Describe(st, message.c_str()));
        return;
      }
      std::map<std::string, size_t> per_stream;
      for (size_t i = 0; i < all.size(); ++i) {
        if (all[i].position != i + 1) {
          failure.Set(std::string(kRuleGapFreePositions) +
                      ": a reader saw position " +
                      std::to_string(all[i].position) + " at index " +
                      std::to_string(i) + " of read_all");
          return;
        }
        ++per_stream[all[i].stream];
      }
      for (const auto& [stream, count] : per_stream) {
        if (count % kBatchSize != 0) {
          failure.Set(std::string(kRuleAtomicBatches) +
                      ": read_all showed " + std::to_string(count) +
                      " events of " + stream +
                      ", not a whole number of 8-event batches");
          return;
        }
      }
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::string stream = "halves-" + std::to_string(w);
      for (int b = 0; b < kBatches; ++b) {
        AppendOutcome out = AppendTo(api_, store_, stream, Any(),
                                     Events(kBatchSize, std::to_string(b)));
        if (out.code != CAIRN_OK) {
          failure.Set("append failed: " +
                      Describe(out.code, out.message.c_str()));
          break;
        }
      }
      --writers_left;
    });
  }
  for (std::thread& w : writers) w.join();
  reader.join();
  EXPECT_EQ(failure.Get(), "");
  EXPECT_EQ(HeadPosition(), size_t{kWriters} * kBatches * kBatchSize);
}

CAIRN_TEST_P(StorageConformance, LiveReadsDeliverLaterAppendsInOrderOnce,
             kRuleWaitCommitAnswers) {
  std::string skip;
  if (Lacks(CAIRN_CAP_LIVE_READS, "CAIRN_CAP_LIVE_READS", "live reads",
            &skip)) {
    GTEST_SKIP() << skip;
  }
  constexpr int kBatches = 100;
  constexpr size_t kBatchSize = 2;
  constexpr size_t kTotal = kBatches * kBatchSize;
  FirstFailure failure;
  std::vector<ReadEvent> received;
  std::thread reader([&] {
    uint64_t seen = 0;
    while (received.size() < kTotal) {
      uint64_t watermark = 0;
      ErrorBuffer error;
      cairn_status st =
          api_->wait_commit(store_, seen, 10000, &watermark, error.get());
      if (st != CAIRN_OK) {
        failure.Set("wait_commit after position " + std::to_string(seen) +
                    " failed: " + Describe(st, error.message) + " (" +
                    std::to_string(received.size()) + " of " +
                    std::to_string(kTotal) + " events received)");
        return;
      }
      if (watermark <= seen) {
        failure.Set("wait_commit returned OK with watermark " +
                    std::to_string(watermark) + ", not above " +
                    std::to_string(seen));
        return;
      }
      std::vector<ReadEvent> batch;
      std::string message;
      st = ReadAllFrom(api_, store_, seen, CAIRN_MAX_REVISION, false, &batch,
                       &message);
      if (st != CAIRN_OK || batch.empty()) {
        failure.Set("read_all after position " + std::to_string(seen) +
                    " delivered nothing though the watermark is " +
                    std::to_string(watermark) + ": " +
                    Describe(st, message.c_str()));
        return;
      }
      seen = batch.back().position;
      received.insert(received.end(), batch.begin(), batch.end());
    }
  });
  for (int b = 0; b < kBatches; ++b) {
    MustAppend("live-" + std::to_string(b % 3), Any(),
               Events(kBatchSize, std::to_string(b)));
  }
  reader.join();
  ASSERT_EQ(failure.Get(), "");
  ASSERT_EQ(received.size(), kTotal) << "live reads lost or duplicated events";
  ExpectGapFreePositions(received);
}

CAIRN_TEST_P(StorageConformance, WaitCommitTimesOutOrReturnsAtOnce,
             kRuleWaitCommitAnswers) {
  std::string skip;
  if (Lacks(CAIRN_CAP_LIVE_READS, "CAIRN_CAP_LIVE_READS", "live reads",
            &skip)) {
    GTEST_SKIP() << skip;
  }
  uint64_t watermark = 99;
  cairn_status st = api_->wait_commit(store_, 0, 50, &watermark, error_.get());
  EXPECT_EQ(st, CAIRN_E_TIMEOUT)
      << "wait_commit on an empty store must time out; got "
      << Describe(st, error_.message);
  MustAppend("wait", Any(), Events(2));
  st = api_->wait_commit(store_, 1, 10000, &watermark, error_.get());
  EXPECT_EQ(st, CAIRN_OK) << "the watermark is already above 1: "
                          << Describe(st, error_.message);
  EXPECT_EQ(watermark, 2u);
  st = api_->wait_commit(store_, 2, 20, &watermark, error_.get());
  EXPECT_EQ(st, CAIRN_E_TIMEOUT) << Describe(st, error_.message);
}

// The scheduler state of thread `tid` of this process ('R' running, 'S'
// sleeping...), from /proc; '?' if it cannot be read.
char ThreadState(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return '?';
  size_t paren = line.rfind(')');  // the name may hold spaces and ')'
  if (paren == std::string::npos || paren + 2 >= line.size()) return '?';
  return line[paren + 2];
}

// wait_commit "wakes on commit, not by polling" (cairn/plugin.h): a waiter
// with a long timeout must return within kWakeBoundMs of the start of the
// append that commits (the bound cairn/plugin.h states; generous for a
// loaded machine, and far above a futex or condition-variable wake-up). The
// append waits (bounded) until the waiter thread has slept for a while,
// i.e. is blocked inside wait_commit (read from /proc); if it cannot tell
// and the append wins the race, wait_commit returns at once, which passes
// too.
CAIRN_TEST_P(StorageConformance, WaitCommitWakesOnCommitNotByItsTimeout,
             kRuleWaitWakesOnCommit) {
  std::string skip;
  if (Lacks(CAIRN_CAP_LIVE_READS, "CAIRN_CAP_LIVE_READS", "live reads",
            &skip)) {
    GTEST_SKIP() << skip;
  }
  using Clock = std::chrono::steady_clock;
  constexpr uint32_t kTimeoutMs = 10000;
  constexpr auto kBound = std::chrono::milliseconds(kWakeBoundMs);
  // How long the waiter may take to block (setup, not the bound).
  constexpr auto kSetup = std::chrono::milliseconds(kTimeoutMs / 2);
  MustAppend("wake", Any(), Events(1));
  const uint64_t head = HeadPosition();
  std::atomic<pid_t> waiter_tid{0};
  cairn_status status = CAIRN_OK;
  uint64_t watermark = 0;
  std::string message;
  Clock::time_point returned_at{};
  std::thread waiter([&] {
    ErrorBuffer error;
    waiter_tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
    status =
        api_->wait_commit(store_, head, kTimeoutMs, &watermark, error.get());
    returned_at = Clock::now();
    message = error.message;
  });
  const Clock::time_point deadline = Clock::now() + kSetup;
  while (waiter_tid.load() == 0 && Clock::now() < deadline) {
    std::this_thread::yield();
  }
  // Sleeping for kSettle on end, not once: a thread may sleep a moment on
  // its way into wait_commit (a lock at thread start), and an append made
  // then would let a poller's first check see it.
  constexpr auto kSettle = std::chrono::milliseconds(20);
  Clock::time_point sleeping_since{};
  while (Clock::now() < deadline) {
    const char state = ThreadState(waiter_tid.load());
    if (state != 'S' && state != '?') {
      sleeping_since = {};
    } else if (sleeping_since == Clock::time_point{}) {
      sleeping_since = Clock::now();
    } else if (Clock::now() - sleeping_since >= kSettle) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const Clock::time_point appended_at = Clock::now();
  MustAppend("wake", Any(), Events(1));
  waiter.join();
  EXPECT_EQ(status, CAIRN_OK)
      << kRuleWaitWakesOnCommit << ": a commit after position " << head
      << " must end the wait with CAIRN_OK; got "
      << Describe(status, message.c_str());
  EXPECT_GT(watermark, head) << kRuleWaitWakesOnCommit;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      returned_at - appended_at)
                      .count();
  EXPECT_LT(ms, kBound.count())
      << kRuleWaitWakesOnCommit << ": wait_commit(timeout " << kTimeoutMs
      << " ms) returned " << ms << " ms after the append that ended its wait "
      << "began, past the " << kWakeBoundMs
      << " ms bound: it woke by its timeout or by polling, not on the commit";
}

}  // namespace
}  // namespace cairn::conformance
