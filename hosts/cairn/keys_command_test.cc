// `cairn keys` run in-process through RunCli.
#include "keys_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli.h"
#include "keyring.h"

namespace cairn::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunCairn(const std::vector<std::string>& args) {
  std::istringstream in;
  std::ostringstream out, err;
  int code = RunCli(args, "/nonexistent/bin/cairn", in, out, err);
  return {code, out.str(), err.str()};
}

class KeysCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cairn-keys-command-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    keyring_ = dir_ + "/keys";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  // Every key's hex text, to check none is ever printed.
  std::vector<std::string> KeyTexts() {
    std::ifstream in(keyring_);
    std::vector<std::string> texts;
    for (std::string word; in >> word;) {
      if (word.size() == 64) texts.push_back(word);
    }
    return texts;
  }
  std::string dir_;
  std::string keyring_;
};

TEST_F(KeysCommandTest, NewCreatesAPrivateKeyringWithKeyOneActive) {
  Result r = RunCairn({"keys", "new", "--keyring", keyring_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("created keyring " + keyring_));
  EXPECT_THAT(r.out, HasSubstr("key 1 active"));
  struct stat info;
  ASSERT_EQ(::stat(keyring_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  keyring::Keyring keys;
  ASSERT_TRUE(keyring::Keyring::Load(keyring_, &keys).ok());
  EXPECT_EQ(keys.active_id(), 1u);
  for (const std::string& key : KeyTexts()) {
    EXPECT_THAT(r.out, Not(HasSubstr(key)));
  }
}

TEST_F(KeysCommandTest, NewRefusesToReplaceAKeyring) {
  ASSERT_EQ(RunCairn({"keys", "new", "--keyring", keyring_}).code, 0);
  std::vector<std::string> before = KeyTexts();
  Result r = RunCairn({"keys", "new", "--keyring", keyring_});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("cairn keys: keyring " + keyring_ +
                               " exists already"));
  EXPECT_EQ(KeyTexts(), before);
}

TEST_F(KeysCommandTest, RotateAddsAnActiveKeyAndListShowsAllWithoutKeys) {
  ASSERT_EQ(RunCairn({"keys", "new", "--keyring", keyring_}).code, 0);
  Result rotated = RunCairn({"keys", "rotate", "--keyring", keyring_});
  ASSERT_EQ(rotated.code, 0) << rotated.err;
  EXPECT_THAT(rotated.out, HasSubstr("added key 2"));
  Result listed = RunCairn({"keys", "list", "--keyring", keyring_});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("2 key(s)"));
  EXPECT_THAT(listed.out, ::testing::ContainsRegex(
                              "key 1  fingerprint [0-9a-f]{16}  seals 0 of "
                              "4294967296\n"));
  EXPECT_THAT(listed.out, ::testing::ContainsRegex(
                              "key 2  fingerprint [0-9a-f]{16}  seals 0 of "
                              "4294967296  active\n"));
  for (const std::string& key : KeyTexts()) {
    EXPECT_THAT(listed.out + rotated.out, Not(HasSubstr(key)));
  }
}

TEST_F(KeysCommandTest, TakesTheKeyringFromTheSiteFile) {
  std::string site = dir_ + "/site.ini";
  std::ofstream(site) << "[cipher]\nplugin = aes-gcm\nkeyring = " << keyring_
                      << "\n";
  Result r = RunCairn({"--config", site, "keys", "new"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(keyring_));
  r = RunCairn({"keys", "rotate", "--config", site});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("added key 2 to keyring " + keyring_));
}

TEST_F(KeysCommandTest, ListShowsEachKeysSealCountAgainstTheSiteLimit) {
  ASSERT_EQ(RunCairn({"keys", "new", "--keyring", keyring_}).code, 0);
  ASSERT_EQ(RunCairn({"keys", "rotate", "--keyring", keyring_}).code, 0);
  std::ofstream(keyring_ + ".usage") << "seals 1 1000\nseals 2 7\n";
  std::string site = dir_ + "/site.ini";
  std::ofstream(site) << "[cipher]\nplugin = aes-gcm\nkeyring = " << keyring_
                      << "\nmax-seals-per-key = 1000\n";
  Result r = RunCairn({"keys", "list", "--config", site});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "key 1  fingerprint [0-9a-f]{16}  seals 1000 of 1000 "
                         "\\(limit reached: rotate\\)\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "key 2  fingerprint [0-9a-f]{16}  seals 7 of 1000  "
                         "active\n"));
}

