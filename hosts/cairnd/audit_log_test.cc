#include "audit_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit_chain.h"

namespace cairn::cairnd {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "cairn-audit-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    options_.path = dir_ + "/audit.log";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Writes `count` lines through a fresh AuditLog.
  void WriteLines(int count) {
    auto log = AuditLog::Open(options_);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < count; ++i) {
      const std::string stream = absl::StrCat("orders-", i);
      ASSERT_TRUE((*log)->Write(AuditEntry{"access", "CN=orders-svc", "127.0.0.1:5000",
                                           "append", stream, "write", "allowed"})
                      .ok());
    }
  }

  std::vector<std::string> ReadLines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  void WriteFile(const std::string& path, const std::vector<std::string>& lines,
                 bool final_newline = true) {
    std::ofstream out(path, std::ios::trunc);
    for (size_t i = 0; i < lines.size(); ++i) {
      out << lines[i];
      if (i + 1 < lines.size() || final_newline) out << "\n";
    }
  }

  // The head beside options_.path, read with `key` and ready to check.
  std::optional<AuditHeadCheck> Head(const std::string& key = "") {
    const std::string path = AuditHeadPath(options_.path);
    auto head = ReadAuditHead(path, key);
    EXPECT_TRUE(head.ok()) << head.status();
    if (!head.ok() || !head->has_value()) return std::nullopt;
    return AuditHeadCheck{**head, path};
  }

  // Drops the last `count` lines of `path`, as an attacker would.
  void CutLines(const std::string& path, size_t count) {
    auto lines = ReadLines(path);
    lines.resize(lines.size() - count);
    WriteFile(path, lines, /*final_newline=*/!lines.empty());
  }

  // A key file of mode `mode` holding `bytes` bytes.
  std::string KeyFile(size_t bytes = 64, unsigned mode = 0600) {
    const std::string path = dir_ + "/audit.key";
    std::ofstream(path, std::ios::trunc) << std::string(bytes, 'k');
    std::filesystem::permissions(path, std::filesystem::perms(mode));
    return path;
  }

  std::string dir_;
  AuditOptions options_;
};

TEST_F(AuditLogTest, LinesAreJsonWithSeqAndChainToTheLineBefore) {
  WriteLines(3);
  const auto lines = ReadLines(options_.path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(lines[0], "{\"seq\":1,\"time\":\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(
      lines[0],
      "\"kind\":\"access\",\"identity\":\"CN=orders-svc\",\"peer\":\"127.0.0.1:5000\","
      "\"op\":\"append\",\"stream\":\"orders-0\",\"right\":\"write\",\"result\":\"allowed\","
      "\"prev\":\"" + std::string(kAuditGenesis) + "\"}"))
      << lines[0];
  EXPECT_TRUE(absl::EndsWith(lines[1], AuditLineHash(lines[0]) + "\"}")) << lines[1];
  auto summary = VerifyAuditChain({options_.path});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->lines, 3u);
  EXPECT_TRUE(summary->starts_at_genesis);
}

TEST_F(AuditLogTest, FieldsAreJsonEscaped) {
  auto log = AuditLog::Open(options_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Write(AuditEntry{"access", "CN=a\"b", "p", "append", "s\\\n", "write",
                                       "denied"})
                  .ok());
  const auto lines = ReadLines(options_.path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "\"identity\":\"CN=a\\\"b\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "\"stream\":\"s\\\\\\n\"")) << lines[0];
}

TEST_F(AuditLogTest, VerifyNamesAnEditedLine) {
  WriteLines(4);
  auto lines = ReadLines(options_.path);
  lines[1].replace(lines[1].find("\"allowed\""), 9, "\"denied!\"");
  WriteFile(options_.path, lines);
  auto summary = VerifyAuditChain({options_.path});
  ASSERT_FALSE(summary.ok());
  EXPECT_TRUE(absl::StrContains(summary.status().message(),
                                options_.path + ":2: this line was changed"))
      << summary.status();
}

