// Torn tails, incomplete batches and corruption in sealed segments.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "log.h"
#include "record.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

using testing::Any;
using testing::OwnedEvent;
using testing::ScratchDir;

LogOptions Options(const std::string& dir) {
  LogOptions o;
  o.path = dir;
  o.segment_size = 64 << 10;
  o.fsync = FsyncMode::kNever;
  o.stream_bucket_bits = 8;
  return o;
}

void AppendN(Log& log, int n, const std::string& stream, size_t size = 100,
             int batch = 1) {
  for (int i = 0; i < n; ++i) {
    std::vector<OwnedEvent> owned(batch);
    std::vector<cairn_event> events;
    for (auto& o : owned) {
      o.data = std::string(size, static_cast<char>('a' + i % 26));
      events.push_back(o.View());
    }
    cairn_append_result r;
    ASSERT_TRUE(log.Append(stream, Any(), events.data(), events.size(), &r).ok());
  }
}

std::string LastSegment(const std::string& dir) {
  std::string last;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() == 12 && name.substr(8) == ".log") {
      // Only segments in use (spares have no in-use flag).
      int fd = open(e.path().c_str(), O_RDONLY);
      uint8_t header[kSegmentHeaderSize];
      bool ok = pread(fd, header, sizeof header, 0) == sizeof header;
      close(fd);
      SegmentHeader h;
      if (ok && h.DecodeFrom(header) && (h.flags & kSegmentInUse) &&
          name > last) {
        last = name;
      }
    }
  }
  return dir + "/" + last;
}

uint64_t CountAll(Log& log) {
  uint64_t n = 0;
  uint64_t prev = 0;
  absl::Status s = log.ReadAll(0, UINT64_MAX, true, [&](const cairn_event& e) {
    EXPECT_EQ(e.position, prev + 1);
    prev = e.position;
    ++n;
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return n;
}

// A spare segment left by an earlier run is reused only while every byte
// after its header is zero; one with anything in it is removed and made
// again (its stale bytes could otherwise read as records later).
TEST(MmapLogRecovery, SpareIsReusedOnlyWhileBlank) {
  ScratchDir dir;
  const std::string spare = dir.path() + "/00000002.log";
  constexpr off_t kDeep = (64 << 10) - 100;  // in the spare's last page
  auto ino = [&] {
    struct stat st {};
    return stat(spare.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino)
                                         : 0;
  };
  auto byte_at_deep = [&] {
    char c = 0;
    int fd = open(spare.c_str(), O_RDONLY);
    if (fd >= 0) {
      if (pread(fd, &c, 1, kDeep) != 1) c = 0;
      close(fd);
    }
    return c;
  };
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    AppendN(**log, 3, "s");
    // The preparer makes the spare in the background.
    for (int i = 0; i < 500 && ino() == 0; ++i) usleep(2000);
  }
  const uint64_t blank_ino = ino();
  ASSERT_NE(blank_ino, 0u);
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ(CountAll(**log), 3u);
  }
  EXPECT_EQ(ino(), blank_ino) << "a blank spare is reused";
  {
    int fd = open(spare.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const char x = 'x';
    ASSERT_EQ(pwrite(fd, &x, 1, kDeep), 1);
    close(fd);
  }
  ASSERT_EQ(byte_at_deep(), 'x');
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ(CountAll(**log), 3u);
    // The preparer finds the byte, removes the spare and makes a new one.
    for (int i = 0; i < 500 && (ino() == 0 || byte_at_deep() != 0); ++i) {
      usleep(2000);
    }
  }
  EXPECT_NE(ino(), 0u);
  EXPECT_EQ(byte_at_deep(), 0) << "a spare with data in it is made again";
}

// Offset just past the last record in use in a segment file.
size_t EndOfRecords(const std::string& path) {
  std::string bytes;
  {
    int fd = open(path.c_str(), O_RDONLY);
    bytes.resize(std::filesystem::file_size(path));
    EXPECT_EQ(pread(fd, bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
    close(fd);
  }
  size_t off = kSegmentHeaderSize;
  for (;;) {
    uint32_t len;
    std::memcpy(&len, bytes.data() + off, 4);
    if (len == 0 || len == kEndOfSegment) return off;
    off += len;
  }
}

void Garble(const std::string& path, size_t offset, size_t length,
            std::mt19937& rng) {
  int fd = open(path.c_str(), O_WRONLY);
  std::string junk(length, '\0');
  for (char& c : junk) c = static_cast<char>(rng() | 1);
  ASSERT_EQ(pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(length));
  close(fd);
}

TEST(MmapLogRecovery, TornTailIsTruncatedToLastValidRecord) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 20; ++trial) {
    ScratchDir dir;
    {
      auto log = Log::Open(Options(dir.path()));
      ASSERT_TRUE(log.ok());
      AppendN(**log, 30, "s", 100);
    }
    std::string seg = LastSegment(dir.path());
    size_t end = EndOfRecords(seg);
    // Garble somewhere inside the last few records (a torn write).
    size_t at = end - 1 - rng() % 600;
    Garble(seg, at, 1 + rng() % 64, rng);
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    uint64_t n = CountAll(**log);
    EXPECT_LT(n, 30u);
    EXPECT_GE(n, 30u - 6);
    EXPECT_EQ((*log)->HeadPosition(), n);
    EXPECT_GT((*log)->recovery().truncated_bytes, 0u);
    // Appends continue right after the last valid record.
    AppendN(**log, 1, "s", 10);
    EXPECT_EQ((*log)->HeadRevision("s"), n + 1);
    EXPECT_EQ(CountAll(**log), n + 1);
    EXPECT_TRUE((*log)->Verify([](const std::string& p) { ADD_FAILURE() << p; }).ok());
  }
}

