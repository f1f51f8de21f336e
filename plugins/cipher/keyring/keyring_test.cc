#include "keyring.h"

#include <cairn/sdk/secret_file.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "test_files.h"

namespace cairn::keyring {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::HexKey;
using testing::ModeOf;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

sdk::Status ParseText(const std::string& text, Keyring* out) {
  return Keyring::Parse(text, "/etc/cairn/keys", out);
}

TEST(KeyringParse, ReadsKeysCommentsAndTheActiveKey) {
  Keyring keyring;
  sdk::Status status = ParseText(
      "# a comment\n"
      "\n"
      "key 1 " + HexKey('a') + "\n"
      "  key\t7 " + HexKey('B') + " active  \r\n"
      "key 3 " + HexKey('0') + "\n",
      &keyring);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(keyring.active_id(), 7u);
  EXPECT_EQ(keyring.ids(), (std::vector<uint32_t>{1, 3, 7}));
  ASSERT_NE(keyring.Find(7), nullptr);
  EXPECT_EQ((*keyring.Find(7))[0], 0xbb);
  EXPECT_EQ((*keyring.Find(1))[31], 0xaa);
  EXPECT_EQ(keyring.Find(2), nullptr);
}

TEST(KeyringParse, SerializeThenParseGivesTheSameKeyring) {
  Keyring keyring;
  uint32_t id = 0;
  ASSERT_TRUE(keyring.AddRandomKey(&id).ok());
  ASSERT_TRUE(keyring.AddRandomKey(&id).ok());
  EXPECT_EQ(id, 2u);
  Keyring again;
  sdk::Status status = ParseText(keyring.Serialize(), &again);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(again.ids(), keyring.ids());
  EXPECT_EQ(again.active_id(), 2u);
  EXPECT_EQ(*again.Find(1), *keyring.Find(1));
  EXPECT_EQ(*again.Find(2), *keyring.Find(2));
}

struct Refusal {
  const char* name;
  std::string text;
  std::string message;  // expected substring
};

class KeyringRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(KeyringRefusal, NamesTheFileAndLine) {
  Keyring keyring;
  sdk::Status status = ParseText(GetParam().text, &keyring);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("keyring /etc/cairn/keys"));
  EXPECT_THAT(status.message(), HasSubstr(GetParam().message));
  // Never the key bytes, whatever went wrong.
  EXPECT_THAT(status.message(), Not(HasSubstr("aaaaaaaa")));
  EXPECT_THAT(status.message(), Not(HasSubstr("bbbbbbbb")));
  EXPECT_TRUE(keyring.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Keyring, KeyringRefusal,
    ::testing::Values(
        Refusal{"ShortKey", "key 1 " + std::string(62, 'a') + " active\n",
                "line 1: short key: 62 hex digits"},
        Refusal{"LongKey", "key 1 " + std::string(66, 'a') + " active\n",
                "line 1: long key: 66 hex digits"},
        Refusal{"NotHex",
                "# x\nkey 1 " + std::string(63, 'a') + "g active\n",
                "line 2: key is not hexadecimal"},
        Refusal{"UnknownDirective", "secret " + HexKey('a') + "\n",
                "line 1: unknown directive"},
        Refusal{"TooFewWords", "key 1\n", "line 1: expected 'key <id>"},
        Refusal{"TrailingWord",
                "key 1 " + HexKey('a') + " active please\n",
                "line 1: expected 'key <id>"},
        Refusal{"WrongFlag", "key 1 " + HexKey('a') + " primary\n",
                "line 1: the only word allowed after the key is 'active'"},
        Refusal{"IdZero", "key 0 " + HexKey('a') + " active\n",
                "line 1: key id must be a decimal number"},
        Refusal{"IdNotNumber", "key one " + HexKey('a') + " active\n",
                "line 1: key id must be a decimal number"},
        Refusal{"IdTooLarge", "key 4294967296 " + HexKey('a') + " active\n",
                "line 1: key id must be a decimal number"},
        Refusal{"DuplicateId",
                "key 1 " + HexKey('a') + "\nkey 1 " + HexKey('b') +
                    " active\n",
                "line 2: duplicate key id 1 (first on line 1)"},
        Refusal{"TwoActive",
                "key 1 " + HexKey('a') + " active\nkey 2 " + HexKey('b') +
                    " active\n",
                "line 2: a second key marked active (line 1"},
        Refusal{"NoActiveKey",
                "key 1 " + HexKey('a') + "\nkey 2 " + HexKey('b') + "\n",
                "no active key (lines 1-3 mark none)"},
        Refusal{"Empty", "# nothing\n", "holds no key"}),
    [](const ::testing::TestParamInfo<Refusal>& info) {
      return std::string(info.param.name);
    });

TEST(KeyringLoad, RefusesAFileReadableByGroupOrOthers) {
  TempDir dir;
  std::string path = dir.File("keys");
  WriteFile(path, "key 1 " + HexKey('a') + " active\n", 0640);
  Keyring keyring;
  sdk::Status status = Keyring::Load(path, &keyring);
  EXPECT_EQ(status.code(), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("keyring " + path));
  EXPECT_THAT(status.message(), HasSubstr("mode 0640"));
  EXPECT_THAT(status.message(), HasSubstr("chmod 600 " + path));
  ::chmod(path.c_str(), 0604);
  EXPECT_EQ(Keyring::Load(path, &keyring).code(), CAIRN_E_INVALID_ARGUMENT);
  ::chmod(path.c_str(), 0600);
  EXPECT_TRUE(Keyring::Load(path, &keyring).ok());
  ::chmod(path.c_str(), 0400);
  EXPECT_TRUE(Keyring::Load(path, &keyring).ok());
}

TEST(KeyringLoad, RefusesAFileAnotherUserOwns) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "only root can make a file another user owns; "
                    "SecretFile.RefusesAnotherOwnerAlsoForRoot covers the rule";
  }
  TempDir dir;
  std::string path = dir.File("keys");
  WriteFile(path, "key 1 " + HexKey('a') + " active\n", 0600);
  ASSERT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  Keyring keyring;
  sdk::Status status = Keyring::Load(path, &keyring);
  EXPECT_EQ(status.code(), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("keyring " + path + " is owned by uid 65534"));
  EXPECT_THAT(status.message(), HasSubstr("chown 0 " + path));
}