TEST_F(AuditLogTest, VerifyNamesRemovedLines) {
  WriteLines(5);
  auto lines = ReadLines(options_.path);
  lines.erase(lines.begin() + 2);
  WriteFile(options_.path, lines);
  auto summary = VerifyAuditChain({options_.path});
  ASSERT_FALSE(summary.ok());
  EXPECT_TRUE(absl::StrContains(summary.status().message(),
                                options_.path + ":3: seq 4 follows seq 2"))
      << summary.status();
  EXPECT_TRUE(absl::StrContains(summary.status().message(), "1 line(s) were removed"))
      << summary.status();
}

TEST_F(AuditLogTest, VerifyNamesACutOffLastLine) {
  WriteLines(3);
  auto lines = ReadLines(options_.path);
  lines[2].resize(lines[2].size() / 2);
  WriteFile(options_.path, lines, /*final_newline=*/false);
  auto summary = VerifyAuditChain({options_.path});
  ASSERT_FALSE(summary.ok());
  EXPECT_TRUE(absl::StrContains(summary.status().message(),
                                options_.path + ":3: the last line is cut off"))
      << summary.status();
  // The server will not append to a file whose last line is cut off.
  auto reopened = AuditLog::Open(options_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_TRUE(absl::StrContains(reopened.status().message(), "cut-off line"))
      << reopened.status();
}

TEST_F(AuditLogTest, ReopeningContinuesTheChain) {
  WriteLines(2);
  WriteLines(2);
  auto summary = VerifyAuditChain({options_.path});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->lines, 4u);
  EXPECT_EQ(summary->last_seq, 4u);
}

TEST_F(AuditLogTest, RotationKeepsTheChainAcrossFilesAndDropsTheOldest) {
  options_.max_size = 4096;
  options_.keep = 2;
  WriteLines(60);  // about 300 bytes a line: several rotations
  ASSERT_TRUE(std::filesystem::exists(options_.path + ".1"));
  ASSERT_TRUE(std::filesystem::exists(options_.path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(options_.path + ".3"));
  EXPECT_LE(std::filesystem::file_size(options_.path + ".1"), 4096u);
  auto summary =
      VerifyAuditChain({options_.path + ".2", options_.path + ".1", options_.path});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->last_seq, 60u);
  EXPECT_FALSE(summary->starts_at_genesis);  // the oldest file was dropped
  // Files out of order break the chain at the first file's boundary.
  auto swapped =
      VerifyAuditChain({options_.path + ".1", options_.path + ".2", options_.path});
  ASSERT_FALSE(swapped.ok());
  EXPECT_TRUE(absl::StrContains(swapped.status().message(), options_.path + ".2:1: seq"))
      << swapped.status();
}

TEST_F(AuditLogTest, AFailedWriteFailsThisAndEveryLaterLine) {
  options_.path = "/dev/full";  // every write(2) fails with ENOSPC
  auto log = AuditLog::Open(options_);
  ASSERT_TRUE(log.ok()) << log.status();
  const AuditEntry entry{"access", "CN=x", "p", "append", "s", "write", "allowed"};
  absl::Status first = (*log)->Write(entry);
  ASSERT_FALSE(first.ok());
  EXPECT_TRUE(absl::StrContains(first.message(), "audit log '/dev/full': cannot write"))
      << first;
  EXPECT_FALSE((*log)->Write(entry).ok());
}

TEST_F(AuditLogTest, ConcurrentWritersProduceOneUnbrokenChain) {
  auto log = AuditLog::Open(options_);
  ASSERT_TRUE(log.ok());
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string stream = absl::StrCat("t", t, "-", i);
        EXPECT_TRUE((*log)->Write(AuditEntry{"access", "CN=x", "p", "read_stream", stream,
                                             "read", "allowed"})
                        .ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ((*log)->written(), uint64_t{kThreads * kEach});
  auto summary = VerifyAuditChain({options_.path});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->lines, uint64_t{kThreads * kEach});
}

// --------------------------------------------------- the chain's head --

TEST_F(AuditLogTest, TheHeadRecordsTheLastLineWritten) {
  WriteLines(3);
  EXPECT_EQ(std::filesystem::file_size(AuditHeadPath(options_.path)),
            kAuditHeadSize);
  auto head = Head();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->head.seq, 3u);
  EXPECT_EQ(head->head.hash, AuditLineHash(ReadLines(options_.path)[2]));
  EXPECT_FALSE(head->head.keyed);
  auto summary = VerifyAuditChain({options_.path}, head);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->past_head, 0u);
}

