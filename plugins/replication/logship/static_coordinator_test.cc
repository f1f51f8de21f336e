#include "static_coordinator.h"

#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn::logship {
namespace {

using ::testing::HasSubstr;

class StaticCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/logship-coord-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    options_.state_dir = pattern;
    options_.node_id = "a";
  }
  void TearDown() override { std::filesystem::remove_all(options_.state_dir); }
  LogshipOptions options_;
};

TEST_F(StaticCoordinatorTest, RoleOptionNamesThePrimaryUntilAnEpochIsSaved) {
  options_.role = StaticRole::kPrimary;
  auto c = StaticCoordinator::Open(options_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Current().primary, "a");
  EXPECT_TRUE((*c)->Campaign().ok());
  ASSERT_TRUE((*c)->Learn(4, "b").ok());
  // Reopened, the saved epoch wins over role = primary.
  c = StaticCoordinator::Open(options_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Current().epoch, 4u);
  EXPECT_EQ((*c)->Current().primary, "b");
  EXPECT_THAT((*c)->Campaign().message(), HasSubstr("cairn promote a"));
}

TEST_F(StaticCoordinatorTest, CompareAndSetRefusesAStaleExpectation) {
  auto c = StaticCoordinator::Open(options_);
  ASSERT_TRUE(c.ok());
  GroupState next;
  next.epoch = 1;
  next.primary = "a";
  ASSERT_TRUE((*c)->CompareAndSet(0, next).ok());
  next.epoch = 2;
  absl::Status s = (*c)->CompareAndSet(0, next);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*c)->Current().epoch, 1u);
}

TEST_F(StaticCoordinatorTest, LearnIgnoresOlderEpochsAndRefusesASecondPrimary) {
  auto c = StaticCoordinator::Open(options_);
  ASSERT_TRUE(c.ok());
  int changes = 0;
  (*c)->Watch([&](const GroupState&) { ++changes; });
  EXPECT_TRUE(*(*c)->Learn(3, "b"));
  EXPECT_FALSE(*(*c)->Learn(2, "c"));
  EXPECT_FALSE(*(*c)->Learn(3, "b"));
  EXPECT_FALSE((*c)->Learn(3, "c").ok());
  EXPECT_EQ(changes, 1);
  EXPECT_EQ((*c)->Current().primary, "b");
}

}  // namespace
}  // namespace cairn::logship
