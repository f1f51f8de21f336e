#include "backup.h"

#include <cairn/builtins.h>
#include <cairn/log_record.h>
#include <cairn/status.h>
#include <cairn/store.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keyring.h"
#include "log_up_to.h"
#include "run_program.h"
#include "test_files.h"

namespace cairn::backup {
namespace {

namespace fs = std::filesystem;
using keyring::testing::ReadFile;
using keyring::testing::TempDir;
using ::testing::HasSubstr;

PluginChoice SmallMmapLog() {
  return PluginChoice{"mmaplog",
                      {{"segment-size", "4MiB"}, {"fsync", "never"}}};
}

EventData Event(int i) {
  EventData e;
  e.type = i % 2 == 0 ? "Placed" : "Paid";
  e.data = absl::StrCat("{\"order\":", i, ",\"lines\":\"",
                        std::string(40 + i % 50, 'x'), "\"}");
  e.metadata = i % 3 == 0 ? "{\"by\":\"clerk\"}" : "";
  e.tags = {absl::StrCat("t", i % 4)};
  e.writer = "writer-1";
  return e;
}

using backup_testing::LogUpTo;

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(RegisterBuiltinPlugins(registry_).ok()); }

  SiteConfig Site(const std::string& name) {
    SiteConfig site;
    site.path = dir_.File(name);
    site.storage = SmallMmapLog();
    return site;
  }

  std::unique_ptr<Store> Open(const SiteConfig& site) {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(site, registry_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  void Append(Store& store, const std::string& stream, int from, int count) {
    std::vector<EventData> events;
    for (int i = from; i < from + count; ++i) events.push_back(Event(i));
    absl::StatusOr<AppendResult> r =
        store.Append(stream, ExpectedRevision::Any(), events);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  absl::StatusOr<BackupResult> Backup(Store& store, const std::string& name,
                                      const std::string& previous = "",
                                      uint64_t chunk_bytes = 4096) {
    BackupOptions options;
    options.dest = dir_.File(name);
    options.incremental_from = previous.empty() ? "" : dir_.File(previous);
    options.chunk_bytes = chunk_bytes;
    options.registry = &registry_;
    return WriteBackup(store, options);
  }

  absl::StatusOr<RestoreResult> RestoreInto(
      const std::vector<std::string>& backups, const std::string& target) {
    RestoreOptions options;
    for (const std::string& b : backups)
      options.sources.push_back(dir_.File(b));
    options.site = Site(target);
    options.registry = &registry_;
    return Restore(options);
  }

  TempDir dir_;
  PluginRegistry registry_;
};

TEST_F(BackupTest,
       BackupUnderConcurrentWritesRestoresExactlyTheCommittedPrefix) {
  std::unique_ptr<Store> source = Open(Site("source"));
  ASSERT_NE(source, nullptr);
  Append(*source, "seed", 0, 200);
  ASSERT_TRUE(source->DeleteTo("seed", 10).ok());

  // Three writers append through the Store while the backup runs.
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable appended_cv;
  int appended = 0;  // guarded by mu
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 20000 && !stop.load(); ++i) {
        std::vector<EventData> batch = {Event(i), Event(i + 1)};
        if (!source
                 ->Append(absl::StrCat("writer-", w), ExpectedRevision::Any(),
                          batch)
                 .ok()) {
          return;
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          ++appended;
        }
        appended_cv.notify_all();
      }
    });
  }
  // The load is under way before the backup starts (bounded wait).
  {
    std::unique_lock<std::mutex> lock(mu);
    appended_cv.wait_for(lock, std::chrono::seconds(60),
                         [&] { return appended >= 100; });
  }
  absl::StatusOr<BackupResult> backup = Backup(*source, "full");
  int during = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    during = appended;
  }
  stop.store(true);
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(backup.ok()) << backup.status();
  const uint64_t last = backup->manifest.last_position;
  EXPECT_GT(during, 100);
  EXPECT_GT(last, 200u);
  EXPECT_GT(backup->manifest.chunks.size(), 1u);

  absl::StatusOr<RestoreResult> restored = RestoreInto({"full"}, "restored");
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->head_position, last);

  std::unique_ptr<Store> copy = Open(Site("restored"));
  ASSERT_NE(copy, nullptr);
  std::vector<OwnedLogRecord> expected = LogUpTo(*source, last);
  std::vector<OwnedLogRecord> actual = LogUpTo(*copy, UINT64_MAX);
  ASSERT_EQ(actual.size(), expected.size());
  ASSERT_EQ(expected.size(), last);
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(actual[i] == expected[i])
        << "position " << expected[i].position;
  }
  // And it takes appends after them.
  absl::StatusOr<AppendResult> more =
      copy->Append("after-restore", ExpectedRevision::Any(), {Event(1)});
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(more->first_position, last + 1);
}