TEST_F(AuditLogTest, VerifyWithTheHeadNamesATruncatedTail) {
  WriteLines(10);
  const auto head = Head();
  CutLines(options_.path, 3);
  // The chain alone cannot tell (before: this was all verify checked).
  ASSERT_TRUE(VerifyAuditChain({options_.path}).ok());
  auto summary = VerifyAuditChain({options_.path}, head);
  ASSERT_FALSE(summary.ok());
  const std::string message(summary.status().message());
  EXPECT_TRUE(absl::StrContains(
      message,
      options_.path + ": truncated: 3 line(s) were removed from its end"))
      << message;
  EXPECT_TRUE(absl::StrContains(message, "records seq 10 as written"))
      << message;
  EXPECT_TRUE(absl::StrContains(message, "last intact seq: 7")) << message;
  // Every line removed.
  CutLines(options_.path, 7);
  summary = VerifyAuditChain({options_.path}, head);
  ASSERT_FALSE(summary.ok());
  EXPECT_TRUE(absl::StrContains(summary.status().message(),
                                "the log ends at no line; last intact seq: 0"))
      << summary.status();
}

TEST_F(AuditLogTest, CairndRefusesToContinueATruncatedLog) {
  WriteLines(5);
  CutLines(options_.path, 2);
  const std::string head_before = ReadLines(AuditHeadPath(options_.path))[0];
  auto log = AuditLog::Open(options_);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::StrContains(log.status().message(), "truncated"))
      << log.status();
  EXPECT_TRUE(absl::StrContains(log.status().message(), "last intact seq: 3"))
      << log.status();
  // The evidence stays: no new head was written over it.
  EXPECT_EQ(ReadLines(AuditHeadPath(options_.path))[0], head_before);
}

TEST_F(AuditLogTest, CairndRefusesALogWhoseHeadWasRemoved) {
  WriteLines(2);
  std::filesystem::remove(AuditHeadPath(options_.path));
  auto log = AuditLog::Open(options_);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::StrContains(log.status().message(),
                                "holds lines up to seq 2 but "
                                "has no head file"))
      << log.status();
}

TEST_F(AuditLogTest, ARewrittenTailIsNotTheLineTheHeadRecords) {
  WriteLines(4);
  const std::string saved = dir_ + "/saved";
  std::filesystem::copy_file(options_.path, saved);
  std::filesystem::copy_file(AuditHeadPath(options_.path), saved + ".head");
  WriteLines(2);  // seq 5, 6
  const std::string real_head = dir_ + "/real.head";
  std::filesystem::copy_file(AuditHeadPath(options_.path), real_head);
  // Back to 4 lines and their head, two other lines written, the real head
  // put back.
  std::filesystem::copy_file(saved, options_.path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(saved + ".head", AuditHeadPath(options_.path),
                             std::filesystem::copy_options::overwrite_existing);
  WriteLines(2);
  std::filesystem::copy_file(real_head, AuditHeadPath(options_.path),
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(VerifyAuditChain({options_.path}).ok());
  auto summary = VerifyAuditChain({options_.path}, Head());
  ASSERT_FALSE(summary.ok());
  EXPECT_TRUE(
      absl::StrContains(summary.status().message(),
                        options_.path + ":6: seq 6 is not the line the head"))
      << summary.status();
}

TEST_F(AuditLogTest, LinesPastTheHeadFromACrashAreAccepted) {
  WriteLines(5);
  // As if cairnd died after writing lines 4 and 5 but before their head.
  const auto lines = ReadLines(options_.path);
  std::ofstream(AuditHeadPath(options_.path), std::ios::trunc)
      << FormatAuditHead(3, AuditLineHash(lines[2]), "");
  auto summary = VerifyAuditChain({options_.path}, Head());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->past_head, 2u);
  WriteLines(1);  // cairnd starts again and goes on
  auto head = Head();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->head.seq, 6u);
}

