#include "epoch_file.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn::logship {
namespace {

using ::testing::HasSubstr;

class EpochFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/logship-epoch-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(EpochFileTest, MissingFileIsEpochZero) {
  absl::StatusOr<EpochRecord> r = LoadEpoch(dir_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (EpochRecord{0, ""}));
}

TEST_F(EpochFileTest, SavedRecordReadsBackAndLeavesNoTemporary) {
  ASSERT_TRUE(SaveEpoch(dir_, EpochRecord{7, "node-b"}).ok());
  ASSERT_TRUE(SaveEpoch(dir_, EpochRecord{9, "node-c"}).ok());
  absl::StatusOr<EpochRecord> r = LoadEpoch(dir_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (EpochRecord{9, "node-c"}));
  EXPECT_FALSE(std::filesystem::exists(EpochFilePath(dir_) + ".tmp"));
}

TEST_F(EpochFileTest, CreatesAMissingStateDir) {
  const std::string nested = dir_ + "/state";
  ASSERT_TRUE(SaveEpoch(nested, EpochRecord{1, "a"}).ok());
  EXPECT_EQ(LoadEpoch(nested)->epoch, 1u);
}

TEST_F(EpochFileTest, DamagedFileIsRefusedNamingFileAndLine) {
  std::ofstream(EpochFilePath(dir_)) << "cairn-logship-epoch 1\nseven a\n";
  absl::StatusOr<EpochRecord> r = LoadEpoch(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr(EpochFilePath(dir_)));
  EXPECT_THAT(r.status().message(), HasSubstr("line 2"));
  std::ofstream(EpochFilePath(dir_)) << "something else\n";
  r = LoadEpoch(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("line 1"));
}

}  // namespace
}  // namespace cairn::logship