TEST_F(BackupTest,
       AnIncrementalChainOfThreeRestoresTheSameStateAsOneFullBackup) {
  std::unique_ptr<Store> source = Open(Site("source"));
  ASSERT_NE(source, nullptr);
  Append(*source, "a", 0, 50);
  ASSERT_TRUE(Backup(*source, "full").ok());
  Append(*source, "b", 0, 30);
  ASSERT_TRUE(source->DeleteTo("a", 20).ok());
  ASSERT_TRUE(source->SaveSnapshot(Snapshot{"a", 40, 7, "state-40"}).ok());
  absl::StatusOr<BackupResult> inc1 = Backup(*source, "inc1", "full");
  ASSERT_TRUE(inc1.ok()) << inc1.status();
  EXPECT_EQ(inc1->manifest.base_position, 50u);
  Append(*source, "a", 50, 25);
  ASSERT_TRUE(source->DeleteSnapshot("a", 40).ok());
  absl::StatusOr<BackupResult> inc2 = Backup(*source, "inc2", "inc1");
  ASSERT_TRUE(inc2.ok()) << inc2.status();
  ASSERT_TRUE(Backup(*source, "whole").ok());

  ASSERT_TRUE(RestoreInto({"full", "inc1", "inc2"}, "from-chain").ok());
  ASSERT_TRUE(RestoreInto({"whole"}, "from-whole").ok());
  std::unique_ptr<Store> chain = Open(Site("from-chain"));
  std::unique_ptr<Store> whole = Open(Site("from-whole"));
  ASSERT_NE(chain, nullptr);
  ASSERT_NE(whole, nullptr);
  std::vector<OwnedLogRecord> a = LogUpTo(*chain, UINT64_MAX);
  std::vector<OwnedLogRecord> b = LogUpTo(*whole, UINT64_MAX);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), inc2->manifest.last_position);
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_TRUE(a[i] == b[i]) << "position " << i + 1;
  EXPECT_EQ(*chain->HeadRevision("a"), 75u);

  // The chain out of order, or an incremental alone, is refused.
  absl::StatusOr<RestoreResult> skipped =
      RestoreInto({"full", "inc2"}, "skipped");
  ASSERT_FALSE(skipped.ok());
  EXPECT_THAT(skipped.status().message(), HasSubstr("inc2/manifest.json"));
  absl::StatusOr<RestoreResult> alone = RestoreInto({"inc1"}, "alone");
  ASSERT_FALSE(alone.ok());
  EXPECT_THAT(alone.status().message(), HasSubstr("incremental"));
  EXPECT_FALSE(fs::exists(dir_.File("skipped")));
  EXPECT_FALSE(fs::exists(dir_.File("alone")));
}

void FlipByte(const std::string& path, size_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  file.get(c);
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(static_cast<char>(c ^ 0x01));
}

