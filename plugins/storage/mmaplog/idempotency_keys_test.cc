#include "idempotency_keys.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace cairn::mmaplog {
namespace {

using Batch = IdempotencyKeys::Batch;

Batch At(uint64_t position) {
  return Batch{position, position, position, position};
}

TEST(MmapLogIdempotencyKeys, KeysArePerStream) {
  IdempotencyKeys keys;
  keys.Add("s", "k", At(1));
  keys.Add("t", "k", At(2));
  ASSERT_TRUE(keys.Find("s", "k").has_value());
  EXPECT_EQ(keys.Find("s", "k")->first_position, 1u);
  EXPECT_EQ(keys.Find("t", "k")->first_position, 2u);
  EXPECT_FALSE(keys.Find("u", "k").has_value());
  EXPECT_FALSE(keys.Find("s", "other").has_value());
  // A stream name that ends where another's key begins is another pair.
  keys.Add("ab", "c", At(3));
  EXPECT_FALSE(keys.Find("a", "bc").has_value());
  EXPECT_EQ(keys.size(), 3u);
  keys.Clear();
  EXPECT_EQ(keys.size(), 0u);
  EXPECT_FALSE(keys.Find("s", "k").has_value());
}

TEST(MmapLogIdempotencyKeys, TheOldestGoFirstAndKeysReadBackAreOlder) {
  IdempotencyKeys keys(/*max_keys=*/3);
  keys.Add("s", "1", At(1));
  keys.Add("s", "2", At(2));
  keys.AddOlder("s", "0", At(0));  // read back from the log: older than all
  EXPECT_EQ(keys.size(), 3u);
  keys.Add("s", "3", At(3));
  EXPECT_FALSE(keys.Find("s", "0").has_value()) << "the older one goes first";
  EXPECT_TRUE(keys.Find("s", "1").has_value());
  keys.Add("s", "4", At(4));
  EXPECT_FALSE(keys.Find("s", "1").has_value());
  EXPECT_TRUE(keys.Find("s", "2").has_value());
  EXPECT_TRUE(keys.Find("s", "4").has_value());
  EXPECT_EQ(keys.size(), 3u);
  // At the bound, a key read back is older than everything held: dropped.
  keys.AddOlder("s", "old", At(0));
  EXPECT_FALSE(keys.Find("s", "old").has_value());
  EXPECT_EQ(keys.size(), 3u);
}

TEST(MmapLogIdempotencyKeys, ASecondBatchWithAKeyIsTheAnswerInItsOldPlace) {
  IdempotencyKeys keys(/*max_keys=*/2);
  keys.Add("s", "k", At(1));
  keys.Add("s", "k", At(5));
  EXPECT_EQ(keys.Find("s", "k")->first_position, 5u);
  keys.AddOlder("s", "k", At(0));
  EXPECT_EQ(keys.Find("s", "k")->first_position, 5u) << "older never wins";
  keys.Add("s", "a", At(6));
  keys.Add("s", "b", At(7));
  EXPECT_FALSE(keys.Find("s", "k").has_value());
  EXPECT_EQ(keys.size(), 2u);
}

// Many threads adding and finding, with evictions: run under
// ThreadSanitizer (scripts/test.d/40-mmaplog-sanitizers.sh).
TEST(MmapLogIdempotencyKeys, ThreadsShareTheBound) {
  IdempotencyKeys keys(/*max_keys=*/64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string stream = "s" + std::to_string(t);
      for (uint64_t i = 1; i <= 2000; ++i) {
        const std::string key = std::to_string(i);
        EXPECT_FALSE(keys.Find(stream, key).has_value());
        keys.Add(stream, key, At(i));
        if (i % 7 == 0) keys.AddOlder(stream, "old" + key, At(0));
        const auto found = keys.Find(stream, key);
        // Another thread may already have pushed it out; if held, it is
        // this batch.
        if (found.has_value()) {
          EXPECT_EQ(found->first_position, i);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(keys.size(), 64u);
}

}  // namespace
}  // namespace cairn::mmaplog
