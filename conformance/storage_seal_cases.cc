// Storage conformance: the seal callback of an append (cairn_seal_fn,
// cairn/plugin.h). In ABI 2 every storage must honour it, so none of these
// cases is skipped: the suite plays the host and supplies its own seal.
#include <cairn/status.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "storage_suite.h"

namespace cairn::conformance {
namespace {

// What the suite's seal writes for an event: depends on index and revision
// and holds bytes a text-only storage would mangle.
std::string SealedBytes(size_t index, uint64_t revision) {
  std::string out =
      "sealed|" + std::to_string(revision) + "|" + std::to_string(index) + "|";
  out.push_back('\0');
  out.push_back('\xff');
  return out;
}

// A seal that records its calls and writes SealedBytes.
struct RecordingSeal {
  std::vector<std::pair<size_t, uint64_t>> calls;  // (index, revision)
  SealFn fn = [this](size_t index, uint64_t revision, cairn_buffer* out,
                     cairn_error*) {
    calls.emplace_back(index, revision);
    return AppendToBuffer(out, SealedBytes(index, revision))
               ? CAIRN_OK
               : CAIRN_E_RESOURCE_EXHAUSTED;
  };
};

// Events with metadata, tags, writer and timestamp: seal replaces data and
// metadata only.
std::vector<EventSpec> RichEvents(size_t count, const std::string& prefix) {
  std::vector<EventSpec> out = Events(count, prefix);
  for (size_t i = 0; i < count; ++i) {
    out[i].type = "Sealed" + std::to_string(i);
    out[i].metadata = "plain-metadata-" + std::to_string(i);
    out[i].writer = "writer-" + std::to_string(i);
    out[i].timestamp_us = 1700000000000000 + static_cast<int64_t>(i);
    out[i].tags = {"sealed-tag"};
  }
  return out;
}

CAIRN_TEST_P(StorageConformance,
             SealIsCalledOncePerEventInOrderWithTheRevisionsReported,
             kRuleSealHonoured) {
  MustAppend("seal-order", Any(), Events(2, "plain"));
  for (size_t count : {size_t{1}, size_t{4}}) {
    RecordingSeal seal;
    AppendOutcome out = AppendTo(api_, store_, "seal-order", Any(),
                                 Events(count, "s"), &seal.fn);
    ASSERT_EQ(out.code, CAIRN_OK) << Describe(out.code, out.message.c_str());
    ASSERT_EQ(seal.calls.size(), count)
        << kRuleSealHonoured << ": seal must be called once per event";
    for (size_t i = 0; i < count; ++i) {
      EXPECT_EQ(seal.calls[i].first, i)
          << kRuleSealHonoured << ": seal must be called in index order";
      EXPECT_EQ(seal.calls[i].second, out.result.first_revision + i)
          << kRuleSealHonoured
          << ": seal must get the revision the append reports";
    }
    EXPECT_EQ(out.result.last_revision, out.result.first_revision + count - 1);
  }
  // A new stream too: its first revision is 1.
  RecordingSeal seal;
  AppendOutcome out =
      AppendTo(api_, store_, "seal-new", NoStream(), Events(3, "n"), &seal.fn);
  ASSERT_EQ(out.code, CAIRN_OK) << Describe(out.code, out.message.c_str());
  ASSERT_EQ(seal.calls.size(), 3u) << kRuleSealHonoured;
  EXPECT_EQ(seal.calls[0], (std::pair<size_t, uint64_t>{0, 1}))
      << kRuleSealHonoured;
  EXPECT_EQ(seal.calls[2], (std::pair<size_t, uint64_t>{2, 3}))
      << kRuleSealHonoured;
}

CAIRN_TEST_P(StorageConformance,
             WhatSealWroteIsWhatReadReturnsWithEmptyMetadata,
             kRuleSealHonoured) {
  MustAppend("sealed", Any(), Events(1, "plain"));
  RecordingSeal seal;
  const std::vector<EventSpec> events = RichEvents(3, "rich");
  AppendOutcome out =
      AppendTo(api_, store_, "sealed", Exact(1), events, &seal.fn);
  ASSERT_EQ(out.code, CAIRN_OK) << Describe(out.code, out.message.c_str());
  // One large payload, past any small first buffer: storage must grow it.
  SealFn large = [](size_t, uint64_t revision, cairn_buffer* buffer,
                    cairn_error*) {
    std::string bytes(256 * 1024, static_cast<char>('a' + revision % 26));
    return AppendToBuffer(buffer, bytes) ? CAIRN_OK
                                         : CAIRN_E_RESOURCE_EXHAUSTED;
  };
  out = AppendTo(api_, store_, "sealed", Exact(4), Events(1, "big"), &large);
  ASSERT_EQ(out.code, CAIRN_OK) << Describe(out.code, out.message.c_str());
  CheckAndReopen([&] {
    std::vector<ReadEvent> read = ReadStream("sealed");
    ASSERT_EQ(read.size(), 5u);
    EXPECT_EQ(read[0].data, "plain-0");  // no seal: stored as given
    for (size_t i = 0; i < 3; ++i) {
      const ReadEvent& e = read[i + 1];
      EXPECT_EQ(e.data, SealedBytes(i, e.revision))
          << kRuleSealHonoured << ": revision " << e.revision
          << " must read back as the bytes seal wrote";
      EXPECT_EQ(e.metadata, "")
          << kRuleSealHonoured << ": a sealed event's metadata is empty";
      EXPECT_EQ(e.type, events[i].type) << kRuleSealHonoured;
      EXPECT_EQ(e.writer, events[i].writer) << kRuleSealHonoured;
      EXPECT_EQ(e.timestamp_us, events[i].timestamp_us) << kRuleSealHonoured;
      EXPECT_EQ(e.tags, events[i].tags) << kRuleSealHonoured;
    }
    EXPECT_EQ(read[4].data, std::string(256 * 1024, 'f'))  // revision 5
        << kRuleSealHonoured << ": a sealed payload larger than 256 KiB";
    std::vector<ReadEvent> all = ReadAll();
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[1].data, read[1].data) << kRuleSealHonoured;
  });
}

CAIRN_TEST_P(StorageConformance, ASealFailureFailsTheAppendAndUsesUpNothing,
             kRuleSealFailureStoresNothing) {
  MustAppend("seal-fails", Any(), Events(2, "plain"));
  MustAppend("other", Any(), Events(1, "other"));
  const uint64_t head = HeadRevision("seal-fails");
  const uint64_t position = HeadPosition();
  for (size_t failing : {size_t{0}, size_t{2}}) {
    SealFn refuse = [&](size_t index, uint64_t revision, cairn_buffer* out,
                        cairn_error* error) {
      if (index == failing) {
        std::snprintf(error->message, error->capacity,
                      "test seal refuses event %zu at revision %llu", index,
                      static_cast<unsigned long long>(revision));
        return CAIRN_E_INTEGRITY;
      }
      return AppendToBuffer(out, SealedBytes(index, revision))
                 ? CAIRN_OK
                 : CAIRN_E_RESOURCE_EXHAUSTED;
    };
    AppendOutcome out =
        AppendTo(api_, store_, "seal-fails", Any(), Events(3, "x"), &refuse);
    EXPECT_EQ(out.code, CAIRN_E_INTEGRITY)
        << kRuleSealFailureStoresNothing
        << ": the append must fail with the seal's status, got "
        << Describe(out.code, out.message.c_str());
    EXPECT_NE(
        out.message.find("test seal refuses event " + std::to_string(failing)),
        std::string::npos)
        << kRuleSealFailureStoresNothing
        << ": the append must fail with the seal's message, got '"
        << out.message << "'";
    EXPECT_EQ(HeadRevision("seal-fails"), head)
        << kRuleSealFailureStoresNothing << ": the head moved";
    EXPECT_EQ(HeadPosition(), position)
        << kRuleSealFailureStoresNothing << ": the head position moved";
    EXPECT_EQ(ReadStream("seal-fails").size(), head)
        << kRuleSealFailureStoresNothing;
  }
  // The next append gets the revisions and positions the failed ones would
  // have had: nothing was used up.
  RecordingSeal seal;
  AppendOutcome out = AppendTo(api_, store_, "seal-fails", Exact(head),
                               Events(2, "y"), &seal.fn);
  ASSERT_EQ(out.code, CAIRN_OK) << Describe(out.code, out.message.c_str());
  EXPECT_EQ(out.result.first_revision, head + 1)
      << kRuleSealFailureStoresNothing << ": a failed seal used up revisions";
  EXPECT_EQ(out.result.first_position, position + 1)
      << kRuleSealFailureStoresNothing << ": a failed seal used up positions";
  CheckAndReopen([&] {
    std::vector<ReadEvent> read = ReadStream("seal-fails");
    ASSERT_EQ(read.size(), head + 2);
    ExpectContiguousRevisions("seal-fails", read);
    std::vector<ReadEvent> all = ReadAll();
    ExpectGapFreePositions(all);
    EXPECT_EQ(all.back().data, SealedBytes(1, head + 2));
  });
}

CAIRN_TEST_P(StorageConformance, AnyAppendsWithASealToOneStreamNeverConflict,
             kRuleAnyNeverConflicts) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 60;
  constexpr size_t kBatchSize = 2;
  std::atomic<int> conflicts{0};
  std::mutex mu;
  std::string failure;
  std::vector<std::vector<cairn_append_result>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Seals like a host: the payload binds the revision storage gave.
      SealFn seal = [t](size_t index, uint64_t revision, cairn_buffer* out,
                        cairn_error*) {
        std::this_thread::yield();  // widen the window between appends
        return AppendToBuffer(out, std::to_string(t) + "@" +
                                       std::to_string(revision) + "#" +
                                       std::to_string(index))
                   ? CAIRN_OK
                   : CAIRN_E_RESOURCE_EXHAUSTED;
      };
      for (int b = 0; b < kBatches; ++b) {
        AppendOutcome out = AppendTo(api_, store_, "any-hot", Any(),
                                     Events(kBatchSize, "a"), &seal);
        if (out.code != CAIRN_OK) {
          if (out.code == CAIRN_E_WRONG_EXPECTED_REVISION) ++conflicts;
          std::lock_guard<std::mutex> lock(mu);
          if (failure.empty()) {
            failure = Describe(out.code, out.message.c_str());
          }
          continue;
        }
        results[t].push_back(out.result);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(conflicts.load(), 0)
      << kRuleAnyNeverConflicts << ": " << conflicts.load() << " of "
      << kThreads * kBatches << " any appends with a seal conflicted ("
      << failure << ")";
  ASSERT_EQ(failure, "") << kRuleAnyNeverConflicts;
  std::map<uint64_t, std::string> expected;  // revision -> sealed data
  for (int t = 0; t < kThreads; ++t) {
    for (const cairn_append_result& r : results[t]) {
      for (size_t i = 0; i < kBatchSize; ++i) {
        expected[r.first_revision + i] = std::to_string(t) + "@" +
                                         std::to_string(r.first_revision + i) +
                                         "#" + std::to_string(i);
      }
    }
  }
  CheckAndReopen([&] {
    std::vector<ReadEvent> read = ReadStream("any-hot");
    ASSERT_EQ(read.size(), size_t{kThreads} * kBatches * kBatchSize);
    ExpectContiguousRevisions("any-hot", read);
    for (const ReadEvent& e : read) {
      ASSERT_EQ(e.data, expected[e.revision])
          << kRuleSealHonoured << ": revision " << e.revision
          << " holds another append's seal";
    }
  });
}

// Runs `body` on a thread and waits at most `limit` for it. A storage that
// deadlocks would hang the suite; instead the rule is reported and the
// process ends, since the blocked storage can be neither closed nor left.
void RunOrReportDeadlock(const std::function<void()>& body,
                         std::chrono::seconds limit, const char* rule) {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  std::thread worker([&] {
    body();
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    done_cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  if (!done_cv.wait_for(lock, limit, [&] { return done; })) {
    std::printf(
        "[  FAILED  ] %s: the append did not return within %llds: storage "
        "deadlocked when seal called its read or head functions\n",
        rule, static_cast<long long>(limit.count()));
    std::fflush(stdout);
    std::_Exit(1);
  }
  lock.unlock();
  worker.join();
}

CAIRN_TEST_P(StorageConformance,
             ASealMayCallReadAndHeadFunctionsOfTheSameStorage,
             kRuleSealMayRead) {
  MustAppend("reentrant", Any(), Events(2, "before"));
  MustAppend("elsewhere", Any(), Events(1, "x"));
  const uint64_t position = HeadPosition();
  struct Seen {
    cairn_status head_status = CAIRN_OK, read_status = CAIRN_OK,
                 position_status = CAIRN_OK;
    uint64_t head = 0, position = 0;
    size_t read = 0, elsewhere = 0;
  };
  std::vector<Seen> seen;
  SealFn seal = [&](size_t index, uint64_t revision, cairn_buffer* out,
                    cairn_error*) {
    Seen s;
    ErrorBuffer e1, e3;
    const std::string stream = "reentrant";
    s.head_status =
        api_->head_revision(store_, Bytes(stream), &s.head, e1.get());
    std::vector<ReadEvent> events;
    std::string message;
    s.read_status = ReadStreamFrom(api_, store_, stream, 1, CAIRN_MAX_REVISION,
                                   CAIRN_MAX_REVISION, &events, &message);
    s.read = events.size();
    events.clear();
    if (ReadStreamFrom(api_, store_, "elsewhere", 1, CAIRN_MAX_REVISION,
                       CAIRN_MAX_REVISION, &events, &message) == CAIRN_OK) {
      s.elsewhere = events.size();
    }
    s.position_status = api_->head_position(store_, &s.position, e3.get());
    seen.push_back(s);
    return AppendToBuffer(out, SealedBytes(index, revision))
               ? CAIRN_OK
               : CAIRN_E_RESOURCE_EXHAUSTED;
  };
  AppendOutcome out;
  RunOrReportDeadlock(
      [&] {
        out = AppendTo(api_, store_, "reentrant", Any(), Events(2, "r"), &seal);
      },
      std::chrono::seconds(20), kRuleSealMayRead);
  ASSERT_EQ(out.code, CAIRN_OK)
      << kRuleSealMayRead << ": " << Describe(out.code, out.message.c_str());
  ASSERT_EQ(seen.size(), 2u) << kRuleSealHonoured;
  for (const Seen& s : seen) {
    EXPECT_EQ(s.head_status, CAIRN_OK) << kRuleSealMayRead;
    EXPECT_EQ(s.read_status, CAIRN_OK) << kRuleSealMayRead;
    EXPECT_EQ(s.position_status, CAIRN_OK) << kRuleSealMayRead;
    // Nothing of the batch is published while it is sealed.
    EXPECT_EQ(s.head, 2u) << kRuleAtomicBatches
                          << ": the batch was visible before it was sealed";
    EXPECT_EQ(s.read, 2u) << kRuleAtomicBatches;
    EXPECT_EQ(s.position, position) << kRuleAtomicBatches;
    EXPECT_EQ(s.elsewhere, 1u) << kRuleSealMayRead;
  }
  EXPECT_EQ(ReadStream("reentrant").size(), 4u);
}

}  // namespace
}  // namespace cairn::conformance
