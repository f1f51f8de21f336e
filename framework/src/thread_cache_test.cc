// cairn/sdk/thread_cache.hpp: the per-thread, per-instance cache plugins
// keep their contexts in (the keyring ciphers, the zstd codec).
#include <cairn/sdk/thread_cache.hpp>

#include <memory>
#include <optional>
#include <thread>

#include "gtest/gtest.h"

namespace cairn::sdk {
namespace {

struct State {
  int value = 0;
};
using Cache = ThreadCache<State, 2>;

TEST(ThreadCache, FindsWhatThisThreadKeptForThisInstance) {
  Cache cache;
  EXPECT_EQ(cache.Find(), nullptr);
  State* kept = cache.Keep(std::make_shared<State>(State{7}));
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(cache.Find(), kept);
  EXPECT_EQ(cache.Find()->value, 7);
}

TEST(ThreadCache, EachThreadHasItsOwnState) {
  Cache cache;
  cache.Keep(std::make_shared<State>(State{1}));
  State* seen_elsewhere = reinterpret_cast<State*>(1);
  std::thread other([&] { seen_elsewhere = cache.Find(); });
  other.join();
  EXPECT_EQ(seen_elsewhere, nullptr);
  EXPECT_EQ(cache.Find()->value, 1);
}

TEST(ThreadCache, InstancesDoNotSeeEachOthersState) {
  Cache first, second;
  first.Keep(std::make_shared<State>(State{1}));
  EXPECT_EQ(second.Find(), nullptr);
  second.Keep(std::make_shared<State>(State{2}));
  EXPECT_EQ(first.Find()->value, 1);
  EXPECT_EQ(second.Find()->value, 2);
}

TEST(ThreadCache, AFullThreadReleasesTheStateKeptLongestAgo) {
  Cache a, b, c;
  auto oldest = std::make_shared<State>(State{1});
  std::weak_ptr<State> watch = oldest;
  a.Keep(std::move(oldest));
  b.Keep(std::make_shared<State>(State{2}));
  c.Keep(std::make_shared<State>(State{3}));
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(a.Find(), nullptr);
  EXPECT_EQ(b.Find()->value, 2);
  EXPECT_EQ(c.Find()->value, 3);
  EXPECT_LE(Cache::SlotsInUse(), 2u);
}

// An instance made where a closed one lived (same address) must not find
// the closed one's state: instances are told apart by id, not address.
TEST(ThreadCache, ANewInstanceAtAClosedOnesAddressFindsNothing) {
  std::optional<Cache> cache;
  cache.emplace();
  const void* address = &*cache;
  cache->Keep(std::make_shared<State>(State{1}));
  cache.reset();
  cache.emplace();
  ASSERT_EQ(static_cast<const void*>(&*cache), address);
  EXPECT_EQ(cache->Find(), nullptr);
}

TEST(ThreadCache, AThreadsStatesEndWithTheThread) {
  Cache cache;
  std::weak_ptr<State> watch;
  std::thread worker([&] {
    auto state = std::make_shared<State>(State{1});
    watch = state;
    cache.Keep(std::move(state));
  });
  worker.join();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace cairn::sdk
