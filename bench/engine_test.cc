// Every engine keeps the contract the harness measures against: the same
// answers for the same appends, so a figure never compares unlike work.
#include "bench/engine.h"

#include <cairn/builtins.h>
#include <cairn/plugin_registry.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "bench/disk_usage.h"
#include "bench/workload.h"

namespace cairn::bench {
namespace {

bool MmapLogBuiltIn() {
  PluginRegistry registry;
  return RegisterBuiltinPlugins(registry).ok() &&
         registry.Find(CAIRN_KIND_STORAGE, "mmaplog").ok();
}

// Small segments keep Cairn's open (which preallocates a segment) quick.
const std::vector<std::string> kSmallSegments = {"storage.segment-size=4MiB"};

class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam().rfind("cairn", 0) == 0 && !MmapLogBuiltIn()) {
      GTEST_SKIP() << "the mmaplog storage plugin is not in this build";
    }
    dir_ = (std::filesystem::temp_directory_path() /
            ("cairn-bench-test-" + GetParam() + "-" + std::to_string(::getpid())))
               .string();
    RemoveTree(dir_);
  }
  void TearDown() override { RemoveTree(dir_); }

  std::unique_ptr<Engine> Open(Durability durability = Durability::kOsCache) {
    auto engine = MakeEngine(GetParam());
    EXPECT_TRUE(engine.ok()) << engine.status();
    EngineOptions options;
    options.dir = dir_;
    options.durability = durability;
    options.cairn_overrides = kSmallSegments;
    absl::Status opened = (*engine)->Open(options);
    EXPECT_TRUE(opened.ok()) << opened;
    return *std::move(engine);
  }

  static std::vector<EventData> Batch(size_t count, const std::string& tag) {
    std::vector<EventData> events(count);
    for (size_t i = 0; i < count; ++i) {
      events[i].type = "Tested";
      events[i].data = "payload-" + std::to_string(i);
      events[i].tags = {tag};
      events[i].timestamp_us = 1000 + static_cast<int64_t>(i);
    }
    return events;
  }

  struct Seen {
    std::string stream;
    uint64_t revision, position;
    std::string data;
  };
  static std::vector<Seen> Collect(
      const std::function<absl::Status(const ReadFn&)>& read) {
    std::vector<Seen> seen;
    absl::Status s = read([&](const ReadEvent& e) {
      seen.push_back({std::string(e.stream), e.revision, e.position, std::string(e.data)});
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return seen;
  }

  std::string dir_;
};

TEST_P(EngineTest, ReadsReturnWhatWasAppendedInOrder) {
  auto engine = Open();
  ASSERT_TRUE(engine->Append("orders-1", 0, Batch(2, "red")).ok());
  ASSERT_TRUE(engine->Append("orders-2", 0, Batch(1, "blue")).ok());
  auto last = engine->Append("orders-1", 2, Batch(2, "blue"));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 5u);

  auto stream = Collect([&](const ReadFn& fn) {
    return engine->ReadStream("orders-1", 2, kMaxRevision, fn);
  });
  ASSERT_EQ(stream.size(), 3u);
  EXPECT_EQ(stream[0].revision, 2u);
  EXPECT_EQ(stream[0].position, 2u);
  EXPECT_EQ(stream[1].position, 4u);
  EXPECT_EQ(stream[2].data, "payload-1");

  auto blue = Collect([&](const ReadFn& fn) { return engine->ReadTag("blue", 0, 10, fn); });
  ASSERT_EQ(blue.size(), 3u);
  EXPECT_EQ(blue[0].stream, "orders-2");
  EXPECT_EQ(blue[0].position, 3u);
  EXPECT_EQ(blue[2].position, 5u);

  auto all = Collect([&](const ReadFn& fn) { return engine->ReadAll(1, 3, fn); });
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].position, 2u);
  EXPECT_EQ(all[2].position, 4u);
  EXPECT_EQ(all[2].revision, 3u);
}