TEST_F(BackupTest, ATamperedBackupIsRefusedNamingTheFileAndNothingIsWritten) {
  std::unique_ptr<Store> source = Open(Site("source"));
  ASSERT_NE(source, nullptr);
  Append(*source, "a", 0, 120);
  absl::StatusOr<BackupResult> backup = Backup(*source, "good", "", 2048);
  ASSERT_TRUE(backup.ok()) << backup.status();
  ASSERT_GE(backup->manifest.chunks.size(), 3u);
  ASSERT_TRUE(RestoreInto({"good"}, "control").ok());

  struct Tamper {
    std::string name;
    std::function<void(const std::string& folder)> act;
    std::string named;  // the file the message must name
  };
  const std::vector<Tamper> tampers = {
      {"one byte changed",
       [](const std::string& f) {
         FlipByte(f + "/chunk-000002.cairnlog", 100);
       },
       "chunk-000002.cairnlog"},
      {"a chunk missing",
       [](const std::string& f) { fs::remove(f + "/chunk-000003.cairnlog"); },
       "chunk-000003.cairnlog"},
      {"a file added",
       [](const std::string& f) { std::ofstream(f + "/notes.txt") << "hello"; },
       "notes.txt"},
      {"manifest edited",
       [](const std::string& f) {
         std::string text = ReadFile(f + "/manifest.json");
         const std::string from = "\"records\": ";
         size_t at = text.find(from);
         text.replace(at + from.size(), 1, "9");
         std::ofstream(f + "/manifest.json", std::ios::trunc) << text;
       },
       "manifest.json"},
      {"manifest removed",
       [](const std::string& f) { fs::remove(f + "/manifest.json"); },
       "manifest.json"},
  };
  int n = 0;
  for (const Tamper& t : tampers) {
    const std::string copy = absl::StrCat("tampered-", n);
    const std::string target = absl::StrCat("target-", n++);
    fs::copy(dir_.File("good"), dir_.File(copy));
    t.act(dir_.File(copy));
    absl::StatusOr<RestoreResult> restored = RestoreInto({copy}, target);
    ASSERT_FALSE(restored.ok()) << t.name;
    EXPECT_THAT(restored.status().message(), HasSubstr(t.named)) << t.name;
    EXPECT_FALSE(fs::exists(dir_.File(target)))
        << t.name << ": something was written";
  }
}

// Appends refuse names with control characters (cairn/names.h); a restore
// must not bring one in from a backup (issue #13: the rule on every path).
// The crafted store holds one: its records were applied with storage
// apply_log, which checks only what the storage ABI requires.
TEST_F(BackupTest, ARestoreRefusesANameAppendsWouldRefuseNamingItsPosition) {
  std::unique_ptr<Store> source = Open(Site("source"));
  ASSERT_NE(source, nullptr);
  Append(*source, "good", 0, 2);
  Append(*source, "bad", 2, 1);
  std::vector<OwnedLogRecord> records = LogUpTo(*source, 3);
  ASSERT_EQ(records.size(), 3u);
  ASSERT_TRUE(records[2].event.has_value());
  records[2].event->stream = "x\t999";
  source.reset();
  std::unique_ptr<Store> crafted = Open(Site("crafted"));
  ASSERT_NE(crafted, nullptr);
  std::vector<const cairn_log_record*> views = LogRecordViews(records);
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  ASSERT_EQ(crafted->storage_plugin()->storage()->apply_log(
                crafted->raw_storage(), views.data(), views.size(), &error),
            CAIRN_OK)
      << message;
  ASSERT_TRUE(Backup(*crafted, "b").ok());
  crafted.reset();

  absl::StatusOr<RestoreResult> refused = RestoreInto({"b"}, "target");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(CodeOf(refused.status()), CAIRN_E_INVALID_ARGUMENT)
      << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr("the record at position 3: stream name \"x\\t999\" "
                        "has control character U+0009"));
}