TEST(MmapLogRecovery, TruncatedFileTailIsRepairedAtOpen) {
  // Zeroing the tail (a write that never reached disk) at random offsets.
  std::mt19937 rng(777);
  for (int trial = 0; trial < 10; ++trial) {
    ScratchDir dir;
    {
      auto log = Log::Open(Options(dir.path()));
      ASSERT_TRUE(log.ok());
      AppendN(**log, 40, "s", 90);
    }
    std::string seg = LastSegment(dir.path());
    size_t end = EndOfRecords(seg);
    size_t cut = kSegmentHeaderSize + rng() % (end - kSegmentHeaderSize);
    int fd = open(seg.c_str(), O_WRONLY);
    std::string zeros(end - cut, '\0');
    ASSERT_EQ(pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(cut)),
              static_cast<ssize_t>(zeros.size()));
    close(fd);
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    uint64_t n = CountAll(**log);
    EXPECT_EQ((*log)->HeadRevision("s"), n);
    AppendN(**log, 2, "s", 10);
    EXPECT_EQ(CountAll(**log), n + 2);
  }
}

TEST(MmapLogRecovery, IncompleteBatchIsDiscardedWhole) {
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, 3, "s", 50, 1);
    AppendN(**log, 1, "s", 50, 5);  // positions 4..8, one batch
  }
  std::string seg = LastSegment(dir.path());
  size_t end = EndOfRecords(seg);
  // Zero the batch's last record's length word: it was never published.
  size_t off = kSegmentHeaderSize;
  size_t last = 0;
  {
    int fd = open(seg.c_str(), O_RDWR);
    while (off < end) {
      uint32_t len;
      ASSERT_EQ(pread(fd, &len, 4, static_cast<off_t>(off)), 4);
      last = off;
      off += len;
    }
    uint32_t zero = 0;
    ASSERT_EQ(pwrite(fd, &zero, 4, static_cast<off_t>(last)), 4);
    close(fd);
  }
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(CountAll(**log), 3u);
  EXPECT_EQ((*log)->HeadRevision("s"), 3u);
  EXPECT_EQ((*log)->recovery().dropped_records, 4u);
}

TEST(MmapLogRecovery, FlippedByteInSealedSegmentIsReportedWithSegmentAndOffset) {
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, 200, "victim", 1000);  // several segments
    AppendN(**log, 5, "other", 100);
  }
  std::string first = dir.path() + "/" + SegmentFileName(1);
  // Flip a byte in the data of the third record of segment 1.
  size_t off = kSegmentHeaderSize;
  uint32_t len = 0;
  int fd = open(first.c_str(), O_RDWR);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(pread(fd, &len, 4, static_cast<off_t>(off)), 4);
    off += len;
  }
  size_t victim = off;
  uint8_t byte;
  ASSERT_EQ(pread(fd, &byte, 1, static_cast<off_t>(victim + 200)), 1);
  byte ^= 0x10;
  ASSERT_EQ(pwrite(fd, &byte, 1, static_cast<off_t>(victim + 200)), 1);
  close(fd);

  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->HeadPosition(), 205u);  // nothing truncated
  // Reading the damaged record fails naming segment and offset.
  absl::Status s = (*log)->ReadStream("victim", 3, 3, 1,
                                      [](const cairn_event&) { return true; });
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("00000001.log offset " + std::to_string(victim)),
            std::string::npos)
      << s;
  // Other records still read.
  uint64_t n = 0;
  ASSERT_TRUE((*log)->ReadStream("victim", 4, 200, 1000, [&](const cairn_event&) {
                      ++n;
                      return true;
                    }).ok());
  EXPECT_EQ(n, 197u);
  n = 0;
  ASSERT_TRUE((*log)->ReadAll(3, 1000, false, [&](const cairn_event&) {
                      ++n;
                      return true;
                    }).ok());
  EXPECT_EQ(n, 202u);
  std::vector<std::string> problems;
  s = (*log)->Verify([&](const std::string& p) { problems.push_back(p); });
  EXPECT_TRUE(absl::IsDataLoss(s));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("00000001.log offset " + std::to_string(victim)),
            std::string::npos)
      << problems[0];
}