TEST(SecretFile, RefusesAnotherOwnerAlsoForRoot) {
  struct stat info {};
  info.st_mode = S_IFREG | 0600;
  info.st_uid = 1000;
  EXPECT_EQ(sdk::SecretFileProblem(info, 1000, "keyring k", "k"), "");
  EXPECT_THAT(sdk::SecretFileProblem(info, 0, "keyring k", "k"),
              HasSubstr("keyring k is owned by uid 1000, not by uid 0"));
  EXPECT_THAT(sdk::SecretFileProblem(info, 1001, "keyring k", "k"),
              HasSubstr("run 'chown 1001 k'"));
  info.st_mode = S_IFREG | 0610;  // any group or other bit, also execute
  EXPECT_THAT(sdk::SecretFileProblem(info, 1000, "keyring k", "k"),
              HasSubstr("mode 0610"));
}

TEST(KeyringLoad, NamesTheFileAndLineOfAMalformedLine) {
  TempDir dir;
  std::string path = dir.File("keys");
  WriteFile(path, "key 1 " + HexKey('a') + " active\nkey 2 abc\n", 0600);
  Keyring keyring;
  sdk::Status status = Keyring::Load(path, &keyring);
  EXPECT_EQ(status.code(), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("keyring " + path + " line 2"));
}

TEST(KeyringLoad, MissingFileIsNotFoundWithHowToCreateIt) {
  TempDir dir;
  Keyring keyring;
  sdk::Status status = Keyring::Load(dir.File("absent"), &keyring);
  EXPECT_EQ(status.code(), CAIRN_E_NOT_FOUND);
  EXPECT_THAT(status.message(), HasSubstr("cairn keys new --keyring"));
}

TEST(KeyringLoad, RefusesAFolder) {
  TempDir dir;
  ::chmod(dir.path().c_str(), 0700);
  Keyring keyring;
  sdk::Status status = Keyring::Load(dir.path(), &keyring);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("not a regular file"));
}

