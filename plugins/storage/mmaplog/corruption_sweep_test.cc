// The corruption sweep (issue #13): one flipped bit at each of 200 offsets
// spread over every file of a store of 10,000 events (several segments,
// deletes, tags, snapshots, the index checkpoint and arena files). Each open
// must either refuse naming the damaged file, or read back exactly the
// events (and snapshots) of the undamaged store; a read may fail naming the
// file (damage the open does not look at, such as a record body in a sealed
// segment). Never fewer events with OK. After a refusal, the repair open
// must succeed and leave a store that opens.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "log.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

using testing::Exact;
using testing::NoStream;
using testing::OwnedEvent;
using testing::ScratchDir;
using testing::Str;

constexpr int kStreams = 40;
constexpr int kBatches = 1000;  // of 10 events: 10,000 events
constexpr int kFlips = 200;

// 256 KiB segments, every append synced (so the durable marks prove it).
LogOptions Options(const std::string& dir) {
  LogOptions o = testing::SmallStoreOptions(dir);
  o.segment_size = 256 << 10;
  o.fsync = FsyncMode::kAlways;
  return o;
}

struct Contents {
  std::vector<std::string> live, all, tagged, snapshots;
};

std::string Describe(const cairn_event& e) {
  std::string out = std::to_string(e.position) + "|" + Str(e.stream) + "|" +
                    std::to_string(e.revision) + "|" + Str(e.type) + "|" +
                    Str(e.data) + "|" + Str(e.metadata);
  for (uint32_t i = 0; i < e.tag_count; ++i) out += "|" + Str(e.tags[i]);
  return out;
}

std::string StreamName(int i) { return "stream-" + std::to_string(i); }

// Reads everything the store holds; a failed read's status goes to *error.
Contents Read(Log& log, const std::string& dir, absl::Status* error) {
  Contents c;
  auto into = [](std::vector<std::string>* v) {
    return [v](const cairn_event& e) {
      v->push_back(Describe(e));
      return true;
    };
  };
  absl::Status s = log.ReadAll(0, UINT64_MAX, false, into(&c.live));
  if (s.ok()) s = log.ReadAll(0, UINT64_MAX, true, into(&c.all));
  if (s.ok()) s = log.ReadTag("even", 0, UINT64_MAX, into(&c.tagged));
  (void)dir;
  for (int i = 0; s.ok() && i < kStreams; ++i) {
    cairn_snapshot_criteria all{sizeof(cairn_snapshot_criteria), 0, UINT64_MAX,
                                INT64_MIN, INT64_MAX};
    s = log.SnapshotLoad(StreamName(i), all, [&](const cairn_snapshot& snap) {
      c.snapshots.push_back(Str(snap.stream) + "|" + std::to_string(snap.revision) +
                            "|" + Str(snap.data));
    });
  }
  *error = s;
  return c;
}

void BuildStore(const std::string& dir) {
  auto log = Log::Open(Options(dir));
  ASSERT_TRUE(log.ok()) << log.status();
  std::mt19937 rng(13);
  std::vector<uint64_t> heads(kStreams, 0);
  for (int b = 0; b < kBatches; ++b) {
    const int stream = static_cast<int>(rng() % kStreams);
    std::vector<OwnedEvent> owned(10);
    std::vector<cairn_event> events;
    for (int i = 0; i < 10; ++i) {
      owned[i].type = "Happened" + std::to_string(i % 3);
      owned[i].data = std::string(60 + rng() % 120, static_cast<char>('a' + b % 26));
      if ((b + i) % 2 == 0) owned[i].tags = {"even"};
      events.push_back(owned[i].View());
    }
    cairn_append_result r;
    Expected expected = heads[stream] == 0 ? NoStream() : Exact(heads[stream]);
    ASSERT_TRUE((*log)->Append(StreamName(stream), expected, events.data(), events.size(), &r)
                    .ok());
    heads[stream] = r.last_revision;
  }
  for (int i = 0; i < kStreams; i += 5) {
    ASSERT_TRUE((*log)->DeleteTo(StreamName(i), heads[i] / 2).ok());
  }
  for (int i = 0; i < kStreams; i += 2) {
    std::string stream = StreamName(i), data(200, static_cast<char>('A' + i % 26));
    cairn_snapshot snap{sizeof(cairn_snapshot),
                        OwnedEvent::Bytes(stream), heads[i] / 3 + 1, 1700000000000000,
                        OwnedEvent::Bytes(data)};
    ASSERT_TRUE((*log)->SnapshotSave(snap).ok());  // a record of the log
  }
}

struct Flip {
  std::string file;  // relative to the store
  uint64_t offset;
  int bit;
};

