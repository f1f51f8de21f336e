#include "seal_usage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "test_files.h"

namespace cairn::keyring {
namespace {

using ::testing::HasSubstr;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

TEST(SealUsageParse, ReadsCountsCommentsAndBlankLines) {
  SealUsage usage;
  sdk::Status status = SealUsage::Parse(
      "# counts\n\nseals 1 4294967296\r\nseals 7 0\n  seals\t2 12  \n", "u",
      &usage);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(usage.Of(1), 4294967296u);
  EXPECT_EQ(usage.Of(7), 0u);
  EXPECT_EQ(usage.Of(2), 12u);
  EXPECT_EQ(usage.Of(3), 0u);
}

TEST(SealUsageParse, SerializeThenParseGivesTheSameCounts) {
  SealUsage usage;
  usage.seals = {{1, 18446744073709551615ull}, {4294967295u, 3}};
  SealUsage parsed;
  ASSERT_TRUE(SealUsage::Parse(usage.Serialize("keys"), "u", &parsed).ok());
  EXPECT_EQ(parsed.seals, usage.seals);
}

struct BadUsage {
  const char* name;
  std::string text;
  std::string expected;  // part of the message after "line N: "
};

class SealUsageRefusal : public ::testing::TestWithParam<BadUsage> {};

TEST_P(SealUsageRefusal, NamesTheFileAndLineAndHowToRecover) {
  SealUsage usage;
  usage.seals[9] = 9;
  sdk::Status status = SealUsage::Parse(GetParam().text, "/k/keys.usage",
                                        &usage);
  EXPECT_EQ(status.code(), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(),
              HasSubstr("seal usage file /k/keys.usage line 2: " +
                        GetParam().expected));
  EXPECT_THAT(status.message(), HasSubstr("cairn keys rotate"));
  EXPECT_TRUE(usage.seals.empty());
}

INSTANTIATE_TEST_SUITE_P(
    BadLines, SealUsageRefusal,
    ::testing::Values(
        BadUsage{"UnknownDirective", "seals 1 5\nkey 1 5\n",
                 "expected 'seals <key id> <count>'"},
        BadUsage{"TooFewWords", "seals 1 5\nseals 2\n",
                 "expected 'seals <key id> <count>'"},
        BadUsage{"TooManyWords", "seals 1 5\nseals 2 5 6\n",
                 "expected 'seals <key id> <count>'"},
        BadUsage{"KeyIdZero", "seals 1 5\nseals 0 5\n", "key id must be"},
        BadUsage{"KeyIdTooLarge", "seals 1 5\nseals 4294967296 5\n",
                 "key id must be"},
        BadUsage{"NegativeCount", "seals 1 5\nseals 2 -5\n",
                 "seal count must be"},
        BadUsage{"CountNotDecimal", "seals 1 5\nseals 2 0x10\n",
                 "seal count must be"},
        BadUsage{"CountOverflows", "seals 1 5\nseals 2 18446744073709551616\n",
                 "seal count must be"},
        BadUsage{"DuplicateKeyId", "seals 1 5\nseals 1 6\n",
                 "duplicate key id 1 (first on line 1)"}),
    [](const ::testing::TestParamInfo<BadUsage>& info) {
      return info.param.name;
    });

TEST(SealUsageLoad, MissingFileIsNoSealsYet) {
  TempDir dir;
  SealUsage usage;
  usage.seals[1] = 1;
  sdk::Status status = SealUsage::Load(dir.File("keys"), &usage);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(usage.seals.empty());
}

TEST(SealUsageLoad, RefusesAFolderNamingIt) {
  TempDir dir;
  std::filesystem::create_directory(dir.File("keys.usage"));
  SealUsage usage;
  sdk::Status status = SealUsage::Load(dir.File("keys"), &usage);
  EXPECT_EQ(status.code(), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(),
              HasSubstr(dir.File("keys.usage") + " is not a regular file"));
}

TEST(ReserveSeals, GrantsUpToTheLimitAndPersists) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  uint64_t granted = 0, count = 0;
  ASSERT_TRUE(ReserveSeals(keys, 3, 100, 250, &granted, &count).ok());
  EXPECT_EQ(granted, 100u);
  EXPECT_EQ(count, 100u);
  ASSERT_TRUE(ReserveSeals(keys, 3, 100, 250, &granted, &count).ok());
  ASSERT_TRUE(ReserveSeals(keys, 3, 100, 250, &granted, &count).ok());
  EXPECT_EQ(granted, 50u);
  EXPECT_EQ(count, 250u);
  ASSERT_TRUE(ReserveSeals(keys, 3, 100, 250, &granted, &count).ok());
  EXPECT_EQ(granted, 0u);
  EXPECT_EQ(count, 250u);
  // Another key counts on its own.
  ASSERT_TRUE(ReserveSeals(keys, 4, 10, 250, &granted, &count).ok());
  EXPECT_EQ(granted, 10u);
  SealUsage usage;
  ASSERT_TRUE(SealUsage::Load(keys, &usage).ok());
  EXPECT_EQ(usage.Of(3), 250u);
  EXPECT_EQ(usage.Of(4), 10u);
  EXPECT_EQ(testing::ModeOf(SealUsagePath(keys)), 0600u);
}

TEST(ReserveSeals, CorruptFileIsAnErrorNamingItAndIsLeftAlone) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  WriteFile(SealUsagePath(keys), "seals 1 many\n", 0600);
  uint64_t granted = 7, count = 7;
  sdk::Status status = ReserveSeals(keys, 1, 10, 100, &granted, &count);
  EXPECT_EQ(status.code(), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(),
              HasSubstr(SealUsagePath(keys) + " line 1: seal count must be"));
  EXPECT_EQ(ReadFile(SealUsagePath(keys)), "seals 1 many\n");
}