TEST_F(BackupTest, ANonEmptyTargetIsRefusedWithoutForce) {
  std::unique_ptr<Store> source = Open(Site("source"));
  ASSERT_NE(source, nullptr);
  Append(*source, "a", 0, 5);
  ASSERT_TRUE(Backup(*source, "b").ok());
  fs::create_directories(dir_.File("busy"));
  std::ofstream(dir_.File("busy/keep.txt")) << "mine";
  absl::StatusOr<RestoreResult> refused = RestoreInto({"b"}, "busy");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("--force"));
  EXPECT_TRUE(fs::exists(dir_.File("busy/keep.txt")));
  RestoreOptions forced;
  forced.sources = {dir_.File("b")};
  forced.site = Site("busy");
  forced.registry = &registry_;
  forced.force = true;
  absl::StatusOr<RestoreResult> restored = Restore(forced);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->removed_entries, 1u);
  EXPECT_EQ(restored->head_position, 5u);
}

TEST_F(BackupTest,
       ASealedStoreBacksUpAndRestoresWithoutItsKeyringAndReadsBackWithIt) {
  const std::string keys = dir_.File("keys");
  uint32_t key_id = 0;
  ASSERT_TRUE(keyring::CreateKeyringFile(keys, &key_id).ok());
  SiteConfig sealed = Site("source");
  sealed.codec = PluginChoice{"zstd", {}};
  sealed.cipher = PluginChoice{"aes-gcm", {{"keyring", keys}}};
  {
    std::unique_ptr<Store> source = Open(sealed);
    ASSERT_NE(source, nullptr);
    Append(*source, "orders", 0, 40);
  }
  // Backup and restore see only the storage settings: no keyring.
  {
    absl::StatusOr<std::unique_ptr<Store>> plain =
        OpenForBackup(Site("source"), registry_);
    ASSERT_TRUE(plain.ok()) << plain.status();
    absl::StatusOr<BackupResult> backup = Backup(**plain, "sealed-backup");
    ASSERT_TRUE(backup.ok()) << backup.status();
    ASSERT_EQ(backup->manifest.ciphers.size(), 1u);
    EXPECT_EQ(backup->manifest.ciphers[0].plugin.name, "aes-gcm");
    EXPECT_EQ(backup->manifest.ciphers[0].key_ids,
              std::vector<uint32_t>{key_id});
    ASSERT_EQ(backup->manifest.codecs.size(), 1u);
    EXPECT_EQ(backup->manifest.codecs[0].name, "zstd");
  }
  for (const fs::directory_entry& e :
       fs::directory_iterator(dir_.File("sealed-backup"))) {
    EXPECT_EQ(ReadFile(e.path().string()).find("\"order\":"), std::string::npos)
        << e.path() << " holds plaintext";
  }
  absl::StatusOr<RestoreResult> restored =
      RestoreInto({"sealed-backup"}, "restored");
  ASSERT_TRUE(restored.ok()) << restored.status();

  // Without the keyring the restored store stays closed; with it, it reads.
  SiteConfig no_keys = Site("restored");
  EXPECT_FALSE(Store::Open(no_keys, registry_).ok());
  SiteConfig with_keys = sealed;
  with_keys.path = dir_.File("restored");
  std::unique_ptr<Store> copy = Open(with_keys);
  ASSERT_NE(copy, nullptr);
  absl::StatusOr<std::vector<RecordedEvent>> events =
      copy->ReadStream("orders");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ((*events)[static_cast<size_t>(i)].data, Event(i).data);
    EXPECT_EQ((*events)[static_cast<size_t>(i)].metadata, Event(i).metadata);
  }
}