TEST_F(AuditLogTest, ADamagedHeadIsRefused) {
  WriteLines(3);
  std::string text = ReadLines(AuditHeadPath(options_.path))[0];
  text[text.find("\"seq\":3") + 6] = '2';  // seq 2 with seq 3's hash and MAC
  std::ofstream(AuditHeadPath(options_.path), std::ios::trunc) << text << "\n";
  auto head = ReadAuditHead(AuditHeadPath(options_.path), "");
  ASSERT_FALSE(head.ok());
  EXPECT_TRUE(
      absl::StrContains(head.status().message(), "checksum does not match"))
      << head.status();
  EXPECT_FALSE(AuditLog::Open(options_).ok());
}

TEST_F(AuditLogTest, AKeyedHeadCannotBeForgedWithoutTheKey) {
  options_.key_file = KeyFile();
  auto key = ReadAuditKey(options_.key_file);
  ASSERT_TRUE(key.ok()) << key.status();
  WriteLines(5);
  auto head = Head(*key);
  ASSERT_TRUE(head.has_value());
  EXPECT_TRUE(head->head.keyed);
  ASSERT_TRUE(VerifyAuditChain({options_.path}, head).ok());
  // Cut two lines and write the head that would match, without the key.
  CutLines(options_.path, 2);
  const std::string hash3 = AuditLineHash(ReadLines(options_.path)[2]);
  const std::string head_path = AuditHeadPath(options_.path);
  std::ofstream(head_path, std::ios::trunc) << FormatAuditHead(3, hash3, "");
  auto unkeyed = ReadAuditHead(head_path, *key);
  ASSERT_FALSE(unkeyed.ok());
  EXPECT_TRUE(absl::StrContains(unkeyed.status().message(), "has no HMAC"))
      << unkeyed.status();
  std::ofstream(head_path, std::ios::trunc)
      << FormatAuditHead(3, hash3, std::string(64, 'x'));
  auto wrong_key = ReadAuditHead(head_path, *key);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_TRUE(
      absl::StrContains(wrong_key.status().message(), "HMAC does not match"))
      << wrong_key.status();
  EXPECT_FALSE(AuditLog::Open(options_).ok());
  // Without the key the head cannot be checked at all.
  auto keyless = ReadAuditHead(head_path, "");
  ASSERT_FALSE(keyless.ok());
  EXPECT_TRUE(absl::StrContains(keyless.status().message(), "--key-file"))
      << keyless.status();
}

TEST_F(AuditLogTest, AKeyFileMustBePrivateAndLongEnough) {
  options_.key_file = KeyFile(64, 0644);
  auto open = AuditLog::Open(options_);
  ASSERT_FALSE(open.ok());
  EXPECT_TRUE(absl::StrContains(open.status().message(),
                                "[audit] key-file = " + options_.key_file +
                                    " is open to group or others (mode 0644)"))
      << open.status();
  options_.key_file = KeyFile(16);
  open = AuditLog::Open(options_);
  ASSERT_FALSE(open.ok());
  EXPECT_TRUE(absl::StrContains(open.status().message(), "holds 16 bytes"))
      << open.status();
}

TEST_F(AuditLogTest, TheHeadFollowsRotationAndCatchesACutLiveFile) {
  options_.max_size = 4096;
  options_.keep = 2;
  WriteLines(60);
  const std::vector<std::string> files = {options_.path + ".2",
                                          options_.path + ".1", options_.path};
  ASSERT_TRUE(VerifyAuditChain(files, Head()).ok());
  const uint64_t rotated_last =
      ParseAuditLink(ReadLines(options_.path + ".1").back())->seq;
  CutLines(options_.path, ReadLines(options_.path).size());  // empty it
  auto summary = VerifyAuditChain(files, Head());
  ASSERT_FALSE(summary.ok());
  EXPECT_TRUE(absl::StrContains(summary.status().message(),
                                absl::StrCat(options_.path, ": truncated: ",
                                             60 - rotated_last, " line(s)")))
      << summary.status();
  EXPECT_TRUE(
      absl::StrContains(summary.status().message(),
                        absl::StrCat("last intact seq: ", rotated_last)))
      << summary.status();
  EXPECT_FALSE(AuditLog::Open(options_).ok());
}

}  // namespace
}  // namespace cairn::cairnd