TEST_F(KeysCommandTest, ListRefusesACorruptUsageFileNamingIt) {
  ASSERT_EQ(RunCairn({"keys", "new", "--keyring", keyring_}).code, 0);
  std::ofstream(keyring_ + ".usage") << "seals 1 lots\n";
  Result r = RunCairn({"keys", "list", "--keyring", keyring_});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("seal usage file " + keyring_ +
                               ".usage line 1: seal count must be"));
}

TEST_F(KeysCommandTest, RefusesAKeyringOthersCanRead) {
  ASSERT_EQ(RunCairn({"keys", "new", "--keyring", keyring_}).code, 0);
  ::chmod(keyring_.c_str(), 0644);
  Result r = RunCairn({"keys", "list", "--keyring", keyring_});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("mode 0644"));
  EXPECT_THAT(r.err, HasSubstr("chmod 600 " + keyring_));
  r = RunCairn({"keys", "rotate", "--keyring", keyring_});
  EXPECT_EQ(r.code, kExitDataError);
}

TEST_F(KeysCommandTest, AMalformedLineIsNamedWithoutShowingIt) {
  std::ofstream(keyring_) << "key 1 " << std::string(64, 'c') << " active\n"
                          << "key 2 " << std::string(60, 'd') << "\n";
  ::chmod(keyring_.c_str(), 0600);
  Result r = RunCairn({"keys", "list", "--keyring", keyring_});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("keyring " + keyring_ + " line 2: short key"));
  EXPECT_THAT(r.err, Not(HasSubstr("dddd")));
  EXPECT_THAT(r.err, Not(HasSubstr("cccc")));
}

// `cairn keys new` run as root in cairnd's folder used to make a root-owned
// 0600 keyring that cairnd (running as its own user) refuses. The check
// itself, as root would see a folder another user owns (any user running
// the test: the folder is made another user's when the test runs as root).
TEST_F(KeysCommandTest, RootIsToldToRunAsTheOwnerOfTheKeyringFolder) {
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(dir_.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  }
  struct stat info;
  ASSERT_EQ(::stat(dir_.c_str(), &info), 0);
  ASSERT_NE(info.st_uid, 0u);
  const std::string problem =
      RootWritingAnotherUsersKeyring("new", keyring_, 0);
  EXPECT_THAT(problem, HasSubstr("keyring " + keyring_ + ": its folder " +
                                 dir_ + " belongs to "));
  EXPECT_THAT(problem, HasSubstr("uid " + std::to_string(info.st_uid)));
  EXPECT_THAT(problem, HasSubstr("run the command as that user: 'sudo -u "));
  EXPECT_THAT(problem, HasSubstr(" cairn keys new --keyring " + keyring_));
  // Not root, or root in its own folder: nothing to say.
  EXPECT_EQ(RootWritingAnotherUsersKeyring("new", keyring_, info.st_uid), "");
  EXPECT_EQ(RootWritingAnotherUsersKeyring("new", "/keys", 0), "");
  if (::geteuid() != 0) return;  // the command needs root to go further
  Result r = RunCairn({"keys", "new", "--keyring", keyring_});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("Nothing was written"));
  EXPECT_FALSE(std::filesystem::exists(keyring_));
  // rotate neither, and it makes no root-owned lock file either.
  r = RunCairn({"keys", "rotate", "--keyring", keyring_});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("belongs to "));
  EXPECT_FALSE(std::filesystem::exists(keyring_ + ".lock"));
  // Once the folder is root's, root's keyring is what it asked for.
  ASSERT_EQ(::chown(dir_.c_str(), 0, static_cast<gid_t>(-1)), 0);
  r = RunCairn({"keys", "new", "--keyring", keyring_});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(KeysCommandTest, UsageErrors) {
  Result r = RunCairn({"keys"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("missing ACTION"));
  r = RunCairn({"keys", "delete", "--keyring", keyring_});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown action 'delete'"));
  r = RunCairn({"keys", "list"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("missing --keyring FILE"));
  r = RunCairn({"keys", "list", "--keyring", dir_ + "/absent"});
  EXPECT_EQ(r.code, kExitDataError);
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  r = RunCairn({"keys", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("usage: cairn keys"));
}

}  // namespace
}  // namespace cairn::cli
