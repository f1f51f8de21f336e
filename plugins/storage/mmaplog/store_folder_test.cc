#include "store_folder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "log.h"
#include "test_util.h"

namespace cairn::mmaplog {
namespace {

namespace fs = std::filesystem;
using testing::Any;
using testing::OwnedEvent;
using testing::ScratchDir;
using testing::SmallStoreOptions;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

uint32_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Every path under `dir` with its contents ("<dir>" for folders).
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> all;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    all[e.path().string()] =
        e.is_directory() ? "<dir>" : ReadText(e.path().string());
  }
  return all;
}

void AppendEvents(Log& log, int count) {
  for (int i = 0; i < count; ++i) {
    OwnedEvent e;
    e.data = "event-" + std::to_string(i);
    cairn_event view = e.View();
    cairn_append_result r;
    ASSERT_TRUE(log.Append("s", Any(), &view, 1, &r).ok());
  }
}

std::vector<std::string> ReadData(Log& log) {
  std::vector<std::string> data;
  absl::Status s = log.ReadAll(0, UINT64_MAX, false, [&](const cairn_event& e) {
    data.push_back(testing::Str(e.data));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return data;
}

// Sets the umask for one scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(umask(mask)) {}
  ~ScopedUmask() { umask(old_); }

 private:
  mode_t old_;
};

TEST(MmapLogStoreFolder, OpenWithoutCreateOfAMissingFolderCreatesNothing) {
  ScratchDir dir;
  const std::string path = dir.path() + "/mistyped";
  auto log = Log::Open(SmallStoreOptions(path, /*create=*/false));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(log.status().message().find("no store at '" + path + "'"),
            std::string::npos)
      << log.status();
  EXPECT_FALSE(fs::exists(path));
}

TEST(MmapLogStoreFolder, OpenWithoutCreateOfAnEmptyFolderLeavesItEmpty) {
  ScratchDir dir;
  auto log = Log::Open(SmallStoreOptions(dir.path(), /*create=*/false));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// A kill -9 during a new store's first open, while it wrote its marker,
// leaves only MMAPLOG.tmp (found by MmapLogCrash's random kills): the next
// writable open creates the store there; a read-only one finds no store
// and leaves the folder as it was.
TEST(MmapLogStoreFolder, CreationInterruptedWhileWritingTheMarkerIsFinished) {
  ScratchDir dir;
  WriteText(dir.path() + "/MMAPLOG.tmp", "cairn mmap");
  const auto before = Snapshot(dir.path());
  auto log = Log::Open(SmallStoreOptions(dir.path(), /*create=*/false));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(log.status().message().find("holds only MMAPLOG.tmp, left by a "
                                        "creation that was interrupted"),
            std::string::npos)
      << log.status();
  EXPECT_EQ(Snapshot(dir.path()), before);

  log = Log::Open(SmallStoreOptions(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  AppendEvents(**log, 3);
  EXPECT_EQ(ReadData(**log).size(), 3u);
  EXPECT_FALSE(fs::exists(dir.path() + "/MMAPLOG.tmp"));
  EXPECT_TRUE(fs::exists(dir.path() + "/MMAPLOG"));
}

// A RocksDB write-ahead log and other files named <digits>.log in a folder
// that is not a store: refused, with or without create, and nothing in the
// folder changes.
TEST(MmapLogStoreFolder, FolderThatIsNotAStoreIsRefusedAndLeftAsItWas) {
  ScratchDir dir;
  WriteText(dir.path() + "/000003.log", "WAL\n");
  WriteText(dir.path() + "/1.log", "one\n");
  WriteText(dir.path() + "/00000007.log", "seven\n");
  const auto before = Snapshot(dir.path());
  for (bool create : {false, true}) {
    auto log = Log::Open(SmallStoreOptions(dir.path(), create));
    ASSERT_FALSE(log.ok());
    EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(log.status().message().find("'" + dir.path() +
                                          "' is not a Cairn store"),
              std::string::npos)
        << log.status();
    EXPECT_EQ(Snapshot(dir.path()), before) << "create=" << create;
  }
}

TEST(MmapLogStoreFolder, NewStoreIsPrivateWhateverTheUmask) {
  for (mode_t mask : {mode_t{022}, mode_t{000}, mode_t{0277}}) {
    ScratchDir dir;
    const std::string path = dir.path() + "/a/store";
    {
      ScopedUmask scoped(mask);
      auto log = Log::Open(SmallStoreOptions(path));
      ASSERT_TRUE(log.ok()) << log.status();
      AppendEvents(**log, 3);
    }
    EXPECT_EQ(ModeOf(path), 0700u) << "umask " << mask;
    // The marker, and the line the first append added after it (records
    // held; the background pass may have recorded a synced position).
    const std::string marker = ReadText(path + "/MMAPLOG");
    EXPECT_EQ(marker.rfind(kStoreMarkerText, 0), 0u) << marker;
    EXPECT_TRUE(ReadMarkerHighWater(FileSystem::Default(), path).records_held)
        << marker;
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(path)) {
      EXPECT_EQ(ModeOf(e.path().string()), e.is_directory() ? 0700u : 0600u)
          << e.path() << " umask " << mask;
      ++files;
    }
    EXPECT_GE(files, 4);  // marker, LOCK, segment, snapshots/, index/...
  }
}

TEST(MmapLogStoreFolder, EmptyFolderGivenForANewStoreBecomesPrivate) {
  ScratchDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  auto log = Log::Open(SmallStoreOptions(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE((*log)->recovery().store_created);
  EXPECT_EQ(ModeOf(dir.path()), 0700u);
}

TEST(MmapLogStoreFolder, StoreThatOthersCanReadIsRefusedNamingTheFix) {
  ScratchDir dir;
  const std::string path = dir.path() + "/store";
  ASSERT_TRUE(Log::Open(SmallStoreOptions(path)).ok());
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  auto log = Log::Open(SmallStoreOptions(path));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(log.status().message().find("'" + path + "' has mode 0755"),
            std::string::npos)
      << log.status();
  EXPECT_NE(log.status().message().find("chmod 700 " + path),
            std::string::npos)
      << log.status();
  EXPECT_EQ(ModeOf(path), 0755u) << "the refusal changes nothing";

  ASSERT_EQ(chmod(path.c_str(), 0700), 0);
  const std::string segment = path + "/00000001.log";
  ASSERT_EQ(chmod(segment.c_str(), 0640), 0);
  log = Log::Open(SmallStoreOptions(path));
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("chmod 600 " + segment),
            std::string::npos)
      << log.status();
}

// A FileSystem that acts as another user.
class OtherUserFileSystem : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<MappedFile>> CreateMapped(
      const std::string& path, size_t size, bool durable, Fill fill,
      size_t allocate) override {
    return real_->CreateMapped(path, size, durable, fill, allocate);
  }
  absl::StatusOr<uint64_t> DiskUsage(const std::string& path) override {
    return real_->DiskUsage(path);
  }
  absl::StatusOr<std::unique_ptr<MappedFile>> OpenMapped(
      const std::string& path) override {
    return real_->OpenMapped(path);
  }
  absl::Status CreateDirectories(const std::string& path) override {
    return real_->CreateDirectories(path);
  }
  absl::StatusOr<FileStatus> Stat(const std::string& path) override {
    return real_->Stat(path);
  }
  absl::Status SetMode(const std::string& path, uint32_t mode) override {
    return real_->SetMode(path, mode);
  }
  uint32_t CurrentUser() override { return real_->CurrentUser() + 1; }
  absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) override {
    return real_->ListDirectory(dir);
  }
  bool Exists(const std::string& path) override { return real_->Exists(path); }
  absl::Status Remove(const std::string& path) override {
    return real_->Remove(path);
  }
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    return real_->FileSize(path);
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    return real_->ReadFile(path);
  }
  absl::Status WriteFileAtomic(const std::string& path,
                               const std::string& contents) override {
    return real_->WriteFileAtomic(path, contents);
  }
  absl::Status AppendFile(const std::string& path, std::string_view contents,
                          bool sync) override {
    return real_->AppendFile(path, contents, sync);
  }
  absl::Status Truncate(const std::string& path, uint64_t size) override {
    return real_->Truncate(path, size);
  }
  absl::Status SyncDirectory(const std::string& dir) override {
    return real_->SyncDirectory(dir);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return real_->Rename(from, to);
  }
  absl::StatusOr<std::unique_ptr<DirectoryLock>> LockDirectory(
      const std::string& dir) override {
    return real_->LockDirectory(dir);
  }

 private:
  FileSystem* real_ = FileSystem::Default();
};

TEST(MmapLogStoreFolder, StoreOfAnotherUserIsRefused) {
  ScratchDir dir;
  ASSERT_TRUE(Log::Open(SmallStoreOptions(dir.path())).ok());
  const auto before = Snapshot(dir.path());
  OtherUserFileSystem other;
  LogOptions o = SmallStoreOptions(dir.path());
  o.fs = &other;
  auto log = Log::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(log.status().message().find("'" + dir.path() + "' is owned by user"),
            std::string::npos)
      << log.status();
  EXPECT_EQ(Snapshot(dir.path()), before);
}

// A store made before the marker existed (its modes followed a 022 umask):
// it opens, with or without create, keeps its events, and is adopted.
TEST(MmapLogStoreFolder, StoreFromBeforeTheMarkerIsAdopted) {
  for (bool create : {false, true}) {
    ScratchDir dir;
    const std::string path = dir.path() + "/store";
    {
      auto log = Log::Open(SmallStoreOptions(path));
      ASSERT_TRUE(log.ok()) << log.status();
      AppendEvents(**log, 5);
    }
    ASSERT_TRUE(fs::remove(path + "/MMAPLOG"));
    ASSERT_EQ(chmod(path.c_str(), 0755), 0);
    for (const auto& e : fs::recursive_directory_iterator(path)) {
      ASSERT_EQ(chmod(e.path().c_str(), e.is_directory() ? 0755 : 0644), 0);
    }
    auto log = Log::Open(SmallStoreOptions(path, create));
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_TRUE((*log)->recovery().store_adopted);
    EXPECT_EQ(ReadData(**log).size(), 5u);
    // The marker is written again; the open log's background pass may
    // already have added its high-water line after it (CI saw "sealed 0 5").
    const std::string marker = ReadText(path + "/MMAPLOG");
    EXPECT_EQ(marker.rfind(kStoreMarkerText, 0), 0u) << marker;
    EXPECT_EQ(ModeOf(path), 0700u);
    EXPECT_EQ(ModeOf(path + "/00000001.log"), 0600u);
    EXPECT_EQ(ModeOf(path + "/snapshots"), 0700u);
  }
}

// A damaged marker in a folder of this store's segments is refused, naming
// the marker and the repair, and changes nothing; the repair rewrites it.
TEST(MmapLogStoreFolder, DamagedMarkerIsRefusedUntilRepairRewritesIt) {
  ScratchDir dir;
  const std::string path = dir.path() + "/store";
  {
    auto log = Log::Open(SmallStoreOptions(path));
    ASSERT_TRUE(log.ok()) << log.status();
    AppendEvents(**log, 5);
  }
  std::string marker = ReadText(path + "/MMAPLOG");
  marker[0] ^= 0x02;
  WriteText(path + "/MMAPLOG", marker);
  const auto before = Snapshot(path);
  auto refused = Log::Open(SmallStoreOptions(path));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("MMAPLOG"), std::string::npos);
  EXPECT_NE(refused.status().message().find("cairn verify --repair"), std::string::npos)
      << refused.status();
  EXPECT_EQ(Snapshot(path), before);
  LogOptions repair = SmallStoreOptions(path);
  repair.repair = true;
  {
    auto log = Log::Open(repair);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_FALSE((*log)->recovery().repairs.empty());
    EXPECT_NE((*log)->recovery().repairs[0].find("store marker was damaged"), std::string::npos);
  }
  // Rewritten whole; the open's background pass may have added the
  // high-water line since (the log was synced up to position 5).
  const std::string rewritten = ReadText(path + "/MMAPLOG");
  EXPECT_EQ(rewritten.substr(0, std::string(kStoreMarkerText).size()),
            kStoreMarkerText);
  std::string damaged;
  const MarkerHighWater h =
      ReadMarkerHighWater(FileSystem::Default(), path, &damaged);
  EXPECT_TRUE(damaged.empty()) << damaged;
  EXPECT_TRUE(h.position == 0 || h.position == 5u) << h.position;
  auto log = Log::Open(SmallStoreOptions(path));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(ReadData(**log).size(), 5u);
}