TEST_P(EngineTest, WrongExpectedHeadIsRefusedAndWritesNothing) {
  auto engine = Open();
  ASSERT_TRUE(engine->Append("s", 0, Batch(3, "t")).ok());
  auto refused = engine->Append("s", 2, Batch(1, "t"));
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(engine->Append("s", 0, Batch(1, "t")).ok());
  auto all = Collect([&](const ReadFn& fn) { return engine->ReadAll(0, 100, fn); });
  EXPECT_EQ(all.size(), 3u);
  auto next = engine->Append("s", 3, Batch(1, "t"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 4u);
}

TEST_P(EngineTest, ReopenedStoreKeepsEventsAndContinuesPositions) {
  {
    auto engine = Open(Durability::kSynced);
    ASSERT_TRUE(engine->Append("s", 0, Batch(4, "t")).ok());
    ASSERT_TRUE(engine->Close().ok());
    EXPECT_GT(engine->DiskUsage().allocated, 0u);
  }
  auto engine = Open(Durability::kSynced);
  auto next = engine->Append("s", 4, Batch(1, "t"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 5u);
  auto stream = Collect([&](const ReadFn& fn) {
    return engine->ReadStream("s", 1, kMaxRevision, fn);
  });
  ASSERT_EQ(stream.size(), 5u);
  EXPECT_EQ(stream[4].revision, 5u);
}

TEST_P(EngineTest, ConcurrentWritersGetGapFreePositions) {
  auto engine = Open();
  constexpr int kWriters = 4, kAppends = 40;
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::string stream = "writer-" + std::to_string(w);
      for (int a = 0; a < kAppends; ++a) {
        if (!engine->Append(stream, static_cast<uint64_t>(a) * 3, Batch(3, "t")).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = Collect([&](const ReadFn& fn) { return engine->ReadAll(0, kMaxPosition, fn); });
  ASSERT_EQ(all.size(), static_cast<size_t>(kWriters * kAppends * 3));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].position, i + 1);
}

TEST_P(EngineTest, WaitCommitWakesWhenAnotherThreadAppends) {
  auto engine = Open();
  std::thread writer([&] { ASSERT_TRUE(engine->Append("s", 0, Batch(2, "t")).ok()); });
  uint64_t seen = 0;
  for (int i = 0; i < 100 && seen < 2; ++i) {
    auto waited = engine->WaitCommit(seen, std::chrono::milliseconds(100));
    ASSERT_TRUE(waited.ok()) << waited.status();
    seen = *waited;
  }
  writer.join();
  EXPECT_EQ(seen, 2u);
}

// Every workload runs end to end on every engine and checks its own answers
// (counts, order, contiguity, whole batches after kill -9).
// Every workload kind, small, on `engine`: each run succeeds and verifies.
void RunEveryWorkload(const std::string& engine, const std::string& base_dir) {
  for (WorkloadKind kind :
       {WorkloadKind::kAppend, WorkloadKind::kReadStream, WorkloadKind::kReadTag,
        WorkloadKind::kReadAll, WorkloadKind::kRecoveryClean, WorkloadKind::kRecoveryKill,
        WorkloadKind::kMixed}) {
    WorkloadSpec spec;
    spec.kind = kind;
    spec.durability = Durability::kOsCache;
    spec.writers = 2;
    spec.subscribers = 2;
    spec.batch = 5;
    spec.streams = 4;
    spec.seconds = 0.05;
    spec.preload_events = 2000;
    spec.stream_length = 100;
    spec.read_chunk = 50;
    std::string dir = base_dir + "-" + KindName(kind);
    RunResult result = RunWorkload(spec, engine, dir, kSmallSegments);
    RemoveTree(dir);
    EXPECT_TRUE(result.ok()) << KindName(kind) << ": " << result.error;
    EXPECT_GT(result.events, 0u) << KindName(kind) << " measured nothing";
    if (kind == WorkloadKind::kRecoveryKill || kind == WorkloadKind::kRecoveryClean) {
      EXPECT_GE(result.recovered, result.acknowledged) << KindName(kind);
    }
  }
}

TEST_P(EngineTest, EveryWorkloadRunsAndVerifies) {
  RunEveryWorkload(GetParam(), dir_);
}

// The sealed engines write control records (the cipher's seal registry)
// into the log, so their positions do not start at 1 as the tests above
// expect; what they store and read back is checked by the workloads' own
// verification.
class SealedEngineTest : public EngineTest {};

TEST_P(SealedEngineTest, EveryWorkloadRunsAndVerifies) {
  RunEveryWorkload(GetParam(), dir_);
}

// A test name for an engine: "cairn-sealed" -> "cairn_sealed".
std::string EngineTestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) c = c == '-' ? '_' : c;
  return name;
}

INSTANTIATE_TEST_SUITE_P(Engines, SealedEngineTest,
                         ::testing::Values("cairn-sealed", "cairn-sealed-dict"),
                         EngineTestName);

INSTANTIATE_TEST_SUITE_P(Engines, EngineTest,
                         ::testing::Values("cairn", "cairn-direct", "sqlite",
                                           "rocksdb", "lmdb"),
                         EngineTestName);

// The direct engine skips the Store, so what it stores is the event as
// given: no envelope, no encoding. Read back through the storage plugin it
// is byte for byte what was appended.
TEST(CairnDirectEngine, StoresTheEventsBytesAsGiven) {
  if (!MmapLogBuiltIn())
    GTEST_SKIP() << "the mmaplog storage plugin is not in this build";
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("cairn-bench-direct-" + std::to_string(::getpid())))
                        .string();
  RemoveTree(dir);
  auto engine = MakeEngine("cairn-direct");
  ASSERT_TRUE(engine.ok()) << engine.status();
  EngineOptions options;
  options.dir = dir;
  options.durability = Durability::kOsCache;
  options.cairn_overrides = kSmallSegments;
  ASSERT_TRUE((*engine)->Open(options).ok());
  std::vector<EventData> events(1);
  events[0].type = "T";
  events[0].data = std::string("\0raw\xff", 5);
  events[0].tags = {"tag"};
  ASSERT_TRUE((*engine)->Append("s", 0, events).ok());
  std::string data;
  ASSERT_TRUE((*engine)
                  ->ReadTag("tag", 0, 10,
                            [&](const ReadEvent& e) {
                              data = std::string(e.data);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(data, events[0].data);
  ASSERT_TRUE((*engine)->Close().ok());
  RemoveTree(dir);
}

TEST(MakeEngine, UnknownNameListsTheKnownOnes) {
  auto engine = MakeEngine("postgres");
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("sqlite"), absl::string_view::npos);
}

}  // namespace
}  // namespace cairn::bench