TEST(MmapLogRecovery, DamagedHeaderOfASealedRecordIsSkippedAndReported) {
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, 200, "s", 1000);
  }
  // Without the clean close's index checkpoint, as after a kill -9: the open
  // scans the damaged segment.
  std::filesystem::remove(dir.path() + "/index/checkpoint");
  std::string first = dir.path() + "/" + SegmentFileName(1);
  int fd = open(first.c_str(), O_RDWR);
  uint32_t junk = 0x12345678;  // garbles the first record's length word
  ASSERT_EQ(pwrite(fd, &junk, 4, kSegmentHeaderSize), 4);
  close(fd);
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->HeadPosition(), 200u);
  EXPECT_FALSE((*log)->recovery().problems.empty());
  uint64_t n = 0;
  ASSERT_TRUE((*log)->ReadStream("s", 2, 200, 1000, [&](const cairn_event&) {
                      ++n;
                      return true;
                    }).ok());
  EXPECT_EQ(n, 199u);
}

TEST(MmapLogRecovery, RecordsAfterAnUnpublishedHoleAreNotResurrected) {
  // An appender killed between reserving and publishing leaves a hole;
  // batches published after it were never committed and must not come back
  // when a new append lands in the hole.
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, 5, "s", 100);
  }
  std::string seg = LastSegment(dir.path());
  int fd = open(seg.c_str(), O_RDWR);
  size_t off = kSegmentHeaderSize;
  for (int i = 0; i < 2; ++i) {
    uint32_t len;
    ASSERT_EQ(pread(fd, &len, 4, static_cast<off_t>(off)), 4);
    off += len;
  }
  uint32_t zero = 0;  // record 3 never published
  ASSERT_EQ(pwrite(fd, &zero, 4, static_cast<off_t>(off)), 4);
  close(fd);
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->HeadPosition(), 2u);
  // Same size as the lost record, so the next offset is where record 4 was.
  AppendN(**log, 1, "s", 100);
  EXPECT_EQ((*log)->HeadPosition(), 3u);
  EXPECT_EQ(CountAll(**log), 3u);
  EXPECT_EQ((*log)->HeadRevision("s"), 3u);
  EXPECT_TRUE((*log)->Verify([](const std::string& p) { ADD_FAILURE() << p; }).ok());
}

TEST(MmapLogRecovery, CleanCloseCheckpointIsUsedAndDistrustedWhenTheTailChanged) {
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, 120, "s", 900);  // several segments
  }
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    EXPECT_TRUE((*log)->recovery().from_checkpoint);
    EXPECT_EQ(CountAll(**log), 120u);
    EXPECT_EQ((*log)->HeadRevision("s"), 120u);
    AppendN(**log, 1, "s", 10);
  }
  // Garble the tail after the clean close: the checkpoint no longer matches
  // the files, so the open scans and truncates instead of trusting it.
  std::string seg = LastSegment(dir.path());
  size_t end = EndOfRecords(seg);
  std::mt19937 rng(5);
  Garble(seg, end - 20, 8, rng);
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE((*log)->recovery().from_checkpoint);
  EXPECT_EQ(CountAll(**log), 120u);
  EXPECT_GT((*log)->recovery().truncated_bytes, 0u);
}

}  // namespace
}  // namespace cairn::mmaplog

namespace cairn::mmaplog {
namespace {

TEST(MmapLogRecovery, DamageBeforeValidRecordsInTheTailIsReportedAndKept) {
  // A flipped byte early in the unsealed segment, with intact records after
  // it, is not a torn write: positions cannot skip, so the log still ends
  // there, but the segment as found is kept and the loss is a problem.
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, 30, "s", 100);
  }
  std::string seg = LastSegment(dir.path());
  std::mt19937 rng(99);
  Garble(seg, kSegmentHeaderSize + 80, 4, rng);  // inside the first record
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  const RecoveryReport& report = (*log)->recovery();
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("later record(s) still pass their checksums"),
            std::string::npos)
      << report.problems[0];
  std::string quarantine = dir.path() + "/quarantine";
  ASSERT_TRUE(std::filesystem::exists(quarantine));
  size_t kept = 0;
  for (auto& e : std::filesystem::directory_iterator(quarantine)) {
    EXPECT_EQ(std::filesystem::file_size(e.path()), std::filesystem::file_size(seg));
    ++kept;
  }
  EXPECT_EQ(kept, 1u);
  EXPECT_NE(report.problems[0].find("quarantine/"), std::string::npos);
}

TEST(MmapLogRecovery, AnOrdinaryTornTailLeavesNoQuarantine) {
  ScratchDir dir;
  {
    auto log = Log::Open(Options(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendN(**log, 30, "s", 100);
  }
  std::string seg = LastSegment(dir.path());
  size_t end = EndOfRecords(seg);
  std::mt19937 rng(5);
  Garble(seg, end - 10, 10, rng);  // the last record only
  auto log = Log::Open(Options(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE((*log)->recovery().problems.empty());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/quarantine"));
  EXPECT_EQ(CountAll(**log), 29u);
}

}  // namespace
}  // namespace cairn::mmaplog
