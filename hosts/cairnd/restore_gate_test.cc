// RestoreGate (a restore through the server) against a memory store: a
// restore begins even while requests keep overlapping, and while it runs
// every other request is refused.
#include "restore_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "cairn/builtins.h"
#include "cairn/plugin_registry.h"
#include "cairn/store.h"

namespace cairn::cairnd {
namespace {

using Clock = std::chrono::steady_clock;

// A gate over an empty memory store (ordered log, apply, truncate).
class RestoreGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok());
    SiteConfig site;
    site.storage = PluginChoice{"memory", {}};
    auto store = Store::Open(site, registry_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    gate_ = std::make_unique<RestoreGate>(store_.get());
  }

  PluginRegistry registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RestoreGate> gate_;
};

TEST_F(RestoreGateTest, OverlappingRequestsDoNotHoldABeginningRestoreOff) {
  RestoreGate& gate = *gate_;

  // Four clients whose requests (2 ms each) keep overlapping: the shared
  // lock is never free, which starved the exclusive one (for the whole
  // 20 s the clients then ran, in 3 runs of 3, before Begin stopped
  // admitting new requests).
  std::atomic<bool> stop{false};
  std::atomic<int> ran{0}, refused{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      const Clock::time_point end = Clock::now() + std::chrono::seconds(10);
      while (!stop.load() && Clock::now() < end) {
        absl::Status s = gate.Admit([&] {
          ran.fetch_add(1);
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        });
        if (!s.ok()) {
          refused.fetch_add(1);
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    });
  }
  const Clock::time_point warm = Clock::now() + std::chrono::seconds(5);
  while (ran.load() < 20 && Clock::now() < warm) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const int session = 0;
  const Clock::time_point asked = Clock::now();
  absl::Status begun = gate.Begin(&session, 5, 0);
  const auto waited = Clock::now() - asked;
  EXPECT_TRUE(begun.ok()) << begun;
  EXPECT_LT(waited, std::chrono::seconds(2))
      << "restore_begin waited "
      << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
      << " ms for requests that kept overlapping";
  EXPECT_TRUE(gate.Active());
  // Under way: every request is refused, and none runs.
  const int ran_before = ran.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(ran.load(), ran_before);
  EXPECT_GT(refused.load(), 0);
  stop.store(true);
  for (std::thread& t : clients) t.join();
  // Its connection went away: taken back, requests run again.
  gate.Abandon(&session);
  EXPECT_FALSE(gate.Active());
  bool ran_again = false;
  EXPECT_TRUE(gate.Admit([&] { ran_again = true; }).ok());
  EXPECT_TRUE(ran_again);
}

TEST_F(RestoreGateTest, ARefusedBeginLetsRequestsInAgain) {
  RestoreGate& gate = *gate_;
  const int session = 0;
  absl::Status refused = gate.Begin(&session, 5, 1);  // a subscription is open
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("subscription"), std::string::npos)
      << refused;
  EXPECT_FALSE(gate.Active());
  bool ran = false;
  EXPECT_TRUE(gate.Admit([&] { ran = true; }).ok());
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace cairn::cairnd