std::vector<Flip> PlanFlips(const std::string& dir) {
  struct File {
    std::string name;
    uint64_t size, weight;
  };
  std::vector<File> files;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "LOCK") continue;
    uint64_t size = e.file_size();
    if (size == 0) continue;
    std::string rel = std::filesystem::relative(e.path(), dir).string();
    // Index arena files are large and mostly empty: cap their share.
    uint64_t weight = rel.rfind("index/arena", 0) == 0 ? std::min<uint64_t>(size, 16 << 10)
                                                       : size;
    files.push_back({rel, size, weight});
  }
  std::sort(files.begin(), files.end(),
            [](const File& a, const File& b) { return a.name < b.name; });
  std::mt19937_64 rng(2026);
  std::vector<Flip> flips;
  // One in every file's first 64 bytes (headers), one in its last 64 (the
  // end of deletes.log, checksums at the end), one anywhere in it...
  for (const File& f : files) {
    const uint64_t edge = std::min<uint64_t>(f.size, 64);
    flips.push_back({f.name, rng() % edge, int(rng() % 8)});
    flips.push_back({f.name, f.size - 1 - rng() % edge, int(rng() % 8)});
    flips.push_back({f.name, rng() % f.size, int(rng() % 8)});
  }
  // ...and the rest evenly over all bytes, weighted by size.
  uint64_t total = 0;
  for (const File& f : files) total += f.weight;
  const size_t rest = flips.size() < kFlips ? kFlips - flips.size() : 0;
  for (size_t k = 0; k < rest; ++k) {
    uint64_t at = (total * k) / rest + rng() % std::max<uint64_t>(1, total / rest);
    for (const File& f : files) {
      if (at < f.weight) {
        flips.push_back({f.name, at * f.size / f.weight, int(rng() % 8)});
        break;
      }
      at -= f.weight;
    }
  }
  return flips;
}

void FlipBit(const std::string& path, uint64_t offset, int bit) {
  int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  uint8_t b = 0;
  ASSERT_EQ(pread(fd, &b, 1, static_cast<off_t>(offset)), 1);
  b ^= static_cast<uint8_t>(1u << bit);
  ASSERT_EQ(pwrite(fd, &b, 1, static_cast<off_t>(offset)), 1);
  close(fd);
}

bool Names(const absl::Status& s, const std::string& rel) {
  const std::string base = rel.substr(rel.rfind('/') + 1);
  return std::string(s.message()).find(base) != std::string::npos;
}

TEST(MmapLogCorruptionSweep, EveryFlippedBitIsRefusedNamingItsFileOrChangesNothing) {
  ScratchDir base;
  BuildStore(base.path());
  Contents golden;
  {
    auto log = Log::Open(Options(base.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    absl::Status s;
    golden = Read(**log, base.path(), &s);
    ASSERT_TRUE(s.ok()) << s;
  }
  ASSERT_EQ(golden.all.size(), 10000u);
  ASSERT_LT(golden.live.size(), golden.all.size());
  ASSERT_FALSE(golden.snapshots.empty());
  const std::vector<Flip> flips = PlanFlips(base.path());
  ASSERT_GE(flips.size(), static_cast<size_t>(kFlips));
  size_t segments = 0;
  for (const Flip& f : flips) segments += f.file.size() == 12 && f.file.substr(8) == ".log";
  ASSERT_GE(segments, 2u);

  int refused = 0, read_failed = 0, identical = 0;
  for (const Flip& flip : flips) {
    SCOPED_TRACE(flip.file + " offset " + std::to_string(flip.offset) + " bit " +
                 std::to_string(flip.bit));
    ScratchDir work;
    std::filesystem::copy(base.path(), work.path(),
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    FlipBit(work.path() + "/" + flip.file, flip.offset, flip.bit);
    {
      auto log = Log::Open(Options(work.path()));
      if (!log.ok()) {
        EXPECT_TRUE(Names(log.status(), flip.file)) << log.status();
        ++refused;
      } else {
        absl::Status s;
        Contents got = Read(**log, work.path(), &s);
        if (!s.ok()) {
          EXPECT_TRUE(Names(s, flip.file)) << s;
          ++read_failed;
          continue;
        }
        EXPECT_EQ(got.live, golden.live);
        EXPECT_EQ(got.all, golden.all);
        EXPECT_EQ(got.tagged, golden.tagged);
        EXPECT_EQ(got.snapshots, golden.snapshots);
        if (got.all == golden.all && got.live == golden.live) ++identical;
        continue;
      }
    }
    // Refused: the repair open gets past it, and the store opens after.
    LogOptions repair = Options(work.path());
    repair.repair = true;
    {
      auto log = Log::Open(repair);
      ASSERT_TRUE(log.ok()) << log.status();
      EXPECT_FALSE((*log)->recovery().repairs.empty());
    }
    auto log = Log::Open(Options(work.path()));
    EXPECT_TRUE(log.ok()) << log.status();
  }
  std::printf("corruption sweep: %zu flips, %d refused at open, %d failed a read naming the "
              "file, %d read back identical\n",
              flips.size(), refused, read_failed, identical);
  EXPECT_GT(refused, 0);
  EXPECT_GT(identical, 0);
}

}  // namespace
}  // namespace cairn::mmaplog