TEST(KeyringFile, CreateWritesOneActiveKeyWithMode0600) {
  TempDir dir;
  std::string path = dir.File("keys");
  uint32_t id = 0;
  sdk::Status status = CreateKeyringFile(path, &id);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(ModeOf(path), 0600u);
  Keyring keyring;
  ASSERT_TRUE(Keyring::Load(path, &keyring).ok());
  EXPECT_EQ(keyring.ids(), std::vector<uint32_t>{1});
  EXPECT_EQ(keyring.active_id(), 1u);
}

TEST(KeyringFile, CreateRefusesAnExistingFile) {
  TempDir dir;
  std::string path = dir.File("keys");
  WriteFile(path, "keep me\n", 0600);
  uint32_t id = 0;
  sdk::Status status = CreateKeyringFile(path, &id);
  EXPECT_EQ(status.code(), CAIRN_E_FAILED_PRECONDITION);
  EXPECT_THAT(status.message(), HasSubstr("exists already"));
  EXPECT_EQ(ReadFile(path), "keep me\n");
}

TEST(KeyringFile, RotateAddsAnActiveKeyAndKeepsTheOldOnes) {
  TempDir dir;
  std::string path = dir.File("keys");
  uint32_t id = 0;
  ASSERT_TRUE(CreateKeyringFile(path, &id).ok());
  Keyring before;
  ASSERT_TRUE(Keyring::Load(path, &before).ok());
  Keyring after;
  sdk::Status status = RotateKeyringFile(path, &id, &after);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(id, 2u);
  EXPECT_EQ(after.active_id(), 2u);
  EXPECT_EQ(ModeOf(path), 0600u);
  Keyring reloaded;
  ASSERT_TRUE(Keyring::Load(path, &reloaded).ok());
  EXPECT_EQ(reloaded.ids(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(reloaded.active_id(), 2u);
  EXPECT_EQ(*reloaded.Find(1), *before.Find(1));
  EXPECT_NE(*reloaded.Find(2), *reloaded.Find(1));
}

TEST(KeyringFile, ConcurrentRotationsLoseNoKey) {
  TempDir dir;
  std::string path = dir.File("keys");
  uint32_t id = 0;
  ASSERT_TRUE(CreateKeyringFile(path, &id).ok());
  constexpr int kThreads = 4;
  constexpr int kRotationsEach = 5;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRotationsEach; ++i) {
        uint32_t new_id = 0;
        if (!RotateKeyringFile(path, &new_id, nullptr).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  Keyring keyring;
  ASSERT_TRUE(Keyring::Load(path, &keyring).ok());
  EXPECT_EQ(keyring.ids().size(), 1u + kThreads * kRotationsEach);
  EXPECT_EQ(keyring.active_id(), 1u + kThreads * kRotationsEach);
}

TEST(KeyringFile, RotateRefusesABadFileAndLeavesItAlone) {
  TempDir dir;
  std::string path = dir.File("keys");
  WriteFile(path, "key 1 " + HexKey('a') + "\n", 0600);
  uint32_t id = 0;
  sdk::Status status = RotateKeyringFile(path, &id, nullptr);
  EXPECT_EQ(status.code(), CAIRN_E_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("no active key"));
  EXPECT_EQ(ReadFile(path), "key 1 " + HexKey('a') + "\n");
}

TEST(KeyringFingerprint, IsStablePerKeyAndDoesNotShowTheKey) {
  Keyring keyring;
  ASSERT_TRUE(ParseText("key 1 " + HexKey('a') + "\nkey 2 " + HexKey('b') +
                            " active\n",
                        &keyring)
                  .ok());
  std::string one = keyring.Fingerprint(1);
  EXPECT_EQ(one.size(), 16u);
  EXPECT_EQ(one, keyring.Fingerprint(1));
  EXPECT_NE(one, keyring.Fingerprint(2));
  EXPECT_THAT(one, Not(HasSubstr("aaaa")));
  EXPECT_EQ(keyring.Fingerprint(3), "");
}

}  // namespace
}  // namespace cairn::keyring