TEST_F(BackupTest, AKilledBackupProcessLeavesNothingRestoreAccepts) {
  const fs::path cairn = testing::BuiltProgram("cairn");
  ASSERT_FALSE(cairn.empty());
  {
    std::unique_ptr<Store> source = Open(Site("source"));
    ASSERT_NE(source, nullptr);
    for (int i = 0; i < 20; ++i) Append(*source, "a", i * 100, 100);
  }
  // Throttled to a few seconds' work, in 4 KiB chunks: killed midway.
  const std::string dest = dir_.File("killed");
  const std::string log = dir_.File("backup.err");
  const int child = testing::StartProgram(
      cairn,
      {"--data", dir_.File("source"), "--set", "storage.segment-size=4MiB",
       "backup", dest, "--chunk-size", "4KiB", "--max-rate", "64KiB"},
      log);
  ASSERT_GT(child, 0);
  // Two chunks complete, then kill -9.
  const std::string killed =
      testing::KillOnceExists(child, dest + "/chunk-000002.cairnlog");
  ASSERT_EQ(killed, "") << ReadFile(log);
  EXPECT_FALSE(fs::exists(dest + "/manifest.json"));

  absl::StatusOr<RestoreResult> restored = RestoreInto({"killed"}, "target");
  ASSERT_FALSE(restored.ok());
  EXPECT_THAT(restored.status().message(), HasSubstr("no manifest.json"));
  EXPECT_FALSE(fs::exists(dir_.File("target")));
  // Nor through the command line.
  testing::ProgramResult cli = testing::RunProgram(
      cairn, {"restore", dest, "--data", dir_.File("target")}, dir_.path());
  EXPECT_EQ(cli.code, 2) << cli.err;
  EXPECT_THAT(cli.err, HasSubstr("no manifest.json"));
  EXPECT_FALSE(fs::exists(dir_.File("target")));
}

TEST_F(BackupTest, AnArchiveBackupRestoresAndAChangedByteInItIsRefused) {
  const fs::path cairn = testing::BuiltProgram("cairn");
  ASSERT_FALSE(cairn.empty());
  {
    std::unique_ptr<Store> source = Open(Site("source"));
    ASSERT_NE(source, nullptr);
    Append(*source, "a", 0, 30);
  }
  const std::vector<std::string> small = {"--set", "storage.segment-size=4MiB"};
  auto with_small = [&](std::vector<std::string> args) {
    args.insert(args.end(), small.begin(), small.end());
    return args;
  };
  const std::string file = dir_.File("b.tar.zst");
  testing::ProgramResult to_file = testing::RunProgram(
      cairn, with_small({"--data", dir_.File("source"), "backup", file}),
      dir_.path());
  ASSERT_EQ(to_file.code, 0) << to_file.err;
  testing::ProgramResult to_stdout = testing::RunProgram(
      cairn, with_small({"--data", dir_.File("source"), "backup", "-"}),
      dir_.path());
  ASSERT_EQ(to_stdout.code, 0) << to_stdout.err;
  EXPECT_THAT(to_stdout.err, HasSubstr("backup -: positions 1..30"));

  testing::ProgramResult from_file = testing::RunProgram(
      cairn, with_small({"restore", file, "--data", dir_.File("t1")}),
      dir_.path());
  ASSERT_EQ(from_file.code, 0) << from_file.err;
  EXPECT_THAT(from_file.out, HasSubstr("head position 30"));
  testing::ProgramResult from_stdin = testing::RunProgram(
      cairn, with_small({"restore", "-", "--data", dir_.File("t2")}),
      dir_.path(), to_stdout.out);
  ASSERT_EQ(from_stdin.code, 0) << from_stdin.err;
  EXPECT_THAT(from_stdin.out, HasSubstr("head position 30"));

  FlipByte(file, fs::file_size(file) / 2);
  testing::ProgramResult damaged = testing::RunProgram(
      cairn, with_small({"restore", file, "--data", dir_.File("t3")}),
      dir_.path());
  EXPECT_EQ(damaged.code, 2) << damaged.err;
  EXPECT_THAT(damaged.err, HasSubstr("b.tar.zst"));
  EXPECT_FALSE(fs::exists(dir_.File("t3")));
}

}  // namespace
}  // namespace cairn::backup