// A marker-less folder whose segment-named file has no valid header is not
// taken for a store from before the marker: names alone prove nothing.
TEST(MmapLogStoreFolder, SegmentNameWithoutAValidHeaderIsNotAStore) {
  ScratchDir dir;
  WriteText(dir.path() + "/00000001.log", std::string(70000, 'x'));
  auto log = Log::Open(SmallStoreOptions(dir.path()));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadText(dir.path() + "/00000001.log"), std::string(70000, 'x'));
}

TEST(MmapLogStoreFolder, ForeignFilesInAStoreAreLeftAloneAndReported) {
  ScratchDir dir;
  {
    auto log = Log::Open(SmallStoreOptions(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    AppendEvents(**log, 2);
  }
  WriteText(dir.path() + "/000003.log", "WAL\n");
  WriteText(dir.path() + "/notes.txt", "mine\n");
  {
    auto log = Log::Open(SmallStoreOptions(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->recovery().foreign_files,
              (std::vector<std::string>{"000003.log", "notes.txt"}));
    EXPECT_EQ(ReadData(**log).size(), 2u);
  }
  EXPECT_EQ(ReadText(dir.path() + "/000003.log"), "WAL\n");
  EXPECT_EQ(ReadText(dir.path() + "/notes.txt"), "mine\n");
}

// A file with a later segment's name that mmaplog did not write would be in
// the way of a rotation: the open refuses, naming it, and keeps it.
TEST(MmapLogStoreFolder, ForeignFileNamedLikeALaterSegmentRefusesTheOpen) {
  ScratchDir dir;
  ASSERT_TRUE(Log::Open(SmallStoreOptions(dir.path())).ok());
  const std::string intruder = dir.path() + "/00000009.log";
  WriteText(intruder, "WAL\n");
  ASSERT_EQ(chmod(intruder.c_str(), 0644), 0);  // not the store's mode either
  auto log = Log::Open(SmallStoreOptions(dir.path()));
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find(
                "file '" + intruder + "' is named like a segment"),
            std::string::npos)
      << log.status();
  EXPECT_EQ(ReadText(intruder), "WAL\n");
}

// The marker's high-water line: written after seals, read back exactly; a
// damaged line proves nothing (the store opens, reporting it) and the next
// seal pass writes it again.
TEST(MmapLogStoreFolder,
     MarkerHighWaterRoundTripsAndADamagedLineProvesNothing) {
  ScratchDir dir;
  FileSystem* files = FileSystem::Default();
  ASSERT_TRUE(
      WriteMarkerHighWater(files, dir.path(), MarkerHighWater{4, 240}).ok());
  const std::string text = ReadText(dir.path() + "/MMAPLOG");
  EXPECT_EQ(text.rfind(kStoreMarkerText, 0), 0u) << text;
  std::string damaged;
  MarkerHighWater h = ReadMarkerHighWater(files, dir.path(), &damaged);
  EXPECT_EQ(h.sealed_segment, 4u);
  EXPECT_EQ(h.position, 240u);
  EXPECT_TRUE(damaged.empty()) << damaged;
  std::string edited = text;
  edited.replace(edited.find(" 240 "), 5, " 241 ");  // checksum left as it was
  WriteText(dir.path() + "/MMAPLOG", edited);
  h = ReadMarkerHighWater(files, dir.path(), &damaged);
  EXPECT_EQ(h.sealed_segment, 0u);
  EXPECT_EQ(h.position, 0u);
  EXPECT_NE(damaged.find("MMAPLOG offset 29: the high-water line"),
            std::string::npos)
      << damaged;
  ASSERT_TRUE(WriteMarkerHighWater(files, dir.path(), MarkerHighWater{}).ok());
  EXPECT_EQ(ReadText(dir.path() + "/MMAPLOG"), kStoreMarkerText);

  const std::string path = dir.path() + "/store";
  LogOptions options = SmallStoreOptions(path);
  MarkerHighWater sealed;
  {
    auto log = Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 200; ++i) {
      OwnedEvent e;
      e.data = std::string(900, 'x');
      cairn_event view = e.View();
      cairn_append_result r;
      ASSERT_TRUE((*log)->Append("s", Any(), &view, 1, &r).ok());
    }
    ASSERT_TRUE((*log)->Flush().ok());
    ASSERT_TRUE((*log)->RunMaintenance().ok());
    sealed = ReadMarkerHighWater(files, path);
    ASSERT_GE(sealed.sealed_segment, 2u);
  }
  std::string marker = ReadText(path + "/MMAPLOG");
  marker[marker.size() - 2] ^= 0x01;  // the checksum's last digit
  WriteText(path + "/MMAPLOG", marker);
  {
    auto log = Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_EQ((*log)->recovery().problems.size(), 1u);
    EXPECT_NE((*log)->recovery().problems[0].find("high-water line"),
              std::string::npos);
    EXPECT_EQ(ReadData(**log).size(), 200u);
  }
  // The open's background pass (it runs once at every open) wrote it again.
  h = ReadMarkerHighWater(files, path, &damaged);
  EXPECT_EQ(h.sealed_segment, sealed.sealed_segment);
  EXPECT_EQ(h.position, sealed.position);
}

TEST(MmapLogStoreFolder, SegmentNamesAreExactlyThoseTheLogWrites) {
  uint64_t n = 0;
  EXPECT_TRUE(ParseSegmentFileName("00000007.log", &n));
  EXPECT_EQ(n, 7u);
  EXPECT_TRUE(ParseSegmentFileName("123456789.log", &n));
  EXPECT_FALSE(ParseSegmentFileName("7.log", &n));
  EXPECT_FALSE(ParseSegmentFileName("000003.log", &n));
  EXPECT_FALSE(ParseSegmentFileName("00000000.log", &n));
  EXPECT_FALSE(ParseSegmentFileName("0000000a.log", &n));
  EXPECT_TRUE(IsStoreEntryName("retention.state.tmp"));
  EXPECT_FALSE(IsStoreEntryName("index.tmp"));
  EXPECT_FALSE(IsStoreEntryName("notes.txt"));
}

}  // namespace
}  // namespace cairn::mmaplog
