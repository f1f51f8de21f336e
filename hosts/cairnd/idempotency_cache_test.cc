#include "idempotency_cache.h"

#include <gtest/gtest.h>

#include <future>

namespace cairn::cairnd {
namespace {

v1::AppendResponse Result(uint64_t position) {
  v1::AppendResponse r;
  r.set_first_position(position);
  r.set_last_position(position);
  return r;
}

TEST(IdempotencyCache, ASucceededKeyIsAnsweredAndAFailedOneRunsAgain) {
  IdempotencyCache cache;
  IdempotencyCache::Claim claim = cache.Begin("s", "k");
  ASSERT_TRUE(claim.run);
  v1::AppendResponse done = Result(7);
  cache.Finish("s", "k", &done);
  claim = cache.Begin("s", "k");
  EXPECT_FALSE(claim.run);
  EXPECT_EQ(claim.answer.first_position(), 7u);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_TRUE(cache.Begin("other", "k").run) << "keys are per stream";

  ASSERT_TRUE(cache.Begin("s", "failed").run);
  cache.Finish("s", "failed", nullptr);
  EXPECT_TRUE(cache.Begin("s", "failed").run) << "a failed append is retried";
}

TEST(IdempotencyCache, ARetryRacingItsOriginalWaitsForItsAnswer) {
  IdempotencyCache cache;
  ASSERT_TRUE(cache.Begin("s", "k").run);
  auto retry =
      std::async(std::launch::async, [&] { return cache.Begin("s", "k"); });
  v1::AppendResponse done = Result(3);
  cache.Finish("s", "k", &done);
  IdempotencyCache::Claim claim = retry.get();
  EXPECT_FALSE(claim.run);
  EXPECT_EQ(claim.answer.first_position(), 3u);
}

TEST(IdempotencyCache, KeepsTheLastKeysPerStreamAndInAll) {
  IdempotencyCache cache(/*per_stream=*/2, /*total=*/3);
  auto add = [&](const std::string& stream, const std::string& key) {
    ASSERT_TRUE(cache.Begin(stream, key).run) << stream << "/" << key;
    v1::AppendResponse done = Result(1);
    cache.Finish(stream, key, &done);
  };
  add("s", "1");
  add("s", "2");
  add("s", "3");  // forgets s/1 (per stream)
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Begin("s", "2").run);
  EXPECT_FALSE(cache.Begin("s", "3").run);
  add("t", "1");
  add("u", "1");  // 4 in all: forgets the oldest, s/2
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.Begin("s", "3").run);
  EXPECT_FALSE(cache.Begin("t", "1").run);
  ASSERT_TRUE(cache.Begin("s", "1").run);  // forgotten: runs again
  cache.Finish("s", "1", nullptr);
  ASSERT_TRUE(cache.Begin("s", "2").run);
  cache.Finish("s", "2", nullptr);
}

}  // namespace
}  // namespace cairn::cairnd
