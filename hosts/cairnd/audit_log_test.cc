#include "audit_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
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

}  // namespace
}  // namespace cairn::cairnd