TEST(ReturnSeals, LowersTheCountButNeverBelowZero) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  uint64_t granted = 0, count = 0;
  ASSERT_TRUE(ReserveSeals(keys, 1, 100, 1000, &granted, &count).ok());
  ASSERT_TRUE(ReturnSeals(keys, 1, 30).ok());
  SealUsage usage;
  ASSERT_TRUE(SealUsage::Load(keys, &usage).ok());
  EXPECT_EQ(usage.Of(1), 70u);
  ASSERT_TRUE(ReturnSeals(keys, 1, 500).ok());
  ASSERT_TRUE(SealUsage::Load(keys, &usage).ok());
  EXPECT_EQ(usage.Of(1), 0u);
}

std::vector<std::string> warnings;
void RecordWarning(const std::string& message) { warnings.push_back(message); }

TEST(SealBudget, RefusesPastTheLimitNamingTheKeyIdAndRotation) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  SealBudget budget("aes-gcm", keys, 5, 3, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(budget.Take().ok()) << i;
  sdk::Status status = budget.Take();
  EXPECT_EQ(status.code(), CAIRN_E_RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.message(), HasSubstr("key id 5 has made its limit of 3"));
  EXPECT_THAT(status.message(), HasSubstr("cairn keys rotate --keyring " + keys));
  EXPECT_THAT(status.message(), HasSubstr(SealUsagePath(keys)));
}

TEST(SealBudget, CountSurvivesReopenAndUnusedSealsAreGivenBack) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  {
    SealBudget budget("aes-gcm", keys, 1, 10, nullptr);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(budget.Take().ok());
    SealUsage usage;
    ASSERT_TRUE(SealUsage::Load(keys, &usage).ok());
    EXPECT_EQ(usage.Of(1), 10u);  // reserved while open
  }
  SealUsage usage;
  ASSERT_TRUE(SealUsage::Load(keys, &usage).ok());
  EXPECT_EQ(usage.Of(1), 4u);  // exact after a clean close
  SealBudget reopened("aes-gcm", keys, 1, 10, nullptr);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(reopened.Take().ok()) << i;
  EXPECT_EQ(reopened.Take().code(), CAIRN_E_RESOURCE_EXHAUSTED);
}

TEST(SealBudget, CrashWithoutGivingBackOnlyOverCounts) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  // A process that reserved and died: its whole block stays counted.
  uint64_t granted = 0, count = 0;
  ASSERT_TRUE(ReserveSeals(keys, 1, 8, 10, &granted, &count).ok());
  SealBudget budget("aes-gcm", keys, 1, 10, nullptr);
  EXPECT_TRUE(budget.Take().ok());
  EXPECT_TRUE(budget.Take().ok());
  EXPECT_EQ(budget.Take().code(), CAIRN_E_RESOURCE_EXHAUSTED);
}

TEST(SealBudget, WarnsOnceWhenTheCountPassesNinetyPercent) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  uint64_t granted = 0, count = 0;
  ASSERT_TRUE(ReserveSeals(keys, 2, 89, 100, &granted, &count).ok());
  warnings.clear();
  {
    SealBudget budget("chacha20-poly1305", keys, 2, 100, &RecordWarning);
    for (int i = 0; i < 11; ++i) ASSERT_TRUE(budget.Take().ok());
  }
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("key id 2 has made or reserved 100 of "
                                     "its 100 seals"));
  EXPECT_THAT(warnings[0], HasSubstr("cairn keys rotate"));
}

// Runs `threads` threads that each take `seals` seals from `budget`;
// returns how many takes failed.
int TakeFromThreads(SealBudget& budget, int threads, int seals) {
  std::vector<std::thread> running;
  std::vector<int> failures(threads, 0);
  for (int t = 0; t < threads; ++t) {
    running.emplace_back([&, t] {
      for (int i = 0; i < seals; ++i) {
        if (!budget.Take().ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : running) thread.join();
  int total = 0;
  for (int f : failures) total += f;
  return total;
}

TEST(SealBudget, ConcurrentThreadsReachTheLimitExactly) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  constexpr int kThreads = 4;
  constexpr int kSealsPerThread = 5000;
  SealBudget budget("aes-gcm", keys, 1, kThreads * kSealsPerThread, nullptr);
  EXPECT_EQ(TakeFromThreads(budget, kThreads, kSealsPerThread), 0);
  EXPECT_EQ(budget.Take().code(), CAIRN_E_RESOURCE_EXHAUSTED);
}

TEST(SealBudget, TwoInstancesSharingAKeyringCountExactly) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  constexpr int kThreads = 3;
  constexpr int kSealsPerThread = 7000;
  {
    // Two budgets of one key stand for two processes sharing the keyring.
    SealBudget first("aes-gcm", keys, 1, kDefaultMaxSealsPerKey, nullptr);
    SealBudget second("aes-gcm", keys, 1, kDefaultMaxSealsPerKey, nullptr);
    std::thread other([&] {
      EXPECT_EQ(TakeFromThreads(second, kThreads, kSealsPerThread), 0);
    });
    EXPECT_EQ(TakeFromThreads(first, kThreads, kSealsPerThread), 0);
    other.join();
  }
  SealUsage usage;
  ASSERT_TRUE(SealUsage::Load(keys, &usage).ok());
  EXPECT_EQ(usage.Of(1), 2u * kThreads * kSealsPerThread);
}

}  // namespace
}  // namespace cairn::keyring
