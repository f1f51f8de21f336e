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

// A loader that serves `keys` (newest first) and counts its calls.
struct Loader {
  std::vector<std::pair<std::string, Batch>> keys;
  int calls = 0;
  absl::Status operator()(IdempotencyKeys::AddFn add) {
    ++calls;
    for (const auto& [k, b] : keys) add(k, b);
    return absl::OkStatus();
  }
};

std::optional<Batch> Find(IdempotencyKeys& keys, const std::string& stream,
                          const std::string& key, Loader& loader) {
  auto found = keys.Find(
      stream, key, [&](IdempotencyKeys::AddFn add) { return loader(add); });
  EXPECT_TRUE(found.ok()) << found.status();
  return found.ok() ? *found : std::nullopt;
}

TEST(MmapLogIdempotencyKeys, LoadsAStreamOnceThenKeepsItCurrent) {
  IdempotencyKeys keys;
  Loader loader{{{"b", At(2)}, {"a", At(1)}}};
  EXPECT_EQ(Find(keys, "s", "a", loader)->first_position, 1u);
  EXPECT_EQ(Find(keys, "s", "b", loader)->first_position, 2u);
  EXPECT_FALSE(Find(keys, "s", "c", loader).has_value());
  EXPECT_EQ(loader.calls, 1) << "a loaded stream is not read again";
  keys.Add("s", "c", At(3));
  EXPECT_EQ(Find(keys, "s", "c", loader)->first_position, 3u);
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys.loads(), 1u);
  // Add to a stream not in memory keeps nothing: its next Find loads.
  keys.Add("t", "x", At(9));
  EXPECT_EQ(keys.size(), 3u);
  Loader empty;
  EXPECT_FALSE(Find(keys, "t", "x", empty).has_value());
  EXPECT_EQ(empty.calls, 1);
}

TEST(MmapLogIdempotencyKeys, ForgettingReloadsFromTheLoader) {
  IdempotencyKeys keys;
  Loader loader{{{"a", At(1)}}};
  ASSERT_TRUE(Find(keys, "s", "a", loader).has_value());
  keys.Forget("s");
  EXPECT_EQ(keys.size(), 0u);
  loader.keys.insert(loader.keys.begin(), {"b", At(2)});  // applied meanwhile
  EXPECT_EQ(Find(keys, "s", "b", loader)->first_position, 2u);
  EXPECT_EQ(loader.calls, 2);
  keys.ForgetAll();
  EXPECT_EQ(keys.size(), 0u);
  loader.keys.erase(loader.keys.begin());  // cut by a truncation
  EXPECT_FALSE(Find(keys, "s", "b", loader).has_value());
  EXPECT_EQ(loader.calls, 3);
}

TEST(MmapLogIdempotencyKeys, HoldsAWindowPerStreamAndABoundInAll) {
  IdempotencyKeys keys(/*max_keys=*/2 * CAIRN_IDEMPOTENCY_WINDOW + 10);
  Loader none;
  for (const char* s : {"s1", "s2", "s3"}) {
    ASSERT_FALSE(Find(keys, s, "-", none).has_value());
    for (uint64_t i = 1; i <= CAIRN_IDEMPOTENCY_WINDOW + 5; ++i) {
      keys.Add(s, std::to_string(i), At(i));
    }
  }
  // Each stream keeps its newest CAIRN_IDEMPOTENCY_WINDOW; in all, whole
  // other streams went to stay under the bound.
  EXPECT_LE(keys.size(), 2u * CAIRN_IDEMPOTENCY_WINDOW + 10);
  Loader reload;
  EXPECT_FALSE(Find(keys, "s3", "5", reload).has_value())
      << "the oldest keys beyond the window went";
  EXPECT_TRUE(Find(keys, "s3", "6", reload).has_value());
  EXPECT_EQ(reload.calls, 0) << "the stream added last is in memory";
  Loader log1{{{"7", At(7)}}}, log2{{{"7", At(7)}}};
  EXPECT_TRUE(Find(keys, "s1", "7", log1).has_value());
  EXPECT_TRUE(Find(keys, "s2", "7", log2).has_value());
  EXPECT_EQ(log1.calls + log2.calls, 1)
      << "one of s1 and s2 was dropped for the bound and loads again";
}

TEST(MmapLogIdempotencyKeys, AFailedLoadKeepsNothing) {
  IdempotencyKeys keys;
  auto failed = keys.Find("s", "a", [](IdempotencyKeys::AddFn add) {
    add("a", At(1));
    return absl::DataLossError("segment 00000001.log offset 64: damaged");
  });
  EXPECT_TRUE(absl::IsDataLoss(failed.status())) << failed.status();
  EXPECT_EQ(keys.size(), 0u);
  Loader loader;
  EXPECT_FALSE(Find(keys, "s", "a", loader).has_value());
  EXPECT_EQ(loader.calls, 1);
}

// Streams of their own per thread (as Log::Append's claims keep them), with
// evictions under a small bound: run under ThreadSanitizer.
TEST(MmapLogIdempotencyKeys, ThreadsOnTheirOwnStreamsShareTheBound) {
  IdempotencyKeys keys(/*max_keys=*/64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int s = 0; s < 20; ++s) {
        const std::string stream = std::to_string(t) + "-" + std::to_string(s);
        Loader loader;
        for (uint64_t i = 1; i <= 50; ++i) {
          const std::string key = std::to_string(i);
          auto found = keys.Find(stream, key, [&](IdempotencyKeys::AddFn add) {
            return loader(add);
          });
          ASSERT_TRUE(found.ok());
          if (!found->has_value()) keys.Add(stream, key, At(i));
          loader.keys.insert(loader.keys.begin(), {key, At(i)});
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(keys.size(), 64u + CAIRN_IDEMPOTENCY_WINDOW);
}

}  // namespace
}  // namespace cairn::mmaplog
