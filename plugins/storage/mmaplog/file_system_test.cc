#include "file_system.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include "index_arena.h"
#include "log.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

struct Extents {
  int total = 0;
  int unwritten = 0;
};

// The file's extents as FIEMAP reports them; false if the filesystem cannot
// say (tmpfs, for one).
bool ReadExtents(const std::string& path, Extents* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  constexpr int kMax = 256;
  std::vector<char> buf(sizeof(fiemap) + kMax * sizeof(fiemap_extent));
  auto* map = reinterpret_cast<fiemap*>(buf.data());
  map->fm_start = 0;
  map->fm_length = FIEMAP_MAX_OFFSET;
  map->fm_flags = FIEMAP_FLAG_SYNC;
  map->fm_extent_count = kMax;
  bool ok = ioctl(fd, FS_IOC_FIEMAP, map) == 0;
  close(fd);
  if (!ok) return false;
  for (uint32_t i = 0; i < map->fm_mapped_extents; ++i) {
    ++out->total;
    if ((map->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0) {
      ++out->unwritten;
    }
  }
  return true;
}

TEST(MmapLogFileSystem, WriteZerosLeavesOnlyWrittenZeroExtents) {
  testing::ScratchDir dir;
  FileSystem* fs = FileSystem::Default();
  const size_t size = 1u << 20;
  auto allocated = fs->CreateMapped(dir.path() + "/allocated", size, true,
                                    FileSystem::Fill::kAllocate);
  ASSERT_TRUE(allocated.ok()) << allocated.status();
  Extents before;
  if (!ReadExtents(dir.path() + "/allocated", &before) ||
      before.unwritten == 0) {
    GTEST_SKIP() << "this filesystem does not report unwritten extents";
  }
  auto zeroed = fs->CreateMapped(dir.path() + "/zeroed", size, true,
                                 FileSystem::Fill::kWriteZeros);
  ASSERT_TRUE(zeroed.ok()) << zeroed.status();
  ASSERT_EQ((*zeroed)->size(), size);
  Extents after;
  ASSERT_TRUE(ReadExtents(dir.path() + "/zeroed", &after));
  EXPECT_GT(after.total, 0);
  EXPECT_EQ(after.unwritten, 0);
  std::vector<uint8_t> zeros(size, 0);
  EXPECT_EQ(std::memcmp((*zeroed)->data(), zeros.data(), size), 0);
}

TEST(MmapLogFileSystem, DropPageTablesKeepsStoredBytes) {
  testing::ScratchDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string path = dir.path() + "/segment";
  auto file = fs->CreateMapped(path, 64u << 10);
  ASSERT_TRUE(file.ok()) << file.status();
  std::memcpy((*file)->data() + 8192, "stored", 6);
  (*file)->DropPageTables();
  // Still readable through the mapping, and (unsynced) through the file.
  EXPECT_EQ(std::memcmp((*file)->data() + 8192, "stored", 6), 0);
  auto contents = fs->ReadFile(path);
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(contents->substr(8192, 6), "stored");
  ASSERT_TRUE((*file)->Sync(0, 64u << 10).ok());
}

// NextData skips what reads as zeros without reading it: holes, and
// allocated-but-unwritten blocks with no page cached; stored bytes are data.
TEST(MmapLogFileSystem, NextDataSkipsHolesAndFindsStoredBytes) {
  testing::ScratchDir dir;
  FileSystem* fs = FileSystem::Default();
  const size_t size = 4u << 20;
  // Blocks for the first 1 MiB only; the rest is a hole.
  auto file = fs->CreateMapped(dir.path() + "/segment", size, /*durable=*/true,
                               FileSystem::Fill::kAllocate, 1u << 20);
  ASSERT_TRUE(file.ok()) << file.status();
  std::memcpy((*file)->data() + (3u << 20) + 100, "stored", 6);  // in the hole
  auto [start, end] = (*file)->NextData(1u << 20);
  // A file system that cannot tell reports everything as data; one that
  // can finds the stored page and nothing before it.
  if (start == (1u << 20) && end == size) GTEST_SKIP() << "no SEEK_DATA here";
  EXPECT_LE(start, (3u << 20) + 100);
  EXPECT_GE(start, 1u << 20);
  EXPECT_GT(end, (3u << 20) + 106);
  EXPECT_LE(end, size);
  // Past the last data: nothing.
  auto none = (*file)->NextData(end);
  EXPECT_EQ(none.first, size);
  EXPECT_EQ((*file)->NextData(size).first, size);
}

// Each open names its index regions with a new generation and leaves the
// earlier ones (a kill -9 leaves them) for RemoveStale, off the open's path.
TEST(MmapLogIndexArena, EarlierGenerationsAreLeftForRemoveStale) {
  testing::ScratchDir dir;
  FileSystem* fs = FileSystem::Default();
  const std::string index = dir.path() + "/index";
  ASSERT_TRUE(fs->CreateDirectories(index).ok());
  for (const char* name :
       {"arena-000001.idx", "arena-000003-000002.idx", "checkpoint"}) {
    ASSERT_TRUE(fs->AppendFile(index + "/" + name, "x", /*sync=*/false).ok());
  }
  {
    IndexArena arena(fs, index);
    ASSERT_TRUE(arena.Init().ok());
    ASSERT_NE(arena.Allocate(100), nullptr);
    auto names = fs->ListDirectory(index);
    ASSERT_TRUE(names.ok());
    std::sort(names->begin(), names->end());
    EXPECT_EQ(*names, (std::vector<std::string>{
                          "arena-000001.idx", "arena-000003-000002.idx",
                          "arena-000004-000001.idx", "checkpoint"}));
    auto removed = arena.RemoveStale();
    ASSERT_TRUE(removed.ok()) << removed.status();
    EXPECT_EQ(*removed, 2u);
    names = fs->ListDirectory(index);
    std::sort(names->begin(), names->end());
    EXPECT_EQ(*names, (std::vector<std::string>{"arena-000004-000001.idx",
                                                "checkpoint"}));
  }
  // A clean close removes its own.
  auto names = fs->ListDirectory(index);
  EXPECT_EQ(*names, std::vector<std::string>{"checkpoint"});
}

// The unwritten extents of a new store's first segment, or -1 if the
// filesystem cannot tell.
int FirstSegmentUnwrittenExtents(const std::string& dir, FsyncMode fsync,
                                 bool zero_fill_first = true,
                                 ZeroFill zero_fill = ZeroFill::kAuto) {
  LogOptions o;
  o.path = dir;
  o.segment_size = 1u << 20;
  o.fsync = fsync;
  o.whole_first_segment = zero_fill_first;
  o.zero_fill = zero_fill;
  o.stream_bucket_bits = 8;
  auto log = Log::Open(o);
  EXPECT_TRUE(log.ok()) << log.status();
  Extents extents;
  if (!ReadExtents(dir + "/00000001.log", &extents)) return -1;
  return extents.unwritten;
}

TEST(MmapLogSegmentFill, FirstSegmentIsZeroFilledOnlyWhenSyncedAndAsked) {
  testing::ScratchDir dir;
  int never = FirstSegmentUnwrittenExtents(dir.path() + "/never",
                                           FsyncMode::kNever);
  if (never <= 0) {
    GTEST_SKIP() << "this filesystem does not report unwritten extents";
  }
  EXPECT_EQ(FirstSegmentUnwrittenExtents(dir.path() + "/always",
                                         FsyncMode::kAlways),
            0);
  // By default Open does not write a whole segment of zeros first.
  EXPECT_GT(FirstSegmentUnwrittenExtents(dir.path() + "/default",
                                         FsyncMode::kAlways,
                                         /*zero_fill_first=*/false),
            0);
  // The plugin's zero-fill option: always zero-fills even a new store's
  // first segment, never not even when asked for the first one; fsync=never
  // ignores it (nothing syncs a segment before it is sealed, so zeros only
  // cost).
  EXPECT_EQ(FirstSegmentUnwrittenExtents(dir.path() + "/zero-fill-always",
                                         FsyncMode::kInterval,
                                         /*zero_fill_first=*/false,
                                         ZeroFill::kAlways),
            0);
  EXPECT_GT(FirstSegmentUnwrittenExtents(dir.path() + "/zero-fill-never",
                                         FsyncMode::kAlways,
                                         /*zero_fill_first=*/true,
                                         ZeroFill::kNever),
            0);
  EXPECT_GT(FirstSegmentUnwrittenExtents(dir.path() + "/nosync",
                                         FsyncMode::kNever,
                                         /*zero_fill_first=*/true,
                                         ZeroFill::kAlways),
            0);
}

TEST(MmapLogSegmentFill, ZeroFillOptionParsesEachModeAndNamesABadValue) {
  ZeroFill mode = ZeroFill::kNever;
  ASSERT_TRUE(ParseZeroFill("auto", &mode).ok());
  EXPECT_EQ(mode, ZeroFill::kAuto);
  ASSERT_TRUE(ParseZeroFill("always", &mode).ok());
  EXPECT_EQ(mode, ZeroFill::kAlways);
  ASSERT_TRUE(ParseZeroFill("never", &mode).ok());
  EXPECT_EQ(mode, ZeroFill::kNever);
  for (const char* bad : {"", "Always", "yes", "auto "}) {
    absl::Status s = ParseZeroFill(bad, &mode);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad;
    EXPECT_NE(s.message().find("option 'zero-fill'"), std::string::npos) << s;
    EXPECT_NE(s.message().find("'" + std::string(bad) + "'"), std::string::npos)
        << s;
  }
}

}  // namespace
}  // namespace cairn::mmaplog
